"""Run identity, atomic writes, the metrics log and the completion marker."""
from __future__ import annotations

import json

import pytest

from tests.memory_sink import MemorySink
from train_large.rundir import (read_records, read_result, run_id, truncate_records, write_records,
                                write_result)
from train_large.sinks import FanOut, GuardedSink, JsonlSink


def test_run_id_is_stable_and_distinct(tmp_path):
    assert run_id(tmp_path / "a") == run_id(tmp_path / "a")
    assert run_id(tmp_path / "a") != run_id(tmp_path / "b")


def test_torn_trailing_line_is_ignored(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"kind": "train", "updates": 1}\n{"kind": "valid", "upd')
    assert read_records(path) == [{"kind": "train", "updates": 1}]


def test_corrupt_line_in_the_middle_names_the_file_and_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:2"):
        read_records(path)


def test_truncate_keeps_only_checkpointed_records(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_records(path, [{"i": i} for i in range(5)])
    assert truncate_records(path, 3) == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert read_records(path) == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_result_marks_completion_and_bad_json_is_never_complete(tmp_path):
    assert read_result(tmp_path) is None
    write_result(tmp_path, {"final": {"bleu": 1.0}})
    assert read_result(tmp_path)["status"] == "complete"
    (tmp_path / "result.json").write_text("{not json")
    with pytest.raises(ValueError, match="result.json is not valid JSON"):
        read_result(tmp_path)


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    write_result(tmp_path, {"x": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
    assert json.loads((tmp_path / "result.json").read_text())["x"] == 1


def test_jsonl_sink_appends_one_line_per_record(tmp_path):
    sink = JsonlSink(tmp_path / "m.jsonl")
    sink.log({"kind": "train", "train_seconds": 1.0})
    sink.log({"kind": "valid", "train_seconds": 2.0, "bleu": 3.5})
    sink.close()
    assert [r["kind"] for r in read_records(tmp_path / "m.jsonl")] == ["train", "valid"]


class Exploding:
    def __init__(self):
        self.calls = 0

    def log(self, record):
        self.calls += 1
        raise RuntimeError("network down")

    def summary(self, values):
        raise RuntimeError("network down")

    def close(self):
        raise RuntimeError("network down")


def test_failing_optional_sink_is_reported_once_and_never_stops_the_others(caplog):
    exploding, memory = Exploding(), MemorySink()
    sinks = FanOut([memory, GuardedSink(exploding, "W&B")])
    for i in range(3):
        sinks.log({"i": i})
    sinks.summary({"x": 1})
    sinks.close()
    assert [r["i"] for r in memory.records] == [0, 1, 2]
    assert exploding.calls == 1
    assert sum("W&B sink failed" in r.message for r in caplog.records) == 1

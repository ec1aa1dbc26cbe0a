"""Damaged run files are detected and never used as if valid: a truncated checkpoint, a result.json
that is not JSON, a metrics log with a torn last line (repaired on resume, logged once) or damage
before it (one line naming the file and what to do); and the same for a compress source."""
from __future__ import annotations

import json

import pytest
import torch

from compress.checkpoint import load_compressed
from compress.source import SourceError as CompressSourceError
from compress.source import find_source as find_compress_source
from train_large.checkpoint import check_checkpoint, load_checkpoint, save_checkpoint
from train_large.pretrained import SourceError, find_source
from train_large.run import check_resumable
from train_large.rundir import (CorruptFile, read_records, read_result, remove_stale_temporaries, truncate_records,
                                write_records, write_result)


def truncated_checkpoint(path, keep: float = 0.5):
    save_checkpoint(path, {"engine": {"model": {"w": torch.randn(256, 256)}}, "clock": {"train_seconds": 1.0}})
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.999])
def test_a_truncated_checkpoint_is_refused_by_name(tmp_path, keep):
    path = truncated_checkpoint(tmp_path / "checkpoints" / "last.pt", keep)
    for load in (load_checkpoint, check_checkpoint):
        with pytest.raises(CorruptFile) as refused:
            load(path)
        assert str(path) in str(refused.value) and "damaged or truncated" in str(refused.value)
        assert "\n" not in str(refused.value)


def test_a_damaged_checkpoint_or_log_stops_a_resume_before_anything_is_built(tmp_path):
    truncated_checkpoint(tmp_path / "checkpoints" / "last.pt")
    with pytest.raises(CorruptFile, match="last.pt is damaged or truncated"):
        check_resumable(tmp_path)
    (tmp_path / "checkpoints" / "last.pt").unlink()
    (tmp_path / "metrics.jsonl").write_text('{"kind": "train"}\n{"kind": "tr\n{"kind": "valid"}\n')
    with pytest.raises(CorruptFile, match="metrics.jsonl:2 is not a JSON record"):
        check_resumable(tmp_path)


@pytest.mark.parametrize("text, problem", [("{not json", "is not valid JSON"),
                                           ('{"status": "comp', "is not valid JSON"),
                                           ("[1, 2]", "holds a JSON list"), (b"\x80{}", "not UTF-8")])
def test_a_result_json_that_is_not_a_json_object_is_never_complete(tmp_path, text, problem):
    path = tmp_path / "result.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(CorruptFile) as refused:
        read_result(tmp_path)
    message = str(refused.value)
    assert message.startswith(str(path)) and problem in message and "delete it" in message and "\n" not in message


def test_a_torn_last_line_is_repaired_on_resume_and_logged_once(tmp_path, caplog):
    path = tmp_path / "metrics.jsonl"
    write_records(path, [{"i": i} for i in range(3)])
    with path.open("a") as handle:
        handle.write('{"i": 3, "kind": "va')  # a kill in the middle of a write
    assert read_records(path) == [{"i": 0}, {"i": 1}, {"i": 2}]  # a reader skips it
    assert truncate_records(path, 2) == [{"i": 0}, {"i": 1}]
    assert path.read_text() == '{"i": 0}\n{"i": 1}\n'
    truncate_records(path, 2)
    torn = [r.message for r in caplog.records if "torn last line" in r.message]
    assert len(torn) == 1 and "metrics.jsonl" in torn[0] and "(20 bytes)" in torn[0]


def test_damage_before_the_last_line_is_an_error_and_the_log_is_left_alone(tmp_path):
    path = tmp_path / "metrics.jsonl"
    text = '{"i": 0}\n{"i": 1, "x\n{"i": 2}\n'
    path.write_text(text)
    with pytest.raises(CorruptFile, match=r"metrics.jsonl:2 is not a JSON record .*restore it, or delete"):
        truncate_records(path, 1)
    assert path.read_text() == text


def test_a_log_shorter_than_its_checkpoint_is_an_error(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_records(path, [{"i": 0}])
    with pytest.raises(CorruptFile, match="holds 1 records but the checkpoint was saved after 3"):
        truncate_records(path, 3)


def test_temporary_files_a_kill_left_are_removed_and_nothing_else(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    stale = [tmp_path / "checkpoints" / ".last.pt.abc123.tmp", tmp_path / ".result.json.x1.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    write_result(tmp_path, {"x": 1})
    (tmp_path / "checkpoints" / "last.pt").write_bytes(b"kept")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(stale)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["last.pt", "result.json"]


def source_run(tmp_path, *, result: str, checkpoint_keep: float | None = None):
    run_dir = tmp_path / "runs" / "toy" / "width=8"
    best = run_dir / "checkpoints" / "best.pt"
    if checkpoint_keep is None:
        save_checkpoint(best, {"engine": {"model": {}}})
    else:
        truncated_checkpoint(best, checkpoint_keep)
    (run_dir / "result.json").write_text(result)
    return run_dir, best


FINISHED = json.dumps({"status": "complete", "config": {"task": {"kind": "masked_lm", "data_dir": "/data"},
                                                         "model": {}}})


def test_compress_and_init_from_refuse_a_source_with_a_damaged_file(tmp_path):
    run_dir, best = source_run(tmp_path, result=FINISHED, checkpoint_keep=0.5)
    with pytest.raises(CompressSourceError, match=f"source={run_dir}: checkpoint {best} is damaged"):
        find_compress_source(str(run_dir))
    with pytest.raises(SourceError, match=f"init_from={run_dir}: checkpoint {best} is damaged"):
        find_source(str(run_dir))
    (run_dir / "result.json").write_text('{"status": "complete", "conf')
    best.unlink()
    save_checkpoint(best, {"engine": {"model": {}}})
    with pytest.raises(CompressSourceError, match=r"result.json is not valid JSON .*delete it"):
        find_compress_source(str(run_dir))
    with pytest.raises(SourceError, match=r"result.json is damaged or holds no config"):
        find_source(str(run_dir))


def test_a_truncated_compressed_checkpoint_is_refused_by_name(tmp_path):
    path = tmp_path / "compressed.pt"
    torch.save({"format": "tlc-compressed/1", "weights": {"w": torch.randn(64, 64)}}, path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=f"compressed checkpoint {path} is damaged or truncated"):
        load_compressed(path)

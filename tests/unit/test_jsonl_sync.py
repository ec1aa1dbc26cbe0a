"""metrics.jsonl's writes: every record is flushed at once (a killed process keeps it), and fsync,
which costs a millisecond or more a call, runs for every valid and test record but for train
records at most once a second, and on close."""
from __future__ import annotations

import json

from tests.conftest import FakeTime
from train_large import sinks
from train_large.sinks import JsonlSink


def test_train_records_are_flushed_at_once_and_fsynced_at_most_once_a_second(tmp_path, monkeypatch):
    now = FakeTime()
    synced: list[int] = []
    monkeypatch.setattr(sinks.time, "monotonic", now)
    monkeypatch.setattr(sinks.os, "fsync", lambda fd: synced.append(fd))
    path = tmp_path / "metrics.jsonl"
    sink = JsonlSink(path)

    for updates in range(1, 5):  # 0.3 s apart: the first second passes at the 4th
        now.t += 0.3
        sink.log({"kind": "train", "updates": updates})
        assert json.loads(path.read_text().splitlines()[-1])["updates"] == updates  # readable already
    assert len(synced) == 1
    sink.log({"kind": "valid", "updates": 4})
    sink.log({"kind": "train", "updates": 5})
    assert len(synced) == 2  # the valid record at once; the train record 0 s after it waits
    sink.close()
    sink.close()
    assert len(synced) == 3 and sink.count == 6

"""The end-of-sweep summary lists finished, skipped and failed runs from the jobs' own lines."""
from __future__ import annotations

import time

from hydra_plugins.tlc_launchers.outcomes import OUTCOMES_FILE, record_outcome, sweep_summary_lines as summary_lines


def test_summary_counts_each_run_once_with_its_latest_outcome(tmp_path):
    record_outcome(tmp_path, "width=32", "finished")
    before = time.time()
    record_outcome(tmp_path, "width=64", "skipped")
    record_outcome(tmp_path, "width=128", "failed", "RuntimeError: out of memory")
    record_outcome(tmp_path, "width=128", "finished")  # requeued and then finished
    record_outcome(tmp_path, "width=256", "failed", "ValueError: bad data")
    with (tmp_path / OUTCOMES_FILE).open("a") as torn:
        torn.write('{"run": "width=5')  # a kill mid-line
    lines, failed = summary_lines(tmp_path, since=before)
    assert lines[0] == f"sweep {tmp_path}: 1 finished, 1 skipped, 1 failed"
    assert "  failed   width=256: ValueError: bad data" in lines and failed == 1
    assert not any("width=32" in line for line in lines)  # from an earlier launch


def test_a_run_held_elsewhere_is_listed_apart_and_is_not_a_failure(tmp_path):
    before = time.time()
    record_outcome(tmp_path, "width=32", "finished")
    record_outcome(tmp_path, "width=64", "running elsewhere", "runs/x/width=64 is in use by pid 7 on node1")
    lines, failed = summary_lines(tmp_path, since=before)
    assert lines[0] == f"sweep {tmp_path}: 1 finished, 0 skipped, 0 failed, 1 running elsewhere" and failed == 0
    assert any("width=64: runs/x/width=64 is in use by pid 7" in line for line in lines)

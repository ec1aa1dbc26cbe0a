"""A multirun killed midway finishes on a re-run of the same command without redoing finished runs."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import TLC_TRAIN, compose_train, subprocess_env, tlc_train
from train_large.data.datasets import ensure_dataset
from train_large.rundir import read_records

pytestmark = pytest.mark.e2e

SWEEP = ["-m", "experiment=resume", "model.width=24,32,40", "model.depth=1", "budget.train_seconds=3",
         "task.eval.bleu_sentences=20", "task.eval.test_sentences=20", "logger=none", "num_workers=0"]


def test_rerunning_a_killed_sweep_skips_finished_runs_and_completes_the_rest(tmp_path):
    ensure_dataset(compose_train([f"paths.data_root={tmp_path / 'data'}"]).task)
    sweep_dir = tmp_path / "runs" / "resume"
    proc = subprocess.Popen([TLC_TRAIN, *SWEEP], env=subprocess_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while not list(sweep_dir.glob("*/result.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    (first,) = sweep_dir.glob("*/result.json")  # killed before the second run finished
    stamps = {path: path.stat().st_mtime_ns for path in (first, first.parent / "metrics.jsonl")}

    again = tlc_train(tmp_path, *SWEEP)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(list(sweep_dir.glob("*/result.json"))) == 3
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps  # the finished run was not redone
    assert f"sweep {sweep_dir}: 2 finished, 1 skipped, 0 failed" in again.stdout
    for result in sweep_dir.glob("*/result.json"):
        valid = [r for r in read_records(result.parent / "metrics.jsonl") if r["kind"] == "valid"]
        assert [r["train_seconds"] for r in valid] == sorted(r["train_seconds"] for r in valid)

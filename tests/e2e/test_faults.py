"""Kills and stop signals against real `tlc-train` runs on CPU, with the metrics log as the oracle:
a short `scripts/fault_inject.py` (SIGKILL at every fault point), and SIGTERM (what SLURM sends
before a preemption or a requeue) answered with a checkpoint and a clean exit, then a resume that
loses and repeats nothing. SIGUSR1 and submitit's SIGUSR2 take the same path
(tests/unit/test_preemption.py)."""
from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, TLC_TRAIN, kinds, only_run_dir, subprocess_env, tlc_train
from train_large.checkpoint import checkpoint_path, load_checkpoint
from train_large.rundir import read_records

pytestmark = pytest.mark.e2e


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_fault_injection_kills_at_every_point_and_loses_nothing(toy_root, capsys):
    fault_inject = load_script("fault_inject")
    status = fault_inject.main(["--trials", "1", "--budget", "4", "--validations", "1", "--root", str(toy_root),
                                "--plan", "update:2,validation:1,checkpoint:2,result:1"])
    out = capsys.readouterr().out
    print(out)
    assert status == 0, out
    trial_line = next(line for line in out.splitlines() if line.startswith("trial 0:"))
    for point in ("update:2", "validation:1", "checkpoint:2", "result:1"):
        assert f"{point} killed" in trial_line  # each kill landed where it was aimed
    assert "1 trials, 4 kills, 0 with a loss" in out


SIGNAL_RUN = ["experiment=signals", "model.width=32", "model.depth=1", "budget.train_seconds=6",
              "budget.eval_every_seconds=3", "budget.checkpoint_every_seconds=6", "budget.log_every_seconds=0.001",
              "task.eval.bleu_sentences=10", "task.eval.test_sentences=10", "task.eval.beam=1",
              "task.eval.test_beam=1", "logger=none", "num_workers=0"]


def train_records(root: Path) -> list[dict]:
    logs = list((root / "runs" / "signals").glob("*/metrics.jsonl"))
    return kinds(read_records(logs[0]), "train") if logs else []


def stop_with(signum: int, root: Path, after_update: int) -> tuple[subprocess.Popen, str, float]:
    """Start the run, send `signum` once it has logged `after_update`; (process, output, seconds to exit)."""
    proc = subprocess.Popen([TLC_TRAIN, *SIGNAL_RUN], env=subprocess_env(root), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while not any(r["updates"] >= after_update for r in train_records(root)):
            assert proc.poll() is None and time.monotonic() < deadline, "".join(output)[-3000:]
            time.sleep(0.05)
        proc.send_signal(signum)
        sent = time.monotonic()
        proc.wait(timeout=60)  # well inside SLURM's usual warning (--signal=...@90, KillWait 30 s)
        seconds = time.monotonic() - sent
    finally:
        proc.kill()
    reader.join(timeout=10)
    return proc, "".join(output), seconds


def test_sigterm_saves_a_checkpoint_exits_cleanly_and_the_run_resumes(toy_root):
    proc, output, seconds = stop_with(signal.SIGTERM, toy_root, after_update=2)
    print(f"SIGTERM: exited {seconds:.1f} s after the signal")
    assert proc.returncode == 128 + signal.SIGTERM, output[-3000:]
    assert "SIGTERM received: stopped after saving" in output and "Traceback" not in output
    run_dir = only_run_dir(toy_root, "signals")
    assert not (run_dir / "result.json").exists()
    state = load_checkpoint(checkpoint_path(run_dir))
    # no periodic checkpoint was due: this one was written at the stop, after the last logged update
    assert state["progress"]["updates"] == train_records(toy_root)[-1]["updates"] >= 2
    assert state["progress"]["records"] == len(read_records(run_dir / "metrics.jsonl"))

    done = tlc_train(toy_root, *SIGNAL_RUN)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming from {checkpoint_path(run_dir)}" in done.stdout + done.stderr
    records = read_records(run_dir / "metrics.jsonl")
    updates = [r["updates"] for r in kinds(records, "train")]
    assert updates == list(range(1, len(updates) + 1))  # one record per update: none lost, none twice
    # exactly the validations the schedule asks for (one due at the stop comes right after the resume)
    fault_inject = load_script("fault_inject")
    wanted = fault_inject.expected_validations(kinds(records, "train"), fault_inject.Toy(budget=6.0, validations=1))
    assert [r["updates"] for r in kinds(records, "valid")] == wanted + [updates[-1]]
    seconds = [r["train_seconds"] for r in records]
    assert seconds == sorted(seconds)
    train_seconds = [r["train_seconds"] for r in kinds(records, "train")]
    assert train_seconds[-2] < 6.0 <= train_seconds[-1]  # stopped at the first update past the budget

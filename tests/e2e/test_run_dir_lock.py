"""One trainer per run directory, end to end: two identical launches at once train once, a run
directory reused with another width is refused before anything is built, and in a multirun a run
that another process holds is "running elsewhere" while the other jobs go on."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import TLC_TRAIN, compose_train, kinds, subprocess_env, tlc_train
from train_large.data.datasets import ensure_dataset
from train_large.run_names import run_name
from train_large.rundir import read_records
from train_large.runlock import hold_run_lock

pytestmark = pytest.mark.e2e

TINY = ["task=toy_mt", "model.depth=1", "task.eval.bleu_sentences=10", "task.eval.test_sentences=10",
        "logger=none", "num_workers=0"]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lock")
    ensure_dataset(compose_train([f"paths.data_root={root / 'data'}"]).task)
    return root


@pytest.fixture(scope="module")
def double_launch(root) -> tuple[Path, list[subprocess.Popen], list[tuple[str, str]]]:
    """The same command started twice at once, as from two terminals: (run dir, processes, outputs)."""
    run_dir = root / "runs" / "dual"
    command = [TLC_TRAIN, *TINY, "model.width=32", "budget.train_seconds=6", f"hydra.run.dir={run_dir}"]
    procs = [subprocess.Popen(command, env=subprocess_env(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    return run_dir, procs, outputs


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error" in line.lower()]


def test_two_identical_launches_at_once_train_once_and_the_second_names_the_first(double_launch):
    run_dir, procs, outputs = double_launch
    assert sorted(proc.returncode for proc in procs) == [0, 2], [err[-2000:] for _, err in outputs]
    winner, loser = sorted(range(2), key=lambda i: procs[i].returncode)
    (line,) = error_lines(outputs[loser][1])
    assert line.startswith(f"tlc-train: error: {run_dir} is in use by pid {procs[winner].pid} on ")
    assert "Traceback" not in outputs[loser][1]

    records = read_records(run_dir / "metrics.jsonl")
    updates = [r["updates"] for r in kinds(records, "train")]
    assert updates and updates == sorted(set(updates))  # no update logged twice
    seconds = [r["train_seconds"] for r in records]
    assert seconds == sorted(seconds)
    assert len(kinds(records, "test")) == 1


def test_a_run_dir_reused_with_another_width_is_refused_before_anything_is_built(root, double_launch):
    run_dir = double_launch[0]
    kept = [run_dir / "metrics.jsonl", run_dir / "result.json", run_dir / ".hydra" / "config.yaml"]
    stamps = {path: path.read_bytes() for path in kept}

    again = tlc_train(root, *TINY, "model.width=64", "budget.train_seconds=6", f"hydra.run.dir={run_dir}")
    assert again.returncode == 2, again.stderr[-2000:]
    (line,) = error_lines(again.stderr)
    assert f"{run_dir} already holds a run with other settings" in line and "model.width=32 there, 64 now" in line
    assert {path: path.read_bytes() for path in kept} == stamps  # its config and records untouched


def test_a_multirun_reports_a_run_held_elsewhere_and_trains_the_others(root):
    sweep = ["experiment=held", *TINY, "budget.train_seconds=2"]
    held = root / "runs" / "held" / run_name([*sweep, "model.width=24"])
    with hold_run_lock(held):
        proc = tlc_train(root, "-m", *sweep, "model.width=24,32")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"sweep {root / 'runs' / 'held'}: 1 finished, 0 skipped, 0 failed, 1 running elsewhere" in proc.stdout
    assert f"running elsewhere {held.name}: {held} is in use by pid" in proc.stdout
    assert not (held / "metrics.jsonl").exists() and not (held / ".hydra").exists()
    assert len(list(held.parent.glob("*/result.json"))) == 1

"""Tiny end-to-end runs of the real `tlc-train` CLI on the device the tests see, with the metrics log as the
oracle."""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TLC_TRAIN, expected_runtime, kinds, only_run_dir, subprocess_env, tlc_train
from tests.wandb_log import read_offline_history
from train_large.checkpoint import checkpoint_path, load_checkpoint
from train_large.rundir import read_records

pytestmark = pytest.mark.e2e

TINY = ["model.width=64", "model.depth=2", "task.eval.bleu_sentences=100"]
SACREBLEU = str(Path(sys.executable).parent / "sacrebleu")
BASE_KEYS = {"kind", "train_seconds", "wall_seconds", "updates", "tokens"}


@pytest.fixture(scope="module")
def finished_run(toy_root):
    args = ["experiment=e2e", *TINY, "budget.train_seconds=30", "budget.eval_every_seconds=5"]
    proc = tlc_train(toy_root, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return args, only_run_dir(toy_root, "e2e")


def test_records_are_well_formed_and_bleu_rises(finished_run):
    _, run_dir = finished_run
    records = read_records(run_dir / "metrics.jsonl")
    for record in records:
        assert BASE_KEYS <= record.keys()
    for record in kinds(records, "valid") + kinds(records, "test"):
        assert {"loss", "ppl", "bleu", "sacrebleu_signature", "eval_seconds", "bleu_seconds"} <= record.keys()
        assert record["sacrebleu_signature"].startswith("nrefs:1")
    seconds = [r["train_seconds"] for r in records]
    assert seconds == sorted(seconds)
    valid = kinds(records, "valid")
    assert len(valid) == 6  # at 5, 10, 15, 20, 25 s, then the final one at 30 s
    assert valid[-1]["bleu"] > valid[0]["bleu"] + 0.5
    assert valid[-1]["ppl"] < valid[0]["ppl"] / 2
    assert len(kinds(records, "test")) == 1 and kinds(records, "test")[0]["bleu_sentences"] == 1000


def test_saved_test_translations_give_the_recorded_bleu_with_the_sacrebleu_cli(finished_run):
    _, run_dir = finished_run
    result = json.loads((run_dir / "result.json").read_text())
    test = result["final"]["test"]
    hypotheses = run_dir / "outputs" / "test.hyp.fr"
    assert test["hypotheses_file"] == str(hypotheses) and result["outputs"]["test"]["lines"] == 1000
    assert len(hypotheses.read_text(encoding="utf-8").split("\n")) == 1001  # one per line, newline-ended
    # toy data: its untouched references are the generated text
    assert test["references"] == "untouched" and test["references_file"].endswith("untouched/test.fr")
    assert test["recompute"] == (f"sacrebleu {shlex.quote(test['references_file'])} -i {shlex.quote(str(hypotheses))} "
                                 "-m bleu -b -w 4 --tokenize 13a")
    printed = subprocess.run([SACREBLEU, test["references_file"], "-i", str(hypotheses), "-m", "bleu", "-b",
                              "-w", "4", "--tokenize", "13a"], capture_output=True, text=True, check=True)
    assert printed.stdout.strip() == f"{test['bleu']:.4f}"


def test_training_clock_stops_at_the_budget_and_excludes_eval_time(finished_run):
    args, run_dir = finished_run
    records = read_records(run_dir / "metrics.jsonl")
    result = json.loads((run_dir / "result.json").read_text())
    assert 30.0 <= result["train_seconds"] < 32.0
    eval_time = sum(r["eval_seconds"] + r["bleu_seconds"] for r in kinds(records, "valid"))
    assert records[-1]["wall_seconds"] > result["train_seconds"] + eval_time
    assert result["status"] == "complete" and result["params"] > 0
    assert result["config"]["model"]["width"] == 64
    # auto precision, default workers and world size, recorded as the run resolved them on this machine
    expected = expected_runtime(args)
    assert (result["config"]["precision"], result["config"]["num_workers"], result["world_size"]) == (
        expected["precision"], expected["num_workers"], expected["world_size"])
    assert load_checkpoint(checkpoint_path(run_dir, "best.pt"))["metrics"]["bleu"] == result["best_valid_bleu"]


def test_wandb_offline_history_holds_train_seconds_and_bleu(finished_run):
    _, run_dir = finished_run
    valid = kinds(read_records(run_dir / "metrics.jsonl"), "valid")
    history = [row for row in read_offline_history(run_dir) if "valid/bleu" in row]
    assert [round(row["train_seconds"], 3) for row in history] == [round(r["train_seconds"], 3) for r in valid]
    assert [row["valid/bleu"] for row in history] == pytest.approx([r["bleu"] for r in valid])


def test_finished_run_is_skipped(finished_run, toy_root):
    args, run_dir = finished_run
    before = (run_dir / "metrics.jsonl").read_bytes()
    wandb_runs = sorted((run_dir / "wandb").glob("offline-run-*"))
    proc = tlc_train(toy_root, *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "run already complete" in proc.stdout + proc.stderr
    assert '"bleu"' in proc.stdout
    assert (run_dir / "metrics.jsonl").read_bytes() == before
    assert sorted((run_dir / "wandb").glob("offline-run-*")) == wandb_runs


def wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.2)


def test_kill_9_then_resume_loses_nothing_and_duplicates_nothing(toy_root):
    args = ["experiment=resume", *TINY, "budget.train_seconds=20", "budget.eval_every_seconds=4",
            "budget.checkpoint_every_seconds=2", "logger=none"]
    proc = subprocess.Popen([TLC_TRAIN, *args], env=subprocess_env(toy_root), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    metrics = toy_root / "runs" / "resume"

    def two_validations_done() -> bool:
        files = list(metrics.glob("*/metrics.jsonl"))
        return bool(files) and len(kinds(read_records(files[0]), "valid")) >= 2

    try:
        wait_for(two_validations_done, timeout=120)
        time.sleep(1.3)  # mid-way between checkpoints: some records must be dropped and redone
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    run_dir = only_run_dir(toy_root, "resume")
    assert not (run_dir / "result.json").exists()

    resumed = tlc_train(toy_root, *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stdout + resumed.stderr
    records = read_records(run_dir / "metrics.jsonl")
    valid = kinds(records, "valid")
    # Each validation lands at the first update end past its mark (4, 8, 12, 16 s): one per
    # 4-s window, none missing, none repeated, however long a single update takes.
    windows = [int(r["train_seconds"] // 4) for r in valid[:-1]]
    assert len(windows) == 4 and windows == sorted(set(windows)), windows
    assert all(window >= mark for mark, window in zip((1, 2, 3, 4), windows)), windows
    assert 20.0 <= valid[-1]["train_seconds"] < 24.0
    updates = [r["updates"] for r in kinds(records, "train")]
    assert updates == sorted(set(updates))
    assert len(kinds(records, "test")) == 1
    assert load_checkpoint(checkpoint_path(run_dir))["progress"]["records"] <= len(records)


def test_multirun_gives_one_directory_per_override_set(toy_root):
    proc = tlc_train(toy_root, "-m", "experiment=sweep", "model.width=32,64", "model.depth=1",
                     "budget.max_updates=15", "task.eval.bleu_sentences=20", "logger=none")
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = sorted((toy_root / "runs" / "sweep").glob("*/result.json"))
    names = [p.parent.name for p in results]
    # keys shortened to their last part; sorted by the full key
    assert names == [f"max_updates=15,depth=1,width={w},bleu_sentences=20" for w in (32, 64)]
    widths = [json.loads(p.read_text())["config"]["model"]["width"] for p in results]
    assert widths == [32, 64]
    assert all(json.loads(p.read_text())["updates"] == 15 for p in results)
    # the same overrides as a single run land in the same directory, which is already complete
    again = tlc_train(toy_root, "experiment=sweep", "model.width=64", "model.depth=1",
                      "budget.max_updates=15", "task.eval.bleu_sentences=20", "logger=none")
    assert "run already complete" in again.stdout + again.stderr


def test_budget_schedule_rises_then_falls_to_zero_at_the_end_of_the_budget(toy_root):
    """optim.schedule=budget through the real engine: the rate each record carries follows the
    budget's seconds, and fairseq's own scheduler does not put it back between updates."""
    proc = tlc_train(toy_root, "experiment=e2e_budget_lr", "model.width=32", "model.depth=1",
                     "optim.schedule=budget", "optim.warmup_fraction=0.2", "optim.lr=0.002",
                     "budget.train_seconds=12", "budget.eval_every_seconds=6", "budget.log_every_seconds=0.25",
                     "task.eval.bleu_sentences=20", "task.eval.test_sentences=20", "logger=none")
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = read_records(only_run_dir(toy_root, "e2e_budget_lr") / "metrics.jsonl")
    assert all("lr" in record for record in records)
    rates = [r["lr"] for r in kinds(records, "train")]
    top = rates.index(max(rates))
    # Shapes only: on a loaded machine an update can take a second, so records are sparse.
    assert 0.5 * 0.002 <= rates[top] <= 0.002 * (1 + 1e-6)
    assert top > 0 and rates[0] < rates[top]  # warming up: the first update runs at rate 0
    assert rates[top:] == sorted(rates[top:], reverse=True) and rates[-1] < 0.15 * 0.002
    assert kinds(records, "test")[0]["lr"] == rates[-1]  # the final model's last update

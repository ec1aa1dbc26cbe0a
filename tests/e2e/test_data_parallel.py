"""A run with world_size=2 trains data-parallel (two gloo processes on CPU, as on two GPUs). CPU is
forced: on a GPU machine world_size=2 would otherwise ask for two GPUs (tests/e2e/test_gpu.py runs
that case where two exist)."""
from __future__ import annotations

import json

import pytest

from tests.conftest import compose_train, only_run_dir, tlc_train
from train_large.checkpoint import checkpoint_path, load_checkpoint
from train_large.data.datasets import ensure_dataset
from train_large.rundir import read_records

pytestmark = pytest.mark.e2e


def test_two_processes_train_one_model_and_rank_0_writes_the_run(tmp_path):
    ensure_dataset(compose_train([f"paths.data_root={tmp_path / 'data'}"]).task)
    proc = tlc_train(tmp_path, "world_size=2", "model.width=32", "model.depth=1", "budget.max_updates=4",
                     "budget.train_seconds=600", "task.eval.bleu_sentences=20", "task.eval.test_sentences=20",
                     "experiment=dp", "logger=none", "num_workers=0", "device=cpu")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = only_run_dir(tmp_path, "dp")
    result = json.loads((run_dir / "result.json").read_text())
    assert result["world_size"] == 2 and result["updates"] == 4
    assert result["batch_tokens"] == 2 * 2048  # max_tokens per process x processes
    records = read_records(run_dir / "metrics.jsonl")
    assert [r["kind"] for r in records].count("test") == 1  # one writer, no duplicates
    # every update's tokens are summed over both shards, so 4 updates hold more than one shard's batch
    assert result["tokens"] > 4 * 2048
    state = load_checkpoint(checkpoint_path(run_dir))
    assert state["progress"]["updates"] == 4

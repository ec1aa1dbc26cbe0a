"""The benchmark's clock check through the real loop, engine, evaluator and checkpoints
(scripts/bench/measure.py loop_run): a few updates of a tiny toy model, the training clock within 1%
of the same updates timed independently; on CPU by a second host timer, on CUDA by CUDA events."""
from __future__ import annotations

import pytest

from tests.conftest import compose_train
from train_large.data.datasets import ensure_dataset

pytestmark = pytest.mark.e2e

TIMERS = {"cpu": "host timer", "cuda": "CUDA events"}


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_the_clock_agrees_with_each_update_timed_independently(toy_root, tmp_path, device):
    from scripts.bench.measure import loop_run

    cfg = compose_train([f"paths.data_root={toy_root / 'data'}", f"device={device}", "model.width=32",
                         "model.depth=1", "budget.max_updates=10", "budget.train_seconds=600",
                         "task.eval.bleu_sentences=10", "task.eval.test_sentences=10", "task.eval.beam=1",
                         "task.eval.test_beam=1", "logger=none", "num_workers=0"])
    run = loop_run(cfg, ensure_dataset(cfg.task), device, tmp_path / "work")
    check = run["clock_check"]
    assert (check["timer"], check["updates"]) == (TIMERS[device], 10)
    assert check["ok"] and abs(check["error"]) <= 0.01, check
    assert check["clock_seconds"] == pytest.approx(run["train_seconds"])

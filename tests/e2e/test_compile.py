"""`compile=true`: the engine's encoder layers run through torch.compile, train to the same losses
as eager layers, and evaluate uncompiled."""
from __future__ import annotations

import math

import pytest

from tests.conftest import compose_train
from train_large.data.datasets import ensure_dataset
from train_large.engine import build_engine
from train_large.runtime import resolve_runtime
from train_large.engine.core import encoder_layers

pytestmark = pytest.mark.e2e

UPDATES = 4


def losses_and_engine(data_root, compiled: bool):
    cfg = compose_train([f"paths.data_root={data_root}", "task=toy_mlm", "model.width=32", "model.depth=2",
                         "device=cpu", "logger=none", "num_workers=0", f"compile={compiled}"])
    engine = build_engine(cfg, ensure_dataset(cfg.task), resolve_runtime(cfg, "cpu"))
    return [engine.train_step().loss for _ in range(UPDATES)], engine


def test_compiled_layers_train_like_eager_ones_and_validate(tmp_path):
    eager_losses, eager = losses_and_engine(tmp_path, compiled=False)
    compiled_losses, compiled = losses_and_engine(tmp_path, compiled=True)
    assert all(layer._compiled_call_impl is not None for layer in encoder_layers(compiled.model))
    assert not any(layer._compiled_call_impl is not None for layer in encoder_layers(eager.model))
    # same seed, same batches: only the fused kernels' rounding differs
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-3)
    # fairseq reports training losses rounded to 3 decimals (in bits), so two updates can tie
    assert len(set(eager_losses)) > 1
    eager_valid, compiled_valid = eager.validate("valid"), compiled.validate("valid")
    assert math.isfinite(compiled_valid["ppl"])
    assert compiled_valid["ppl"] == pytest.approx(eager_valid["ppl"], rel=1e-2)

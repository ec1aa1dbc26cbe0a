"""What only a CUDA GPU can show: a bf16 toy run through `tlc-train`, `compile=true` on CUDA, a bf16
source through `tlc-compress`, and data-parallel training on two GPUs.

Marked `gpu`: without a visible CUDA device they are skipped with the reason (tests/conftest.py),
and each asks for `device=cuda` itself, so on a CPU machine they could only fail, never pass.
Run them with `./scripts/test.sh -m gpu`.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import compose_train, expected_runtime, kinds, only_run_dir, subprocess_env, tlc_train
from train_large.data.datasets import ensure_dataset
from train_large.rundir import read_records
from train_large.runtime import resolve_runtime

pytestmark = [pytest.mark.e2e, pytest.mark.gpu]

TLC_COMPRESS = str(Path(sys.executable).parent / "tlc-compress")
# A 5-s run that validates once (at the end) and tests on 20 greedy sentences.
SHORT = ["model.width=64", "model.depth=1", "budget.train_seconds=5", "budget.eval_every_seconds=5",
         "task.eval.bleu_sentences=20", "task.eval.test_sentences=20", "task.eval.beam=1", "task.eval.test_beam=1",
         "logger=none"]
BF16_RUN = ["experiment=gpu_bf16", "device=cuda", "precision=bf16", "world_size=1", *SHORT]


def finite(values) -> bool:
    return all(math.isfinite(v) for v in values)


@pytest.fixture(scope="module")
def bf16_run(toy_root) -> Path:
    proc = tlc_train(toy_root, *BF16_RUN)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return only_run_dir(toy_root, "gpu_bf16")


def test_a_bf16_run_trains_on_cuda_and_records_its_precision(bf16_run):
    from compress.source import find_source, load_weights

    result = json.loads((bf16_run / "result.json").read_text())
    assert result["status"] == "complete" and result["world_size"] == 1
    assert (result["config"]["device"], result["config"]["precision"]) == ("cuda", "bf16")
    records = read_records(bf16_run / "metrics.jsonl")
    train = kinds(records, "train")
    assert len(train) >= 2 and finite(r["loss"] for r in train)
    assert train[-1]["loss"] < train[0]["loss"]
    assert finite([kinds(records, "valid")[-1]["bleu"], kinds(records, "test")[-1]["bleu"]])
    assert 5.0 <= result["train_seconds"] < 7.0
    # the model itself trained in bf16: its checkpoint holds bf16 weights
    weights = load_weights(find_source(str(bf16_run)))
    ffn = [value for name, value in weights.items() if name.endswith("fc1.weight")]
    assert ffn and all(value.dtype == torch.bfloat16 for value in ffn)


def test_precision_auto_resolves_on_cuda_as_the_harness_says(toy_root):
    args = ["experiment=gpu_auto", "device=cuda", "world_size=1", *SHORT]
    proc = tlc_train(toy_root, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((only_run_dir(toy_root, "gpu_auto") / "result.json").read_text())
    expected = expected_runtime(args)
    assert expected["precision"] in ("bf16", "fp16")  # auto is mixed precision on a GPU
    assert (result["config"]["precision"], result["config"]["num_workers"]) == (
        expected["precision"], expected["num_workers"])


def tlc_compress(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TLC_COMPRESS, *args], env=subprocess_env(root), capture_output=True, text=True,
                          timeout=300)


def test_a_bf16_source_compresses_on_cuda_with_fine_tuning_and_on_cpu(bf16_run, toy_root):
    quick = ["logger=none", "evaluation.test=false"]
    on_cuda = tlc_compress(toy_root, f"source='{bf16_run}'", "experiment=gpu_pruned", "device=cuda",
                           "compression=prune", "compression.sparsity=0.5", "compression.schedule=iterative",
                           "compression.steps=2", "compression.finetune_seconds=2", *quick)
    assert on_cuda.returncode == 0, on_cuda.stderr[-3000:]
    pruned = only_run_dir(toy_root, "gpu_pruned")
    result = json.loads((pruned / "result.json").read_text())
    assert result["sparsity"] == pytest.approx(0.5, abs=1e-3) and math.isfinite(result["final"]["valid"]["bleu"])
    records = read_records(pruned / "metrics.jsonl")
    assert kinds(records, "train") and finite(r["loss"] for r in kinds(records, "train"))  # fine-tuned in bf16

    on_cpu = tlc_compress(toy_root, f"source='{bf16_run}'", "experiment=gpu_quantized_on_cpu", "device=cpu",
                          "compression=quantize", "compression.bits=8", *quick)
    assert on_cpu.returncode == 0, on_cpu.stderr[-3000:]
    result = json.loads((only_run_dir(toy_root, "gpu_quantized_on_cpu") / "result.json").read_text())
    assert result["bits"] == 8 and math.isfinite(result["final"]["valid"]["bleu"])


def test_compiled_layers_train_like_eager_ones_on_cuda(toy_root):
    from train_large.engine import build_engine
    from train_large.engine.core import encoder_layers

    def losses(compiled: bool) -> tuple[list[float], object]:
        # No dropout: compiled kernels draw their own random masks, which would differ from eager's.
        cfg = compose_train([f"paths.data_root={toy_root / 'data'}", "task=toy_mlm", "model.width=64",
                             "model.depth=2", "model.dropout=0", "model.attention_dropout=0", "device=cuda",
                             "precision=bf16", "logger=none", "num_workers=0", f"compile={compiled}"])
        engine = build_engine(cfg, ensure_dataset(cfg.task), resolve_runtime(cfg, "cuda"))
        return [engine.train_step().loss for _ in range(4)], engine

    eager_losses, eager = losses(compiled=False)
    compiled_losses, compiled = losses(compiled=True)
    assert all(layer._compiled_call_impl is not None for layer in encoder_layers(compiled.model))
    assert next(compiled.model.parameters()).dtype == torch.bfloat16
    # same seed and batches; bf16 rounding in the fused kernels is all that differs
    assert compiled_losses == pytest.approx(eager_losses, rel=2e-2)
    eager_valid, compiled_valid = eager.validate("valid"), compiled.validate("valid")
    assert math.isfinite(compiled_valid["ppl"])
    assert compiled_valid["ppl"] == pytest.approx(eager_valid["ppl"], rel=5e-2)


def test_two_gpus_train_one_model_data_parallel(tmp_path):
    if torch.cuda.device_count() < 2:
        pytest.skip(f"needs two CUDA GPUs; this machine shows {torch.cuda.device_count()}")
    ensure_dataset(compose_train([f"paths.data_root={tmp_path / 'data'}"]).task)
    args = ["device=cuda", "world_size=2", "model.width=32", "model.depth=1", "budget.max_updates=4",
            "budget.train_seconds=600", "task.eval.bleu_sentences=20", "task.eval.test_sentences=20",
            "experiment=dp_gpu", "logger=none"]
    proc = tlc_train(tmp_path, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = only_run_dir(tmp_path, "dp_gpu")
    result = json.loads((run_dir / "result.json").read_text())
    expected = expected_runtime(args)
    assert (result["world_size"], result["updates"]) == (2, 4)
    assert (result["config"]["precision"], result["config"]["num_workers"]) == (
        expected["precision"], expected["num_workers"])
    assert result["tokens"] > 4 * 2048  # every update's tokens are summed over both shards
    assert [r["kind"] for r in read_records(run_dir / "metrics.jsonl")].count("test") == 1  # one writer

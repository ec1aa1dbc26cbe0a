"""Tiny end-to-end runs of the real `tlc-compress` CLI on one toy translation model, on CPU.

One width-48, 1+1-layer model trains for 15 training seconds; every test compresses it. The
oracles are the source's best checkpoint (its valid BLEU, on the same sentences and settings),
the compressed checkpoint and the metrics log.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from compress.checkpoint import HEADER_ALLOWANCE_BYTES, load_compressed, unpacked_weights
from compress.finetune import fine_tune
from compress.prune import prune_magnitude
from compress.targets import select_targets
from tests.conftest import kinds, only_run_dir, subprocess_env, tlc_train
from tests.wandb_log import read_offline_run
from train_large.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from train_large.clock import TrainingClock
from train_large.evaluate import Evaluator
from train_large.loop import Progress
from train_large.rundir import read_records, write_result

pytestmark = pytest.mark.e2e

TLC_COMPRESS = str(Path(sys.executable).parent / "tlc-compress")
QUICK = ["logger=none", "evaluation.test=false"]


def tlc_compress(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([TLC_COMPRESS, *args], env=subprocess_env(root), capture_output=True, text=True,
                          timeout=timeout)


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, Path]:
    """(root, run dir) of one finished toy translation run."""
    root = tmp_path_factory.mktemp("compress")
    # One validation, at the end: an untrained model decodes slowly, and best.pt is then the final model.
    proc = tlc_train(root, "experiment=source", "model.width=48", "model.depth=1", "budget.train_seconds=15",
                     "budget.eval_every_seconds=15", "task.eval.bleu_sentences=50", "task.eval.test_beam=1",
                     "logger=none")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, only_run_dir(root, "source")


@pytest.fixture(scope="module")
def half_pruned(source) -> Path:
    """Iterative pruning to 0.5 (2 rounds, 2 s of fine-tuning each), logged to offline W&B."""
    root, run_dir = source
    proc = tlc_compress(root, f"source='{run_dir}'", "experiment=pruned", "compression=prune",
                        "compression.sparsity=0.5", "compression.schedule=iterative", "compression.steps=2",
                        "compression.finetune_seconds=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return only_run_dir(root, "pruned")


@pytest.fixture(scope="module")
def bf16_source(source) -> tuple[Path, Path]:
    """(root, run dir) of the toy source as a CUDA bf16 run leaves it: fairseq's bf16 trainer keeps
    fp32 master weights in the optimizer, but the model it trains, which best.pt and last.pt
    save, is bf16."""
    root, run_dir = source
    copy = root / "runs" / "bf16_source" / run_dir.name
    shutil.copytree(run_dir, copy)
    for name in ("best.pt", "last.pt"):
        state = load_checkpoint(checkpoint_path(copy, name))
        cast: dict[tuple, torch.Tensor] = {}  # model.bfloat16() keeps tied tensors one tensor
        state["engine"]["model"] = {
            key: cast.setdefault((value.untyped_storage().data_ptr(), value.storage_offset(), value.shape),
                                 value.bfloat16()) if value.is_floating_point() else value
            for key, value in state["engine"]["model"].items()}
        save_checkpoint(checkpoint_path(copy, name), state)
    result = json.loads((copy / "result.json").read_text())
    result["config"]["precision"] = "bf16"
    write_result(copy, {**result, "run_dir": str(copy)})
    return root, copy


def test_source_sweep_of_sparsity_0_and_16_bits_leaves_bleu_unchanged_and_reruns_skip(source):
    root, run_dir = source
    args = ["-m", f"source_sweep={run_dir.parent}", "experiment=lossless", "compression=prune_quantize",
            "compression.sparsity=0", "compression.bits=32,16", *QUICK]
    proc = tlc_compress(root, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 finished, 0 skipped, 0 failed" in proc.stdout
    results = {r["bits"]: r for r in (json.loads(path.read_text())
                                      for path in (root / "runs" / "lossless").glob("*/result.json"))}
    assert set(results) == {32, 16}
    for result in results.values():
        assert result["source"]["run_dir"] == str(run_dir)
    source = load_checkpoint(checkpoint_path(run_dir, "best.pt"))["metrics"]
    assert results[32]["final"]["valid"]["bleu"] == pytest.approx(source["bleu"], abs=1e-9)
    assert results[32]["final"]["valid"]["loss"] == pytest.approx(source["loss"], rel=1e-6)
    # 16-bit codes move each weight by at most half a step (~1.5e-5 of its row's largest), so the
    # loss barely moves; greedy decoding may still flip a token of an undertrained model.
    assert results[16]["final"]["valid"]["loss"] == pytest.approx(source["loss"], rel=1e-3)
    assert results[16]["final"]["valid"]["bleu"] == pytest.approx(source["bleu"], abs=0.5)
    assert results[32]["ratio"] == 1.0 and results[32]["sparsity"] == 0.0
    assert results[32]["source_bytes"] == results[32]["bytes"] == results[32]["fp32_bytes"]
    assert (results[32]["precision"], results[32]["quantized"], results[16]["quantized"]) == ("fp32", False, True)
    # 16 bits: the codes of the tiniest weights round to 0; the untargeted embeddings keep the ratio under 2.
    assert 1.0 < results[16]["ratio"] < 2.0 and results[16]["sparsity"] < 1e-3
    again = tlc_compress(root, *args)
    assert again.returncode == 0 and "0 finished, 2 skipped, 0 failed" in again.stdout


def assert_file_is_the_reported_bytes(run_dir: Path) -> dict:
    """The packed file is where result.json says, of the size it says, and stores each tensor in the
    layout result.json reports for it; returns the file's contents."""
    result = json.loads((run_dir / "result.json").read_text())
    path = run_dir / "checkpoints" / "compressed.safetensors"
    assert result["file"] == str(path) and result["file_bytes"] == path.stat().st_size
    assert result["bytes"] <= result["file_bytes"] <= 1.02 * result["bytes"] + HEADER_ALLOWANCE_BYTES, result
    state = load_compressed(path)
    assert {row["name"]: row["format"] for row in result["tensors"]} == \
        {name: entry["format"] for name, entry in state["layout"].items()}
    return state


def test_pruning_half_zeroes_exactly_round_s_n_and_costs_more_than_half_the_bytes(half_pruned):
    result = json.loads((half_pruned / "result.json").read_text())
    weights = unpacked_weights(assert_file_is_the_reported_bytes(half_pruned))
    targets = [row for row in result["tensors"] if row["name"].endswith(("_proj.weight", "fc1.weight", "fc2.weight"))]
    assert {row["format"] for row in targets} == {"bitmask"}  # half the weights: the mask is cheapest
    numel = sum(row["numel"] for row in targets)
    zeros = sum(int((weights[row["name"]] == 0).sum()) for row in targets)
    assert zeros == round(0.5 * numel) and result["sparsity"] == zeros / numel
    assert 1.0 < result["ratio"] < 2.0  # the bitmask and the untargeted weights: 50% pruning is not 2x
    assert result["bytes"] == sum(row["bytes"] for row in result["tensors"])


def test_iterative_pruning_logs_its_rounds_and_both_splits(half_pruned):
    records = read_records(half_pruned / "metrics.jsonl")
    assert [r["round"] for r in kinds(records, "prune")] == [1, 2]
    assert kinds(records, "prune")[-1]["sparsity"] == pytest.approx(0.5, abs=1e-6)
    assert {r["round"] for r in kinds(records, "train")} <= {1, 2} and kinds(records, "train")
    assert records[-1]["train_seconds"] >= 4.0
    for split in ("valid", "test"):
        (record,) = kinds(records, split)
        assert {"bleu", "bytes", "ratio", "sparsity", "bits"} <= record.keys()
    run = read_offline_run(half_pruned)
    assert run.job_type == "compress" and run.group == "pruned"
    assert {"bytes", "ratio", "final/valid_bleu"} <= run.summary.keys()


def test_compressed_checkpoint_reloads_to_the_same_bleu_and_fine_tuning_keeps_masks(half_pruned):
    from compress.pipeline import reload

    engine, data, cfg = reload(half_pruned)
    result = json.loads((half_pruned / "result.json").read_text())
    clock = TrainingClock()
    assert Evaluator(engine, data, cfg.task.eval).evaluate("valid", clock)["bleu"] == \
        result["final"]["valid"]["bleu"]
    # Fine-tuning under fresh masks: the optimizer updates weight_orig, the masked weights stay 0.
    targets = select_targets(engine.model)
    prune_magnitude(engine.model, targets, 0.7)
    before = [t.parameter.detach().clone() for t in targets]
    fine_tune(engine, clock, Progress(), 1.0, lambda kind, record: None)
    assert any(not torch.equal(b, t.parameter) for b, t in zip(before, targets))
    numel = sum(t.numel() for t in targets)
    assert sum(int((t.weight == 0).sum()) for t in targets) == round(0.7 * numel)


def test_a_bad_source_dir_is_one_line_and_exit_2(source, tmp_path):
    root, _ = source
    proc = tlc_compress(root, f"source={tmp_path / 'nowhere'}", "compression=prune", *QUICK)
    assert proc.returncode == 2 and len(error_lines(proc)) == 1, proc.stderr
    assert error_lines(proc)[0].startswith("tlc-compress: error: source=") and "does not exist" in proc.stderr


def test_an_unreachable_ratio_is_one_line_and_exit_2_before_any_run_dir(source):
    root, run_dir = source
    proc = tlc_compress(root, f"source='{run_dir}'", "experiment=unreachable", "compression=prune",
                        "compression.ratio=100", *QUICK)
    assert proc.returncode == 2 and len(error_lines(proc)) == 1, proc.stderr
    assert "compression.ratio=100.0 is out of reach for prune" in proc.stderr
    assert not (root / "runs" / "unreachable").exists()


def test_a_bf16_source_records_its_own_bytes_and_is_counted_at_the_precision_it_is_held(bf16_source):
    from compress.footprint import model_bytes
    from compress.pipeline import Settings, compression_figures, reload

    root, run_dir = bf16_source
    proc = tlc_compress(root, f"source='{run_dir}'", "experiment=bf16", "compression=prune",
                        "compression.sparsity=0", *QUICK)
    assert proc.returncode == 0, proc.stderr[-3000:]
    compressed = only_run_dir(root, "bf16")
    result = json.loads((compressed / "result.json").read_text())
    assert result["source_bytes"] * 2 == result["fp32_bytes"]  # the source's checkpoint, at bf16
    # On CPU the engine holds the model at fp32 (fairseq has no CPU bf16): that is the model evaluated,
    # stored in compressed.safetensors and counted.
    assert (result["precision"], result["bits"], result["quantized"]) == ("fp32", 32, False)
    assert result["bytes"] == result["fp32_bytes"] and result["ratio"] == 1.0
    # On CUDA the engine keeps the source's bf16, and the same accounting of the same fairseq model
    # gives what that run records: its bytes are the source's own.
    engine, _, _ = reload(compressed)
    model = engine.model.bfloat16()
    targets = select_targets(model)
    figures = compression_figures(SimpleNamespace(**result["compression"]), Settings(0.0, None), model_bytes(model),
                                  model, targets)
    assert (figures["precision"], figures["bits"], figures["quantized"]) == ("bf16", 16, False)
    assert (figures["bytes"], figures["fp32_bytes"], figures["ratio"]) == (
        result["source_bytes"], result["fp32_bytes"], 2.0)


def test_an_8_bit_pruned_file_is_what_was_evaluated_and_benchmarks_on_int8_kernels(source, tmp_path):
    """prune + 8-bit codes: the file holds the reported bytes, the model rebuilt from it scores what
    result.json reports, and the latency benchmark runs its Linears on int8 kernels from its codes."""
    from compress.pipeline import reload

    root, run_dir = source
    proc = tlc_compress(root, f"source='{run_dir}'", "experiment=int8", "compression=prune_quantize",
                        "compression.sparsity=0.5", "compression.bits=8", *QUICK)
    assert proc.returncode == 0, proc.stderr[-3000:]
    compressed = only_run_dir(root, "int8")
    state = assert_file_is_the_reported_bytes(compressed)
    assert {entry["bits"] for entry in state["layout"].values()} == {8, None}
    result = json.loads((compressed / "result.json").read_text())
    engine, data, cfg = reload(compressed)
    assert Evaluator(engine, data, cfg.task.eval).evaluate("valid", TrainingClock())["bleu"] == \
        result["final"]["valid"]["bleu"]
    out = tmp_path / "bench.json"
    bench = subprocess.run([sys.executable, "-m", "scripts.bench", "int8",
                            "--run", str(compressed), "--repeats", "2", "--warmup", "0", "--threads", "1",
                            "--batch", "2", "--out", str(out)],
                           env={**subprocess_env(root), "PYTHONPATH": str(Path(__file__).parents[2])},
                           capture_output=True, text=True, timeout=300)
    assert bench.returncode == 0, bench.stderr[-3000:]
    (case,) = json.loads(out.read_text())["cases"]
    assert case["file_bytes"] == result["file_bytes"] and case["int8_linears"] == case["quantized_weights"] > 0
    assert "no sparse kernel" in case["kernel"] and case["max_abs_logit_error_relative"]["vs_dequantized_file"] < 0.1

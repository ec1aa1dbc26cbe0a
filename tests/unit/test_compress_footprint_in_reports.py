"""Claim 4 and `--advise bytes=` read a bf16 source's compressions at their real bytes.

An fp32 width-32 source (56,576 parameters: 226,304 bytes) and a bf16 width-128 one (521,216
parameters: 2,084,864 bytes at fp32, 1,042,432 as it was trained). Results from before
`precision` and `quantized` were recorded read as they always did.
"""
from __future__ import annotations

import json
from pathlib import Path

from sweeps.report.advise import advise
from sweeps.report.budget import Budget
from sweeps.report.claim_compression import how, large_models_compress_better
from sweeps.report.collect import collect
from tests.report_runs import width_sweep, write_compress_run


def write_bf16_compression(root: Path, source: Path, *, sparsity: float, bytes_: int, valid: float) -> Path:
    """An unquantized compression of `source` as tlc-compress records it on a bf16 model."""
    run_dir = write_compress_run(root, source, method="prune", sparsity=sparsity, bytes_=bytes_, valid=valid)
    result = json.loads((run_dir / "result.json").read_text())
    result.update(bits=16, quantized=False, precision="bf16", source_bytes=result["fp32_bytes"] // 2)
    (run_dir / "result.json").write_text(json.dumps(result))
    return run_dir


def sources(root: Path) -> tuple[Path, Path]:
    small, _, large = width_sweep(root, (20.0, 30.0, 40.0))
    write_compress_run(root, small, method="quantize", bits=32, bytes_=226_304, valid=20.0)  # an old result
    write_compress_run(root, small, method="quantize", bits=8, bytes_=56_576, valid=19.5)
    write_bf16_compression(root, large, sparsity=0.0, bytes_=1_042_432, valid=40.0)
    write_bf16_compression(root, large, sparsity=0.9, bytes_=150_000, valid=30.0)
    return small, large


def test_a_bf16_model_is_its_own_baseline_and_labelled_bf16_not_fp32(tmp_path: Path) -> None:
    sources(tmp_path)
    runs = {(r.width, r.compression.bytes): r for r in collect([tmp_path]) if r.compression}
    untouched, pruned = runs[(128, 1_042_432)], runs[(128, 150_000)]
    assert untouched.compression.is_baseline and (untouched.compression.bits, untouched.compression.ratio) == (16, 2.0)
    assert how(untouched) == "bf16, 1,042,432 bytes" and how(pruned) == "sparsity 0.90, bf16, 150,000 bytes"
    old_fp32, eight_bits = runs[(32, 226_304)], runs[(32, 56_576)]
    assert old_fp32.compression.is_baseline and how(old_fp32) == "fp32, 226,304 bytes"
    assert eight_bits.compression.quantized and how(eight_bits) == "8 bits, 56,576 bytes"


def test_claim4_and_the_advice_compare_the_bytes_each_model_is_stored_in(tmp_path: Path) -> None:
    sources(tmp_path)
    runs = collect([tmp_path])
    verdict = large_models_compress_better(runs)
    assert verdict.numbers[0] == ("toy_mt, 150,000 bytes: width=128 30 (sparsity 0.90, bf16, 150,000 bytes) vs "
                                  "width=32 19.5 (8 bits, 56,576 bytes): +10.5 BLEU (1 seed, no interval)")
    # The untouched bf16 model fits in its own 1,042,432 bytes, not in its 2,084,864 fp32 ones.
    (advice,) = advise(runs, Budget(bytes=1_100_000))
    assert advice.best.run.compression.bytes == 1_042_432 and advice.best.value == 40.0
    (advice,) = advise(runs, Budget(bytes=1_000_000))
    assert advice.best.run.compression.bytes == 150_000

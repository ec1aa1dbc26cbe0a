"""--advise with replicas: configurations are ranked by their mean over seeds, shown with spread and n,
the margin says when it is within the noise, and no choice is ever made on a test score."""
from __future__ import annotations

from pathlib import Path

import pytest

from sweeps.report.advise import advise, summary_line
from sweeps.report.budget import Budget
from sweeps.report.collect import collect
from sweeps.report.table import advice_lines
from tests.report_runs import rising, seeded_width_sweep, width_sweep, write_compress_run, write_training_run

AT_60 = rising(1.0, 10)[-1]  # rising(cap, 10) at 60 s is cap times this


def test_training_advice_ranks_configurations_by_mean_over_seeds(tmp_path: Path) -> None:
    # width=128 has the single best run (36) but the lower mean (29 against 31).
    seeded_width_sweep(tmp_path, {64: (31.0, 30.0, 32.0), 128: (36.0, 25.0, 26.0)})
    (advice,) = advise(collect([tmp_path]), Budget(train_seconds=60))
    assert [c.name for c in advice.ranked] == ["mt_width/width=64", "mt_width/width=128"]
    assert [len(c.values) for c in advice.ranked] == [3, 3]
    assert advice.best.value == pytest.approx(31 * AT_60)
    assert advice.best.text() == f"{31 * AT_60:.4g} ± {AT_60:.2g} (n=3)"
    assert advice.margin == pytest.approx(2 * AT_60)
    assert advice.margin_text().startswith(f"+{2 * AT_60:.3g} BLEU (95% interval -")
    assert advice.margin_text().endswith(", n=3), within noise")
    assert "runner-up mt_width/width=128 " in summary_line(advice) and "within noise" in summary_line(advice)
    lines = advice_lines([advice])
    assert f"- **best**: `mt_width/width=64`, bleu {31 * AT_60:.4g} ± {AT_60:.2g} (n=3)" in lines
    assert f"| 1 | `mt_width/width=64` | {31 * AT_60:.4g} ± {AT_60:.2g} | 3 | 162,304 params |" in lines


def test_a_margin_beyond_the_noise_is_not_called_within_noise(tmp_path: Path) -> None:
    seeded_width_sweep(tmp_path, {64: (30.0, 31.0, 29.0), 128: (40.0, 41.0, 39.0)})
    (advice,) = advise(collect([tmp_path]), Budget(train_seconds=60))
    assert advice.best.name == "mt_width/width=128"
    assert advice.margin_estimate.excludes_zero() and "within noise" not in advice.margin_text()


def test_advice_chooses_on_validation_never_on_test(tmp_path: Path) -> None:
    # Test scores rank every candidate the other way round from the valid ones.
    small = write_training_run(tmp_path, "mt_width", "width=32", rising(40.0, 10), width=32, test=10.0)
    large = write_training_run(tmp_path, "mt_width", "width=64", rising(20.0, 10), width=64, test=50.0)
    for source, bytes_, valid, test in ((small, 50_000, 30.0, 10.0), (large, 60_000, 25.0, 45.0)):
        write_compress_run(tmp_path, source, method="prune", sparsity=0.5, bytes_=bytes_, valid=valid, test=test)
    training, memory = advise(collect([tmp_path]), Budget(train_seconds=60, bytes=100_000))
    assert training.best.run.name == "width=32"
    assert memory.metric == "valid bleu" and memory.best.run.compression.source_name == "width=32"
    assert memory.best.value == 30.0
    assert memory.test == "test bleu 10 (n=1) (the chosen model only; not used to choose)"
    assert "- test bleu 10 (n=1) (the chosen model only; not used to choose)" in advice_lines([memory])


def test_memory_advice_ranks_compressed_configurations_by_mean_over_source_seeds(tmp_path: Path) -> None:
    sources = seeded_width_sweep(tmp_path, {32: (20.0, 21.0), 64: (30.0, 31.0)})
    for seed, (small, large) in enumerate(zip(sources[32], sources[64])):
        write_compress_run(tmp_path, small, method="quantize", bits=8, bytes_=56_576, valid=19.0 + seed)
        write_compress_run(tmp_path, large, method="prune", sparsity=0.8, bytes_=60_000, valid=[30.0, 20.0][seed])
    (advice,) = advise(collect([tmp_path]), Budget(bytes=100_000))
    assert [(c.name, len(c.values), c.value) for c in advice.ranked] == [
        ("compress/compression=prune,bits=32,sparsity=0.8,source=width=64", 2, 25.0),
        ("compress/compression=quantize,bits=8,sparsity=0.0,source=width=32", 2, 19.5)]
    assert advice.margin_text().endswith("within noise")


def test_one_seed_advice_says_it_has_no_interval(tmp_path: Path) -> None:
    width_sweep(tmp_path, (20.0, 30.0, 40.0))
    (advice,) = advise(collect([tmp_path]), Budget(train_seconds=60))
    assert advice.margin_text() == f"+{10 * AT_60:.3g} BLEU (1 seed, no interval)"

"""Claim verdicts with a noise margin: runs with known replica spreads (seeds) give each of the four
verdicts, an early crossing within the noise does not reverse claim 1, one seed is labelled as such,
and no choice is ever made on test scores."""
from __future__ import annotations

from pathlib import Path

from sweeps.report.claims import (INCONCLUSIVE, NOT_ENOUGH, NOT_SUPPORTED, ONE_SEED, SUPPORTED,
                                  large_models_compress_better, larger_models_win_at_equal_time)
from sweeps.report.collect import collect
from tests.report_runs import (replicas_of, rising, seeded_width_sweep, width_sweep, write_compress_run,
                               write_training_run)

AT_60 = rising(1.0, 10)[-1]  # rising(cap, 10) at 60 s is cap times this


def claim1(root: Path):
    return larger_models_win_at_equal_time(collect([root]))


def test_claim1_clear_win_beyond_the_noise_is_supported(tmp_path: Path) -> None:
    seeded_width_sweep(tmp_path, {64: (30.0, 31.0, 29.0), 128: (40.0, 41.0, 39.0)})
    verdict = claim1(tmp_path)
    assert (verdict.verdict, verdict.seeds) == (SUPPORTED, "3 seeds")
    (pair,) = [line for line in verdict.numbers if "width=128 vs width=64" in line]
    assert pair.startswith(f"  - width=128 vs width=64: at T +{10 * AT_60:.3g} BLEU (95% interval +")
    assert pair.endswith("n=3); width=64 nowhere ahead beyond the noise from 30 to 60 s: supported")
    assert "width=64,seed=3" in " ".join(verdict.runs)


def test_claim1_difference_inside_the_seed_spread_is_inconclusive(tmp_path: Path) -> None:
    seeded_width_sweep(tmp_path, {64: (33.0, 30.0, 27.0), 128: (28.0, 31.0, 34.0)})  # means 30 vs 31, sd 3
    verdict = claim1(tmp_path)
    assert verdict.verdict == INCONCLUSIVE
    assert verdict.numbers[-1].startswith(f"  - seed noise: sd {3 * AT_60:.2g} BLEU (from 2 configurations in "
                                          f"`mt_width` with replicas); a difference of +{AT_60:.3g} BLEU needs about")


def test_claim1_reversed_beyond_the_noise_is_not_supported(tmp_path: Path) -> None:
    seeded_width_sweep(tmp_path, {64: (40.0, 41.0, 39.0), 128: (30.0, 31.0, 29.0)})
    verdict = claim1(tmp_path)
    assert verdict.verdict == NOT_SUPPORTED
    assert "width=64 ahead beyond the noise at 30 s (" in "\n".join(verdict.numbers)


def test_claim1_without_a_size_sweep_is_not_enough_data(tmp_path: Path) -> None:
    assert claim1(tmp_path).verdict == NOT_ENOUGH
    seeded_width_sweep(tmp_path, {64: (30.0, 31.0, 29.0)})  # replicas of one size are not a sweep
    verdict = claim1(tmp_path)
    assert verdict.verdict == NOT_ENOUGH and verdict.runs == [] and verdict.seeds == ""
    assert verdict.numbers == ["needs one sweep with two or more model sizes at the same batch size"]


def crossing(start: float, later: list[float]) -> list[float]:
    """A curve that is `start` BLEU at 30 s (tiny before) and `later` from 35 s on."""
    return [0.01 * i for i in range(1, 6)] + [start] + later


def test_claim1_an_early_crossing_within_the_noise_does_not_reverse_it(tmp_path: Path) -> None:
    # At 30 s width 64 leads by 1 BLEU on the mean (1.0 vs 2.0), well inside the seed spread; from
    # 35 s to the end width 128 leads by far more than the spread.
    large = {seed: crossing(start, [v + 0.5 * (seed - 2) for v in (8, 14, 20, 25, 28, 30)])
             for seed, start in zip((1, 2, 3), (1.0, 1.9, 0.1))}
    small = {seed: crossing(start, [v + 0.5 * (seed - 2) for v in (4, 5, 6, 7, 8, 10)])
             for seed, start in zip((1, 2, 3), (1.9, 0.5, 3.6))}
    replicas_of(tmp_path, "demo", "width=128", large, width=128)
    replicas_of(tmp_path, "demo", "width=64", small, width=64)
    verdict = claim1(tmp_path)
    assert verdict.verdict == SUPPORTED
    assert "width=64 nowhere ahead beyond the noise from 30 to 60 s: supported" in verdict.numbers[1]

    one_seed = tmp_path / "one_seed"  # the same crossing on one seed: its noise is unknown
    write_training_run(one_seed, "demo", "width=128", large[1], width=128)
    write_training_run(one_seed, "demo", "width=64", small[1], width=64)
    verdict = claim1(one_seed)
    assert (verdict.verdict, verdict.seeds) == (INCONCLUSIVE, ONE_SEED)
    assert verdict.numbers[1] == ("  - width=128 vs width=64: at T +20 BLEU (1 seed, no interval); width=64 ahead on "
                                  "the point estimate at 30 s (-0.9 BLEU (1 seed, no interval)): inconclusive")


def test_claim1_on_one_seed_is_labelled_and_says_how_many_seeds_it_needs(tmp_path: Path) -> None:
    width_sweep(tmp_path / "unknown", (20.0, 30.0, 40.0))
    verdict = claim1(tmp_path / "unknown")
    assert (verdict.verdict, verdict.seeds) == (SUPPORTED, ONE_SEED)
    assert f"  - width=128 vs width=64: at T +{10 * AT_60:.3g} BLEU (1 seed, no interval); width=64 nowhere ahead " \
           "from 30 to 60 s: supported" in verdict.numbers
    assert verdict.numbers[-1] == ("  - seed noise unknown: no configuration in `mt_width` has two or more seeds; "
                                   "rerun with e.g. seed=1,2,3 to measure it")

    # Width 128 has seeds, width 64 one: no interval, but the spread of 128's seeds says how many.
    seeded_width_sweep(tmp_path / "seen", {64: (30.0,), 128: (41.0, 40.0, 39.0)})
    verdict = claim1(tmp_path / "seen")
    assert (verdict.verdict, verdict.seeds) == (SUPPORTED, ONE_SEED)
    assert verdict.numbers[-1] == (f"  - seed noise: sd {AT_60:.2g} BLEU (from 1 configuration in `mt_width` with "
                                   f"replicas); a difference of +{10 * AT_60:.3g} BLEU needs about 2 seeds per "
                                   "configuration to clear a 95% interval")


def test_claim1_families_combine_supported_with_inconclusive_to_inconclusive(tmp_path: Path) -> None:
    seeded_width_sweep(tmp_path, {64: (30.0, 31.0, 29.0), 128: (40.0, 41.0, 39.0)})
    seeded_width_sweep(tmp_path, {64: (33.0, 30.0, 27.0), 128: (28.0, 31.0, 34.0)}, experiment="mt_width_b")
    verdict = claim1(tmp_path)
    assert verdict.verdict == INCONCLUSIVE
    assert ["  - `mt_width`: supported", "  - `mt_width_b`: inconclusive"] == [
        line for line in verdict.numbers if line.startswith("  - `")]


def test_claims_choose_on_validation_never_on_test(tmp_path: Path) -> None:
    # Test scores rank every pair the other way round from the valid ones.
    write_training_run(tmp_path, "mt_width", "width=32", rising(40.0, 10), width=32, test=10.0)
    write_training_run(tmp_path, "mt_width", "width=64", rising(20.0, 10), width=64, test=50.0)
    assert claim1(tmp_path).verdict == NOT_SUPPORTED  # on test, the larger would win

    small = write_training_run(tmp_path, "mt_width", "width=16", rising(10.0, 10), width=16)
    large = write_training_run(tmp_path, "mt_width", "width=128", rising(40.0, 10), width=128)
    for source, bytes_, valid, test in ((large, 100_000, 30.0, 10.0), (large, 110_000, 25.0, 45.0),
                                        (small, 120_000, 20.0, 35.0), (small, 115_000, 15.0, 50.0)):
        write_compress_run(tmp_path, source, method="prune", sparsity=bytes_ / 1e6, bytes_=bytes_, valid=valid,
                           test=test)
    verdict = large_models_compress_better(collect([tmp_path]))
    assert verdict.verdict == SUPPORTED  # on test: 45 against 50, not supported
    assert ("toy_mt, 120,000 bytes: width=128 30 (sparsity 0.10, 100,000 bytes, test 10 (not used to choose)) vs "
            "width=16 20 (sparsity 0.12, 120,000 bytes, test 35 (not used to choose)): +10 BLEU (1 seed, no "
            "interval)") in verdict.numbers


def test_claim4_does_not_count_budgets_where_only_the_large_source_fits(tmp_path: Path) -> None:
    small, _, large = width_sweep(tmp_path, (20.0, 30.0, 40.0))
    write_compress_run(tmp_path, small, method="quantize", bits=8, bytes_=56_576, valid=19.5)
    write_compress_run(tmp_path, large, method="prune_quantize", bits=4, sparsity=0.99, bytes_=10_000, valid=19.5)
    verdict = large_models_compress_better(collect([tmp_path]))
    # Before, 10,000 bytes (nothing of width=32 fits) counted as a win and made this supported.
    assert verdict.verdict == INCONCLUSIVE
    assert verdict.numbers[:3] == [
        "toy_mt: not compared below 56,576 bytes, where only width=128 has a model that fits (1 budget from 10,000 "
        "bytes)",
        "toy_mt, 56,576 bytes: width=128 19.5 (sparsity 0.99, 4 bits, 10,000 bytes) vs width=32 19.5 (8 bits, 56,576 "
        "bytes): +0 BLEU (1 seed, no interval)",
        "toy_mt: width=128 against width=32 at 1 budget: inconclusive"]


def test_claim4_compares_the_mean_over_source_seeds_of_each_seeds_best_fitting_model(tmp_path: Path) -> None:
    sources = seeded_width_sweep(tmp_path, {32: (20.0, 21.0, 19.0), 128: (40.0, 41.0, 39.0)})
    for seed, (small, large) in enumerate(zip(sources[32], sources[128])):
        write_compress_run(tmp_path, small, method="quantize", bits=8, bytes_=56_576, valid=19.0 + seed)
        write_compress_run(tmp_path, large, method="prune", sparsity=0.9, bytes_=50_000, valid=29.0 + seed)
        write_compress_run(tmp_path, large, method="prune", sparsity=0.95, bytes_=30_000, valid=10.0)
    verdict = large_models_compress_better(collect([tmp_path]))
    assert (verdict.verdict, verdict.seeds) == (SUPPORTED, "3 seeds")
    line = next(line for line in verdict.numbers if line.startswith("toy_mt, 56,576 bytes"))
    assert line.startswith("toy_mt, 56,576 bytes: width=128 30 ± 1 BLEU (n=3) (sparsity 0.90, 50,000 bytes) vs "
                           "width=32 20 ± 1 BLEU (n=3) (8 bits, 56,576 bytes): +10 BLEU (95% interval +")


def test_claim1_a_largest_model_that_validates_only_after_the_others_ended_is_not_compared(tmp_path: Path) -> None:
    write_training_run(tmp_path, "mt_width", "width=64", rising(30.0, 10), width=64)
    write_training_run(tmp_path, "mt_width", "width=128", [35.0, 40.0], width=128, times=[70.0, 80.0], budget=80.0)
    verdict = claim1(tmp_path)
    assert verdict.verdict == NOT_ENOUGH and verdict.runs == []
    assert verdict.numbers == ["`mt_width`: width=128 had no validation by T = 60 s; not compared"]

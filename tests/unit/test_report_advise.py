"""--advise on constructed runs: the pick, the runner-up and the margin follow from the known curves."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from sweeps.report.advise import advise, summary_line
from sweeps.report.budget import Budget, BudgetError, parse_budget
from sweeps.report.collect import collect
from tests.report_runs import compressions, rising, width_sweep
from train_large.rundir import read_records, write_records

AT_30_S = 1 - math.exp(-3)  # rising(cap, 10) at 30 training seconds is cap times this


def test_parse_budget_reads_keys_and_numbers() -> None:
    assert parse_budget(["train_seconds=3600", "bytes=50e6"]) == Budget(train_seconds=3600.0, bytes=50e6)
    assert parse_budget(["flops=1e18"]) == Budget(flops=1e18)


@pytest.mark.parametrize(("items", "message"), [
    (["seconds=10"], "--advise 'seconds=10': expected KEY=NUMBER with KEY one of train_seconds=<training seconds"),
    (["bytes"], "--advise 'bytes': expected KEY=NUMBER"),
    (["bytes=50MB"], "--advise bytes='50MB': not a number"),
    (["bytes=-1"], "--advise bytes=-1: must be a positive number"),
    (["bytes=nan"], "--advise bytes=nan: must be a positive number"),
    (["bytes=1", "bytes=2"], "--advise bytes is given twice"),
    (["train_seconds=1", "flops=2"], "--advise: give train_seconds or flops as the training budget, not both"),
])
def test_parse_budget_refuses_malformed_items_in_one_line(items: list[str], message: str) -> None:
    with pytest.raises(BudgetError) as err:
        parse_budget(items)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_training_advice_picks_the_best_at_the_budget_with_runner_up_and_margin(tmp_path: Path) -> None:
    width_sweep(tmp_path, (20.0, 40.0, 30.0))
    (advice,) = advise(collect([tmp_path]), Budget(train_seconds=30))
    assert [c.run.name for c in advice.ranked] == ["width=64", "width=128", "width=32"]
    assert advice.best.value == pytest.approx(40 * AT_30_S)
    assert advice.margin == pytest.approx(10 * AT_30_S)
    # parabola through log2 widths 5, 6, 7 at 20k, 40k, 30k: vertex at 6 + 1/6, value 40k + 5k/12
    assert advice.suggestion.startswith("interpolated: width about 72 (between 32 and 128) may reach "
                                        f"{(40 + 5 / 12) * AT_30_S:.4g}")
    assert summary_line(advice) == (f"training budget 30 training seconds (toy_mt): mt_width/width=64 bleu "
                                    f"{40 * AT_30_S:.4g} (n=1); runner-up mt_width/width=128 {30 * AT_30_S:.4g} (n=1), "
                                    f"margin +{10 * AT_30_S:.3g} BLEU (1 seed, no interval); 162,304 params")


def test_training_advice_says_when_the_largest_wins_or_the_budget_is_off_the_curves(tmp_path: Path) -> None:
    width_sweep(tmp_path, (20.0, 30.0, 40.0))
    runs = collect([tmp_path])
    (advice,) = advise(runs, Budget(train_seconds=30))
    assert advice.best.run.name == "width=128"
    assert advice.suggestion == "the largest width tried (128) is best: a larger width may do better still"

    (advice,) = advise(runs, Budget(train_seconds=3600))
    assert advice.best.run.name == "width=128" and advice.best.note.startswith("stopped at 60, before the budget")

    (advice,) = advise(runs, Budget(train_seconds=1))
    assert advice.best is None and advice.note == ("no run had validated within 1 training seconds; the earliest "
                                                   "validation is width=128's at 5 s")


def test_memory_advice_picks_the_best_model_that_fits(tmp_path: Path) -> None:
    small, _, large = width_sweep(tmp_path, (20.0, 30.0, 40.0))
    compressions(tmp_path, small, large, large_smallest_bleu=30.0)
    runs = collect([tmp_path])

    (advice,) = advise(runs, Budget(bytes=200_000))
    assert advice.metric == "valid bleu"
    assert [(c.run.compression.source_name, c.run.compression.bytes, c.value) for c in advice.ranked] == [
        ("width=128", 113_152, 30.0), ("width=32", 56_576, 19.5), ("width=32", 28_288, 15.0)]
    assert advice.margin == pytest.approx(10.5)

    (advice,) = advise(runs, Budget(bytes=10_000))
    assert advice.best is None and "no compressed model fits; the smallest is" in advice.note
    assert advice.note.endswith("at 28,288 bytes")

    training, memory = advise(runs, Budget(train_seconds=30, bytes=200_000))
    assert training.kind == "training" and memory.best is None  # every source trained 60 s, over the budget
    assert memory.note == "no compressed model of a source trained within the training budget"
    _, memory = advise(runs, Budget(train_seconds=60, bytes=200_000))
    assert memory.best.value == 30.0


def test_advice_without_runs_of_that_kind_says_so(tmp_path: Path) -> None:
    width_sweep(tmp_path, (20.0, 30.0, 40.0))
    (advice,) = advise(collect([tmp_path]), Budget(bytes=1e6))
    assert advice.kind == "memory" and advice.best is None and "no finished compression runs" in advice.note


def test_a_run_counts_whole_at_its_own_budget(tmp_path: Path) -> None:
    (run_dir,) = width_sweep(tmp_path, (20.0,), widths=(32,))
    records = read_records(run_dir / "metrics.jsonl")
    records[-1]["train_seconds"] = 60.05  # the final validation, after the update that crossed 60 s
    write_records(run_dir / "metrics.jsonl", records)
    runs = collect([tmp_path])
    assert advise(runs, Budget(train_seconds=60))[0].best.value == pytest.approx(rising(20.0, 10)[-1])
    assert advise(runs, Budget(train_seconds=59))[0].best.value == pytest.approx(rising(20.0, 10)[-2])

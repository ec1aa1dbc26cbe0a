"""Each claim check on constructed runs: data that supports it, data that does not, and too little data.
The curves are known (tests/report_runs.py), so each verdict is what its rule must give."""
from __future__ import annotations

from pathlib import Path

from sweeps.report.claims import (NOT_ENOUGH, NOT_SUPPORTED, SUPPORTED, large_models_compress_better,
                                  larger_models_win_at_equal_time, model_size_beats_batch_size, width_beats_depth)
from sweeps.report.collect import collect
from tests.report_runs import (compressions, depth_sweep, mlm_runs, rising, width_sweep, write_broken_run,
                               write_training_run)

AT_60 = rising(1.0, 10)[-1]  # rising(cap, 10) at 60 s is cap times this


def test_claim1_larger_models_win_at_equal_time(tmp_path: Path) -> None:
    width_sweep(tmp_path / "yes", (20.0, 30.0, 40.0))
    verdict = larger_models_win_at_equal_time(collect([tmp_path / "yes"]))
    assert verdict.verdict == SUPPORTED
    assert verdict.runs == ["mt_width/width=32", "mt_width/width=64", "mt_width/width=128"]
    assert f"  - width=128 vs width=64: at T +{10 * AT_60:.3g} BLEU (1 seed, no interval); width=64 nowhere ahead " \
           "from 30 to 60 s: supported" in verdict.numbers

    width_sweep(tmp_path / "no", (20.0, 40.0, 30.0))
    verdict = larger_models_win_at_equal_time(collect([tmp_path / "no"]))
    assert verdict.verdict == NOT_SUPPORTED
    assert verdict.numbers[2].startswith(f"  - width=128 vs width=64: at T -{10 * AT_60:.3g} BLEU (1 seed, no "
                                         "interval); width=64 ahead on the point estimate at 30 s (")
    assert verdict.numbers[2].endswith("... 60 s (7 budgets): not supported")

    width_sweep(tmp_path / "one", (20.0,), widths=(32,))
    write_broken_run(tmp_path / "one", "mt_width", "width=64", width=64)  # a broken run is no evidence
    verdict = larger_models_win_at_equal_time(collect([tmp_path / "one"]))
    assert verdict.verdict == NOT_ENOUGH and verdict.runs == []


def test_claim1_is_about_pretraining_not_fine_tuning(tmp_path: Path) -> None:
    for width, cap in ((32, 0.7), (64, 0.8)):
        write_training_run(tmp_path, "finetune", f"width={width}", rising(cap, 10), width=width, batch=32,
                           task="toy_cls", kind="classification")
    assert larger_models_win_at_equal_time(collect([tmp_path])).verdict == NOT_ENOUGH


def test_claim1_needs_every_sweep_to_agree(tmp_path: Path) -> None:
    width_sweep(tmp_path, (20.0, 30.0, 40.0))
    width_sweep(tmp_path, (20.0, 40.0, 30.0), experiment="mt_width_seed2")
    assert larger_models_win_at_equal_time(collect([tmp_path])).verdict == NOT_SUPPORTED


def test_claim2_width_beats_depth_for_translation(tmp_path: Path) -> None:
    width_sweep(tmp_path / "yes", (20.0, 30.0, 40.0))  # +20 BLEU over 3.2 parameter doublings
    depth_sweep(tmp_path / "yes", (30.0, 31.0, 32.0))  # +2 BLEU over 1.5
    verdict = width_beats_depth(collect([tmp_path / "yes"]))
    assert verdict.verdict == SUPPORTED
    assert verdict.numbers[-2] == ("toy_mt: width +6.23 vs depth +1.34 BLEU per parameter doubling; width minus "
                                   "depth +4.89 BLEU (1 seed, no interval): supported")
    assert {"mt_width/width=32", "mt_width/width=128", "mt_depth/depth=8"} <= set(verdict.runs)

    width_sweep(tmp_path / "no", (20.0, 30.0, 40.0))
    depth_sweep(tmp_path / "no", (30.0, 40.0, 50.0))  # +20 BLEU over 1.5 doublings
    verdict = width_beats_depth(collect([tmp_path / "no"]))
    assert verdict.verdict == NOT_SUPPORTED
    assert verdict.numbers[-2] == ("toy_mt: width +6.23 vs depth +13.4 BLEU per parameter doubling; width minus "
                                   "depth -7.12 BLEU (1 seed, no interval): not supported")

    width_sweep(tmp_path / "widths_only", (20.0, 30.0, 40.0))
    assert width_beats_depth(collect([tmp_path / "widths_only"])).verdict == NOT_ENOUGH


def test_claim3_model_size_beats_batch_size(tmp_path: Path) -> None:
    mlm_runs(tmp_path / "yes", batch_floors=(20.0, 15.0, 14.9), size_floors=(25.0, None, 10.0))
    verdict = model_size_beats_batch_size(collect([tmp_path / "yes"]))
    assert verdict.verdict == SUPPORTED
    assert verdict.numbers[-2] == ("toy_mlm: last model doubling +5.93 ppl (1 seed, no interval) vs last batch "
                                   "doubling +0.0998 ppl; model minus batch +5.83 ppl (1 seed, no interval) "
                                   "(positive = better): supported")

    mlm_runs(tmp_path / "no", batch_floors=(20.0, 15.0, 8.0), size_floors=(25.0, None, 19.0))
    verdict = model_size_beats_batch_size(collect([tmp_path / "no"]))
    assert verdict.verdict == NOT_SUPPORTED
    assert verdict.numbers[-2] == ("toy_mlm: last model doubling +0.593 ppl (1 seed, no interval) vs last batch "
                                   "doubling +6.98 ppl; model minus batch -6.39 ppl (1 seed, no interval) "
                                   "(positive = better): not supported")

    mlm_runs(tmp_path / "batches_only", batch_floors=(20.0, 15.0, 8.0), size_floors=(25.0, None, 19.0))
    for run in (tmp_path / "batches_only" / "roberta_width").iterdir():
        (run / "result.json").unlink()  # unfinished: not evidence
    assert model_size_beats_batch_size(collect([tmp_path / "batches_only"])).verdict == NOT_ENOUGH


def test_claim4_large_models_compress_better(tmp_path: Path) -> None:
    small, _, large = width_sweep(tmp_path / "yes", (20.0, 30.0, 40.0))
    compressions(tmp_path / "yes", small, large, large_smallest_bleu=30.0)
    verdict = large_models_compress_better(collect([tmp_path / "yes"]))
    assert verdict.verdict == SUPPORTED
    assert verdict.numbers[:3] == [
        "toy_mt, 113,152 bytes: width=128 30 (sparsity 0.90, 4 bits, 113,152 bytes) vs width=32 19.5 (8 bits, "
        "56,576 bytes): +10.5 BLEU (1 seed, no interval)",
        "toy_mt, 226,304 bytes: width=128 30 (sparsity 0.90, 4 bits, 113,152 bytes) vs width=32 20 (fp32, "
        "226,304 bytes): +10 BLEU (1 seed, no interval)",
        "toy_mt: width=128 against width=32 at 2 budgets: supported"]
    assert verdict.seeds == "1 seed, no interval"

    small, _, large = width_sweep(tmp_path / "no", (20.0, 30.0, 40.0))
    compressions(tmp_path / "no", small, large, large_smallest_bleu=15.0)
    assert large_models_compress_better(collect([tmp_path / "no"])).verdict == NOT_SUPPORTED

    small, _, large = width_sweep(tmp_path / "apart", (20.0, 30.0, 40.0))
    compressions(tmp_path / "apart", small, large, large_smallest_bytes=300_000)
    verdict = large_models_compress_better(collect([tmp_path / "apart"]))
    assert verdict.verdict == NOT_ENOUGH
    assert verdict.numbers == ["toy_mt: width=128's smallest compressed model (260,608 bytes) is larger than "
                               "width=32's largest (226,304 bytes); compress width=128 further to compare"]

    assert large_models_compress_better(collect([tmp_path / "apart" / "mt_width"])).verdict == NOT_ENOUGH

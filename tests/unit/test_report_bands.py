"""Replicas of one configuration as one curve: best-so-far aligned on a common grid, the mean and the
min-to-max band at each grid point, and how the figures draw it (a band only where there are seeds)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from sweeps.report import figures
from sweeps.report.collect import Point, Run, collect
from sweeps.report.plotting import draw_configuration, save
from sweeps.report.series import align, band, best_by, caption, configurations, mean_at, span
from tests.report_runs import TIMES, falling, replicas_of, rising, width_sweep, write_compress_run


def run(name: str, times: list[float], values: list[float], kind: str = "translation",
        budget: float | None = None) -> Run:
    curve = [Point(t, int(10 * t), 1e9 * t, v) for t, v in zip(times, values)]
    return Run(run_dir=Path("/runs/sweep") / name, status="complete", experiment="sweep", task_kind=kind,
               budget_seconds=budget, curve=curve)


# Seed 1 dips at 15 s (best so far holds 10); seed 2 validates at other times and dips at 30 s.
SEED_1 = run("width=64,seed=1", [5, 15, 25, 35], [10, 8, 14, 16])
SEED_2 = run("width=64,seed=2", [10, 20, 30, 40], [12, 13, 11, 20])


def test_replicas_align_from_the_latest_first_to_the_earliest_last_validation() -> None:
    grid, values = align([SEED_1, SEED_2])
    np.testing.assert_array_equal(grid, [10, 15, 20, 25, 30, 35])
    np.testing.assert_array_equal(values, [[10, 10, 10, 14, 14, 16],  # best so far, held between validations
                                           [12, 12, 13, 13, 13, 13]])


def test_band_is_the_mean_with_min_to_max_at_each_grid_point() -> None:
    drawn = band([SEED_1, SEED_2])
    assert drawn.n == 2
    np.testing.assert_array_equal(drawn.mean, [11, 11, 11.5, 13.5, 13.5, 14.5])
    np.testing.assert_array_equal(drawn.low, [10, 10, 10, 13, 13, 13])
    np.testing.assert_array_equal(drawn.high, [12, 12, 13, 14, 14, 16])


def test_lower_is_better_metrics_take_the_lowest_so_far() -> None:
    one = run("seed=1", [1, 2, 3], [100, 50, 70], kind="masked_lm")
    two = run("seed=2", [1.5, 2.5, 3.5], [90, 95, 40], kind="masked_lm")
    grid, values = align([one, two])
    np.testing.assert_array_equal(grid, [1.5, 2, 2.5, 3])
    np.testing.assert_array_equal(values, [[100, 50, 50, 50], [90, 90, 90, 90]])


@pytest.mark.parametrize("axis", ["train_seconds", "updates", "flops"])
def test_aligned_values_equal_best_by_on_every_axis(axis: str) -> None:
    grid, values = align([SEED_1, SEED_2], axis)
    for replica, row in zip((SEED_1, SEED_2), values):
        assert list(row) == [best_by(replica, x, axis) for x in grid]


def test_a_final_validation_just_past_the_budget_counts_at_the_budget() -> None:
    # Runs stop at the first update past their budget: 30.05 s for 30, as series.best_by allows.
    late = run("seed=1", [10, 20, 30.05], [1, 2, 9], budget=30)
    on_time = run("seed=2", [10, 20, 30], [1, 2, 3], budget=30)
    grid, values = align([late, on_time])
    assert grid[-1] == 30 and list(values[:, -1]) == [9, 3]
    assert best_by(late, 30) == 9


def test_mean_at_is_undefined_until_every_replica_validated_and_holds_after_the_last() -> None:
    means = mean_at([SEED_1, SEED_2], np.array([5.0, 10.0, 50.0]))
    assert np.isnan(means[0]) and means[1] == 11 and means[2] == 18


def test_replicas_that_never_overlap_give_an_empty_band() -> None:
    assert band([run("seed=1", [1, 2], [1, 2]), run("seed=2", [3, 4], [1, 2])]).x.size == 0


def test_span_and_caption_name_the_band_and_n() -> None:
    summary = span([1.0, 4.0, 2.5])
    assert (summary.mean, summary.low, summary.high, summary.n) == (2.5, 1.0, 4.0, 3)
    assert caption([1, 3, 3]) == "shaded: min to max over 3 seeds"
    assert caption([2, 3], "error bars") == "error bars: min to max over 2 to 3 seeds (n in the legend)"
    assert caption([1, 1]) == ""


def test_a_single_run_is_drawn_as_its_validations_without_a_band() -> None:
    ax = Figure().subplots()
    draw_configuration(ax, [SEED_1], "train_seconds", "red", "width 64")
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [5, 15, 25, 35] and list(line.get_ydata()) == [10, 8, 14, 16]
    assert line.get_label() == "width 64" and not ax.collections


def test_replicas_are_drawn_as_a_mean_line_with_a_band_in_its_colour() -> None:
    ax = Figure().subplots()
    draw_configuration(ax, [SEED_1, SEED_2], "train_seconds", "red", "width 64")
    (line,) = ax.get_lines()
    assert line.get_label() == "width 64 (n=2)" and list(line.get_ydata()) == [11, 11, 11.5, 13.5, 13.5, 14.5]
    (shade,) = ax.collections
    assert isinstance(shade, PolyCollection)
    assert np.allclose(shade.get_facecolor()[0][:3], (1, 0, 0))
    ys = shade.get_paths()[0].vertices[:, 1]
    assert ys.min() == 10 and ys.max() == 16


def test_replicas_that_never_overlap_are_drawn_each_rather_than_not_at_all() -> None:
    ax = Figure().subplots()
    draw_configuration(ax, [run("seed=1", [1, 2], [1, 2]), run("seed=2", [3, 4], [3, 4])], "train_seconds", "red",
                       "width 64")
    labels = [line.get_label() for line in ax.get_lines()]
    assert len(labels) == 2 and [t for t in labels if not t.startswith("_")] == ["width 64 (n=2)"]
    assert not ax.collections


@pytest.fixture
def seeded_sweep(tmp_path: Path) -> Path:
    """width 32 once; width 64 with three seeds validating at different times; width 128 once."""
    root = tmp_path / "runs"
    width_sweep(root, (20.0, 40.0), widths=(32, 128))
    shifted = {2: [t + 2.5 for t in TIMES[:-1]], 3: [t + 1.0 for t in TIMES[:-1]]}
    replicas_of(root, "mt_width", "width=64", {1: rising(30, 10), 2: rising(28, 10)[:-1], 3: rising(32, 10)[:-1]},
                width=64, times=shifted)
    return root


def capture_figures(monkeypatch) -> dict[str, Figure]:
    """Keeps each figure draw_all makes, by file stem, for its axes to be inspected, and writes none
    (writing PNG and PDF is most of the drawing time; test_report_figures checks the files)."""
    kept: dict[str, Figure] = {}

    def keep(fig, out_dir, stem, title, text):
        kept[stem] = fig
        return figures.Drawn(title, out_dir / f"{stem}.png", out_dir / f"{stem}.pdf", text)

    monkeypatch.setattr(figures, "save", keep)
    return kept


def test_training_curves_draw_one_line_per_configuration_and_a_band_for_seeds(seeded_sweep: Path, tmp_path: Path,
                                                                              monkeypatch) -> None:
    kept = capture_figures(monkeypatch)
    drawn = {d.png.stem: d for d in figures.draw_all(collect([seeded_sweep]), tmp_path / "figures")}
    for axis in ("train_seconds", "updates", "flops"):
        stem = f"mt_width_toy_mt_bleu_vs_{axis}"
        ax = kept[stem].axes[0]
        assert [line.get_label() for line in ax.get_lines()] == ["width 32", "width 64 (n=3)", "width 128"]
        assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 1
        assert "shaded: min to max over 3 seeds" in drawn[stem].caption
    written = save(kept["mt_width_toy_mt_bleu_vs_train_seconds"], tmp_path, "band", "", "")
    assert written.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and written.png.stat().st_size > 10_000
    frontier = kept["toy_mt_frontier_training"].axes[0]
    assert "width 64 (n=3)" in [t.get_text() for t in frontier.get_legend().get_texts()]


def test_a_report_without_seeds_has_no_band_or_n(tmp_path: Path, monkeypatch) -> None:
    width_sweep(tmp_path / "runs", (20.0, 30.0, 40.0))
    kept = capture_figures(monkeypatch)
    drawn = figures.draw_all(collect([tmp_path / "runs"]), tmp_path / "figures")
    assert not any("seeds" in d.caption for d in drawn)
    ax = kept["mt_width_toy_mt_bleu_vs_train_seconds"].axes[0]
    assert not ax.collections and [line.get_label() for line in ax.get_lines()] == ["width 32", "width 64",
                                                                                     "width 128"]


def test_points_of_a_seeded_configuration_carry_min_to_max_error_bars(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "runs"
    for batch in (16, 32):
        replicas_of(root, "batch_size", f"batch_size={batch}", {1: falling(20, 10), 2: falling(22, 10)}, width=64,
                    batch=batch, task="toy_mlm", kind="masked_lm")
    kept = capture_figures(monkeypatch)
    drawn = {d.png.stem: d for d in figures.draw_all(collect([root]), tmp_path / "figures")}
    ax = kept["toy_mlm_batch_size"].axes[0]
    (line,) = [line for line in ax.get_lines() if line.get_label() == "width 64, depth 2 (n=2)"]
    assert list(line.get_ydata()) == pytest.approx([(falling(20, 10)[-1] + falling(22, 10)[-1]) / 2] * 2)
    (bars,) = [c for c in ax.collections if c.get_segments()]  # one vertical bar per point
    ends = np.array([s[:, 1] for s in bars.get_segments()])
    assert ends == pytest.approx(np.array([[falling(20, 10)[-1], falling(22, 10)[-1]]] * 2))
    assert "error bars: min to max over 2 seeds" in drawn["toy_mlm_batch_size"].caption


def many_runs(configs: int = 50, seeds: int = 4, validations: int = 20) -> list[Run]:
    """`configs` x `seeds` translation runs of `validations` points, each seed validating a little later."""
    runs = []
    for width in range(1, configs + 1):
        for seed in range(seeds):
            curve = [Point(t + seed / 7, t * 10, None, 20 + width / 10 + seed / 5 + 10 * (1 - np.exp(-t / 10)))
                     for t in range(1, validations + 1)]
            runs.append(Run(run_dir=Path(f"/runs/big/width={width},seed={seed}"), status="complete", job="train",
                            experiment="big", task="toy_mt", task_kind="translation", metric="bleu", width=width,
                            seed=seed, params=width, curve=curve))
    return runs


def test_bands_of_two_hundred_runs_take_well_under_a_second() -> None:
    import time

    runs = many_runs()
    start = time.perf_counter()
    configs = configurations(runs)
    bands = [band(c) for c in configs]
    budgets = np.unique([p.train_seconds for r in runs for p in r.curve])
    np.vstack([mean_at(c, budgets) for c in configs])
    assert len(configs) == 50 and all(b.n == 4 and b.x.size > 0 for b in bands)
    assert time.perf_counter() - start < 1.0


def test_compressions_of_seeded_sources_are_one_point_each_and_the_front_follows_means(tmp_path: Path,
                                                                                     monkeypatch) -> None:
    root = tmp_path / "runs"
    for width, scores in ((32, {1: (20.0, 15.0), 2: (22.0, 13.0)}), (128, {1: (40.0, 30.0), 2: (38.0, 34.0)})):
        sources = replicas_of(root, "mt_width", f"width={width}", {1: rising(20, 10), 2: rising(21, 10)}, width=width)
        for source, (fp32, four_bits) in zip(sources, scores.values()):
            size = 4 * (1000 * width + 24 * width * width)
            write_compress_run(root, source, method="quantize", bits=32, bytes_=size, valid=fp32)
            write_compress_run(root, source, method="quantize", bits=4, bytes_=size // 8, valid=four_bits)
    kept = capture_figures(monkeypatch)
    drawn = {d.png.stem: d for d in figures.draw_all(collect([root]), tmp_path / "figures")}
    curves = kept["toy_mt_bleu_vs_bytes"].axes[0]
    lines = {line.get_label(): list(line.get_ydata()) for line in curves.get_lines()}
    assert lines["width 32: quantize (n=2)"] == [21.0, 14.0] and lines["width 128: fp32 (n=2)"] == [39.0]
    assert "error bars: min to max over 2 seeds" in drawn["toy_mt_bleu_vs_bytes"].caption
    front = [line for line in kept["toy_mt_frontier_memory"].axes[0].get_lines()
             if line.get_label() == "best that fits"][0]
    assert list(front.get_ydata()) == [14.0, 21.0, 32.0, 39.0, 39.0]  # means, smallest first

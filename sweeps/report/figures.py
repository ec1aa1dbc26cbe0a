"""The paper's figures from finished runs, as PNG (slides, README) and PDF (papers), one function
per kind. Each line or point is a configuration: its seeds are drawn once, as their mean with a
min-to-max band or error bar, and captions say so and give n. The style lives in plotting.py.
Must not import fairseq or torch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from train_large.run_names import config_id

from .collect import Run
from .plotting import (AXIS_LABELS, METHOD_STYLE, METRIC_LABELS, STYLE, Drawn, colors, config_label,
                       draw_configuration, draw_points, log_axis, metric_axis, save, slug, with_n)
from .series import (AXES, best_by_replicas, by_size, caption, common_horizon, configurations, finished_compression,
                     finished_training, group_by, label, mean_at, span, varying)

__all__ = ["Drawn", "draw_all"]
ALIGNMENT = ("a configuration with several seeds is the mean of each seed's best-so-far {metric} (its best "
             "validation up to that x), from the latest first validation of its seeds to the earliest last one")
SEEDED_MODELS = "a model compressed from several seeds of its source is their mean"


def draw_all(runs: list[Run], out_dir: Path) -> list[Drawn]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(STYLE):
        return [*training_curves(runs, out_dir), *batch_size_comparison(runs, out_dir),
                *compression_curves(runs, out_dir), *training_frontier(runs, out_dir), *memory_frontier(runs, out_dir)]


def replica_note(counts: list[int], text: str, what: str = "shaded") -> str:
    """`; <text>, <what>: min to max over 3 seeds` for a caption, or "" when every configuration has one run."""
    band = caption(counts, what)
    return f"; {text}, {band}" if band else ""


def finish(ax, out_dir: Path, stem: str, xlabel: str, metric: str, title: str, legend: str, text: str,
           **legend_style) -> Drawn:
    ax.set_xlabel(xlabel)
    metric_axis(ax, metric)
    ax.set_title(title)
    ax.legend(title=legend, loc="best", **legend_style)
    return save(ax.figure, out_dir, stem, title, text)


def training_curves(runs: list[Run], out_dir: Path) -> Iterator[Drawn]:
    for (experiment, task), group in group_by(finished_training(runs), lambda r: (r.experiment, r.task)).items():
        configs, keys = configurations(group), varying(group)
        metric, counts = group[0].metric, [len(c) for c in configs]
        for axis in AXES:
            if any(p.flops is None for r in group for p in r.curve) and axis == "flops":
                continue  # runs from before FLOPs were recorded
            ax = Figure().subplots()
            for config, color in zip(configs, colors(len(configs))):
                draw_configuration(ax, config, axis, color, config_label(config, keys))
            if axis == "flops":
                log_axis(ax, "x", "FLOP")
            yield finish(
                ax, out_dir, slug(experiment, task, metric, "vs", axis), AXIS_LABELS[axis], metric,
                f"{experiment}: {task} {METRIC_LABELS.get(metric, metric)} vs {AXIS_LABELS[axis].split(' (')[0]}",
                "model size" if not set(keys) <= {"batch"} else "batch",
                f"validation {metric} of every run in `{experiment}` against {AXIS_LABELS[axis]}, one line per size"
                + replica_note(counts, ALIGNMENT.format(metric=metric)))


def batch_size_comparison(runs: list[Run], out_dir: Path) -> Iterator[Drawn]:
    """Per task with a batch sweep: metric at the common budget against batch size (one line per
    model), beside metric against parameters (one line per batch) when sizes were swept too. A
    point is a configuration: the mean of its seeds' best by the budget, min to max as error bar."""
    for (task,), group in group_by(finished_training(runs), lambda r: (r.task,)).items():
        by_model = {k: v for k, v in group_by(group, lambda r: (r.width, r.depth)).items()
                    if len({r.batch for r in v}) > 1}
        if not by_model:
            continue
        by_batch = {k: v for k, v in group_by(group, lambda r: (r.batch,)).items() if len({r.params for r in v}) > 1}
        used = [r for v in [*by_model.values(), *by_batch.values()] for r in v]
        horizon, metric = common_horizon(used), group[0].metric
        fig = Figure(figsize=(11, 4.2) if by_batch else None)
        axes = fig.subplots(1, 2 if by_batch else 1, sharey=True, squeeze=False)[0]
        for (width, depth), family, color in zip(by_model, by_model.values(), colors(len(by_model))):
            family = sorted(configurations(family), key=lambda c: c[0].batch)
            draw_points(axes[0], [c[0].batch for c in family], [span(best_by_replicas(c, horizon)) for c in family],
                        color, f"width {width}, depth {depth}")
        log_axis(axes[0], "x", base=2)
        axes[0].set_xlabel(f"batch ({group[0].batch_unit} per update, log scale)")
        axes[0].legend(title="model")
        metric_axis(axes[0], metric)
        if by_batch:
            for (batch,), family, color in zip(by_batch, by_batch.values(), colors(len(by_batch))):
                family = configurations(family)
                draw_points(axes[1], [c[0].params for c in family],
                            [span(best_by_replicas(c, horizon)) for c in family], color, f"batch {batch:g}")
            log_axis(axes[1], "x", "")
            axes[1].set_xlabel("parameters (log scale)")
            axes[1].legend(title="batch")
        title = f"{task}: bigger batch or bigger model? (best by {horizon:.0f} training s)"
        fig.suptitle(title)
        counts = [len(c) for c in configurations(used)]
        yield save(fig, out_dir, slug(task, "batch_size"), title,
                   f"best validation {metric} reached by {horizon:.0f} training seconds, against batch size "
                   "(left) and against parameters (right)"
                   + replica_note(counts, "a configuration with several seeds is their mean", "error bars"))


def compressed_points(configs: list[list[Run]]) -> tuple[list[float], list]:
    """(bytes, valid score span) of each compressed configuration: the mean over its seeds' models."""
    return ([float(np.mean([r.compression.bytes for r in c])) for c in configs],
            [span([r.compression.scores["valid"] for r in c]) for c in configs])


def by_source(group: list[Run]) -> list[tuple[list[list[Run]], Any, str]]:
    """The compressed models' configurations per source configuration (its replicas' models share a
    line or a colour), smallest source first, each with its colour and its name by the varying keys."""
    sources = group_by(group, lambda r: (config_id(r.compression.source_name),))
    order = sorted(sources, key=lambda k: sources[k][0].compression.source_params or 0)
    keys = [k for k in (varying(by_size(group)) or ["width"]) if k != "batch"]
    configs = [configurations(sources[k]) for k in order]
    return [(c, color, label(c[0][0], keys)) for c, color in zip(configs, colors(len(configs)))]


def compression_curves(runs: list[Run], out_dir: Path) -> Iterator[Drawn]:
    for (task,), group in group_by(finished_compression(runs), lambda r: (r.task,)).items():
        metric = group[0].metric  # on valid, the split every choice in the report reads
        ax = Figure().subplots()
        for configs, color, name in by_source(group):
            baseline = [c for c in configs if c[0].compression.is_baseline]
            for method, line in group_by([c for c in configs if not c[0].compression.is_baseline],
                                         lambda c: (c[0].compression.method,)).items():
                points = sorted(baseline[:1] + line, key=lambda c: (not c[0].compression.is_baseline,
                                                                    -c[0].compression.bytes))
                marker, style = METHOD_STYLE.get(method[0], ("o", "-"))
                draw_points(ax, *compressed_points(points), color, f"{name}: {method[0]}", marker, style)
            if baseline:
                draw_points(ax, *compressed_points(baseline[:1]), color,
                            f"{name}: {baseline[0][0].compression.precision}", "*", "none", markersize=12)
        log_axis(ax, "x", "B")
        yield finish(
            ax, out_dir, slug(task, metric, "vs_bytes"), "compressed size (bytes, log scale)", metric,
            f"{task}: {METRIC_LABELS.get(metric, metric)} vs compressed size", "source model: method",
            f"valid {metric} of every compressed model against the bytes it needs, one line per source model and "
            "method, starting from its uncompressed size (star, at the precision it was held at)"
            + replica_note([len(c) for c in configurations(group)], SEEDED_MODELS, "error bars"), fontsize=8)


def training_frontier(runs: list[Run], out_dir: Path) -> Iterator[Drawn]:
    """Best metric reachable at each training budget (over every configuration of the task),
    coloured by the configuration that reaches it; each one's own best-so-far curve faint behind it.
    A configuration with several seeds counts by their mean (series.mean_at), no band: the frontier
    picks among means, and the training-curve figures show the spread."""
    for (task,), group in group_by(finished_training(runs), lambda r: (r.task,)).items():
        configs, keys = configurations(group), varying(group)
        palette = colors(len(configs))
        budgets = np.unique([p.train_seconds for r in group for p in r.curve])
        means = np.vstack([mean_at(c, budgets) for c in configs])  # configuration x budget, NaN before
        ax = Figure().subplots()
        for config, row, color in zip(configs, means, palette):
            keep = ~np.isnan(row) & (budgets <= min(r.curve[-1].train_seconds for r in config))
            ax.step(budgets[keep], row[keep], where="post", color=color, alpha=0.35, linewidth=1.2)
        winners = frontier(means, group[0].higher_is_better)
        ax.step([budgets[t] for t, _ in winners], [means[i, t] for t, i in winners], where="post", color="black",
                linewidth=1)
        for (t0, i), (t1, _) in zip(winners, winners[1:] + [winners[-1]]):
            ax.plot([budgets[t0], budgets[t1]], [means[i, t0]] * 2, color=palette[i], linewidth=3.5,
                    solid_capstyle="butt")
        t_end, i_end = winners[-1]
        ax.plot([budgets[t_end]], [means[i_end, t_end]], marker="o", color=palette[i_end], markeredgecolor="black")
        for config, color in zip(configs, palette):  # legend entries in size order
            ax.plot([], [], color=color, linewidth=3.5, label=with_n(config_label(config, keys), [len(config)]))
        several = any(len(c) > 1 for c in configs)
        yield finish(
            ax, out_dir, slug(task, "frontier_training"), AXIS_LABELS["train_seconds"], group[0].metric,
            f"{task}: best {METRIC_LABELS.get(group[0].metric, group[0].metric)} at each training budget",
            "best run (thick)", "the best validation metric any run had reached by each training budget (thick, "
            "coloured by the run that reached it); each run's own best-so-far faint"
            + ("; a configuration with several seeds (n in the legend) counts by the mean of their best-so-far, "
               "from when every seed has validated" if several else ""))


def frontier(means: np.ndarray, higher_is_better: bool) -> list[tuple[int, int]]:
    """(budget index, index of the configuration with the best mean by it) at every budget where any
    has one; ties go to the smaller configuration (the earlier row)."""
    pick = np.nanargmax if higher_is_better else np.nanargmin
    return [(t, int(pick(means[:, t]))) for t in range(means.shape[1]) if not np.isnan(means[:, t]).all()]


def memory_frontier(runs: list[Run], out_dir: Path) -> Iterator[Drawn]:
    """Best metric of any compressed configuration that fits each memory budget (a step up at each
    that beats every smaller one), with every configuration as a point coloured by its source: the
    mean over seeds with a min-to-max error bar where there are several, and the front over means."""
    for (task,), group in group_by(finished_compression(runs), lambda r: (r.task,)).items():
        metric = group[0].metric  # a frontier is a choice: on validation, never test
        ax = Figure().subplots()
        for configs, color, name in by_source(group):
            draw_points(ax, *compressed_points(configs), color, name, linestyle="none", markersize=5, alpha=0.8,
                        zorder=3)
        sizes, spans = compressed_points(configurations(group))
        front = pareto_front(sizes, [s.mean for s in spans], group[0].higher_is_better)
        xs = [x for x, _ in front] + [max(sizes)]
        ys = [y for _, y in front] + [front[-1][1]]
        ax.step(xs, ys, where="post", color="black", linewidth=2, label="best that fits", zorder=2)
        log_axis(ax, "x", "B")
        yield finish(
            ax, out_dir, slug(task, "frontier_memory"), "memory budget (bytes, log scale)", metric,
            f"{task}: best {METRIC_LABELS.get(metric, metric)} at each memory budget", "source model",
            f"the best valid {metric} of any compressed model that fits in each memory budget; points are the "
            "models, coloured by source size"
            + replica_note([s.n for s in spans], SEEDED_MODELS + " and the step follows means", "error bars"))


def pareto_front(sizes: list[float], values: list[float], higher_is_better: bool) -> list[tuple[float, float]]:
    """(bytes, metric) of the models no smaller-or-equal model beats, smallest first."""
    front: list[tuple[float, float]] = []
    for size, value in sorted(zip(sizes, values), key=lambda p: p[0]):
        if not front or (value > front[-1][1] if higher_is_better else value < front[-1][1]):
            front.append((size, value))
    return front

"""The paper's figures from finished runs, as PNG (slides, README) and PDF (papers).

- metric against training seconds, updates and FLOPs, one line per model size, per sweep and task;
- the batch-size comparison: metric at a common budget against batch size and against model size;
- metric against compressed bytes, one line per source model and method;
- the frontiers: best metric reachable at each training budget, and at each memory budget.

Matplotlib through `Figure` objects on the Agg canvas, never pyplot: no global figure state, no
display needed. Axes carry units; perplexity, FLOPs and bytes are on log scales (perplexity spans
orders of magnitude early in training; FLOPs and bytes span orders across sizes). Must not import
fairseq or torch.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, Formatter, FuncFormatter, NullFormatter

from .collect import Run
from .series import (baseline_first, best_by, by_size, common_horizon, compression_split, finished_compression,
                     finished_training, group_by, label, varying)

# Readable on a slide: 6.4 x 4.2 inches at 150 dpi is 960 x 630 pixels.
STYLE = {"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "legend.fontsize": 10,
         "lines.linewidth": 2.0, "lines.markersize": 6, "axes.grid": True, "grid.alpha": 0.3,
         "figure.figsize": (6.4, 4.2), "figure.constrained_layout.use": True, "savefig.dpi": 150}
AXIS_LABELS = {"train_seconds": "training time (s, update time only)", "updates": "updates",
               "flops": "training FLOPs (estimated, log scale)"}
METRIC_LABELS = {"bleu": "BLEU", "ppl": "perplexity", "accuracy": "accuracy"}
LOG_METRICS = {"ppl"}
METHOD_STYLE = {"prune": ("o", "-"), "quantize": ("s", "--"), "prune_quantize": ("^", ":"), "none": ("*", "-")}


@dataclass(frozen=True)
class Drawn:
    """One figure on disk: its PNG and PDF, and what it shows (a caption for report.md)."""

    title: str
    png: Path
    pdf: Path
    caption: str


def draw_all(runs: list[Run], out_dir: Path) -> list[Drawn]:
    """Every figure the runs support, written under `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(STYLE):
        drawn = training_curves(runs, out_dir) + batch_size_comparison(runs, out_dir)
        drawn += compression_curves(runs, out_dir) + training_frontier(runs, out_dir) + memory_frontier(runs, out_dir)
    return drawn


def slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", "_".join(p for p in parts if p)).strip("_")


def save(fig: Figure, out_dir: Path, stem: str, title: str, caption: str) -> Drawn:
    png, pdf = out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"
    fig.savefig(png)
    fig.savefig(pdf)
    return Drawn(title, png, pdf, caption)


class PlainLogFormatter(Formatter):
    """Log-axis tick labels as plain numbers or with SI prefixes (100 k, 5 TFLOP), not 10^n: those go
    through mathtext, which took most of the drawing time. Which ticks get a label depends on the
    span, so labels never crowd: every decade over two or more, 1-2-5 over more than half a decade,
    every tick below that (a perplexity axis from 12 to 27)."""

    def __init__(self, unit: str | None) -> None:
        self.eng = EngFormatter(unit=unit) if unit is not None else None
        self.mantissas: tuple[float, ...] | None = (1.0,)  # None: label every tick

    def set_locs(self, locs) -> None:
        super().set_locs(locs)
        low, high = sorted(self.axis.get_view_interval())
        decades = math.log10(high / low) if low > 0 else math.inf
        self.mantissas = (1.0,) if decades >= 2 else (1.0, 2.0, 5.0) if decades > 0.5 else None

    def __call__(self, x: float, pos: int | None = None) -> str:
        if x <= 0:
            return ""
        mantissa = x / 10 ** math.floor(math.log10(x) + 1e-9)
        if self.mantissas is not None and not any(abs(mantissa - m) < 1e-6 for m in self.mantissas):
            return ""
        return self.eng(x) if self.eng else f"{x:g}"


def log_axis(ax, which: str, unit: str | None = None, base: int = 10) -> None:
    """Log-scales the x or y axis of `ax`. unit: None for plain numbers, "" for SI prefixes alone.
    Base 2 (batch sizes) labels each power of two."""
    (ax.set_xscale if which == "x" else ax.set_yscale)("log", base=base)
    axis = ax.xaxis if which == "x" else ax.yaxis
    if base == 2:
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())
        return
    axis.set_major_formatter(PlainLogFormatter(unit))
    axis.set_minor_formatter(PlainLogFormatter(unit))


def metric_axis(ax, metric: str, split: str = "valid") -> None:
    name = METRIC_LABELS.get(metric, metric)
    if metric in LOG_METRICS:
        log_axis(ax, "y")
        ax.set_ylabel(f"{split} {name} (log scale, lower is better)")
    else:
        ax.set_ylabel(f"{split} {name}" + (" (%)" if metric == "bleu" else ""))


def colors(n: int) -> list:
    """Small models orange, large ones dark blue (plasma, without its pale yellow end), so size reads
    off the colour in every figure; a lone line is dark."""
    cmap = matplotlib.colormaps["plasma"]
    return [cmap(0.75 - 0.7 * i / (n - 1)) for i in range(n)] if n > 1 else [cmap(0.05)] * n


def training_curves(runs: list[Run], out_dir: Path) -> list[Drawn]:
    drawn = []
    for (experiment, task), group in group_by(finished_training(runs), lambda r: (r.experiment, r.task)).items():
        group, keys = by_size(group), varying(group)
        metric = group[0].metric
        for axis in ("train_seconds", "updates", "flops"):
            if any(p.flops is None for r in group for p in r.curve) and axis == "flops":
                continue  # runs from before FLOPs were recorded
            fig = Figure()
            ax = fig.subplots()
            for run, color in zip(group, colors(len(group))):
                ax.plot([getattr(p, axis) for p in run.curve], [p.value for p in run.curve], marker=".",
                        color=color, label=label(run, keys))
            ax.set_xlabel(AXIS_LABELS[axis])
            if axis == "flops":
                log_axis(ax, "x", "FLOP")
            metric_axis(ax, metric)
            title = f"{experiment}: {task} {METRIC_LABELS.get(metric, metric)} vs {AXIS_LABELS[axis].split(' (')[0]}"
            ax.set_title(title)
            ax.legend(title="model size" if not set(keys) <= {"batch"} else "batch", loc="best")
            drawn.append(save(fig, out_dir, slug(experiment, task, metric, "vs", axis), title,
                              f"validation {metric} of every run in `{experiment}` against {AXIS_LABELS[axis]}, "
                              "one line per size"))
    return drawn


def batch_size_comparison(runs: list[Run], out_dir: Path) -> list[Drawn]:
    """Per task with a batch sweep: metric at the common budget against batch size (one line per
    model), beside metric against parameters (one line per batch) when sizes were swept too."""
    drawn = []
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
            family = sorted(family, key=lambda r: r.batch)
            axes[0].plot([r.batch for r in family], [best_by(r, horizon) for r in family], marker="o", color=color,
                         label=f"width {width}, depth {depth}")
        log_axis(axes[0], "x", base=2)
        axes[0].set_xlabel(f"batch ({group[0].batch_unit} per update, log scale)")
        axes[0].legend(title="model")
        metric_axis(axes[0], metric)
        if by_batch:
            for (batch,), family, color in zip(by_batch, by_batch.values(), colors(len(by_batch))):
                family = by_size(family)
                axes[1].plot([r.params for r in family], [best_by(r, horizon) for r in family], marker="o",
                             color=color, label=f"batch {batch:g}")
            log_axis(axes[1], "x", "")
            axes[1].set_xlabel("parameters (log scale)")
            axes[1].legend(title="batch")
        title = f"{task}: bigger batch or bigger model? (best by {horizon:.0f} training s)"
        fig.suptitle(title)
        drawn.append(save(fig, out_dir, slug(task, "batch_size"), title,
                          f"best validation {metric} reached by {horizon:.0f} training seconds, against batch size "
                          "(left) and against parameters (right)"))
    return drawn


def compression_curves(runs: list[Run], out_dir: Path) -> list[Drawn]:
    drawn = []
    for (task,), group in group_by(finished_compression(runs), lambda r: (r.task,)).items():
        split, metric = compression_split(group), group[0].metric
        sources = group_by(group, lambda r: (r.compression.source_name,))
        order = sorted(sources, key=lambda k: sources[k][0].compression.source_params or 0)
        fig = Figure()
        ax = fig.subplots()
        for (source,), color in zip(order, colors(len(order))):
            family = sources[(source,)]
            keys = varying(by_size(group)) or ["width"]
            name = label(family[0], [k for k in keys if k != "batch"])
            baseline = [r for r in family if r.compression.is_baseline]
            for method, line in group_by([r for r in family if not r.compression.is_baseline],
                                         lambda r: (r.compression.method,)).items():
                points = baseline_first(baseline[:1] + line)
                marker, style = METHOD_STYLE.get(method[0], ("o", "-"))
                ax.plot([r.compression.bytes for r in points], [r.compression.scores[split] for r in points],
                        marker=marker, linestyle=style, color=color, label=f"{name}: {method[0]}")
            if baseline:
                ax.plot([baseline[0].compression.bytes], [baseline[0].compression.scores[split]], marker="*",
                        markersize=12, linestyle="none", color=color, label=f"{name}: fp32")
        log_axis(ax, "x", "B")
        ax.set_xlabel("compressed size (bytes, log scale)")
        metric_axis(ax, metric, split)
        title = f"{task}: {METRIC_LABELS.get(metric, metric)} vs compressed size"
        ax.set_title(title)
        ax.legend(title="source model: method", fontsize=8, loc="best")
        drawn.append(save(fig, out_dir, slug(task, metric, "vs_bytes"), title,
                          f"{split} {metric} of every compressed model against the bytes it needs, one line per "
                          "source model and method, starting from its fp32 size (star)"))
    return drawn


def training_frontier(runs: list[Run], out_dir: Path) -> list[Drawn]:
    """Best metric reachable at each training budget (over every run of the task), coloured by the
    run that reaches it; each run's own best-so-far curve faint behind it."""
    drawn = []
    for (task,), group in group_by(finished_training(runs), lambda r: (r.task,)).items():
        group, keys = by_size(group), varying(group)
        fig = Figure()
        ax = fig.subplots()
        palette = dict(zip((r.name for r in group), colors(len(group))))
        budgets = sorted({p.train_seconds for r in group for p in r.curve})
        for run in group:
            xs = [t for t in budgets if best_by(run, t) is not None and t <= run.curve[-1].train_seconds]
            ax.step(xs, [best_by(run, t) for t in xs], where="post", color=palette[run.name], alpha=0.35,
                    linewidth=1.2)
        winners = [w for w in (frontier_point(group, t) for t in budgets) if w[1] is not None]
        ax.step([t for t, _, _ in winners], [v for _, _, v in winners], where="post", color="black", linewidth=1)
        for (t0, run, value), (t1, _, _) in zip(winners, winners[1:] + [winners[-1]]):
            ax.plot([t0, t1], [value, value], color=palette[run.name], linewidth=3.5, solid_capstyle="butt")
        t_end, run_end, value_end = winners[-1]
        ax.plot([t_end], [value_end], marker="o", color=palette[run_end.name], markeredgecolor="black")
        for run in group:  # legend entries in size order
            ax.plot([], [], color=palette[run.name], linewidth=3.5, label=label(run, keys))
        ax.set_xlabel(AXIS_LABELS["train_seconds"])
        metric_axis(ax, group[0].metric)
        title = f"{task}: best {METRIC_LABELS.get(group[0].metric, group[0].metric)} at each training budget"
        ax.set_title(title)
        ax.legend(title="best run (thick)", loc="best")
        drawn.append(save(fig, out_dir, slug(task, "frontier_training"), title,
                          "the best validation metric any run had reached by each training budget (thick, coloured "
                          "by the run that reached it); each run's own best-so-far faint"))
    return drawn


def frontier_point(group: list[Run], budget: float) -> tuple[float, Run | None, float | None]:
    """(budget, the run with the best metric by it, that metric)."""
    best: tuple[Run | None, float | None] = (None, None)
    for run in group:
        value = best_by(run, budget)
        if value is not None and (best[1] is None or run.better(value, best[1])):
            best = (run, value)
    return budget, best[0], best[1]


def memory_frontier(runs: list[Run], out_dir: Path) -> list[Drawn]:
    """Best metric of any compressed model that fits each memory budget (a step up at each model
    that beats every smaller one), with every model as a point coloured by its source."""
    drawn = []
    for (task,), group in group_by(finished_compression(runs), lambda r: (r.task,)).items():
        split, metric = compression_split(group), group[0].metric
        fig = Figure()
        ax = fig.subplots()
        sources = group_by(group, lambda r: (r.compression.source_name,))
        order = sorted(sources, key=lambda k: sources[k][0].compression.source_params or 0)
        keys = [k for k in (varying(by_size(group)) or ["width"]) if k != "batch"]
        for source, color in zip(order, colors(len(order))):
            family = sources[source]
            ax.scatter([r.compression.bytes for r in family], [r.compression.scores[split] for r in family],
                       color=color, s=30, alpha=0.8, label=label(family[0], keys), zorder=3)
        front = pareto_front(group, split)
        xs = [r.compression.bytes for r in front] + [max(r.compression.bytes for r in group)]
        ys = [r.compression.scores[split] for r in front] + [front[-1].compression.scores[split]]
        ax.step(xs, ys, where="post", color="black", linewidth=2, label="best that fits", zorder=2)
        log_axis(ax, "x", "B")
        ax.set_xlabel("memory budget (bytes, log scale)")
        metric_axis(ax, metric, split)
        title = f"{task}: best {METRIC_LABELS.get(metric, metric)} at each memory budget"
        ax.set_title(title)
        ax.legend(title="source model", loc="best")
        drawn.append(save(fig, out_dir, slug(task, "frontier_memory"), title,
                          f"the best {split} {metric} of any compressed model that fits in each memory budget; "
                          "points are the models, coloured by source size"))
    return drawn


def pareto_front(group: list[Run], split: str) -> list[Run]:
    """Compressed models no smaller-or-equal model beats, smallest first."""
    front: list[Run] = []
    for run in sorted(group, key=lambda r: (r.compression.bytes, r.name)):
        value = run.compression.scores[split]
        if not front or run.better(value, front[-1].compression.scores[split]):
            front.append(run)
    return front

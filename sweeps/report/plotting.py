"""How the report's figures look: style, axes with units, colours by size, PNG and PDF files, and a
configuration's replicas as one line with a band or one point with error bars. Matplotlib through
`Figure` objects on the Agg canvas, never pyplot: no global figure state, no display needed. Must
not import fairseq or torch.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, Formatter, FuncFormatter, NullFormatter

from .collect import Run
from .series import Span, band, label

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


def slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", "_".join(p for p in parts if p)).strip("_")


def save(fig: Figure, out_dir: Path, stem: str, title: str, caption: str) -> Drawn:
    png, pdf = out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"
    fig.savefig(png)
    # The PNG's draw has placed everything; laying the figure out again for the PDF cost half its
    # time (4.8 s of 10 s for 31 figures of 200 runs), for the same positions.
    fig.set_layout_engine("none")
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
    """Log-scales the x or y axis of `ax`. unit: None for plain numbers, "" for SI prefixes alone."""
    (ax.set_xscale if which == "x" else ax.set_yscale)("log", base=base)
    axis = ax.xaxis if which == "x" else ax.yaxis
    plain = base == 2  # batch sizes: every power of two labelled as itself, no minor ticks
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}") if plain else PlainLogFormatter(unit))
    axis.set_minor_formatter(NullFormatter() if plain else PlainLogFormatter(unit))


def metric_axis(ax, metric: str) -> None:
    name = METRIC_LABELS.get(metric, metric)
    if metric in LOG_METRICS:
        log_axis(ax, "y")
        ax.set_ylabel(f"valid {name} (log scale, lower is better)")
    else:
        ax.set_ylabel(f"valid {name}" + (" (%)" if metric == "bleu" else ""))


def colors(n: int) -> list:
    """Small models orange, large ones dark blue (plasma, without its pale yellow end), so size reads
    off the colour in every figure; a lone line is dark."""
    cmap = matplotlib.colormaps["plasma"]
    return [cmap(0.75 - 0.7 * i / (n - 1)) for i in range(n)] if n > 1 else [cmap(0.05)] * n


BAND_ALPHA = 0.25  # the band's opacity: the mean line stays readable through two overlapping bands


def with_n(text: str, counts: Sequence[int]) -> str:
    """A legend entry with its seeds when any point or line has several: `width 64 (n=2-3)`."""
    low, high = min(counts, default=1), max(counts, default=1)
    if high < 2:
        return text
    return f"{text} (n={low})" if low == high else f"{text} (n={low}-{high})"


def config_label(group: Sequence[Run], keys: list[str]) -> str:
    """The legend entry of a configuration: its varying keys, else its name without the seed."""
    text = label(group[0], keys)
    return group[0].config_id if text == group[0].name and len(group) > 1 else text


def draw_configuration(ax, group: Sequence[Run], axis: str, color, text: str) -> None:
    """One configuration's training curve against `axis`: a single run as its validations, several
    replicas as their mean best-so-far curve, stepped, with the min-to-max band shaded (series.band)."""
    # Replicas that never overlap on this axis (an empty band) are shown each rather than not at all.
    if len(group) == 1 or (drawn := band(group, axis)).x.size == 0:
        style = {"marker": "."} if len(group) == 1 else {"linewidth": 1}
        for i, run in enumerate(group):
            ax.plot([getattr(p, axis) for p in run.curve], [p.value for p in run.curve], color=color,
                    label=with_n(text, [len(group)]) if i == 0 else None, **style)
        return
    ax.step(drawn.x, drawn.mean, where="post", color=color, label=with_n(text, [drawn.n]))
    ax.fill_between(drawn.x, drawn.low, drawn.high, step="post", color=color, alpha=BAND_ALPHA, linewidth=0)


def draw_points(ax, xs: Sequence[float], spans: Sequence[Span], color, text: str, marker: str = "o",
                linestyle: str = "-", **line) -> None:
    """Configurations as points joined by a line, each at its replicas' mean, with a min-to-max error
    bar where it has two or more."""
    means = [s.mean for s in spans]
    ax.plot(xs, means, marker=marker, linestyle=linestyle, color=color,
            label=with_n(text, [s.n for s in spans]), **line)
    bars = [(x, s) for x, s in zip(xs, spans) if s.n > 1]
    if bars:
        ax.errorbar([x for x, _ in bars], [s.mean for _, s in bars],
                    yerr=[[s.mean - s.low for _, s in bars], [s.high - s.mean for _, s in bars]],
                    fmt="none", ecolor=color, elinewidth=1.2, capsize=3)

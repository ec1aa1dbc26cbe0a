"""Questions asked of finished runs, shared by the tables, figures, claims and advice: which runs
belong together, what varies among them, how to name each one, the best metric a run had reached
by a given training budget, and replicas (runs that differ only in their seed) as one curve or one
point: the mean over seeds and a min-to-max band around it. Plain functions and numpy on
`collect.Run`; no plotting, no files. Must not import fairseq or torch.

Replicas validate at different x (training seconds, updates, FLOPs), so each is read as its
best-so-far step function (`best_by`, budget rule included) on the union of their validation x,
kept only where every replica has a value: from the latest first validation to the earliest last
one. Nothing is invented between validations. The band is min to max: with the 2-4 seeds a sweep
can afford, a 95% bootstrap interval is little more than that range anyway.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from .collect import COMPLETE, Run

AXES = ("train_seconds", "updates", "flops")  # the x-axes of the training curves
SIZE_KEYS = ("width", "depth", "batch")  # what a sweep varies, in the order labels name them
BAND_NAME = "min to max"  # what the shaded band and the error bars span, for captions


def finished_training(runs: Iterable[Run]) -> list[Run]:
    """Complete training runs with at least one validation: the ones with a curve."""
    return [r for r in runs if r.status == COMPLETE and r.job == "train" and r.curve]


def finished_compression(runs: Iterable[Run]) -> list[Run]:
    return [r for r in runs if r.status == COMPLETE and r.job == "compress" and r.compression]


def group_by(runs: Iterable[Run], key: Callable[[Run], tuple]) -> dict[tuple, list[Run]]:
    groups: dict[tuple, list[Run]] = defaultdict(list)
    for run in runs:
        groups[key(run)].append(run)
    return dict(sorted(groups.items(), key=lambda item: tuple(str(part) for part in item[0])))


def replicas(runs: Iterable[Run]) -> dict[tuple[str, str], list[Run]]:
    """Runs that differ only in their seed, by (experiment, config id), each group by seed."""
    groups = group_by(runs, lambda r: (r.experiment, r.config_id))
    return {key: sorted(group, key=lambda r: (r.seed if r.seed is not None else -1, r.name))
            for key, group in groups.items()}


def size(run: Run) -> tuple:
    """Sorts smallest model first: parameters, then width, depth and batch."""
    return run.params or 0, run.width or 0, run.depth or 0, run.batch or 0


def by_size(runs: Iterable[Run]) -> list[Run]:
    return sorted(runs, key=lambda r: (*size(r), r.name))


def varying(runs: list[Run]) -> list[str]:
    """The size keys whose values differ among `runs`."""
    return [key for key in SIZE_KEYS if len({getattr(r, key) for r in runs}) > 1]


def label(run: Run, keys: list[str]) -> str:
    """A legend entry: the varying keys' values (`width 512, depth 6`), else the run's name."""
    parts = [f"{key} {format_number(getattr(run, key))}" for key in keys if getattr(run, key) is not None]
    return ", ".join(parts) or run.name


def format_number(value: float | int | None) -> str:
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


def best_by(run: Run, budget: float, axis: str = "train_seconds") -> float | None:
    """The best validation metric `run` had reached by `budget` on `axis` (None before its first
    validation): what stopping there and keeping the best checkpoint would give.

    A run configured for at most `budget` training seconds counts whole: it stops at the first update
    past its budget, so its final validation sits a fraction of a step beyond it (60.05 s for 60)."""
    if axis == "train_seconds" and run.budget_seconds is not None and run.budget_seconds <= budget:
        budget = float("inf")
    values = [p.value for p in run.curve if (x := getattr(p, axis)) is not None and x <= budget]
    if not values:
        return None
    return max(values) if run.higher_is_better else min(values)


def best_by_replicas(group: list[Run], budget: float, axis: str = "train_seconds") -> list[float]:
    """`best_by` of every replica in `group` that had validated by `budget` (one value per seed)."""
    return [value for run in group if (value := best_by(run, budget, axis)) is not None]


def common_horizon(runs: list[Run]) -> float:
    """The training seconds every run in `runs` reached: the last validation of the shortest."""
    return min(run.curve[-1].train_seconds for run in runs)


@dataclass(frozen=True)
class Band:
    """The mean over `n` replicas at each x of a grid, and the min and max around it."""

    x: np.ndarray  # grid, in the axis' unit (s, updates or FLOPs), ascending
    mean: np.ndarray  # metric units, one per grid x
    low: np.ndarray  # the smallest replica value at each x
    high: np.ndarray  # the largest replica value at each x
    n: int  # replicas


@dataclass(frozen=True)
class Span:
    """One number per replica (a metric, in its units), summarised: mean, min and max, and how many."""

    mean: float
    low: float
    high: float
    n: int


def best_so_far(run: Run, axis: str = "train_seconds") -> tuple[np.ndarray, np.ndarray]:
    """(x, best metric reached by x) at each validation of `run` with an x, x ascending. A validation
    past the run's configured training seconds is placed at them, as `best_by` counts it."""
    points = [(x, p.value) for p in run.curve if (x := getattr(p, axis)) is not None]
    if not points:
        return np.empty(0), np.empty(0)
    xs, values = (np.asarray(column, dtype=float) for column in zip(*points))
    if axis == "train_seconds" and run.budget_seconds is not None:
        xs = np.minimum(xs, run.budget_seconds)
    order = np.argsort(xs, kind="stable")
    xs, values = xs[order], values[order]
    best = np.maximum.accumulate(values) if run.higher_is_better else np.minimum.accumulate(values)
    return xs, best


def step_values(xs: np.ndarray, best: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The step function (xs, best) at each grid x (NaN before its first x)."""
    if xs.size == 0:
        return np.full(grid.shape, np.nan)
    index = np.searchsorted(xs, grid, side="right") - 1
    return np.where(index >= 0, best[np.clip(index, 0, None)], np.nan)


def align(group: Sequence[Run], axis: str = "train_seconds") -> tuple[np.ndarray, np.ndarray]:
    """(grid, one row per replica of its best-so-far there); the grid is empty when the replicas' x
    ranges do not overlap."""
    curves = [best_so_far(run, axis) for run in group]
    if any(xs.size == 0 for xs, _ in curves):
        return np.empty(0), np.empty((len(group), 0))
    start, end = max(xs[0] for xs, _ in curves), min(xs[-1] for xs, _ in curves)
    grid = np.unique(np.concatenate([xs for xs, _ in curves]))
    grid = grid[(grid >= start) & (grid <= end)]
    return grid, np.vstack([step_values(xs, best, grid) for xs, best in curves])


def band(group: Sequence[Run], axis: str = "train_seconds") -> Band:
    """The replicas' mean best-so-far curve with its min-to-max band."""
    grid, values = align(group, axis)
    if grid.size == 0:
        return Band(grid, grid, grid, grid, len(group))
    return Band(grid, values.mean(axis=0), values.min(axis=0), values.max(axis=0), len(group))


def span(values: Sequence[float]) -> Span:
    """Mean, min and max of one value per replica.

    Raises:
        ValueError: no values.
    """
    if not values:
        raise ValueError("no values to summarise")
    data = np.asarray(values, dtype=float)
    return Span(float(data.mean()), float(data.min()), float(data.max()), int(data.size))


def mean_at(group: Sequence[Run], xs: np.ndarray) -> np.ndarray:
    """The mean over replicas of the best metric each had reached by every x in `xs` (training
    seconds); NaN until every replica has validated. Past a replica's last validation its final best counts."""
    rows = [step_values(*best_so_far(run), np.asarray(xs, dtype=float)) for run in group]
    return np.mean(rows, axis=0)


def configurations(runs: Sequence[Run]) -> list[list[Run]]:
    """The runs' replicas (`replicas`), each by seed, smallest model first."""
    return sorted(replicas(runs).values(), key=lambda g: (*size(g[0]), g[0].config_id))


def caption(counts: Sequence[int], what: str = "shaded") -> str:
    """What the band spans, over how many seeds, given each configuration's replicas; "" when all have one."""
    seeds = sorted({n for n in counts if n > 1})
    if not seeds:
        return ""
    n = f"{seeds[0]} seeds" if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]} seeds (n in the legend)"
    return f"{what}: {BAND_NAME} over {n}"

"""Questions asked of finished runs, shared by the tables, figures, claims and advice: which runs
belong together, what varies among them, how to name each one, and the best metric a run had
reached by a given training budget. Plain functions on `collect.Run`; no plotting, no files.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable

from .collect import COMPLETE, Run

AXES = ("train_seconds", "updates", "flops")  # the x-axes of the training curves
SIZE_KEYS = ("width", "depth", "batch")  # what a sweep varies, in the order labels name them


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

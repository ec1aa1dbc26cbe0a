"""Intervals and goal verdicts for the benchmark's sections and `scripts/render_performance.py`.

A benchmark figure is said to meet its goal only when its whole 95% interval does: a mean over
repeats whose interval straddles the goal, or a figure measured once, is "not shown". Intervals
are Student-t intervals of the mean: with the 3-10 repeats a benchmark affords, a percentile
bootstrap (what tlc-report uses over seeds) comes out little wider than the range of the values
and would claim goals the noise does not support. Must not import torch or fairseq.
"""
from __future__ import annotations

import math
import statistics
from typing import Sequence

LEVEL = 0.95  # confidence level of every interval
MET, NOT_SHOWN = "met", "not shown"


def interval(values: Sequence[float | None], level: float = LEVEL) -> dict:
    """The mean of `values` (None left out) with its two-sided t-interval: {'mean', 'low', 'high',
    'n', 'level', 'min', 'max'}. With fewer than two values low and high are None (no interval).

    Raises:
        ValueError: when no value is given.
    """
    from scipy import stats

    data = [float(v) for v in values if v is not None]
    if not data:
        raise ValueError("no values to take an interval over")
    mean = statistics.fmean(data)
    low = high = None
    if len(data) > 1:
        half = stats.t.ppf(0.5 + level / 2, len(data) - 1) * statistics.stdev(data) / math.sqrt(len(data))
        low, high = mean - half, mean + half
    return {"mean": mean, "low": low, "high": high, "n": len(data), "level": level, "min": min(data),
            "max": max(data)}


def clears(estimate: dict | None, goal: tuple[str, float]) -> bool:
    """Whether the whole interval of `estimate` lies where `goal` wants it. goal: ('<=', x) or
    ('<', x): its upper end; ('within', x): inside [-x, x]; ('beyond', x): wholly outside it."""
    if not estimate or estimate.get("low") is None:
        return False
    op, bound = goal
    low, high = estimate["low"], estimate["high"]
    if op == "<=":
        return high <= bound
    if op == "<":
        return high < bound
    if op == "within":
        return -bound <= low and high <= bound
    if op == "beyond":
        return low > bound or high < -bound
    raise ValueError(f"unknown goal {goal!r}")


def verdict(estimates: Sequence[tuple[dict | None, tuple[str, float]]]) -> str:
    """MET when every (estimate, goal) pair clears its goal, else NOT_SHOWN."""
    return MET if estimates and all(clears(e, goal) for e, goal in estimates) else NOT_SHOWN

"""Runs as evidence: configurations (replicas that differ only in their seed), the advantage of
one over another with its noise, and what the seed spread that can be seen says about how many
seeds a difference needs. Shared by the claims and the advice, so both compare means over
replicas the same way and both choose on validation metrics only.

Differences are oriented: positive always means "better for this task" (higher BLEU or accuracy,
lower perplexity), so one rule reads the same for every metric. Must not import torch or fairseq.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

from .collect import Run
from .noise import LEVEL, RESAMPLES, Estimate, difference, estimate, seeds_needed, spread
from .series import best_by_replicas, replicas

UNITS = {"bleu": "BLEU", "ppl": "ppl", "accuracy": "accuracy"}  # how a metric difference is written
# Fields every replica of a configuration shares, read from its first run.
SHARED = ("experiment", "task", "task_kind", "metric", "width", "depth", "batch", "batch_unit", "params",
          "higher_is_better", "better", "job", "budget_seconds")


@dataclass(frozen=True)
class Config:
    """One configuration: its replicas (runs that differ only in the seed), ordered by seed."""

    runs: tuple[Run, ...]

    def __getattr__(self, key: str):
        if key in SHARED:
            return getattr(self.runs[0], key)
        raise AttributeError(key)

    @property
    def name(self) -> str:
        """The run name without its seed (`width=64`)."""
        return self.runs[0].config_id

    @property
    def n(self) -> int:
        return len(self.runs)

    def values(self, budget: float, axis: str = "train_seconds") -> list[float]:
        """Best validation metric by `budget`, one per replica that had validated by then."""
        return best_by_replicas(list(self.runs), budget, axis)


def configs(runs: list[Run]) -> list[Config]:
    """`runs` grouped into configurations (same experiment and run name but for the seed)."""
    return [Config(tuple(group)) for group in replicas(runs).values()]


def unit(metric: str) -> str:
    return UNITS.get(metric, metric)


def advantage(higher_is_better: bool, a: Sequence[float], b: Sequence[float]) -> Estimate:
    """How much better the mean of `a` is than the mean of `b` (positive = `a` better), with the
    interval of `noise.difference`."""
    return difference(a, b) if higher_is_better else difference(b, a)


def contrast(terms: Sequence[tuple[Sequence[float], float]]) -> Estimate:
    """sum(weight * mean(values)) over independent groups of replica values, e.g. a gain per
    doubling ((large - small) / doublings) or a difference of two such gains. The interval is a
    95% percentile bootstrap that resamples each group on its own, as `noise.difference` does for
    two; there is none unless every group has two or more values.

    Raises:
        ValueError: a group has no values.
    """
    samples = [np.asarray(values, dtype=float) for values, _ in terms]
    weights = [float(weight) for _, weight in terms]
    if not samples or any(s.size == 0 for s in samples):
        raise ValueError("no values to contrast")
    mean = float(sum(w * s.mean() for w, s in zip(weights, samples)))
    n = int(min(s.size for s in samples))
    if n < 2:
        return Estimate(mean, None, None, n)
    if all(np.ptp(s) == 0 for s in samples):
        return Estimate(mean, mean, mean, n)

    def statistic(*xs: np.ndarray, axis: int = -1) -> np.ndarray:
        return sum(w * np.mean(x, axis=axis) for w, x in zip(weights, xs))

    result = stats.bootstrap(tuple(samples), statistic, confidence_level=LEVEL, n_resamples=RESAMPLES,
                             method="percentile", vectorized=True, rng=np.random.default_rng(0))
    return Estimate(mean, float(result.confidence_interval.low), float(result.confidence_interval.high), n)


def mean_sd(values: Sequence[float]) -> str:
    """`27.3 ± 0.4`: the mean over replicas and their sample standard deviation (`27.3` for one)."""
    sd = spread(values)
    return f"{estimate(values).mean:.4g}" + (f" ± {sd:.2g}" if sd is not None else "")


def mean_text(values: Sequence[float], metric: str = "") -> str:
    """`27.3 ± 0.4 BLEU (n=3)`: `mean_sd`, the unit and how many replicas; `27.3 BLEU (n=1)` for one."""
    return mean_sd(values) + (f" {unit(metric)}" if metric else "") + f" (n={len(values)})"


def pooled_spread(groups: Sequence[Sequence[float]]) -> tuple[float | None, int]:
    """The seed noise seen across configurations: the root mean of the replica variances of every
    group with two or more values, and how many such groups there were (None, 0 when none)."""
    sds = [sd for values in groups if (sd := spread(values)) is not None]
    if not sds:
        return None, 0
    return float(np.sqrt(np.mean(np.square(sds)))), len(sds)


def seeds_line(groups: Sequence[Sequence[float]], effect: float, metric: str, where: str) -> str:
    """How many seeds per configuration a difference of `effect` would need to stand out, from the
    spread visible in `groups` (replica values of configurations `where`), or that it is unknown."""
    sd, count = pooled_spread(groups)
    if sd is None:
        return (f"seed noise unknown: no configuration {where} has two or more seeds; rerun with e.g. "
                "seed=1,2,3 to measure it")
    needed = seeds_needed(sd, effect)
    many = f"more than {needed - 1}" if needed is not None and needed > 100 else f"about {needed}"
    return (f"seed noise: sd {sd:.2g} {unit(metric)} (from {count} configuration{'s' * (count > 1)} {where} with "
            f"replicas); a difference of {effect:+.3g} {unit(metric)} needs {many} seeds per configuration "
            "to clear a 95% interval")

"""How far the seed moves a number: a mean over replicas, or a weighted sum of such means (a
difference, a gain per doubling), with its 95% percentile-bootstrap interval, and how many seeds a
difference would need before it stands out.

The bootstrap (`scipy.stats.bootstrap`) uses a fixed generator, so a report reads the same every
time. With 2-3 replicas its interval is little more than the range of the values: it says what was
seen, and how little that is. One replica has no interval (`low`/`high` None), and callers say so.
Must not import torch or fairseq.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

LEVEL = 0.95  # confidence level of every interval
RESAMPLES = 2000  # bootstrap resamples: the interval's ends move by well under 1% of its width beyond this
Z = 1.96  # the normal quantile of LEVEL, for the seeds-needed estimate
MOST_SEEDS = 100  # a difference that needs more than this is reported as "more than 100"


@dataclass(frozen=True)
class Estimate:
    """A mean over replicas (or a weighted sum of such means) and its interval."""

    mean: float
    low: float | None  # None with a single replica: no interval
    high: float | None
    n: int  # replicas (for several groups: the smallest group's)

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def excludes_zero(self) -> bool:
        return self.has_interval and (self.low > 0 or self.high < 0)  # type: ignore[operator]

    def describe(self, unit: str = "") -> str:
        """`+1.2 BLEU (95% interval +0.4 to +2.0, n=3)`, or `+1.2 BLEU (1 seed, no interval)`."""
        unit = f" {unit}" if unit else ""
        value = f"{self.mean:+.3g}{unit}"
        if not self.has_interval:
            return f"{value} (1 seed, no interval)"
        return f"{value} ({LEVEL:.0%} interval {self.low:+.3g} to {self.high:+.3g}, n={self.n})"


def estimate(values: Sequence[float]) -> Estimate:
    """The mean of `values` (one per replica) with its interval."""
    return contrast([(values, 1.0)], "no values to estimate from")


def difference(a: Sequence[float], b: Sequence[float]) -> Estimate:
    """mean(a) - mean(b) of independent replicas; no interval unless both sides have two or more."""
    return contrast([(a, 1.0), (b, -1.0)], "no values to compare")


def contrast(terms: Sequence[tuple[Sequence[float], float]], empty: str = "no values to contrast") -> Estimate:
    """sum(weight * mean(values)) over independent groups of replica values, e.g. a gain per doubling
    ((large - small) / doublings). The bootstrap resamples each group on its own; there is no
    interval unless every group has two or more values.

    Raises:
        ValueError: a group has no values (the message is `empty`).
    """
    samples = [np.asarray(values, dtype=float) for values, _ in terms]
    weights = [float(weight) for _, weight in terms]
    if not samples or any(s.size == 0 for s in samples):
        raise ValueError(empty)
    mean = float(sum(w * s.mean() for w, s in zip(weights, samples)))
    n = int(min(s.size for s in samples))
    if n < 2:
        return Estimate(mean, None, None, n)
    if all(np.ptp(s) == 0 for s in samples):  # every replica agrees: the bootstrap has nothing to resample
        return Estimate(mean, mean, mean, n)

    def statistic(*xs: np.ndarray, axis: int = -1) -> np.ndarray:
        return sum(w * np.mean(x, axis=axis) for w, x in zip(weights, xs))

    result = stats.bootstrap(tuple(samples), statistic, confidence_level=LEVEL, n_resamples=RESAMPLES,
                             method="percentile", vectorized=True, rng=np.random.default_rng(0))
    return Estimate(mean, float(result.confidence_interval.low), float(result.confidence_interval.high), n)


def spread(values: Sequence[float]) -> float | None:
    """The sample standard deviation over replicas; None with fewer than two."""
    data = np.asarray(values, dtype=float)
    return float(data.std(ddof=1)) if data.size > 1 else None


def seeds_needed(sd: float | None, effect: float) -> int | None:
    """Replicas per side for a difference of `effect` to clear a 95% interval when each side's seed
    noise has standard deviation `sd` (normal approximation: Z * sd * sqrt(2 / n) < |effect|).
    None when the noise is unknown (one replica each); MOST_SEEDS + 1 for "more than MOST_SEEDS"."""
    if sd is None:
        return None
    if sd == 0:
        return 2
    if effect == 0:
        return MOST_SEEDS + 1
    return min(MOST_SEEDS + 1, max(2, math.ceil(2 * (Z * sd / abs(effect)) ** 2)))

"""How far the seed moves a number: means over replicas with intervals, differences of two means
with theirs, and how many seeds a difference would need before it stands out.

Intervals are 95% percentile-bootstrap intervals of the mean (`scipy.stats.bootstrap`, a fixed
generator, so a report reads the same every time). With 2-3 replicas such an interval is little
more than the range of the values: it says what was seen, and it is honest about how little that
is. One replica has no interval at all (`low`/`high` None), and callers say so. Must not import
torch or fairseq.
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
    """A mean over replicas (or a difference of two such means) and its interval."""

    mean: float
    low: float | None  # None with a single replica: no interval
    high: float | None
    n: int  # replicas (for a difference: the smaller side's)

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly on one side of zero (always False without one)."""
        return self.has_interval and (self.low > 0 or self.high < 0)  # type: ignore[operator]

    def describe(self, unit: str = "", digits: int = 3) -> str:
        """`+1.2 BLEU (95% interval +0.4 to +2.0, n=3)`, or `+1.2 BLEU (1 seed, no interval)`."""
        unit = f" {unit}" if unit else ""
        value = f"{self.mean:+.{digits}g}{unit}"
        if not self.has_interval:
            return f"{value} (1 seed, no interval)"
        return f"{value} ({LEVEL:.0%} interval {self.low:+.{digits}g} to {self.high:+.{digits}g}, n={self.n})"


def estimate(values: Sequence[float]) -> Estimate:
    """The mean of `values` (one per replica) with its bootstrap interval."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values to estimate from")
    mean = float(data.mean())
    if data.size == 1:
        return Estimate(mean, None, None, 1)
    if np.ptp(data) == 0:  # every replica agrees: the bootstrap has nothing to resample
        return Estimate(mean, mean, mean, int(data.size))
    low, high = _bootstrap((data,), _mean)
    return Estimate(mean, low, high, int(data.size))


def difference(a: Sequence[float], b: Sequence[float]) -> Estimate:
    """mean(a) - mean(b), with a bootstrap interval that resamples each side on its own (independent
    replicas); no interval unless both sides have two or more replicas."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size == 0 or y.size == 0:
        raise ValueError("no values to compare")
    mean = float(x.mean() - y.mean())
    n = int(min(x.size, y.size))
    if n < 2:
        return Estimate(mean, None, None, n)
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        return Estimate(mean, mean, mean, n)
    low, high = _bootstrap((x, y), _mean_difference)
    return Estimate(mean, low, high, n)


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


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def _bootstrap(samples: tuple[np.ndarray, ...], statistic) -> tuple[float, float]:
    result = stats.bootstrap(samples, statistic, confidence_level=LEVEL, n_resamples=RESAMPLES,
                             method="percentile", vectorized=True, rng=np.random.default_rng(0))
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)

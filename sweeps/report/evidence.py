"""Runs as evidence, shared by the claims and the advice so both compare means over replicas the
same way and choose on validation metrics only: configurations (replicas that differ only in their
seed), the advantage of one over another with its noise, how many seeds a difference needs, and
the verdict a claim gets. Must not import torch or fairseq.

Effects are oriented: positive always means "better for this task" (higher BLEU or accuracy, lower
perplexity), so one rule reads the same for every metric. One effect decides so: its 95% interval
wholly above zero: supported; wholly below: not supported; straddling zero: inconclusive, within
the seed noise. With one seed there is no interval: the point estimate decides (exactly zero is
inconclusive), and the verdict is labelled "1 seed, no interval".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .collect import Run
from .noise import Estimate, difference, seeds_needed, spread
from .series import best_by_replicas, replicas

UNITS = {"bleu": "BLEU", "ppl": "ppl", "accuracy": "accuracy"}  # how a metric difference is written
VALID, TEST = "valid", "test"  # the split every choice reads, and the one only shown
# Fields every replica of a configuration shares, read from its first run.
SHARED = ("experiment", "task", "task_kind", "metric", "width", "depth", "batch", "batch_unit", "params",
          "higher_is_better", "job", "budget_seconds")
SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_ENOUGH = "supported", "not supported", "inconclusive", "not enough data"
ONE_SEED = "1 seed, no interval"
COMBINATION = ("Families combine so: supported when every checked family is supported; not supported when "
               "any is reversed (beyond the noise, or on the point estimate with one seed); inconclusive "
               "otherwise; not enough data when there is no family to check.")


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

    def values(self, budget: float, axis: str = "train_seconds") -> list[float]:
        """Best validation metric by `budget`, one per replica that had validated by then."""
        return best_by_replicas(list(self.runs), budget, axis)


@dataclass
class Verdict:
    number: int  # 1-4, in the order of the design and the README
    title: str
    rule: str
    verdict: str = NOT_ENOUGH
    numbers: list[str] = field(default_factory=list)  # one markdown line each
    runs: list[str] = field(default_factory=list)  # `sweep/run` of every run the verdict used
    seeds: str = ""  # how many replicas the deciding effects rest on: "3 seeds", or ONE_SEED
    effects: list[Estimate] = field(default_factory=list)  # the effects that decided, for `seeds`


def configs(runs: list[Run]) -> list[Config]:
    return [Config(tuple(group)) for group in replicas(runs).values()]


def unit(metric: str) -> str:
    return UNITS.get(metric, metric)


def advantage(higher_is_better: bool, a: Sequence[float], b: Sequence[float]) -> Estimate:
    """How much better the mean of `a` is than the mean of `b` (positive = `a` better)."""
    return difference(a, b) if higher_is_better else difference(b, a)


def mean_sd(values: Sequence[float]) -> str:
    """`27.3 ± 0.4`: the mean over replicas and their sample standard deviation (`27.3` for one)."""
    sd = spread(values)
    return f"{float(np.mean(values)):.4g}" + (f" ± {sd:.2g}" if sd is not None else "")


def mean_text(values: Sequence[float], metric: str = "") -> str:
    """`27.3 ± 0.4 BLEU (n=3)`; `27.3 BLEU (n=1)` for one."""
    return mean_sd(values) + (f" {unit(metric)}" if metric else "") + f" (n={len(values)})"


def seeds_note(v: Verdict, outcome: str, effects: Sequence[Estimate], groups: Sequence[Sequence[float]], metric: str,
               where: str, pick: Callable = min) -> None:
    """Under a family of `v` whose `outcome` is inconclusive or whose `effects` lack an interval: how many
    seeds per configuration the effect `pick`ed by size would need to stand out, from the seed noise seen
    in `groups` (replica values of configurations `where`): the root mean of the variances of the groups
    with two or more values."""
    if outcome != INCONCLUSIVE and all(e.has_interval for e in effects):
        return
    effect = pick(effects, key=lambda e: abs(e.mean)).mean
    sds = [sd for values in groups if (sd := spread(values)) is not None]
    if not sds:
        v.numbers.append(f"  - seed noise unknown: no configuration {where} has two or more seeds; rerun with e.g. "
                         "seed=1,2,3 to measure it")
        return
    sd, count = float(np.sqrt(np.mean(np.square(sds)))), len(sds)
    needed = seeds_needed(sd, effect)
    many = f"more than {needed - 1}" if needed is not None and needed > 100 else f"about {needed}"
    v.numbers.append(f"  - seed noise: sd {sd:.2g} {unit(metric)} (from {count} configuration{'s' * (count > 1)} "
                     f"{where} with replicas); a difference of {effect:+.3g} {unit(metric)} needs {many} seeds per "
                     "configuration to clear a 95% interval")


def decide(effect: Estimate) -> str:
    """One effect (positive = in the claim's favour) -> supported, not supported or inconclusive."""
    if effect.has_interval:
        if effect.excludes_zero():
            return SUPPORTED if effect.mean > 0 else NOT_SUPPORTED
        return INCONCLUSIVE
    return SUPPORTED if effect.mean > 0 else NOT_SUPPORTED if effect.mean < 0 else INCONCLUSIVE


def reliably_against(effect: Estimate) -> bool:
    """Whether `effect` is against the claim beyond the noise (needs an interval)."""
    return effect.has_interval and effect.high is not None and effect.high < 0


def combine(outcomes: list[str]) -> str:
    """Families' verdicts -> the claim's (COMBINATION)."""
    if not outcomes:
        return NOT_ENOUGH
    if NOT_SUPPORTED in outcomes:
        return NOT_SUPPORTED
    return SUPPORTED if all(o == SUPPORTED for o in outcomes) else INCONCLUSIVE


def seeds_label(effects: list[Estimate]) -> str:
    """What the verdict rests on: ONE_SEED when the deciding effects have no interval (or for how
    many of them), else the replicas per configuration (the smaller side's): `3 seeds`, `2-5 seeds`."""
    if not effects:
        return ""
    without = sum(not e.has_interval for e in effects)
    if without:
        return ONE_SEED if without == len(effects) else f"{ONE_SEED} for {without} of {len(effects)} comparisons"
    low, high = min(e.n for e in effects), max(e.n for e in effects)
    return f"{low} seeds" if low == high else f"{low}-{high} seeds"


def finish(v: Verdict, outcomes: list[str], missing: str) -> Verdict:
    """Sets the claim's verdict and label from its families' outcomes; says what is missing when none."""
    v.verdict = combine(outcomes)
    v.seeds = seeds_label(v.effects)
    if not outcomes and not v.numbers:
        v.numbers.append(missing)
    return v

"""The four verdicts a claim can get, how one effect with its noise becomes a verdict, and how the
verdicts of several families (sweeps, tasks) combine into the claim's. Plain values; the claims
themselves are in claims.py and claim_compression.py.

One effect (positive = in the claim's favour) decides so: its 95% interval lies wholly above zero:
supported; wholly below: not supported; it straddles zero: inconclusive, the difference is within
the seed noise. With one seed there is no interval: the point estimate decides (above zero,
below, or exactly zero: inconclusive), and the verdict is labelled "1 seed, no interval".
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .noise import Estimate

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_ENOUGH = "supported", "not supported", "inconclusive", "not enough data"
ONE_SEED = "1 seed, no interval"
COMBINATION = ("Families combine so: supported when every checked family is supported; not supported when "
               "any is reversed (beyond the noise, or on the point estimate with one seed); inconclusive "
               "otherwise; not enough data when there is no family to check.")


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

"""Advice for a budget: which size to train for a training budget (seconds or FLOPs), and which
compressed model to ship for a memory budget (bytes), each with the runner-up and the margin.

Candidates are configurations (`evidence.configs`) ranked by the mean over their replicas, scored
on validation only: for training, the best metric each replica had reached by the budget; for
memory, compressed models that fit in bytes as stored, at the precision evaluated, so a bf16 and an
fp32 source compare by what they would ship. Must not import fairseq or torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .budget import Budget
from .collect import Run
from .evidence import TEST, VALID, advantage, configs, mean_text, unit
from .noise import Estimate
from .series import finished_compression, finished_training, format_number, group_by


@dataclass(frozen=True)
class Choice:
    """One configuration and its score: a validation metric per replica, ranked by their mean."""

    runs: tuple[Run, ...]
    values: tuple[float, ...]
    note: str = ""  # e.g. that the run stopped before the budget

    @property
    def run(self) -> Run:
        """The first replica: what every replica shares (task, size, compression settings)."""
        return self.runs[0]

    @property
    def value(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def name(self) -> str:
        return f"{self.run.experiment}/{self.run.config_id}"

    def text(self) -> str:
        """`27.3 ± 0.4 (n=3)`."""
        return mean_text(self.values)


@dataclass
class Advice:
    kind: str  # training | memory
    task: str
    budget: str  # the budget in words
    metric: str
    ranked: list[Choice] = field(default_factory=list)  # best first
    margin: float | None = None  # how much the best's mean beats the runner-up's (positive = better)
    margin_estimate: Estimate | None = None  # the same with its interval
    suggestion: str = ""  # an interpolated size, or where to look next
    note: str = ""  # why there is no choice
    test: str = ""  # the chosen model's test score, labelled: shown, never used to choose

    @property
    def best(self) -> Choice | None:
        return self.ranked[0] if self.ranked else None

    @property
    def runner_up(self) -> Choice | None:
        return self.ranked[1] if len(self.ranked) > 1 else None

    def margin_text(self) -> str:
        """`+1.2 BLEU (95% interval -0.3 to +2.0, n=3), within noise`, or `... (1 seed, no interval)`."""
        e = self.margin_estimate
        if e is None:
            return ""
        noise = ", within noise" if e.has_interval and not e.excludes_zero() else ""
        return e.describe(unit(self.metric.split()[-1])) + noise

    def rank(self, choices: list[Choice]) -> None:
        """Ranks `choices`, best mean first, a tie to the smaller model (cheaper to serve), and sets the
        margin: the best's advantage over the runner-up (positive = the best is better)."""
        def key(c: Choice) -> tuple:
            size = max(r.compression.bytes for r in c.runs) if c.run.compression else (c.run.params or 0)
            return (-c.value if c.run.higher_is_better else c.value, size, c.name)

        self.ranked = sorted(choices, key=key)
        if self.best and self.runner_up:
            self.margin_estimate = advantage(self.best.run.higher_is_better, self.best.values, self.runner_up.values)
            self.margin = self.margin_estimate.mean


def advise(runs: list[Run], budget: Budget) -> list[Advice]:
    """One piece of advice per task and budget kind asked for; a kind without runs says so."""
    advice = []
    if budget.train_seconds or budget.flops:
        groups = group_by(finished_training(runs), lambda r: (r.task,))
        advice += [for_training(group, budget) for group in groups.values()] or [
            Advice("training", "-", "-", "-", note="no finished training runs to choose from")]
    if budget.bytes:
        groups = group_by(finished_compression(runs), lambda r: (r.task,))
        advice += [for_memory(group, budget) for group in groups.values()] or [
            Advice("memory", "-", f"{budget.bytes:,.0f} bytes", "-",
                   note="no finished compression runs to choose from (tlc-compress the sweep first)")]
    return advice


def for_training(group: list[Run], budget: Budget) -> Advice:
    axis, limit = ("train_seconds", budget.train_seconds) if budget.train_seconds else ("flops", budget.flops)
    words = f"{limit:g} training seconds" if axis == "train_seconds" else f"{limit:.3g} training FLOPs"
    advice = Advice("training", group[0].task, words, group[0].metric)
    choices = []
    for config in configs(group):
        values = config.values(limit, axis)
        if not values:
            continue  # no validation within the budget
        reached = [getattr(r.curve[-1], axis) for r in config.runs]
        short = min((x for x in reached if x is not None), default=None)
        note = f"stopped at {short:.4g}, before the budget: longer training may do better" \
            if short is not None and short < limit else ""
        choices.append(Choice(config.runs, tuple(values), note))
    advice.rank(choices)
    if not choices:
        first = min(group, key=lambda r: r.curve[0].train_seconds)
        advice.note = f"no run had validated within {words}; the earliest validation is {first.name}'s at " \
                      f"{first.curve[0].train_seconds:.4g} s"
    else:
        advice.suggestion = interpolate(advice.ranked[0], choices)
    return advice


def interpolate(best: Choice, choices: list[Choice]) -> str:
    """Where between the swept sizes the best may lie: for the key the best's sweep varies (width or
    depth, the rest fixed), the vertex of the parabola through the best and its two neighbours."""
    for key in ("width", "depth"):
        others = [k for k in ("width", "depth", "batch") if k != key]
        # One sweep's sizes: another sweep (or another setting in this one) may repeat a size.
        family = sorted((c for c in choices if all(getattr(c.run, k) == getattr(best.run, k) for k in others)
                         and c.run.experiment == best.run.experiment and getattr(c.run, key)),
                        key=lambda c: getattr(c.run, key))
        sizes = [getattr(c.run, key) for c in family]
        if len(set(sizes)) < 2 or len(set(sizes)) < len(sizes):
            continue
        i = next(i for i, c in enumerate(family) if c.run is best.run)
        if i in (0, len(family) - 1):
            end, beyond = ("largest", "larger") if i else ("smallest", "smaller")
            return f"the {end} {key} tried ({getattr(best.run, key)}) is best: a {beyond} {key} may do better still"
        (x0, y0), (x1, y1), (x2, y2) = [(math.log2(getattr(c.run, key)), c.value) for c in family[i - 1:i + 2]]
        # Vertex of the parabola through three points (x in log2 of the key).
        denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
        a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
        b = (x2 ** 2 * (y0 - y1) + x1 ** 2 * (y2 - y0) + x0 ** 2 * (y1 - y2)) / denom
        if a == 0:
            return ""
        vertex = -b / (2 * a)
        value = a * vertex ** 2 + b * vertex + (y1 - a * x1 ** 2 - b * x1)
        return (f"interpolated: {key} about {2 ** vertex:.0f} (between {sizes[i - 1]} and {sizes[i + 1]}) may "
                f"reach {value:.4g}, from a parabola through the three nearest {key}s")
    return ""


def for_memory(group: list[Run], budget: Budget) -> Advice:
    words = f"{budget.bytes:,.0f} bytes"
    candidates = [r for r in group if VALID in r.compression.scores]  # chosen on validation only
    if budget.train_seconds:
        words += f", sources trained within {budget.train_seconds:g} s"
        # A source whose budget cannot be read (its folder moved) cannot be shown to fit: left out.
        candidates = [r for r in candidates if r.compression.source_budget_seconds is not None
                      and r.compression.source_budget_seconds <= budget.train_seconds]
    advice = Advice("memory", group[0].task, words, f"{VALID} {group[0].metric}")
    advice.rank([Choice(c.runs, tuple(r.compression.scores[VALID] for r in c.runs)) for c in configs(candidates)
                 if max(r.compression.bytes for r in c.runs) <= budget.bytes])
    if not advice.best:
        smallest = min(candidates, key=lambda r: r.compression.bytes, default=None)
        advice.note = (f"no compressed model fits; the smallest is {smallest.name} at {smallest.compression.bytes:,} "
                       "bytes" if smallest else "no compressed model of a source trained within the training budget")
        return advice
    tested = [r.compression.scores[TEST] for r in advice.best.runs if TEST in r.compression.scores]
    if len(tested) == len(advice.best.runs):
        advice.test = f"{TEST} {group[0].metric} {mean_text(tested)} (the chosen model only; not used to choose)"
    return advice


def summary_line(advice: Advice) -> str:
    """One line for the terminal: the pick, its mean metric, and the runner-up with the margin."""
    head = f"{advice.kind} budget {advice.budget} ({advice.task}):"
    best = advice.best
    if not best:
        return f"{head} {advice.note}"
    line = f"{head} {best.name} {advice.metric} {best.text()}"
    if advice.runner_up:
        line += f"; runner-up {advice.runner_up.name} {advice.runner_up.text()}, margin {advice.margin_text()}"
    size = best.run.compression.bytes if best.run.compression else best.run.params
    return line + (f"; {format_number(size)} {'bytes' if best.run.compression else 'params'}" if size else "")

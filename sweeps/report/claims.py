"""The four claims of Li et al. 2020 that the harness is built to test (README, "Results and
reports"), each checked on the runs by a stated rule: one function per claim, returning a `Verdict`
with the numbers and runs behind it.

Nothing is canned: a claim whose rule needs runs that are not there is "not enough data", with
what is missing. Only complete runs count; unfinished and broken ones are listed in the report.
Comparisons use the best validation metric a run had reached by a budget (`series.best_by`):
what stopping there and keeping the best checkpoint gives.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .collect import Run
from .series import (best_by, by_size, common_horizon, compression_split, finished_compression,
                     finished_training, format_number, gain, group_by, updates_by)

SUPPORTED, NOT_SUPPORTED, NOT_ENOUGH = "supported", "not supported", "not enough data"
CHECKPOINTS = 8  # budgets checked between half the common horizon and the horizon, when no validation falls there


@dataclass
class Verdict:
    number: int  # 1-4, in the order of the design and the README
    title: str
    rule: str
    verdict: str = NOT_ENOUGH
    numbers: list[str] = field(default_factory=list)  # one markdown line each
    runs: list[str] = field(default_factory=list)  # `sweep/run` of every run the verdict used


def check_all(runs: list[Run]) -> list[Verdict]:
    return [larger_models_win_at_equal_time(runs), width_beats_depth(runs), model_size_beats_batch_size(runs),
            large_models_compress_better(runs)]


def combine(outcomes: list[bool]) -> str:
    """Every checked family must agree; none checked is not enough data."""
    if not outcomes:
        return NOT_ENOUGH
    return SUPPORTED if all(outcomes) else NOT_SUPPORTED


def pretraining(runs: list[Run]) -> list[Run]:
    """Finished translation and masked-LM runs: what the paper's training claims are about (not
    fine-tuning, whose clock starts from a pretrained model)."""
    return [r for r in finished_training(runs) if r.task_kind in ("translation", "masked_lm")]


def used(runs: list[Run]) -> list[str]:
    return [f"{r.experiment}/{r.name}" for r in runs]


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def size_families(runs: list[Run], key: str) -> dict[tuple, list[Run]]:
    """Runs of one task that differ only in `key` (width, depth, params or batch), two or more of
    them, each family smallest first. Families of params hold the batch fixed."""
    fixed = {"width": ("task", "depth", "batch"), "depth": ("task", "width", "batch"),
             "params": ("task", "batch"), "batch": ("task", "width", "depth")}[key]
    families = group_by(finished_training(runs), lambda r: tuple(getattr(r, k) for k in fixed))
    sort_key = (lambda r: r.batch) if key == "batch" else (lambda r: (r.params or 0, r.name))
    return {k: sorted(v, key=sort_key) for k, v in families.items() if len({getattr(r, key) for r in v}) > 1}


def check_budgets(family: list[Run]) -> list[float]:
    """Budgets from half the common horizon to the horizon: every validation time there, or evenly spaced."""
    horizon = common_horizon(family)
    times = sorted({p.train_seconds for r in family for p in r.curve if horizon / 2 <= p.train_seconds <= horizon})
    return times or [horizon * (0.5 + 0.5 * i / (CHECKPOINTS - 1)) for i in range(CHECKPOINTS)]


def larger_models_win_at_equal_time(runs: list[Run]) -> Verdict:
    v = Verdict(1, "At equal training time, larger models reach a better metric",
                "For every translation or masked-LM sweep where model size varies at one batch size (same sweep, "
                "task and batch, two or more sizes): T = the last validation time of its shortest run. At every validation time from T/2 to T, "
                "the model with the most parameters has the best metric reached so far (ties count as best). "
                "Supported when this holds in every such sweep.")
    outcomes = []
    for family in group_by(pretraining(runs), lambda r: (r.experiment, r.task, r.batch)).values():
        family = by_size(family)
        if len({r.params for r in family}) < 2:
            continue
        largest, losses, budgets = family[-1], [], check_budgets(family)
        for t in budgets:
            values = {r.name: best_by(r, t) for r in family}
            leader = max((r for r in family if values[r.name] is not None),
                         key=lambda r: values[r.name] if r.higher_is_better else -values[r.name])
            if values[largest.name] is None or largest.better(values[leader.name], values[largest.name]):
                losses.append(f"{t:.4g} s ({leader.name} {fmt(values[leader.name])} vs {fmt(values[largest.name])})")
        horizon = common_horizon(family)
        at = ", ".join(f"{r.name} ({format_number(r.params)} params) {fmt(best_by(r, horizon / 2))} -> "
                       f"{fmt(best_by(r, horizon))} in {updates_by(r, horizon)} updates" for r in family)
        v.numbers.append(f"`{family[0].experiment}` ({family[0].task}, {family[0].metric} at T/2 -> T, "
                         f"T = {horizon:.4g} s): {at}")
        v.numbers.append(f"  - the largest, {largest.name}, is best at {len(budgets) - len(losses)} of {len(budgets)} "
                         f"budgets from {budgets[0]:.4g} to {budgets[-1]:.4g} s"
                         + (f"; not at {losses[0]}" + (f" ... {losses[-1]}" if len(losses) > 1 else "")
                            if losses else ""))
        outcomes.append(not losses)
        v.runs += used(family)
    v.verdict = combine(outcomes)
    if not outcomes:
        v.numbers.append("needs one sweep with two or more model sizes at the same batch size")
    return v


def slope(family: list[Run], horizon: float, key: str = "params") -> float:
    """Metric gain per doubling of `key` between the two ends of `family` (sorted by `key`), at `horizon`."""
    small, large = family[0], family[-1]
    doublings = math.log2(getattr(large, key) / getattr(small, key))
    return gain(large, best_by(large, horizon), best_by(small, horizon)) / doublings


def width_beats_depth(runs: list[Run]) -> Verdict:
    v = Verdict(2, "For translation, width helps more than depth",
                "For each translation task with a width sweep (depths, batch fixed) and a depth sweep (width, batch "
                "fixed): T = the last validation time of the shortest run among them. The BLEU gained per "
                "doubling of parameters from the smallest to the largest model, at T, averaged over the width "
                "sweeps, is larger than the same for the depth sweeps.")
    translation = [r for r in pretraining(runs) if r.task_kind == "translation"]
    outcomes = []
    for (task,), group in group_by(translation, lambda r: (r.task,)).items():
        widths, depths = size_families(group, "width"), size_families(group, "depth")
        if not widths or not depths:
            continue
        family_runs = [r for f in [*widths.values(), *depths.values()] for r in f]
        horizon = common_horizon(family_runs)
        by_width = [slope(f, horizon) for f in widths.values()]
        by_depth = [slope(f, horizon) for f in depths.values()]
        w, d = sum(by_width) / len(by_width), sum(by_depth) / len(by_depth)
        for name, families, slopes in (("width", widths, by_width), ("depth", depths, by_depth)):
            for family, s in zip(families.values(), slopes):
                v.numbers.append(f"{task}, {name} {getattr(family[0], name)}..{getattr(family[-1], name)}: "
                                 f"BLEU {fmt(best_by(family[0], horizon))} -> {fmt(best_by(family[-1], horizon))} "
                                 f"at {horizon:.0f} s, {s:+.3g} per parameter doubling")
        v.numbers.append(f"{task}: width {w:+.3g} vs depth {d:+.3g} BLEU per parameter doubling")
        outcomes.append(w > d)
        v.runs += used(family_runs)
    v.verdict = combine(outcomes)
    if not outcomes:
        v.numbers.append("needs translation runs of two or more widths at one depth and two or more depths at one "
                         "width")
    return v


def model_size_beats_batch_size(runs: list[Run]) -> Verdict:
    v = Verdict(3, "Increase model size, not batch size",
                "For each translation or masked-LM task with a batch sweep (model fixed) and a model-size sweep "
                "(batch fixed): T = the last "
                "validation time of the shortest run among them. At T, the metric gained by the last doubling of "
                "model parameters (between the two largest models, per doubling) is positive and larger than the "
                "gain of the last doubling of the batch (between the two largest batches, per doubling).")
    outcomes = []
    for (task,), group in group_by(pretraining(runs), lambda r: (r.task,)).items():
        batches, sizes = size_families(group, "batch"), size_families(group, "params")
        if not batches or not sizes:
            continue
        family_runs = [r for f in [*batches.values(), *sizes.values()] for r in f]
        horizon = common_horizon(family_runs)
        batch_gains = [slope(f[-2:], horizon, "batch") for f in batches.values()]
        size_gains = [slope(f[-2:], horizon, "params") for f in sizes.values()]
        b, m = sum(batch_gains) / len(batch_gains), sum(size_gains) / len(size_gains)
        metric = group[0].metric
        for f, g in zip(batches.values(), batch_gains):
            v.numbers.append(f"{task}, batch {f[-2].batch:g} -> {f[-1].batch:g} (width {f[-1].width}, depth "
                             f"{f[-1].depth}): {metric} {fmt(best_by(f[-2], horizon))} -> "
                             f"{fmt(best_by(f[-1], horizon))} at {horizon:.0f} s, {g:+.3g} per doubling")
        for f, g in zip(sizes.values(), size_gains):
            v.numbers.append(f"{task}, {format_number(f[-2].params)} -> {format_number(f[-1].params)} params (batch "
                             f"{f[-1].batch:g}): {metric} {fmt(best_by(f[-2], horizon))} -> "
                             f"{fmt(best_by(f[-1], horizon))}, {g:+.3g} per doubling")
        v.numbers.append(f"{task}: last model doubling {m:+.3g} vs last batch doubling {b:+.3g} {metric} "
                         "(positive = better)")
        outcomes.append(m > 0 and m > b)
        v.runs += used(family_runs)
    v.verdict = combine(outcomes)
    if not outcomes:
        v.numbers.append("needs, for one task, runs of two or more batch sizes for one model and two or more model "
                         "sizes at one batch size")
    return v


def large_models_compress_better(runs: list[Run]) -> Verdict:
    v = Verdict(4, "Large models are more robust to compression",
                "For each task with compressed models of two or more source sizes: L = the largest source, S = the "
                "smallest. At every memory budget from L's smallest compressed model to S's largest (each model's "
                "bytes in that range), the best L model that fits is at least as good as the best S model that "
                "fits, and better at one budget at least.")
    outcomes = []
    for (task,), group in group_by(finished_compression(runs), lambda r: (r.task,)).items():
        split = compression_split(group)
        sources = group_by(group, lambda r: (r.compression.source_params or 0, r.compression.source_name))
        if len({params for params, _ in sources}) < 2:
            continue
        small, large = sources[min(sources)], sources[max(sources)]
        low = min(r.compression.bytes for r in large)
        high = max(r.compression.bytes for r in small)
        names = (large[0].compression.source_name, small[0].compression.source_name)
        if low > high:
            v.numbers.append(f"{task}: {names[0]}'s smallest compressed model ({low:,} bytes) is larger than "
                             f"{names[1]}'s largest ({high:,} bytes); compress {names[0]} further to compare")
            continue
        wins, losses = 0, []
        for budget in sorted({r.compression.bytes for r in small + large if low <= r.compression.bytes <= high}):
            best_l, best_s = best_fitting(large, budget, split), best_fitting(small, budget, split)
            if best_s is None or large[0].better(best_l.compression.scores[split], best_s.compression.scores[split]):
                wins += 1
            elif best_s.better(best_s.compression.scores[split], best_l.compression.scores[split]):
                losses.append(budget)
            v.numbers.append(f"{task}, {budget:,} bytes: {names[0]} {describe(best_l, split)} vs {names[1]} "
                             f"{describe(best_s, split) if best_s else 'nothing fits'}")
        outcomes.append(not losses and wins > 0)
        v.runs += used(small + large)
    v.verdict = combine(outcomes)
    if not outcomes and not v.numbers:
        v.numbers.append("needs compressed models of two or more source sizes of one task")
    return v


def best_fitting(family: list[Run], budget: float, split: str) -> Run | None:
    fits = [r for r in family if r.compression.bytes <= budget]
    if not fits:
        return None
    return max(fits, key=lambda r: r.compression.scores[split] if r.higher_is_better else -r.compression.scores[split])


def describe(run: Run, split: str) -> str:
    c = run.compression
    how = "fp32" if c.is_baseline else ", ".join(
        part for part in (f"sparsity {c.sparsity:.2f}" if c.sparsity else "", f"{c.bits} bits" if c.bits < 32 else "")
        if part)
    return f"{fmt(c.scores[split])} ({how}, {c.bytes:,} bytes)"

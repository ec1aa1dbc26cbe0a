"""The four claims of Li et al. 2020 that the harness is built to test (README, "Results and
reports"), each checked on the runs by the rule in its `Verdict` (claim 4 in claim_compression.py).
Nothing is canned: a claim whose rule needs runs that are not there is "not enough data", with
what is missing. Test metrics never enter a comparison.
"""
from __future__ import annotations

import math

from .claim_compression import large_models_compress_better
from .collect import Run
from .evidence import (COMBINATION, INCONCLUSIVE, NOT_ENOUGH, NOT_SUPPORTED, ONE_SEED, SUPPORTED, Config, Verdict,
                       advantage, combine, configs, decide, finish, mean_text, reliably_against, seeds_note, unit)
from .noise import Estimate, contrast
from .series import common_horizon, finished_training, format_number, group_by

__all__ = ["SUPPORTED", "NOT_SUPPORTED", "INCONCLUSIVE", "NOT_ENOUGH", "ONE_SEED", "Verdict", "check_all",
           "larger_models_win_at_equal_time", "width_beats_depth", "model_size_beats_batch_size",
           "large_models_compress_better"]
CHECKPOINTS = 8  # budgets checked between half the common horizon and the horizon, when no validation falls there
MEANS = ("Configurations are compared by the mean over their seeds of the best metric reached by the budget; "
         "a difference is positive when it favours the claim (higher BLEU or accuracy, lower perplexity) and "
         "decides by its 95% bootstrap interval: wholly above zero, wholly below, or straddling zero "
         "(inconclusive: within the seed noise). With one seed there is no interval and the point estimate "
         "decides, labelled \"1 seed, no interval\". ")


def check_all(runs: list[Run]) -> list[Verdict]:
    return [larger_models_win_at_equal_time(runs), width_beats_depth(runs), model_size_beats_batch_size(runs),
            large_models_compress_better(runs)]


def pretraining(runs: list[Run]) -> list[Run]:
    """Finished translation and masked-LM runs (not fine-tuning, whose clock starts from a pretrained model)."""
    return [r for r in finished_training(runs) if r.task_kind in ("translation", "masked_lm")]


def used(runs: list[Run]) -> list[str]:
    return [f"{r.experiment}/{r.name}" for r in runs]


def runs_of(family: list[Config]) -> list[Run]:
    return [r for c in family for r in c.runs]


def size_families(group: list[Config], key: str) -> dict[tuple, list[Config]]:
    """Configurations of one task that differ only in `key` (width, depth, params at a fixed batch, or
    batch), two or more of them, each family smallest first."""
    fixed = {"width": ("task", "depth", "batch"), "depth": ("task", "width", "batch"),
             "params": ("task", "batch"), "batch": ("task", "width", "depth")}[key]
    families = group_by(group, lambda c: tuple(getattr(c, k) for k in fixed))  # type: ignore[arg-type]
    sort_key = (lambda c: (c.batch, c.name)) if key == "batch" else (lambda c: (c.params or 0, c.name))
    return {k: sorted(v, key=sort_key) for k, v in families.items() if len({getattr(c, key) for c in v}) > 1}


def check_budgets(family: list[Run]) -> list[float]:
    """Budgets from half the common horizon to the horizon: every validation time there, or evenly spaced."""
    horizon = common_horizon(family)
    times = sorted({p.train_seconds for r in family for p in r.curve if horizon / 2 <= p.train_seconds <= horizon})
    return times or [horizon * (0.5 + 0.5 * i / (CHECKPOINTS - 1)) for i in range(CHECKPOINTS)]


def larger_models_win_at_equal_time(runs: list[Run]) -> Verdict:
    v = Verdict(1, "At equal training time, larger models reach a better metric",
                "For every translation or masked-LM sweep where model size varies at one batch size (same sweep, "
                "task and batch, two or more sizes): T = the last validation time of its shortest run. The "
                "configuration with the most parameters is compared with each smaller one. " + MEANS
                + "A pair is supported when at T the largest is better beyond the noise and the smaller one is "
                "nowhere ahead beyond the noise from T/2 to T; not supported when the smaller one is ahead beyond "
                "the noise at T or at any validation time from T/2 to T (with one seed: when it is ahead at T); "
                "inconclusive otherwise (with one seed: also when the smaller one is ahead on the point estimate "
                "somewhere before T, a crossing whose noise is unknown). A sweep's pairs, and the sweeps, "
                "combine as families do. " + COMBINATION)
    outcomes = []
    for family in group_by(pretraining(runs), lambda r: (r.experiment, r.task, r.batch)).values():
        sizes = sorted(configs(family), key=lambda c: (c.params or 0, c.name))
        if len({c.params for c in sizes}) < 2:
            continue
        outcome = largest_against_smaller(sizes, family, v)
        if outcome:
            outcomes.append(outcome)
            v.runs += used(runs_of(sizes))
    return finish(v, outcomes, "needs one sweep with two or more model sizes at the same batch size")


def largest_against_smaller(sizes: list[Config], family: list[Run], v: Verdict) -> str:
    """One sweep of claim 1: its numbers into `v`; its verdict, or "" when the largest cannot be compared."""
    horizon, budgets, largest = common_horizon(family), check_budgets(family), sizes[-1]
    if not_yet(sizes, horizon, f"`{largest.experiment}`", v):
        sizes = [c for c in sizes if c.values(horizon)]
        if sizes[-1] is not largest or len({c.params for c in sizes}) < 2:
            return ""
    at = ", ".join(f"{c.name} ({format_number(c.params)} params) {mean_or_dash(c.values(horizon / 2))} -> "
                   f"{mean_text(c.values(horizon))} in {format_number(updates_by(c, horizon))} updates" for c in sizes)
    v.numbers.append(f"`{largest.experiment}` ({largest.task}, mean {largest.metric} over seeds at T/2 -> T, "
                     f"T = {horizon:.4g} s; differences positive when the larger is better): {at}")
    pairs = [pair_over_time(largest, small, horizon, budgets, v)
             for small in sizes[:-1] if (small.params or 0) < (largest.params or 0)]
    outcome = combine([o for o, _ in pairs])
    v.numbers.append(f"  - `{largest.experiment}`: {outcome}")
    unsure = [e for o, e in pairs if o == INCONCLUSIVE or not e.has_interval]
    if unsure:  # the closest such pair needs the most seeds
        seeds_note(v, INCONCLUSIVE, unsure, [c.values(horizon) for c in sizes], largest.metric,
                   f"in `{largest.experiment}`")
    return outcome


def pair_over_time(large: Config, small: Config, horizon: float, budgets: list[float],
                   v: Verdict) -> tuple[str, Estimate]:
    """Claim 1 for the largest against one smaller configuration, at T and from T/2 to T: its line into
    `v`; returns its verdict and the difference at T."""
    metric = unit(large.metric)
    at_t = advantage(large.higher_is_better, large.values(horizon), small.values(horizon))
    diffs = [(t, advantage(large.higher_is_better, a, b)) for t in budgets
             if (a := large.values(t)) and (b := small.values(t))]
    # budgets where the smaller one is ahead: beyond the noise / on one seed
    reliable = [(t, d) for t, d in diffs if reliably_against(d)]
    point = [(t, d) for t, d in diffs if not d.has_interval and d.mean < 0]
    measured = all(d.has_interval for _, d in diffs)
    if reliable or reliably_against(at_t) or (not at_t.has_interval and at_t.mean < 0):
        outcome = NOT_SUPPORTED
    elif decide(at_t) == SUPPORTED and not point:
        outcome = SUPPORTED
    else:
        outcome = INCONCLUSIVE
    behind = (f"{small.name} ahead beyond the noise at " + listed(reliable, metric) if reliable
              else f"{small.name} ahead on the point estimate at " + listed(point, metric) if point
              else f"{small.name} nowhere ahead{' beyond the noise' * measured} from {budgets[0]:.4g} to "
                   f"{budgets[-1]:.4g} s")
    v.numbers.append(f"  - {large.name} vs {small.name}: at T {at_t.describe(metric)}; {behind}: {outcome}")
    v.effects.append(at_t)
    return outcome, at_t


def not_yet(group: list[Config], horizon: float, where: str, v: Verdict) -> bool:
    """Whether some configuration of `group` had not validated by `horizon` (said in `v`): a curve that
    starts after another run has ended cannot be compared with it."""
    late = [c.name for c in group if not c.values(horizon)]
    if late:
        v.numbers.append(f"{where}: {', '.join(late)} had no validation by T = {horizon:.4g} s; not compared")
    return bool(late)


def listed(points: list[tuple[float, Estimate]], metric: str) -> str:
    """`30 s (-1 BLEU (1 seed, no interval))`, and the last one too when there are several."""
    first = f"{points[0][0]:.4g} s ({points[0][1].describe(metric)})"
    return first if len(points) == 1 else f"{first} ... {points[-1][0]:.4g} s ({len(points)} budgets)"


def mean_or_dash(values: list[float]) -> str:
    return f"{sum(values) / len(values):.4g}" if values else "-"


def updates_by(config: Config, budget: float) -> float | None:
    """Mean over replicas of the updates done by the last validation at or before `budget` seconds."""
    done = [[p.updates for p in r.curve if p.train_seconds <= budget] for r in config.runs]
    done = [d[-1] for d in done if d]
    return round(sum(done) / len(done)) if done else None


def gain_per_doubling(pairs: list[tuple[Config, Config]], horizon: float, key: str) -> list[tuple[list[float], float]]:
    """Contrast terms for the mean over `pairs` (small, large) of the metric gained per doubling of
    `key` from small to large at `horizon` (positive = better)."""
    terms = []
    for small, large in pairs:
        weight = 1.0 / len(pairs) / math.log2(getattr(large, key) / getattr(small, key))
        sign = 1.0 if large.higher_is_better else -1.0
        terms += [(large, sign * weight), (small, -sign * weight)]
    merged: dict[int, tuple[Config, float]] = {}
    for config, weight in terms:  # a configuration in two families is one sample, not two
        merged[id(config)] = (config, merged.get(id(config), (config, 0.0))[1] + weight)
    return [(c.values(horizon), w) for c, w in merged.values() if w != 0]


def minus(a: list[tuple[list[float], float]], b: list[tuple[list[float], float]]) -> list[tuple[list[float], float]]:
    """The contrast terms of `a` minus `b` (a configuration in both counts twice)."""
    return a + [(values, -weight) for values, weight in b]


def ends(families: dict[tuple, list[Config]], last_two: bool = False) -> list[tuple[Config, Config]]:
    return [(f[-2], f[-1]) if last_two else (f[0], f[-1]) for f in families.values()]


def two_sweeps(group: list[Config], keys: tuple[str, str], v: Verdict, last_two: bool = False):
    """Per task with a sweep along each of `keys`: (task, its configs, the two sweeps' families, their
    runs, T). A task whose compared configurations have no values at T yet is noted on `v`, skipped."""
    for (task,), configs_of_task in group_by(group, lambda c: (c.task,)).items():  # type: ignore[arg-type]
        first, second = size_families(configs_of_task, keys[0]), size_families(configs_of_task, keys[1])
        if not first or not second:
            continue
        family_runs = runs_of([c for f in [*first.values(), *second.values()] for c in f])
        horizon = common_horizon(family_runs)
        if not not_yet([c for pair in ends(first, last_two) + ends(second, last_two) for c in pair], horizon,
                       task, v):
            yield task, configs_of_task, first, second, family_runs, horizon


def two_sweep_rule(sweeps: str, decision: str) -> str:
    """The rule of claims 2 and 3: for each `sweeps`, how the effect at T decides."""
    return (f"For each {sweeps}: T = the last validation time of the shortest run among them. {decision} "
            + MEANS + COMBINATION)


def width_beats_depth(runs: list[Run]) -> Verdict:
    v = Verdict(2, "For translation, width helps more than depth", two_sweep_rule(
        "translation task with a width sweep (depths, batch fixed) and a depth sweep (width, batch fixed)",
        "The BLEU gained per doubling of parameters from the smallest to the largest model, at T, averaged over the "
        "width sweeps, minus the same for the depth sweeps: supported when its 95% interval lies above zero, not "
        "supported when below, inconclusive when it straddles zero."))
    outcomes = []
    translation = configs([r for r in pretraining(runs) if r.task_kind == "translation"])
    for task, group, widths, depths, family_runs, horizon in two_sweeps(translation, ("width", "depth"), v):
        for name, families in (("width", widths), ("depth", depths)):
            for small, large in ends(families):
                g = contrast(gain_per_doubling([(small, large)], horizon, "params"))
                v.numbers.append(f"{task}, {name} {getattr(small, name)}..{getattr(large, name)}: BLEU "
                                 f"{mean_text(small.values(horizon))} -> {mean_text(large.values(horizon))} at "
                                 f"{horizon:.0f} s, {g.describe('BLEU')} per parameter doubling")
        w, d = (gain_per_doubling(ends(families), horizon, "params") for families in (widths, depths))
        effect = contrast(minus(w, d))
        outcomes.append(decide(effect))
        v.effects.append(effect)
        v.numbers.append(f"{task}: width {contrast(w).mean:+.3g} vs depth {contrast(d).mean:+.3g} BLEU per parameter "
                         f"doubling; width minus depth {effect.describe('BLEU')}: {outcomes[-1]}")
        seeds_note(v, outcomes[-1], [effect], [c.values(horizon) for c in group], "bleu", f"of {task}")
        v.runs += used(family_runs)
    return finish(v, outcomes, "needs translation runs of two or more widths at one depth and two or more depths "
                               "at one width")


def model_size_beats_batch_size(runs: list[Run]) -> Verdict:
    v = Verdict(3, "Increase model size, not batch size", two_sweep_rule(
        "translation or masked-LM task with a batch sweep (model fixed) and a model-size sweep (batch fixed)",
        "At T, m = the metric gained by the last doubling of model parameters (between the two largest models, per "
        "doubling) and b = the gain of the last doubling of the batch (two largest batches, per doubling). "
        "Supported when both m and m - b are above zero beyond the noise; not supported when either is below zero "
        "beyond the noise; inconclusive otherwise."))
    outcomes = []
    for task, group, batches, sizes, family_runs, horizon in two_sweeps(configs(pretraining(runs)),
                                                                        ("batch", "params"), v, last_two=True):
        metric = group[0].metric
        pairs = [(p, "batch") for p in ends(batches, True)] + [(p, "params") for p in ends(sizes, True)]
        for (small, large), key in pairs:
            g = contrast(gain_per_doubling([(small, large)], horizon, key))
            what = (f"batch {small.batch:g} -> {large.batch:g} (width {large.width}, depth {large.depth})"
                    if key == "batch" else
                    f"{format_number(small.params)} -> {format_number(large.params)} params (batch {large.batch:g})")
            v.numbers.append(f"{task}, {what}: {metric} {mean_text(small.values(horizon))} -> "
                             f"{mean_text(large.values(horizon))} at {horizon:.0f} s, {g.describe(unit(metric))} "
                             "per doubling")
        size_gain = gain_per_doubling(ends(sizes, True), horizon, "params")
        batch_gain = gain_per_doubling(ends(batches, True), horizon, "batch")
        m, b, lead = contrast(size_gain), contrast(batch_gain), contrast(minus(size_gain, batch_gain))
        outcomes.append(combine([decide(m), decide(lead)]))
        v.effects += [m, lead]
        v.numbers.append(f"{task}: last model doubling {m.describe(unit(metric))} vs last batch doubling "
                         f"{b.mean:+.3g} {unit(metric)}; model minus batch {lead.describe(unit(metric))} "
                         f"(positive = better): {outcomes[-1]}")
        # m's replica groups are among lead's: lead lacks an interval whenever m does.
        seeds_note(v, outcomes[-1], [m, lead], [c.values(horizon) for c in group], metric, f"of {task}")
        v.runs += used(family_runs)
    return finish(v, outcomes, "needs, for one task, runs of two or more batch sizes for one model and two or more "
                               "model sizes at one batch size")

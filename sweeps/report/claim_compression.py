"""Claim 4 of Li et al. 2020: a heavily compressed large model beats a lightly compressed small one
at the same memory budget (claims.py holds the three training claims).

The best compressed model that fits a budget is the one with the best valid metric: a test score
never picks a model (it is shown, labelled). Budgets are bytes as stored, unquantized weights at the
precision evaluated (an untouched bf16 source is half its fp32 size), never inferred from a ratio
or from bits. Must not import torch or fairseq.
"""
from __future__ import annotations

from train_large.run_names import config_id

from .collect import Run
from .evidence import (INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, TEST, VALID, Verdict, advantage, configs, decide, finish,
                       mean_text, seeds_note, unit)
from .series import finished_compression, group_by

RULE = ("For each task with compressed models of two or more source sizes: L = the largest source configuration, "
        "S = the smallest (a source's seeds are its replicas). At a memory budget, each replica's best "
        "compressed model that fits is the one with the best validation score (test scores are never used to "
        "choose), and a source's score there is the mean of those over its replicas that have one. Budgets "
        "compared: each compressed model's bytes from the smallest budget where both L and S have a model that "
        "fits up to S's largest model; a budget where only L has a model that fits is not compared. The "
        "difference L - S (positive = L better) at each budget decides as an effect does: supported when L is "
        "better beyond the noise at one budget at least and worse beyond the noise at none; not supported when "
        "L is worse beyond the noise at any budget (with one seed: worse on the point estimate); inconclusive "
        "otherwise. Tasks combine as families do: supported when every task is, not supported when any is "
        "reversed, inconclusive otherwise.")


def large_models_compress_better(runs: list[Run]) -> Verdict:
    v = Verdict(4, "Large models are more robust to compression", RULE)
    outcomes = []
    for (task,), group in group_by(finished_compression(runs), lambda r: (r.task,)).items():
        scored = [r for r in group if VALID in r.compression.scores]  # no valid score: cannot be chosen
        sources = group_by(scored, lambda r: (r.compression.source_params or 0, config_id(r.compression.source_name)))
        if len({params for params, _ in sources}) < 2:
            continue
        small, large = sources[min(sources)], sources[max(sources)]
        outcome = compare_sources(task, small, large, v)
        if outcome:
            outcomes.append(outcome)
            v.runs += [f"{r.experiment}/{r.name}" for r in small + large]
    return finish(v, outcomes, "needs compressed models of two or more source sizes of one task")


def compare_sources(task: str, small: list[Run], large: list[Run], v: Verdict) -> str:
    """Claim 4 for one task: its numbers into `v`; its verdict, or "" when no budget can be compared."""
    names = (config_id(large[0].compression.source_name), config_id(small[0].compression.source_name))
    low, high = min(r.compression.bytes for r in large), max(r.compression.bytes for r in small)
    both_fit = max(low, min(r.compression.bytes for r in small))
    if low > high:
        v.numbers.append(f"{task}: {names[0]}'s smallest compressed model ({low:,} bytes) is larger than {names[1]}'s "
                         f"largest ({high:,} bytes); compress {names[0]} further to compare")
        return ""
    only_large = sorted({r.compression.bytes for r in large if r.compression.bytes < both_fit})
    if only_large:
        v.numbers.append(f"{task}: not compared below {both_fit:,} bytes, where only {names[0]} has a model that fits "
                         f"({len(only_large)} budget{'s' * (len(only_large) > 1)} from {only_large[0]:,} bytes)")
    effects = []
    metric = large[0].metric
    for budget in sorted({r.compression.bytes for r in small + large if both_fit <= r.compression.bytes <= high}):
        best_l, best_s = best_fitting(large, budget), best_fitting(small, budget)
        effect = advantage(large[0].higher_is_better, scores(best_l), scores(best_s))
        effects.append(effect)
        v.numbers.append(f"{task}, {budget:,} bytes: {names[0]} {picked(best_l)} vs {names[1]} {picked(best_s)}: "
                         f"{effect.describe(unit(metric))}")
    v.effects += effects
    decisions = [decide(e) for e in effects]
    outcome = NOT_SUPPORTED if NOT_SUPPORTED in decisions else SUPPORTED if SUPPORTED in decisions else INCONCLUSIVE
    v.numbers.append(f"{task}: {names[0]} against {names[1]} at {len(effects)} budget{'s' * (len(effects) > 1)}: "
                     f"{outcome}")
    noise = [[r.compression.scores[VALID] for r in c.runs] for c in configs(small + large)]
    seeds_note(v, outcome, effects, noise, metric, f"of {task}'s compressed models", max)  # the largest effect
    return outcome


def best_fitting(models: list[Run], budget: float) -> list[Run]:
    """Per source replica (source run), its compressed model with the best valid score that fits in
    `budget` bytes; replicas with nothing that fits are left out."""
    picks = []
    for replica in group_by(models, lambda r: (r.compression.source_run_id or r.compression.source_name,)).values():
        fits = [r for r in replica if r.compression.bytes <= budget]
        if fits:
            picks.append(max(fits, key=lambda r: r.compression.scores[VALID] * (1 if r.higher_is_better else -1)))
    return picks


def scores(models: list[Run]) -> list[float]:
    return [r.compression.scores[VALID] for r in models]


def picked(models: list[Run]) -> str:
    """`30 (sparsity 0.90, 4 bits, 113,152 bytes)`; with replicas the mean, spread and n, and every
    distinct model chosen; then the chosen models' test score, labelled, when all have one."""
    values = scores(models)
    text = f"{values[0]:.4g}" if len(values) == 1 else mean_text(values, models[0].metric)
    hows = "; ".join(dict.fromkeys(how(r) for r in models))
    tested = [r.compression.scores[TEST] for r in models if TEST in r.compression.scores]
    test = f", test {sum(tested) / len(tested):.4g} (not used to choose)" if len(tested) == len(models) else ""
    return f"{text} ({hows}{test})"


def how(run: Run) -> str:
    """`sparsity 0.90, 4 bits, 113,152 bytes`; unquantized, the precision (`bf16, 2,048 bytes`), left
    out only for a pruned fp32 model."""
    c = run.compression
    if c.quantized:
        stored = f"{c.bits} bits"
    else:  # a pruned bf16 model must not read as a pruned fp32 one
        stored = c.precision if c.is_baseline or c.precision != "fp32" else ""
    parts = [f"sparsity {c.sparsity:.2f}" if c.sparsity else "", stored, f"{c.bytes:,} bytes"]
    return ", ".join(part for part in parts if part)

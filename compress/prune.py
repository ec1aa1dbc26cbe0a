"""Magnitude pruning on `nn.Module`s, with masks that stay fixed during fine-tuning.

Masks live as `torch.nn.utils.prune` reparametrisations (`weight_orig` trained, `weight_mask`
fixed, `weight = weight_orig * weight_mask` recomputed before every forward), so pruned weights
stay at zero through iterative fine-tuning. `make_permanent` bakes them in before saving.
Pure torch: must not import fairseq, wandb or train_large.engine.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn.utils import prune

from .targets import Target, check_targets, is_pruned, select_targets

SCOPES = ("global", "layer")


def check_sparsity(sparsity: float) -> None:
    """Raises ValueError (one line) when `sparsity` is outside [0, 1)."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"compression.sparsity must be in [0, 1) (fraction of targeted weights set "
                         f"to zero), got {sparsity}")


def sparsity_schedule(final: float, steps: int) -> list[float]:
    """Sparsities for iterative pruning, strictly increasing and ending exactly at `final`.

    Cubic schedule of Zhu & Gupta 2017 ("To prune, or not to prune", arXiv 1710.01878) with
    s_0 = 0: s_t = final * (1 - (1 - t/steps)^3), t = 1..steps. It prunes most while many weights
    are redundant and little near the end, where each removed weight costs more accuracy and
    fine-tuning has fewer steps left to recover; it is the schedule their gradual-pruning results
    (and the Transformer pruning work the paper builds on) use.

    Raises:
        ValueError: `final` outside [0, 1) or `steps` < 1.
    """
    check_sparsity(final)
    if steps < 1:
        raise ValueError(f"compression.steps must be >= 1 (pruning rounds), got {steps}")
    schedule = [final * (1.0 - (1.0 - t / steps) ** 3) for t in range(1, steps + 1)]
    schedule[-1] = final  # exact, whatever the float arithmetic above gives
    return schedule


def _scores(target: Target) -> torch.Tensor:
    """|w| flattened, with weights already masked scored -1 so they are pruned again first."""
    module, name = target.module, target.param_name
    with torch.no_grad():
        scores = target.parameter.detach().abs().flatten().float()
        if is_pruned(module, name):
            scores = scores.masked_fill(module._buffers[f"{name}_mask"].flatten() == 0, -1.0)
    return scores


def _smallest(scores: torch.Tensor, count: int) -> torch.Tensor:
    """Boolean mask of exactly `count` smallest scores; ties go to the lowest index."""
    chosen = torch.zeros_like(scores, dtype=torch.bool)
    if count == 0:
        return chosen
    threshold = torch.kthvalue(scores, count).values
    chosen |= scores < threshold
    # kthvalue's tie order is unspecified; take the remaining ties in index order instead.
    ties = (scores == threshold).nonzero().flatten()[: count - int(chosen.sum())]
    chosen[ties] = True
    return chosen


def _apply_mask(target: Target, pruned: torch.Tensor) -> None:
    """Put `pruned` (flat, True = zero) as the mask on every place that reads the tensor."""
    mask = (~pruned).view_as(target.parameter).to(target.parameter.dtype)
    for module, name in target.places:
        if is_pruned(module, name):
            module._buffers[f"{name}_mask"].copy_(mask)
            setattr(module, name, module._parameters[f"{name}_orig"] * module._buffers[f"{name}_mask"])
        else:
            prune.custom_from_mask(module, name, mask.clone())


def prune_magnitude(model: nn.Module, targets: Sequence[Target], sparsity: float,
                    scope: str = "global") -> None:
    """Zero the smallest-magnitude targeted weights, in place, as fixed masks.

    global: exactly round(sparsity * n) zeros over all n targeted weights, smallest |w| first.
    layer: exactly round(sparsity * n_t) zeros in each target of n_t weights.
    Weights an earlier call pruned stay pruned (they are chosen first); if they already exceed
    the count, nothing more is pruned. Ties in |w| go to the earlier target, then lower index, so
    counts are exact. Untargeted weights are not touched.

    Raises:
        ValueError: sparsity outside [0, 1), unknown scope, or targets not in `model`.
    """
    check_sparsity(sparsity)
    if scope not in SCOPES:
        raise ValueError(f"compression.scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    check_targets(model, list(targets))
    scores = [_scores(target) for target in targets]
    if scope == "layer":
        for target, score in zip(targets, scores):
            already = int((score < 0).sum())
            _apply_mask(target, _smallest(score, max(round(sparsity * score.numel()), already)))
        return
    flat = torch.cat(scores)
    already = int((flat < 0).sum())
    pruned = _smallest(flat, max(round(sparsity * flat.numel()), already))
    for target, chunk in zip(targets, pruned.split([s.numel() for s in scores])):
        _apply_mask(target, chunk)


def make_permanent(model: nn.Module) -> int:
    """Remove every pruning reparametrisation, leaving zeros in plain Parameters; returns how many.

    Tied tensors keep a single Parameter shared by all their places.
    """
    removed = 0
    for module in model.modules():
        for name in [n[: -len("_mask")] for n in list(module._buffers) if n.endswith("_mask")]:
            if is_pruned(module, name):
                prune.remove(module, name)
                removed += 1
    return removed


def measured_sparsity(model: nn.Module, targets: Sequence[Target] | None = None) -> float:
    """Fraction of targeted weights that are exactly zero (default targets: attention and ffn)."""
    targets = select_targets(model) if targets is None else targets
    check_targets(model, list(targets))
    with torch.no_grad():
        zeros = sum(int((target.weight == 0).sum()) for target in targets)
    return zeros / sum(target.numel() for target in targets)

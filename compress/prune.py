"""Magnitude pruning on `nn.Module`s, with masks that stay fixed during fine-tuning.

Masks are `torch.nn.utils.prune` reparametrisations (`weight = weight_orig * weight_mask`, the
mask fixed), so pruned weights stay zero through fine-tuning; `make_permanent` bakes them in.
Pure torch: must not import Hydra, fairseq, wandb or train_large.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn
from torch.nn.utils import prune

from .targets import Target, check_targets, effective_weight, is_pruned, select_targets

SCOPES = ("global", "layer")


def check_sparsity(sparsity: float) -> None:
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"compression.sparsity must be in [0, 1) (fraction of targeted weights set "
                         f"to zero), got {sparsity}")


def sparsity_schedule(final: float, steps: int) -> list[float]:
    """Sparsities for iterative pruning, strictly increasing and ending exactly at `final`: the
    cubic schedule of Zhu & Gupta 2017 (arXiv 1710.01878), s_t = final * (1 - (1 - t/steps)^3),
    which prunes most early, while many weights are redundant and fine-tuning has time to recover.
    Raises ValueError for `final` outside [0, 1) or `steps` < 1."""
    check_sparsity(final)
    if steps < 1:
        raise ValueError(f"compression.steps must be >= 1 (pruning rounds), got {steps}")
    schedule = [final * (1.0 - (1.0 - t / steps) ** 3) for t in range(1, steps + 1)]
    schedule[-1] = final  # exact, whatever the float arithmetic above gives
    return schedule


def pruned_places(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, tensor name) of every tensor in `model` under a pruning mask."""
    return [(module, name) for module in model.modules()
            for name in [n[: -len("_mask")] for n in list(module._buffers) if n.endswith("_mask")]
            if is_pruned(module, name)]


def refresh_masks(places: Iterable[tuple[nn.Module, str]]) -> None:
    """Recompute `<name> = <name>_orig * <name>_mask` at each pruned place: torch does it only in
    the module's own forward pre-hook, which a reader may not wait for."""
    for module, name in places:
        if is_pruned(module, name):
            setattr(module, name, effective_weight(module, name))


def _scores(target: Target) -> torch.Tensor:
    """|w| flattened, with weights already masked scored -1 so they are pruned again first."""
    module, name = target.module, target.param_name
    scores = target.parameter.detach().abs().flatten().float()
    if is_pruned(module, name):
        scores = scores.masked_fill(module._buffers[f"{name}_mask"].flatten() == 0, -1.0)
    return scores


def _smallest(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Mask of the round(sparsity * n) smallest scores (at least every -1); ties to the lowest index."""
    count = max(round(sparsity * scores.numel()), int((scores < 0).sum()))
    chosen = torch.zeros_like(scores, dtype=torch.bool)
    if count:
        threshold = torch.kthvalue(scores, count).values
        chosen |= scores < threshold
        # kthvalue's tie order is unspecified; take the remaining ties in index order instead.
        chosen[(scores == threshold).nonzero().flatten()[: count - int(chosen.sum())]] = True
    return chosen


def prune_magnitude(model: nn.Module, targets: Sequence[Target], sparsity: float,
                    scope: str = "global") -> None:
    """Zero the smallest-|w| targeted weights in place, as fixed masks: exactly round(sparsity * n)
    of all n targeted weights (global) or of each target's (layer). Weights pruned earlier stay
    pruned and are counted first; ties go to the earlier target, then the lower index. Raises
    ValueError for a sparsity outside [0, 1), an unknown scope, or targets not in `model`."""
    check_sparsity(sparsity)
    if scope not in SCOPES:
        raise ValueError(f"compression.scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    check_targets(model, list(targets))
    scores = [_scores(target) for target in targets]
    if scope == "layer":
        pruned = [_smallest(score, sparsity) for score in scores]
    else:
        pruned = _smallest(torch.cat(scores), sparsity).split([score.numel() for score in scores])
    for target, chunk in zip(targets, pruned):  # chunk: flat, True = zero; the mask of every place reading it
        mask = (~chunk).view_as(target.parameter).to(target.parameter.dtype)
        for module, name in target.places:
            if is_pruned(module, name):
                module._buffers[f"{name}_mask"].copy_(mask)
            else:
                prune.custom_from_mask(module, name, mask.clone())
        refresh_masks(target.places)


def make_permanent(model: nn.Module) -> int:
    """Bake every pruning mask into plain Parameters (tied ones stay shared); returns how many."""
    places = pruned_places(model)
    for module, name in places:
        prune.remove(module, name)
    return len(places)


def measured_sparsity(model: nn.Module, targets: Sequence[Target] | None = None) -> float:
    """Fraction of targeted weights that are exactly zero (default targets: attention and ffn)."""
    targets = select_targets(model) if targets is None else targets
    check_targets(model, list(targets))
    with torch.no_grad():
        zeros = sum(int((target.weight == 0).sum()) for target in targets)
    return zeros / sum(target.numel() for target in targets)

"""Fine-tuning inside a compression run, between pruning rounds or as quantization-aware
training: `tlc-train`'s loop (`train_large.loop.train_until_budget`) for a budget of training
seconds, without validation or checkpoints. Masks stay fixed: the optimizer holds the very
Parameter that pruning turned into `weight_orig`. Must not import fairseq or wandb.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from train_large.clock import TrainingClock
from train_large.config import BudgetConfig
from train_large.loop import Progress, next_mark, train_until_budget
from train_large.schedule import LearningRate

from .prune import pruned_places, refresh_masks
from .targets import Target

LOG_POINTS = 10  # train-loss records per fine-tuning phase


def fine_tune(engine: Any, clock: TrainingClock, progress: Progress, seconds: float,
              emit: Callable[[str, dict], None], optim: Any = None, **tags: Any) -> None:
    """Train `engine` on its task for `seconds` more training seconds; `tags` go into its records.
    optim: the source's optimizer settings (under `schedule=budget` the phase gets its own warmup
    and decay)."""
    if seconds <= 0:
        return
    budget = BudgetConfig(train_seconds=clock.train_seconds + seconds, eval_every_seconds=math.inf,
                          checkpoint_every_seconds=math.inf, log_every_seconds=seconds / LOG_POINTS)
    progress.next_log = next_mark(clock.train_seconds, budget.log_every_seconds)
    progress.next_eval = progress.next_checkpoint = math.inf
    learning_rate = LearningRate.for_phase(optim, clock.train_seconds, seconds) if optim is not None else None
    with masks_applied(engine.model):
        train_until_budget(engine, clock, progress, budget, lambda kind, metrics: emit(kind, {**metrics, **tags}),
                           validate=lambda: None, save=lambda: None, learning_rate=learning_rate)


@contextmanager
def masks_applied(model: nn.Module) -> Iterator[None]:
    """Recompute every pruned weight before each forward of `model`. torch does it in the pruned
    module's own pre-hook, which never runs when fairseq's MultiheadAttention hands the `*_proj`
    weights to `F.multi_head_attention_forward`; the second update would then backpropagate
    through the first one's freed graph (and train on stale weights)."""
    pruned = pruned_places(model)
    handle = model.register_forward_pre_hook(lambda *_: refresh_masks(pruned))
    try:
        yield
    finally:
        handle.remove()
        with torch.no_grad():
            refresh_masks(pruned)  # the last update's weights, for whatever reads them next


class ZerosHeld:
    """The engine, with the targets' zero weights put back to zero after every update: QAT after
    pruning, where the mask is gone (fake quantization cannot sit on it). Build it before
    attaching fake quantization."""

    def __init__(self, engine: Any, targets: Sequence[Target]) -> None:
        self.engine = engine
        self.kept = [(target, target.weight.detach() != 0) for target in targets]

    def __getattr__(self, name: str) -> Any:
        if name == "engine":  # not set yet (copy, unpickling): no endless recursion
            raise AttributeError(name)
        return getattr(self.engine, name)

    def train_step(self) -> Any:
        stats = self.engine.train_step()
        with torch.no_grad():
            for target, kept in self.kept:
                target.parameter.mul_(kept)
        return stats

"""Fine-tuning inside a compression run: the source task's own training, for a budget of training
seconds, between pruning rounds or as quantization-aware training.

It is the training loop of `tlc-train` (`train_large.loop.train_until_budget`) with validation
and checkpoints switched off: updates go through the engine's trainer, time through the
training clock, and train-loss records through the run's sinks. Masks stay fixed because
pruning is a `torch.nn.utils.prune` reparametrisation: the optimizer holds the very Parameter
that became `weight_orig`, and `weight = weight_orig * weight_mask` is recomputed before each
forward (`compress.prune.refresh_masks`). Must not import fairseq or wandb: it drives the
engine through its methods.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from train_large.clock import TrainingClock
from train_large.loop import Progress, next_mark, train_until_budget
from train_large.schedule import LearningRate

from .prune import pruned_places, refresh_masks
from .targets import Target

LOG_POINTS = 10  # train-loss records per fine-tuning phase


@dataclass
class PhaseBudget:
    """`train_until_budget`'s budget for one phase: a training-clock deadline, nothing else due."""

    train_seconds: float  # the clock reading at which the phase ends
    log_every_seconds: float
    eval_every_seconds: float = math.inf
    checkpoint_every_seconds: float = math.inf
    max_updates: int | None = None


def fine_tune(engine: Any, clock: TrainingClock, progress: Progress, seconds: float,
              emit: Callable[[str, dict], None], optim: Any = None, **tags: Any) -> None:
    """Train `engine` on its task for `seconds` more training seconds; `tags` go into its records.

    optim: the source's optimizer settings; under `schedule=budget` the phase gets its own warmup
    and decay over its `seconds`."""
    if seconds <= 0:
        return
    budget = PhaseBudget(train_seconds=clock.train_seconds + seconds, log_every_seconds=seconds / LOG_POINTS)
    progress.next_log = next_mark(clock.train_seconds, budget.log_every_seconds)
    progress.next_eval = progress.next_checkpoint = math.inf
    learning_rate = LearningRate.for_phase(optim, clock.train_seconds, seconds) if optim is not None else None
    with masks_applied(engine.model):
        train_until_budget(engine, clock, progress, budget, lambda kind, metrics: emit(kind, {**metrics, **tags}),
                           validate=lambda: None, save=lambda: None, learning_rate=learning_rate)


@contextmanager
def masks_applied(model: nn.Module) -> Iterator[None]:
    """Recompute every pruned weight (`weight_orig * weight_mask`) before each forward of `model`.

    torch's pruning does this in a forward pre-hook of the pruned module itself, which never
    runs when a parent reads the weight directly: fairseq's MultiheadAttention hands
    `q_proj.weight` ... `out_proj.weight` to `F.multi_head_attention_forward` outside incremental
    decoding. The second update would then backpropagate through the first one's freed graph
    (and train on stale weights). A hook on the whole model runs before every forward, however
    its modules are called.
    """
    pruned = pruned_places(model)
    handle = model.register_forward_pre_hook(lambda *_: refresh_masks(pruned)) if pruned else None
    try:
        yield
    finally:
        if handle is not None:
            handle.remove()
            with torch.no_grad():
                refresh_masks(pruned)  # the last update's weights, for whatever reads them next


class ZerosHeld:
    """The engine, with the targets' zero weights put back to zero after every update.

    For quantization-aware training after pruning: fake quantization cannot sit on a pruning
    mask (compress.quantize.attach_fake_quant), so pruning is permanent by then and this holds
    the zeros instead. Build it before attaching fake quantization.
    """

    def __init__(self, engine: Any, targets: Sequence[Target]) -> None:
        self.engine = engine
        with torch.no_grad():
            self.kept = [(target, target.weight != 0) for target in targets]

    def __getattr__(self, name: str) -> Any:
        """The engine's `model`, `learning_rate`, `set_learning_rate`, ... (only names not set here)."""
        if name == "engine":  # not set yet (copy, unpickling): no endless recursion
            raise AttributeError(name)
        return getattr(self.engine, name)

    def train_step(self) -> Any:
        stats = self.engine.train_step()
        with torch.no_grad():
            for target, kept in self.kept:
                target.parameter.mul_(kept)
        return stats

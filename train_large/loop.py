"""The training loop: update until the budget is spent, logging, validating and checkpointing at
training-time marks, and checkpoint and return on a stop request. Knows nothing of files or W&B."""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

from . import faults
from .clock import TrainingClock
from .schedule import LearningRate

log = logging.getLogger(__name__)

PRINT_EVERY_SECONDS = 30.0  # wall seconds between progress lines at most (a terminal and a SLURM log)


@dataclass
class Progress:
    """Counters carried in every record and restored from the checkpoint."""

    updates: int = 0
    tokens: int = 0
    flops: float = 0.0  # estimated training FLOPs so far (train_large.flops)
    records: int = 0  # records already in metrics.jsonl
    best_metric: float | None = None  # the task's primary metric (BLEU, perplexity or accuracy)
    last_metric: float | None = None
    best_valid: dict | None = None  # the best validation's metrics; best.pt holds the weights it scored
    best_updates: int | None = None  # ... and the update they are from
    last_valid: dict | None = None  # the latest validation's metrics
    valid_updates: int | None = None  # ... and the update it scored (a resumed run never repeats it)
    next_log: float = 0.0  # training seconds at which the next event is due
    next_eval: float = 0.0
    next_checkpoint: float = 0.0

    @classmethod
    def fresh(cls, budget: Any) -> "Progress":
        return cls(next_log=budget.log_every_seconds, next_eval=budget.eval_every_seconds,
                   next_checkpoint=budget.checkpoint_every_seconds)

    def note_validation(self, metrics: dict, value: float, *, best: bool) -> None:
        """Remember a validation of the model at this update (`value`: its primary metric)."""
        self.last_metric, self.last_valid, self.valid_updates = value, metrics, self.updates
        if best:
            self.best_metric, self.best_valid, self.best_updates = value, metrics, self.updates

    def state_dict(self) -> dict:
        return asdict(self)


def budget_spent(clock: TrainingClock, progress: Progress, budget: Any) -> bool:
    updates_spent = budget.max_updates is not None and progress.updates >= budget.max_updates
    return updates_spent or clock.train_seconds >= budget.train_seconds


def next_mark(now: float, every: float) -> float:
    """The first multiple of `every` after `now`: a slow step never bunches events together."""
    return (math.floor(now / every) + 1) * every


@dataclass
class LossWindow:
    """Mean training losses (nats per scored position) since the last train record."""

    loss_sum: float = 0.0
    nll_sum: float = 0.0
    tokens: int = 0
    updates: int = 0

    def add(self, loss: float, nll_loss: float, tokens: int) -> None:
        self.loss_sum += loss * tokens
        self.nll_sum += nll_loss * tokens
        self.tokens += tokens
        self.updates += 1

    def pop(self) -> dict:
        tokens = max(self.tokens, 1)
        loss, nll = self.loss_sum / tokens, self.nll_sum / tokens
        values = {"loss": loss, "nll_loss": nll, "ppl": math.exp(min(nll, 50.0)), "window_updates": self.updates}
        self.loss_sum, self.nll_sum, self.tokens, self.updates = 0.0, 0.0, 0, 0
        return values


def train_until_budget(engine: Any, clock: TrainingClock, progress: Progress, budget: Any,
                       emit: Callable[[str, dict], None], validate: Callable[[], None],
                       save: Callable[[], None], metric_name: str = "metric",
                       stop_requested: Callable[[], bool] = lambda: False,
                       learning_rate: LearningRate | None = None) -> bool:
    """Train until `budget.train_seconds` of update time (or `budget.max_updates`) is spent; False when it
    stopped early, checkpointed, because `stop_requested()` said so. learning_rate: None: fairseq's sets it."""
    window = LossWindow()
    printed_at = -math.inf  # wall seconds of the last progress line

    def validate_and_save(now: float) -> None:
        progress.next_eval = next_mark(now, budget.eval_every_seconds)
        validate()
        save()  # after every validation, so a resumed run never repeats one
        progress.next_checkpoint = next_mark(now, budget.checkpoint_every_seconds)

    if clock.train_seconds >= progress.next_eval and not budget_spent(clock, progress, budget):
        validate_and_save(clock.train_seconds)  # due when a stop request came: the same weights, now
    while not budget_spent(clock, progress, budget):
        with clock.training():
            if learning_rate is not None:
                learning_rate.before_update(engine, clock.train_seconds, progress.updates)
            step = engine.train_step()
        faults.reached("update")
        progress.updates += 1
        progress.tokens += step.tokens
        progress.flops += step.flops
        window.add(step.loss, step.nll_loss, step.scored)
        now = clock.train_seconds
        if now >= progress.next_log:
            emit("train", window.pop())
            progress.next_log = next_mark(now, budget.log_every_seconds)
            if clock.wall_seconds - printed_at >= PRINT_EVERY_SECONDS:
                printed_at = clock.wall_seconds
                print_progress(clock, progress, budget, metric_name)
        if budget_spent(clock, progress, budget):
            break  # the final validation follows the loop; no point in one more here
        if stop_requested():
            save()  # a validation due now stays due: the resumed run does it before its first update
            return False
        if now >= progress.next_eval:
            validate_and_save(now)
        elif now >= progress.next_checkpoint:
            progress.next_checkpoint = next_mark(now, budget.checkpoint_every_seconds)
            save()
    return True


def print_progress(clock: TrainingClock, progress: Progress, budget: Any, metric_name: str) -> None:
    left = max(budget.train_seconds - clock.train_seconds, 0.0)
    last = "-" if progress.last_metric is None else f"{progress.last_metric:.4g}"
    log.info("train %.1f/%.0fs (%.1fs left) | updates %d | tokens %d | last valid %s %s | wall %.1fs",
             clock.train_seconds, budget.train_seconds, left, progress.updates, progress.tokens,
             metric_name, last, clock.wall_seconds)

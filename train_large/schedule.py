"""The learning rate on the training clock, and a warning when an update-count warmup cannot end.

Under a time budget the update count is unknown, so `BudgetSchedule` warms up and decays over the
fraction of the budget spent ("Budgeted Training", Li, Yumer and Ramanan, ICLR 2020), from the
restored clock on resume. `WarmupCheck`: a 4000-update warmup in a budget heading for 150 updates
ends with BLEU 0 and no word why. Must not import fairseq."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# The warmup check runs after the first minute of training, or 5% of the budget if that comes first.
CHECK_AFTER_SECONDS, CHECK_AFTER_FRACTION = 60.0, 0.05


@dataclass(frozen=True)
class BudgetSchedule:
    """The learning rate at a fraction of the budget: 0 -> `peak` over the warmup, then -> 0."""

    peak: float  # optim.lr
    warmup_fraction: float  # of the budget, in [0, 1)
    decay: str  # linear or cosine
    train_seconds: float  # budget.train_seconds
    max_updates: int | None = None  # budget.max_updates: the budget ends at whichever comes first
    start_seconds: float = 0.0  # the clock reading at which the budget starts (a fine-tuning phase's)

    def fraction(self, train_seconds: float, updates: int) -> float:
        """The share of the budget spent, in [0, 1]: the larger of the time and update shares."""
        spent = (train_seconds - self.start_seconds) / self.train_seconds
        if self.max_updates:
            spent = max(spent, updates / self.max_updates)
        return min(max(spent, 0.0), 1.0)

    def __call__(self, train_seconds: float, updates: int) -> float:
        fraction = self.fraction(train_seconds, updates)
        if fraction < self.warmup_fraction:
            return self.peak * fraction / self.warmup_fraction
        left = (fraction - self.warmup_fraction) / (1.0 - self.warmup_fraction)  # of the decay, in [0, 1]
        if self.decay == "cosine":
            return self.peak * 0.5 * (1.0 + math.cos(math.pi * left))
        return self.peak * (1.0 - left)


@dataclass
class WarmupCheck:
    """Warns once, early in a run, when an update-count warmup ends beyond the budget's updates."""

    warmup_updates: int
    train_seconds: float  # budget.train_seconds
    max_updates: int | None = None
    done: bool = False

    @property
    def due_at(self) -> float:
        """Training seconds after which the projection is made."""
        return min(CHECK_AFTER_SECONDS, CHECK_AFTER_FRACTION * self.train_seconds)

    def check(self, train_seconds: float, updates: int) -> str | None:
        """The warning, the first time it is due and the warmup will not end; else None."""
        if self.done or train_seconds < self.due_at:
            return None
        self.done = True
        projected = round(updates * self.train_seconds / max(train_seconds, 1e-9))  # at the pace so far
        projected = min(projected, self.max_updates) if self.max_updates else projected
        if self.warmup_updates <= projected:
            return None
        return (f"optim.warmup_updates={self.warmup_updates} will not end within the budget: at "
                f"{updates} updates in {train_seconds:.0f} training seconds, budget.train_seconds="
                f"{self.train_seconds:g} is heading for about {projected} updates, so the learning rate "
                f"stays below its peak for the whole run; use optim.schedule=budget (warmup and decay "
                f"over the budget's seconds) or an optim.warmup_updates well under {projected}")


@dataclass
class LearningRate:
    """Before each update: set the budget schedule's rate, or run the warmup check once."""

    schedule: BudgetSchedule | None = None
    warmup: WarmupCheck | None = None

    @classmethod
    def for_run(cls, optim: Any, budget: Any, *, resumed: bool) -> "LearningRate":
        """resumed: from a checkpoint, whose run already had its warmup check."""
        if optim.schedule == "budget":
            return cls(schedule=BudgetSchedule(optim.lr, optim.warmup_fraction, optim.decay,
                                               budget.train_seconds, budget.max_updates))
        if optim.warmup_updates > 0 and not resumed:
            return cls(warmup=WarmupCheck(optim.warmup_updates, budget.train_seconds, budget.max_updates))
        return cls()

    @classmethod
    def for_phase(cls, optim: Any, start_seconds: float, seconds: float) -> "LearningRate":
        """A fine-tuning phase of `seconds` from the clock reading `start_seconds` (compression): a
        complete budget schedule of its own, since the run it continues ended at a rate of zero."""
        if optim.schedule != "budget":
            return cls()
        return cls(schedule=BudgetSchedule(optim.lr, optim.warmup_fraction, optim.decay, seconds,
                                           start_seconds=start_seconds))

    def before_update(self, engine: Any, train_seconds: float, updates: int) -> None:
        if self.schedule is not None:
            engine.set_learning_rate(self.schedule(train_seconds, updates))
        elif self.warmup is not None and not self.warmup.done:
            warning = self.warmup.check(train_seconds, updates)
            if warning:
                log.warning(warning)

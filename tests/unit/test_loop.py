"""The loop's schedule, driven by a fake engine on a fake clock (no fairseq)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from tests.conftest import FakeTime
from train_large.clock import TrainingClock
from train_large.config import BudgetConfig
from train_large.loop import Progress, next_mark, train_until_budget


@dataclass
class Step:
    loss: float
    nll_loss: float
    tokens: int
    sentences: int = 1
    scored: int = 90
    flops: float = 1e6


class FakeEngine:
    learning_rate = 1e-3

    def __init__(self, time: FakeTime, step_seconds: float) -> None:
        self.time, self.step_seconds = time, step_seconds

    def train_step(self) -> Step:
        self.time.t += self.step_seconds
        return Step(loss=2.0, nll_loss=1.5, tokens=100)


def Budget(**overrides) -> BudgetConfig:
    """The real budget schema with small, round test values (seconds)."""
    values = dict(train_seconds=10.0, eval_every_seconds=2.0, checkpoint_every_seconds=3.0,
                  log_every_seconds=1.0, max_updates=None)
    return BudgetConfig(**{**values, **overrides})


def run_loop(budget: Budget, step_seconds: float = 0.25, eval_seconds: float = 7.0):
    time = FakeTime()
    clock = TrainingClock(now=time)
    events: list[tuple[str, float]] = []

    def emit(kind, metrics):
        events.append((kind, clock.train_seconds))

    def validate():
        with clock.timed("eval"):
            time.t += eval_seconds
        events.append(("validate", clock.train_seconds))

    def save():
        events.append(("save", clock.train_seconds))

    progress = Progress.fresh(budget)
    train_until_budget(FakeEngine(time, step_seconds), clock, progress, budget, emit, validate, save)
    return clock, progress, events


def test_training_stops_at_the_budget_and_eval_time_is_not_charged():
    clock, progress, events = run_loop(Budget())
    assert clock.train_seconds == pytest.approx(10.0)
    assert progress.updates == 40
    validations = [t for kind, t in events if kind == "validate"]
    assert validations == pytest.approx([2.0, 4.0, 6.0, 8.0])  # the final one follows the loop
    assert clock.wall_seconds == pytest.approx(10.0 + 4 * 7.0)


def test_every_validation_is_followed_by_a_checkpoint():
    _, _, events = run_loop(Budget())
    kinds = [kind for kind, _ in events]
    for i, kind in enumerate(kinds):
        if kind == "validate":
            assert kinds[i + 1] == "save"


def test_checkpoints_between_validations_when_they_are_rare():
    _, _, events = run_loop(Budget(eval_every_seconds=100.0, checkpoint_every_seconds=3.0))
    assert [t for kind, t in events if kind == "save"] == pytest.approx([3.0, 6.0, 9.0])


def test_train_records_come_at_the_log_interval():
    _, _, events = run_loop(Budget())
    assert len([1 for kind, _ in events if kind == "train"]) == 10


def test_max_updates_stops_before_the_time_budget():
    clock, progress, _ = run_loop(Budget(max_updates=7))
    assert progress.updates == 7
    assert clock.train_seconds == pytest.approx(1.75)


def test_slow_step_does_not_bunch_validations():
    assert next_mark(5.9, 2.0) == 6.0
    assert next_mark(6.0, 2.0) == 8.0
    _, _, events = run_loop(Budget(train_seconds=10.0, eval_every_seconds=2.0), step_seconds=4.5)
    assert [t for kind, t in events if kind == "validate"] == pytest.approx([4.5, 9.0])


def test_train_records_report_perplexity_from_the_unsmoothed_loss():
    time = FakeTime()
    clock = TrainingClock(now=time)
    records = []
    budget = Budget(train_seconds=1.0, eval_every_seconds=5.0)
    train_until_budget(FakeEngine(time, 0.25), clock, Progress.fresh(budget), budget,
                       lambda kind, metrics: records.append(metrics), lambda: None, lambda: None)
    assert records[0]["loss"] == pytest.approx(2.0)
    assert records[0]["ppl"] == pytest.approx(math.exp(1.5))
    assert records[0]["window_updates"] == 4


def test_a_stop_request_checkpoints_at_once_and_returns_early():
    time = FakeTime()
    clock = TrainingClock(now=time)
    budget = Budget()
    progress = Progress.fresh(budget)
    events: list[tuple[str, int]] = []
    finished = train_until_budget(FakeEngine(time, 0.25), clock, progress, budget,
                                  lambda kind, metrics: events.append((kind, progress.updates)),
                                  lambda: events.append(("validate", progress.updates)),
                                  lambda: events.append(("save", progress.updates)),
                                  stop_requested=lambda: progress.updates >= 8)  # 2.0 s: a validation is due
    assert finished is False and progress.updates == 8
    assert events[-1] == ("save", 8) and ("validate", 8) not in events  # the checkpoint comes first
    assert progress.next_eval == 2.0  # still due

    resumed: list[tuple[str, int]] = []
    train_until_budget(FakeEngine(time, 0.25), clock, progress, budget,
                       lambda kind, metrics: resumed.append((kind, progress.updates)),
                       lambda: resumed.append(("validate", progress.updates)),
                       lambda: resumed.append(("save", progress.updates)))
    assert resumed[:2] == [("validate", 8), ("save", 8)]  # before any update: the same weights, no gap
    assert [u for kind, u in resumed if kind == "validate"] == [8, 16, 24, 32]


def test_validations_are_remembered_for_the_checkpoint():
    progress = Progress(updates=5)
    progress.note_validation({"bleu": 3.0}, 3.0, best=True)
    progress.updates = 9
    progress.note_validation({"bleu": 2.0}, 2.0, best=False)
    assert (progress.best_metric, progress.best_valid, progress.best_updates) == (3.0, {"bleu": 3.0}, 5)
    assert (progress.last_metric, progress.last_valid, progress.valid_updates) == (2.0, {"bleu": 2.0}, 9)

"""The learning rate on the training clock (`optim.schedule=budget`) and the warmup warning."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from tests.conftest import FakeTime
from train_large.clock import TrainingClock
from train_large.config import BudgetConfig, OptimConfig
from train_large.loop import Progress, train_until_budget
from train_large.schedule import BudgetSchedule, LearningRate, WarmupCheck


def schedule(decay: str = "linear", max_updates: int | None = None) -> BudgetSchedule:
    return BudgetSchedule(peak=1e-3, warmup_fraction=0.1, decay=decay, train_seconds=100.0,
                          max_updates=max_updates)


@pytest.mark.parametrize("decay", ["linear", "cosine"])
def test_budget_schedule_warms_up_peaks_and_ends_at_zero(decay):
    rate = schedule(decay)
    assert rate(0.0, 0) == 0.0
    assert rate(5.0, 10) == pytest.approx(5e-4)  # halfway through the warmup
    assert rate(10.0, 20) == pytest.approx(1e-3)  # the end of the warmup is the peak
    assert rate(55.0, 110) == pytest.approx(5e-4)  # halfway through the decay: both decays give half
    assert rate(100.0, 200) == 0.0
    assert rate(130.0, 260) == 0.0  # a last update that overshoots the budget never goes negative


def test_cosine_decays_slower_than_linear_early_and_faster_late():
    linear, cosine = schedule("linear"), schedule("cosine")
    assert cosine(30.0, 0) > linear(30.0, 0)
    assert cosine(90.0, 0) < linear(90.0, 0)


def test_with_max_updates_the_larger_share_of_the_budget_decides():
    rate = schedule(max_updates=100)
    assert rate.fraction(20.0, 80) == pytest.approx(0.8)  # updates ahead of the clock
    assert rate.fraction(60.0, 10) == pytest.approx(0.6)  # the clock ahead of the updates
    assert rate(20.0, 100) == 0.0  # the update cap ends the budget: the rate is spent too


def test_a_resumed_run_continues_the_same_curve():
    """The rate depends only on the restored clock and update count, never on the process."""
    whole = [schedule()(seconds, int(seconds * 2)) for seconds in range(0, 101, 5)]
    before = [schedule()(seconds, int(seconds * 2)) for seconds in range(0, 50, 5)]
    after = [schedule()(seconds, int(seconds * 2)) for seconds in range(50, 101, 5)]  # a new process, same state
    assert before + after == whole


class RateEngine:
    """Takes the rate the loop sets and reports it, as the fairseq engine does."""

    def __init__(self, time: FakeTime, step_seconds: float) -> None:
        self.time, self.step_seconds, self.learning_rate, self.rates = time, step_seconds, None, []

    def set_learning_rate(self, lr: float) -> None:
        self.learning_rate = lr

    def train_step(self):
        self.rates.append(self.learning_rate)
        self.time.t += self.step_seconds
        return SimpleNamespace(loss=2.0, nll_loss=1.5, tokens=10, scored=10, flops=0.0)


def budget(train_seconds: float, max_updates: int | None = None) -> BudgetConfig:
    return BudgetConfig(train_seconds=train_seconds, eval_every_seconds=train_seconds, log_every_seconds=1.0,
                        checkpoint_every_seconds=train_seconds, max_updates=max_updates)


def run(optim: OptimConfig, plan: BudgetConfig, *, step_seconds: float = 0.5, state: dict | None = None,
        progress: Progress | None = None) -> RateEngine:
    time = FakeTime()
    engine, clock = RateEngine(time, step_seconds), TrainingClock(now=time, state=state)
    progress = progress or Progress.fresh(plan)
    train_until_budget(engine, clock, progress, plan, lambda kind, metrics: None, lambda: None, lambda: None,
                       learning_rate=LearningRate.for_run(optim, plan, resumed=state is not None))
    return engine


def test_the_loop_sets_the_budget_rate_before_every_update():
    optim = OptimConfig(lr=1e-3, schedule="budget", warmup_fraction=0.2, decay="linear")
    rates = run(optim, budget(10.0)).rates
    assert len(rates) == 20
    peak = rates.index(max(rates))
    assert rates[0] == 0.0 and max(rates) == pytest.approx(1e-3) and peak == 4  # 2 s of warmup = 4 updates
    assert all(a < b for a, b in zip(rates[:peak], rates[1:peak + 1]))
    assert all(a > b for a, b in zip(rates[peak:], rates[peak + 1:]))
    assert rates[-1] == pytest.approx(1e-3 * 0.5 / 8)  # the last update starts 0.5 s before the end


def test_warmup_check_projects_the_budget_and_names_the_fix():
    check = WarmupCheck(warmup_updates=4000, train_seconds=150.0)
    assert check.due_at == pytest.approx(7.5)  # 5% of 150 s comes before the first minute
    assert check.check(5.0, 10) is None and not check.done  # not due yet
    warning = check.check(7.5, 8)
    assert "optim.warmup_updates=4000" in warning and "about 160 updates" in warning
    assert "optim.schedule=budget" in warning
    assert check.check(20.0, 20) is None  # once only


def test_warmup_check_is_quiet_when_the_warmup_ends_in_time():
    check = WarmupCheck(warmup_updates=100, train_seconds=3600.0, max_updates=None)
    assert check.due_at == 60.0
    assert check.check(60.0, 200) is None and check.done
    capped = WarmupCheck(warmup_updates=100, train_seconds=3600.0, max_updates=50)
    assert capped.check(60.0, 200) is not None  # the update cap ends the budget before the warmup


@pytest.mark.parametrize("schedule_name, resumed, warns", [
    ("inverse_sqrt", False, True), ("fixed", False, True), ("inverse_sqrt", True, False), ("budget", False, False)])
def test_the_warning_is_logged_once_and_never_on_resume_or_under_the_budget_schedule(
        caplog, schedule_name, resumed, warns):
    optim = OptimConfig(lr=1e-3, schedule=schedule_name, warmup_updates=4000)
    plan = budget(40.0)
    state = {"train_seconds": 0.0} if resumed else None
    with caplog.at_level(logging.WARNING, logger="train_large.schedule"):
        run(optim, plan, state=state)
    warnings = [r for r in caplog.records if "warmup_updates=4000" in r.getMessage()]
    assert len(warnings) == (1 if warns else 0)


def test_a_fine_tuning_phase_gets_its_own_complete_schedule():
    """Compression fine-tunes a run whose budget schedule ended at zero: each phase warms up and
    decays again over its own seconds, counted from the clock reading where it starts."""
    optim = OptimConfig(lr=1e-3, schedule="budget", warmup_fraction=0.1, decay="linear")
    phase = LearningRate.for_phase(optim, start_seconds=100.0, seconds=10.0).schedule
    assert phase(100.0, 500) == 0.0 and phase(101.0, 510) == pytest.approx(1e-3) and phase(110.0, 600) == 0.0
    assert LearningRate.for_phase(OptimConfig(schedule="inverse_sqrt"), 100.0, 10.0).schedule is None

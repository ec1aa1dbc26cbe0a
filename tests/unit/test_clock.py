"""The training clock counts update time only, and survives a resume."""
from __future__ import annotations

from tests.conftest import FakeTime
from train_large.clock import TrainingClock


def test_only_training_blocks_count_against_the_budget():
    now = FakeTime()
    clock = TrainingClock(now=now)
    with clock.training():
        now.t += 2.0
    with clock.timed("eval") as lap:
        now.t += 5.0
    with clock.timed("checkpoint"):
        now.t += 1.0
    with clock.training():
        now.t += 3.0
    assert clock.train_seconds == 5.0
    assert clock.wall_seconds == 11.0
    assert lap.seconds == 5.0
    assert clock.spent == {"eval": 5.0, "checkpoint": 1.0}


def test_clock_syncs_the_device_around_each_update():
    calls = []
    clock = TrainingClock(sync=lambda: calls.append("sync"), now=FakeTime())
    with clock.training():
        calls.append("step")
    assert calls == ["sync", "step", "sync"]


def test_restored_clock_continues_from_its_state():
    now = FakeTime()
    first = TrainingClock(now=now)
    with first.training():
        now.t += 4.0
    with first.timed("eval"):
        now.t += 1.0
    resumed = TrainingClock(now=now, state=first.state_dict())
    with resumed.training():
        now.t += 1.5
    assert resumed.train_seconds == 5.5
    assert resumed.wall_seconds == 6.5
    assert resumed.spent["eval"] == 1.0


def test_exception_inside_an_update_still_charges_its_time():
    now = FakeTime()
    clock = TrainingClock(now=now)
    try:
        with clock.training():
            now.t += 1.0
            raise RuntimeError("oom")
    except RuntimeError:
        pass
    assert clock.train_seconds == 1.0

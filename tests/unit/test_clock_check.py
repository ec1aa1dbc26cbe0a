"""The clock check: the training clock against each update timed independently. Fake clocks and a
fake device pin the logic (including the fault the old loop-share figure could not see); one real
CPU self-test runs a few updates; the CUDA self-test needs a GPU."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch

from tests.conftest import FakeTime
from train_large.clock import Lap, TrainingClock
from scripts.bench.clock_check import AuditedClock, CudaEventTimer, HostTimer, run_updates, self_test


class FakeDevice:
    """Runs launched work after the host queued it; host time moves only when the host waits."""

    def __init__(self, now: FakeTime) -> None:
        self.now = now
        self.busy_until = now.t

    def launch(self, seconds: float) -> None:
        self.busy_until = max(self.busy_until, self.now.t) + seconds

    def sync(self) -> None:
        self.now.t = max(self.now.t, self.busy_until)


class FakeEvents:
    """Markers on the fake device's timeline, as CUDA events are: reached once earlier work is done."""

    name = "fake events"

    def __init__(self, device: FakeDevice) -> None:
        self.device = device
        self.total = 0.0

    def start(self) -> float:
        return max(self.device.now.t, self.device.busy_until)

    def stop(self, mark: float) -> None:
        self.total += max(self.device.now.t, self.device.busy_until) - mark

    def seconds(self) -> float:
        return self.total


def queued_run(sync_on: bool, updates: int = 5) -> tuple[dict, TrainingClock, FakeTime]:
    """Updates that queue 2 s of device work each, then an evaluation that waits for the device."""
    now = FakeTime()
    device = FakeDevice(now)
    clock = TrainingClock(sync=device.sync if sync_on else None, now=now)
    check = run_updates(clock, FakeEvents(device), lambda: device.launch(2.0), device.sync, updates)
    return check, clock, now


def test_a_synchronised_clock_agrees_with_device_timed_updates():
    check, clock, _ = queued_run(sync_on=True)
    assert check["ok"] and check["error"] == 0.0
    assert check["updates"] == 5 and check["clock_seconds"] == check["timed_seconds"] == 10.0


def test_without_synchronisation_the_check_fails_where_the_old_loop_figure_saw_nothing():
    check, clock, now = queued_run(sync_on=False)
    assert not check["ok"] and check["error"] == -1.0  # the clock charged the launches only
    assert check["timed_seconds"] == 10.0
    # the update time moved into evaluation: loop - evaluation - training clock is still zero
    loop_seconds = now.t - 100.0
    assert clock.spent["eval"] == 10.0 and loop_seconds - clock.spent["eval"] - clock.train_seconds == 0.0


class ChargesEverything:
    """Broken on purpose: charges all time since it started, evaluations included."""

    def __init__(self, now: FakeTime) -> None:
        self.now, self.started = now, now()

    @property
    def train_seconds(self) -> float:
        return self.now() - self.started

    @contextmanager
    def training(self):
        yield

    @contextmanager
    def timed(self, name: str):
        yield Lap()


def test_a_clock_charging_time_outside_its_updates_is_caught():
    now = FakeTime()

    def advance(seconds: float):
        return lambda: setattr(now, "t", now.t + seconds)

    check = run_updates(ChargesEverything(now), HostTimer(now), advance(1.0), advance(0.5), updates=4)
    assert check["clock_seconds"] == 6.0 and check["timed_seconds"] == 4.0
    assert not check["ok"] and check["error"] == pytest.approx(0.5)


def test_a_resumed_clock_is_checked_on_this_runs_updates_only():
    now = FakeTime()
    clock = AuditedClock(TrainingClock(now=now, state={"train_seconds": 50.0, "wall_seconds": 60.0}), HostTimer(now))
    with clock.training():
        now.t += 3.0
    with clock.timed("eval") as lap:
        now.t += 1.0
    assert clock.train_seconds == 53.0 and lap.seconds == 1.0 and clock.spent == {"eval": 1.0}
    assert clock.state_dict()["train_seconds"] == 53.0
    check = clock.check()
    assert check["clock_seconds"] == 3.0 and check["ok"]


class FakeCudaEvent:
    """torch.cuda.Event's timing calls against a fake device timeline (milliseconds)."""

    device_time = 0.0  # seconds the fake device has reached
    queued_until = 0.0  # seconds at which the work queued so far ends

    def __init__(self, enable_timing: bool = False) -> None:
        assert enable_timing
        self.at: float | None = None

    def record(self) -> None:
        self.at = max(FakeCudaEvent.queued_until, FakeCudaEvent.device_time)

    def query(self) -> bool:
        return FakeCudaEvent.device_time >= self.at

    def synchronize(self) -> None:
        FakeCudaEvent.device_time = max(FakeCudaEvent.device_time, self.at)

    def elapsed_time(self, end: "FakeCudaEvent") -> float:
        assert self.query() and end.query(), "elapsed_time on an event the device has not reached"
        return (end.at - self.at) * 1000.0


def test_event_timer_reads_finished_pairs_early_and_waits_for_the_rest(monkeypatch):
    monkeypatch.setattr(torch.cuda, "Event", FakeCudaEvent)
    monkeypatch.setattr(FakeCudaEvent, "device_time", 0.0)
    monkeypatch.setattr(FakeCudaEvent, "queued_until", 0.0)
    timer = CudaEventTimer()
    for update in range(3):
        mark = timer.start()
        FakeCudaEvent.queued_until = mark.at + 2.0  # the update queues 2 s of work
        timer.stop(mark)
        if update < 2:
            FakeCudaEvent.device_time = FakeCudaEvent.queued_until  # the device catches up
    assert len(timer._pending) == 1  # the first two were read as soon as they were passed
    assert timer.seconds() == pytest.approx(6.0)


def test_cpu_self_test_passes_the_real_clock_and_catches_a_process_time_clock():
    result = self_test("cpu", updates=4)
    assert result["fault"] == "process-time clock"
    assert result["correct"]["ok"] and result["correct"]["timer"] == "host timer", result
    assert result["faulty"]["error"] < -0.5, result  # the updates' 10-ms waits are missing
    assert result["caught"]


@pytest.mark.gpu
def test_cuda_self_test_passes_the_synchronised_clock_and_catches_one_without_sync():
    result = self_test("cuda")
    assert result["fault"] == "synchronisation off"
    assert result["correct"]["timer"] == "CUDA events" and result["correct"]["ok"], result
    assert result["faulty"]["error"] < -0.5, result  # the clock saw the launches, not the products
    assert result["caught"]

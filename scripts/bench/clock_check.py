"""The clock check: does the training clock charge each update what it really took?

`AuditedClock` stands in for a `TrainingClock` and times each update a second way. CUDA events catch
a clock that stops before the queued kernels finish (the time would surface unnoticed in the next
evaluation); on CPU a second host timer catches a clock on the wrong time source (process time) or
one that charges time outside its updates. Used by the device and gpu sections; must not import
fairseq or wandb.
"""
from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Protocol

from train_large.clock import TrainingClock, cuda_sync

GOAL = 0.01  # |clock - independent| / independent


class Timer(Protocol):
    """stop(start()) adds the interval between the two; seconds() is the sum (CUDA: after waiting)."""

    name: str

    def start(self) -> Any: ...

    def stop(self, mark: Any) -> None: ...

    def seconds(self) -> float: ...


class HostTimer:
    """Sums host-clock intervals (seconds); `now` is replaceable for tests."""

    name = "host timer"

    def __init__(self, now: Callable[[], float] | None = None) -> None:
        if now is None and hasattr(time, "CLOCK_MONOTONIC_RAW"):
            # Not the clock's perf_counter (CLOCK_MONOTONIC): another kernel clock, never slewed by NTP.
            now = functools.partial(time.clock_gettime, time.CLOCK_MONOTONIC_RAW)
        self._now = now or time.monotonic
        self._seconds = 0.0

    def start(self) -> float:
        return self._now()

    def stop(self, mark: float) -> None:
        self._seconds += self._now() - mark

    def seconds(self) -> float:
        return self._seconds


class CudaEventTimer:
    """Sums the device time between pairs of CUDA events recorded on the current stream."""

    name = "CUDA events"

    def __init__(self) -> None:
        import torch

        self._event = lambda: torch.cuda.Event(enable_timing=True)
        self._pending: list[tuple[Any, Any]] = []
        self._seconds = 0.0

    def start(self) -> Any:
        event = self._event()
        event.record()
        return event

    def stop(self, mark: Any) -> None:
        end = self._event()
        end.record()
        self._pending.append((mark, end))
        # Pairs whose end has passed are read now (query() does not wait), so a long run holds
        # only the few the device has not reached yet.
        while self._pending and self._pending[0][1].query():
            self._add(*self._pending.pop(0))

    def _add(self, start: Any, end: Any) -> None:
        self._seconds += start.elapsed_time(end) / 1000.0  # elapsed_time is in milliseconds

    def seconds(self) -> float:
        for start, end in self._pending:
            end.synchronize()
            self._add(start, end)
        self._pending.clear()
        return self._seconds


def independent_timer(device: str) -> Timer:
    return CudaEventTimer() if device == "cuda" else HostTimer()


class AuditedClock:
    """`clock` for the training loop (every other attribute is the clock's), with each update also
    timed by `timer`."""

    def __init__(self, clock: TrainingClock, timer: Timer) -> None:
        self.clock = clock
        self.timer = timer
        self.updates = 0
        self._clock_before = clock.train_seconds  # a resumed clock starts above zero

    def __getattr__(self, name: str) -> Any:
        return getattr(self.clock, name)

    @contextmanager
    def training(self) -> Iterator[None]:
        with self.clock.training():
            mark = self.timer.start()
            try:
                yield
            finally:
                self.timer.stop(mark)
                self.updates += 1

    def check(self, goal: float = GOAL) -> dict:
        """The clock's seconds since this wrapper began against the timer's; a negative error means
        the clock missed time."""
        clock_seconds = self.clock.train_seconds - self._clock_before
        timed = self.timer.seconds()
        error = (clock_seconds - timed) / timed if timed > 0 else float("inf")
        return {"timer": self.timer.name, "updates": self.updates, "clock_seconds": clock_seconds,
                "timed_seconds": timed, "error": error, "goal": goal, "ok": abs(error) <= goal}


def run_updates(clock: TrainingClock, timer: Timer, update: Callable[[], None], evaluate: Callable[[], None],
                updates: int) -> dict:
    """`updates` rounds of one update under the clock and one evaluation outside it; the check."""
    audited = AuditedClock(clock, timer)
    for _ in range(updates):
        with audited.training():
            update()
        with audited.timed("eval"):
            evaluate()
    return audited.check()


def self_test(device: str, updates: int = 10) -> dict:
    """The check on a correct clock and a deliberately broken one; {'fault', 'correct', 'faulty',
    'caught'}, caught when the correct clock passes and the broken one fails.

    CUDA: updates queue ~20 ms of fp16 products without waiting (as an optimizer step does), each
    evaluation waits; the broken clock has no synchronisation. CPU: updates wait 10 ms for their
    batch (as on a data-loader worker) and compute a little; the broken clock reads process time.
    """
    if device == "cuda":
        update, evaluate = _queued_products()
        correct, faulty, fault = TrainingClock(sync=cuda_sync), TrainingClock(sync=None), "synchronisation off"
    else:
        update, evaluate = _waits_for_data(), (lambda: None)
        correct, faulty, fault = TrainingClock(), TrainingClock(now=time.process_time), "process-time clock"
    good = run_updates(correct, independent_timer(device), update, evaluate, updates)
    bad = run_updates(faulty, independent_timer(device), update, evaluate, updates)
    return {"fault": fault, "correct": good, "faulty": bad, "caught": good["ok"] and not bad["ok"]}


def _queued_products(update_seconds: float = 0.02, n: int = 4096) -> tuple[Callable[[], None], Callable[[], None]]:
    import torch

    a, b = (torch.randn(n, n, device="cuda", dtype=torch.float16) for _ in range(2))
    out = torch.empty_like(a)
    torch.matmul(a, b, out=out)  # warm-up: library handles and kernel choice
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(5):
        torch.matmul(a, b, out=out)
    torch.cuda.synchronize()
    one = (time.perf_counter() - start) / 5
    # Far below the launch queue's ~1000 entries, so the host never blocks on a full queue
    # (which would make even an unsynchronised clock charge most of the products).
    products = max(1, min(200, round(update_seconds / max(one, 1e-6))))

    def update() -> None:
        for _ in range(products):
            torch.matmul(a, b, out=out)

    return update, torch.cuda.synchronize


def _waits_for_data(wait_seconds: float = 0.01) -> Callable[[], None]:
    import torch

    a = torch.randn(64, 64)

    def update() -> None:
        time.sleep(wait_seconds)
        torch.mm(a, a)

    return update

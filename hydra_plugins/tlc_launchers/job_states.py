"""The state lines a launcher prints while it waits for its jobs, shared by every launcher here.

`states_line` formats `N jobs: a pending (Reason), b running, c finished, ...`; `StateLines`
decides when to print one: on every change of the counts, and otherwise as a heartbeat with the
elapsed time at most once per `heartbeat_s`, so a long wait stays visibly alive without filling
the terminal. `StallWatch` decides when jobs have waited too long with none of them running.
Pure functions of counts and a clock; must not import Ray, submitit or train_large.
"""
# No `from __future__ import annotations`: Hydra's plugin scan imports every module of this
# package before it is in sys.modules (see gpu_launcher.py).
import time
from typing import Callable, Dict, Mapping, Optional

PENDING, RUNNING = "pending", "running"
# Display order. A state key may carry its reason after the state, e.g. "pending (Resources)";
# it sorts with its state. Keys that match none of these come last, in the order given.
ORDER = (PENDING, RUNNING, "finished", "failed", "skipped", "running elsewhere")
HEARTBEAT_S = 60.0  # the most seconds between two lines while nothing changes


def _rank(state: str) -> int:
    matches = [i for i, known in enumerate(ORDER) if state == known or state.startswith(known + " (")]
    return matches[0] if matches else len(ORDER)


def states_line(counts: Mapping[str, int]) -> str:
    """`N jobs: 1 pending, 2 running, 3 finished`: every state with a non-zero count, in ORDER."""
    total = sum(counts.values())
    states = sorted((state for state, n in counts.items() if n), key=_rank)  # sorted() is stable
    return f"{jobs_text(total)}: " + ", ".join(f"{counts[state]} {state}" for state in states)


def jobs_text(n: int) -> str:
    return f"{n} job" if n == 1 else f"{n} jobs"


def elapsed_text(seconds: float) -> str:
    """`42 s`, `3 min 05 s`, `2 h 01 min`."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class StateLines:
    """When to print the state line: each time the counts change, else every `heartbeat_s` seconds.

    `clock`: seconds, monotonic (a fake one in tests). Elapsed time counts from construction.
    """

    def __init__(self, heartbeat_s: float = HEARTBEAT_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.heartbeat_s, self.clock = heartbeat_s, clock
        self.started = clock()
        self.last_counts: Optional[Dict[str, int]] = None
        self.last_at = self.started

    def update(self, counts: Mapping[str, int]) -> Optional[str]:
        """The line to print now for these counts, or None when it would repeat the last one too soon."""
        now = self.clock()
        counts = {state: n for state, n in counts.items() if n}
        if counts == self.last_counts and now - self.last_at < self.heartbeat_s:
            return None
        self.last_counts, self.last_at = counts, now
        return f"{states_line(counts)} ({elapsed_text(now - self.started)})"


class StallWatch:
    """When to report jobs that wait with none of them running.

    A stall starts when jobs are pending and none is running (at the first look, or when the last
    running one ends); it is reported after `after_s` seconds, then again each time its length
    doubles (2x, 4x, ...), so a long wait on a busy cluster is not a line a minute. `after_s` <= 0:
    never. While one of the sweep's jobs runs, the pending ones are queued behind their own
    sweep, which is no stall. `clock`: seconds, monotonic.
    """

    def __init__(self, after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after_s, self.clock = after_s, clock
        self.since: Optional[float] = None
        self.next_at = 0.0

    def due(self, pending: int, running: int) -> Optional[float]:
        """Seconds the stall has lasted when a report is due now, else None."""
        now = self.clock()
        if self.after_s <= 0 or pending == 0 or running > 0:
            self.since = None
            return None
        if self.since is None:
            self.since, self.next_at = now, now + self.after_s
        if now < self.next_at:
            return None
        self.next_at = self.since + 2 * (self.next_at - self.since)
        return now - self.since

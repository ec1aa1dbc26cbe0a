"""While a sweep waits, one state line per change of the job counts and a heartbeat at most once a
minute; a wait with jobs pending and none running is reported after `stall_after_s`, then at each
doubling. Fake clocks; no Ray started."""
from __future__ import annotations

from hydra_plugins.tlc_launchers.outcomes import StallWatch, StateLines, elapsed_text, states_line


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_states_line_orders_states_and_leaves_out_zeros():
    assert states_line({"finished": 3, "running": 2, "pending": 1, "failed": 0}) == \
        "6 jobs: 1 pending, 2 running, 3 finished"
    assert states_line({"running elsewhere": 1, "pending (Priority)": 2, "pending (Resources)": 1,
                        "skipped": 1}) == "5 jobs: 2 pending (Priority), 1 pending (Resources), 1 skipped, " \
                                          "1 running elsewhere"
    assert states_line({"running": 1}) == "1 job: 1 running"


def test_elapsed_text():
    assert [elapsed_text(s) for s in (0, 59.9, 65, 3600 + 61)] == ["0 s", "59 s", "1 min 05 s", "1 h 01 min"]


def test_a_line_per_change_and_a_heartbeat_at_most_once_a_minute():
    clock = FakeClock()
    lines = StateLines(heartbeat_s=60, clock=clock)
    seen = []
    for dt, counts in [(0, {"pending": 2}), (1, {"pending": 2}), (1, {"pending": 1, "running": 1}),
                       (30, {"pending": 1, "running": 1}), (29, {"pending": 1, "running": 1}),  # 59 s: quiet
                       (1, {"pending": 1, "running": 1}),  # 60 s unchanged: heartbeat
                       (5, {"running": 1, "finished": 1, "pending": 0}),  # change: at once
                       (0, {"running": 1, "finished": 1})]:  # same counts, a zero dropped: no line
        clock.now += dt
        seen.append(lines.update(counts))
    assert seen == ["2 jobs: 2 pending (0 s)", None, "2 jobs: 1 pending, 1 running (2 s)", None, None,
                    "2 jobs: 1 pending, 1 running (1 min 02 s)", "2 jobs: 1 running, 1 finished (1 min 07 s)",
                    None]


def test_stall_is_reported_after_the_threshold_then_at_each_doubling():
    clock = FakeClock()
    watch = StallWatch(after_s=60, clock=clock)
    reported = []
    for t in range(0, 500, 5):
        clock.now = 1000.0 + t
        waited = watch.due(pending=2, running=0)
        if waited is not None:
            reported.append(waited)
    assert reported == [60, 120, 240, 480]


def test_no_stall_while_a_job_runs_and_the_clock_restarts_when_it_ends():
    clock = FakeClock()
    watch = StallWatch(after_s=60, clock=clock)
    for t in range(0, 300, 5):  # queued behind our own running job: not a stall
        clock.now = 1000.0 + t
        assert watch.due(pending=3, running=1) is None
    clock.now += 5
    assert watch.due(pending=3, running=0) is None  # the running one ended: the stall starts now
    clock.now += 59
    assert watch.due(pending=3, running=0) is None
    clock.now += 1
    assert watch.due(pending=3, running=0) == 60
    assert StallWatch(after_s=0, clock=clock).due(pending=3, running=0) is None  # 0 = never
    assert watch.due(pending=0, running=0) is None  # nothing left to wait for

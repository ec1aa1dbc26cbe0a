"""The SLURM launcher's wait: job states from squeue snapshots, the lines it prints, and what it
hands back to Hydra, with fake jobs and a fake clock (no cluster, no submitit)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hydra.core.utils import JobReturn, JobStatus

from hydra_plugins.tlc_launchers import _slurm_launch
from hydra_plugins.tlc_launchers._slurm_launch import JobLost, job_return, sacct_warnings_dropped, wait
from hydra_plugins.tlc_launchers._slurm_launch import FAILED, FINISHED, Listed, QueueStates, parse_squeue


def snapshot(**states: str) -> dict[str, Listed]:
    """squeue's answer: job id (`a_0` for `<array>_0`) -> "STATE" or "STATE:Reason"."""
    listed = {}
    for job_id, text in states.items():
        state, _, reason = text.partition(":")
        listed[job_id.replace("a_", "7_")] = Listed(state, reason or "None")
    return listed


def test_squeue_lines_become_states_per_array_task():
    text = "7_0|PENDING|Resources\n7_1|RUNNING|None\n12|COMPLETED|None\nnot a line\n"
    assert parse_squeue(text) == {"7_0": Listed("PENDING", "Resources"), "7_1": Listed("RUNNING", "None"),
                                  "12": Listed("COMPLETED", "None")}


def test_pending_jobs_are_counted_by_their_reason():
    states = QueueStates(["7_0", "7_1", "7_2", "7_3"])
    states.observe(snapshot(a_0="PENDING:Resources", a_1="PENDING:Resources", a_2="PENDING:JobHeldUser",
                            a_3="RUNNING"), now=0)
    assert states.counts() == {"pending (Resources)": 2, "pending (JobHeldUser)": 1, "running": 1}


def test_a_job_pending_again_after_it_ran_counts_as_requeued():
    states = QueueStates(["7_0", "7_1"])
    seen = []
    for now, listed in enumerate([snapshot(a_0="PENDING:Priority", a_1="PENDING:Priority"),
                                  snapshot(a_0="RUNNING", a_1="RUNNING"),
                                  snapshot(a_0="PENDING:BeginTime", a_1="RUNNING"),  # scontrol requeue
                                  snapshot(a_0="RUNNING", a_1="COMPLETING")]):
        states.observe(listed, now)
        seen.append(states.counts())
    assert seen == [{"pending (Priority)": 2}, {"running": 2}, {"requeued": 1, "running": 1}, {"running": 2}]


def test_a_job_gone_from_the_queue_without_a_result_fails_only_after_the_grace():
    states = QueueStates(["7_0"])
    states.observe(snapshot(a_0="RUNNING"), now=0)
    states.observe({}, now=10)  # purged, or the listing missed it
    assert states.over_without_result(now=20, grace_s=30) == []
    states.observe(snapshot(a_0="PENDING:BeginTime"), now=25)  # it was only requeued
    assert states.over_without_result(now=60, grace_s=30) == [] and states.counts() == {"requeued": 1}
    states.observe(snapshot(a_0="CANCELLED"), now=61)
    assert states.counts() == {"cancelled": 1}
    assert states.over_without_result(now=91, grace_s=30) == ["7_0"]


@dataclass
class FakePaths:
    result_pickle: Path
    stderr: Path


@dataclass
class FakeJob:
    """The part of submitit's Job the wait uses; `returned` is what its result file holds."""

    job_id: str
    folder: Path
    returned: JobReturn | None = None
    num_tasks: int = 1
    paths: FakePaths = field(init=False)

    def __post_init__(self):
        self.paths = FakePaths(self.folder / f"{self.job_id}_result.pkl", self.folder / f"{self.job_id}.err")

    def task(self, index):
        return self

    def finish(self, status=JobStatus.COMPLETED):
        self.returned = JobReturn(overrides=[f"model.width={self.job_id}"], status=status, _return_value=1.0)
        self.paths.result_pickle.write_text("result")

    def results(self):
        assert self.paths.result_pickle.exists(), "submitit would wait (and call sacct) here"
        return [self.returned]


class Script:
    """squeue answers and job results, one step per poll, on a fake clock of `poll_s` per poll."""

    def __init__(self, steps, poll_s=5.0):
        self.steps, self.poll_s, self.now, self.polls = list(steps), poll_s, 0.0, 0

    def squeue(self):
        listed, then = self.steps[min(self.polls, len(self.steps) - 1)]
        then()
        self.polls += 1
        return listed

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert self.polls < 200, "the wait never ended"
        self.now += seconds


def run_wait(jobs, script, heartbeat_s=60.0, accounting=False):
    said = []
    states = wait(jobs, script.poll_s, heartbeat_s, squeue=script.squeue, accounting=lambda job_id: accounting,
                  clock=script.clock, sleep=script.sleep, say=said.append)
    return states, said


def nothing():
    pass


def counts_and_elapsed(line: str) -> tuple[str, str]:
    """`2 jobs: 1 running, 1 finished (2 min 35 s)` -> ("1 running, 1 finished", "2 min 35 s");
    the rest of the line is the plugin outcomes module's (tests/unit/test_ray_job_states.py)."""
    counts, _, elapsed = line.partition(": ")[2].rpartition(" (")
    return counts, elapsed.rstrip(")")


def test_the_wait_prints_each_change_once_and_a_heartbeat_while_nothing_changes(tmp_path):
    jobs = [FakeJob("7_0", tmp_path), FakeJob("7_1", tmp_path)]
    held = snapshot(a_0="PENDING:JobHeldUser", a_1="PENDING:Resources")
    steps = ([(held, nothing)] * 30  # 150 s held: two heartbeats
             + [(snapshot(a_0="RUNNING", a_1="RUNNING"), nothing),
                (snapshot(a_0="COMPLETED", a_1="RUNNING"), jobs[0].finish),
                (snapshot(a_0="COMPLETED", a_1="FAILED"), lambda: jobs[1].finish(JobStatus.FAILED))])
    states, said = run_wait(jobs, Script(steps))
    assert said[0] == _slurm_launch.NO_ACCOUNTING
    assert [counts_and_elapsed(line) for line in said[1:]] == [
        ("1 pending (JobHeldUser), 1 pending (Resources)", "0 s"),
        ("1 pending (JobHeldUser), 1 pending (Resources)", "1 min 00 s"),  # heartbeats
        ("1 pending (JobHeldUser), 1 pending (Resources)", "2 min 00 s"),
        ("2 running", "2 min 30 s"),
        ("1 running, 1 finished", "2 min 35 s"),
        ("1 finished, 1 failed", "2 min 40 s"),
    ]
    assert states.outcomes == {"7_0": FINISHED, "7_1": FAILED}
    assert [job_return(job, [], states).status for job in jobs] == [JobStatus.COMPLETED, JobStatus.FAILED]


def test_a_requeued_job_is_shown_then_followed_to_its_end(tmp_path):
    job = FakeJob("7_0", tmp_path)
    steps = [(snapshot(a_0="RUNNING"), nothing), (snapshot(a_0="PENDING:BeginTime"), nothing),
             (snapshot(a_0="RUNNING"), nothing), ({}, job.finish)]
    _, said = run_wait([job], Script(steps), accounting=True)
    assert [counts_and_elapsed(line)[0] for line in said] == ["1 running", "1 requeued", "1 running", "1 finished"]


def test_a_job_that_dies_without_a_result_fails_with_one_line_naming_its_log(tmp_path):
    jobs = [FakeJob("7_0", tmp_path), FakeJob("7_1", tmp_path)]
    steps = [(snapshot(a_0="RUNNING", a_1="RUNNING"), nothing),
             (snapshot(a_0="COMPLETED", a_1="OUT_OF_MEMORY"), jobs[0].finish)]
    script = Script(steps)
    states, said = run_wait(jobs, script, accounting=True)
    assert counts_and_elapsed(said[-1])[0] == "1 finished, 1 failed"
    assert script.now >= _slurm_launch.RESULT_GRACE_S  # it gave the result file time to appear
    lost = job_return(jobs[1], ["model.width=32"], states)
    assert lost.status == JobStatus.FAILED and lost.overrides == ["model.width=32"]
    assert isinstance(lost._return_value, JobLost)
    assert str(lost._return_value) == (f"SLURM job 7_1 ended without a result (last state OUT_OF_MEMORY); "
                                       f"its log: {tmp_path / '7_1.err'}")


def test_submitits_sacct_warnings_stay_off_the_terminal_while_waiting(caplog):
    submitit_log = logging.getLogger("submitit")
    with caplog.at_level(logging.WARNING, logger="submitit"):
        with sacct_warnings_dropped():
            submitit_log.warning("Call #3 - Bypassing sacct error Command '['sacct']' returned non-zero exit status 1.")
            submitit_log.warning("something else")
        submitit_log.warning("Call #4 - Bypassing sacct error after the wait")
    assert [r.getMessage() for r in caplog.records] == [
        "something else", "Call #4 - Bypassing sacct error after the wait"]


@pytest.mark.parametrize("failed", [False, True])
def test_a_failed_squeue_is_said_once_and_the_wait_goes_on(tmp_path, failed):
    job = FakeJob("7_0", tmp_path)
    calls = []

    def squeue():
        calls.append(1)
        if len(calls) == 3:
            job.finish()
        if failed:
            raise _slurm_launch.SqueueFailed("slurm_load_jobs error: Unable to contact slurm controller")
        return snapshot(a_0="RUNNING")

    script = Script([])
    said = []
    wait([job], 5.0, 60.0, squeue=squeue, accounting=lambda job_id: True, clock=script.clock,
         sleep=script.sleep, say=said.append)
    squeue_lines = [line for line in said if line.startswith("squeue failed")]
    assert len(squeue_lines) == (1 if failed else 0)
    assert counts_and_elapsed(said[-1])[0] == "1 finished"

"""What each job of a SLURM sweep is doing, read from `squeue`, counted for the state line.

`squeue` lists a job while it is pending or running, and for MinJobAge seconds after it ends.
`QueueStates` remembers across its snapshots what one snapshot cannot show: that a job pending
again after it ran was requeued (`scontrol requeue`, preemption, submitit's timeout requeue), and
how each job ended once its result file says so. The counts it gives (`2 pending (Resources),
1 running`) are printed by `job_states.StateLines`. Pure functions of text and a clock; must not
import submitit (`_slurm_launch` does the submitting and waiting). The leading underscore keeps
Hydra's plugin scan from importing it on every start (it holds no plugin).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

# squeue -o: job id (an array task as <array id>_<n>, with -r), state, why it is pending ("None"
# when it is not). `|` appears in none of them.
SQUEUE_FORMAT = "%i|%T|%r"
FINISHED, FAILED, REQUEUED, SUBMITTED = "finished", "failed", "requeued", "submitted"
RUNNING_STATES = frozenset({"RUNNING", "CONFIGURING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING"})
# Not running but not over either: the job will run (again) later.
WAITING_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD",
                            "SUSPENDED", "STOPPED"})
PENDING_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD"})


@dataclass(frozen=True)
class Listed:
    """One line of `squeue`."""

    state: str  # SLURM's job state: PENDING, RUNNING, COMPLETED, CANCELLED, ...
    reason: str  # why it is pending: Resources, Priority, JobHeldUser, ...; "None" when it is not


def parse_squeue(text: str) -> dict[str, Listed]:
    """{job id: Listed} from `squeue -h -r -o SQUEUE_FORMAT` output; malformed lines are skipped."""
    listed = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) == 3 and fields[0]:
            listed[fields[0]] = Listed(state=fields[1].upper(), reason=fields[2])
    return listed


class QueueStates:
    """The state of each job of a sweep across `squeue` snapshots.

    A job is *over* once `squeue` shows it in a final state (COMPLETED, CANCELLED, ...) or no longer
    lists it; its result file then says whether it finished or failed (`settle`). Times are
    seconds from any monotonic clock.
    """

    def __init__(self, job_ids: Sequence[str]) -> None:
        self.job_ids = list(job_ids)
        self.listed: dict[str, Listed] = {}
        self.ran: set[str] = set()  # jobs seen running: pending again means requeued
        self.over_since: dict[str, float] = {}  # when each over job was first seen over
        self.outcomes: dict[str, str] = {}  # FINISHED | FAILED, from the job's result

    def observe(self, listed: Mapping[str, Listed], now: float) -> None:
        """Take in one `squeue` snapshot (every job of the user, or just these)."""
        for job_id in self.job_ids:
            entry = listed.get(job_id)
            if entry is not None:
                self.listed[job_id] = entry
                if entry.state in RUNNING_STATES:
                    self.ran.add(job_id)
            if entry is None or not (entry.state in RUNNING_STATES or entry.state in WAITING_STATES):
                self.over_since.setdefault(job_id, now)
            else:
                self.over_since.pop(job_id, None)  # listed again: it was requeued

    def settle(self, job_id: str, outcome: str) -> None:
        """Record how a job ended (FINISHED or FAILED), as its result file says."""
        self.outcomes[job_id] = outcome

    def unsettled(self) -> list[str]:
        return [job_id for job_id in self.job_ids if job_id not in self.outcomes]

    def over_without_result(self, now: float, grace_s: float) -> list[str]:
        """Jobs over for at least `grace_s` seconds whose result has not appeared: they died
        outside Python (cancelled, out of memory, node failure) and never will have one."""
        return [job_id for job_id in self.unsettled()
                if job_id in self.over_since and now - self.over_since[job_id] >= grace_s]

    def last_state(self, job_id: str) -> str | None:
        """The state `squeue` last showed for this job, or None if it never listed it."""
        entry = self.listed.get(job_id)
        return entry.state if entry else None

    def state_of(self, job_id: str) -> str:
        """`finished`, `failed`, `running`, `pending (Resources)`, `requeued`, or SLURM's state in
        lower case (`cancelled` while its result is awaited, `suspended`)."""
        if job_id in self.outcomes:
            return self.outcomes[job_id]
        entry = self.listed.get(job_id)
        if entry is None:
            return SUBMITTED
        if entry.state in RUNNING_STATES:
            return "running"
        if entry.state in PENDING_STATES:
            if job_id in self.ran:
                return REQUEUED
            return "pending" if entry.reason in ("", "None") else f"pending ({entry.reason})"
        return entry.state.lower()

    def counts(self) -> dict[str, int]:
        """{state: number of jobs}, states in the order their first job has them."""
        counts: dict[str, int] = {}
        for job_id in self.job_ids:
            state = self.state_of(job_id)
            counts[state] = counts.get(state, 0) + 1
        return counts

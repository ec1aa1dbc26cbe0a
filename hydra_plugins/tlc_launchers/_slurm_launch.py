"""The launch of `hydra/launcher=slurm`: submit the sweep as one job array (as hydra-submitit-launcher
does, whose `launch` also waits, but with a refused `sbatch` as one line), then wait, saying what its
jobs are doing. Imports submitit; must not import train_large (it launches any Hydra task).

Waiting is our own: submitit asks `sacct` about a job without a result file, which fails with a
warning per call where the cluster keeps no accounting (no slurmdbd), and waits forever for a job that
died without a result (cancelled, out of memory). Here `squeue` gives the states, the result file how
a job ended, and a job gone from the queue without one fails after RESULT_GRACE_S.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.errors import CompactHydraException
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf

from .outcomes import FAILED, FINISHED, PENDING, RUNNING, StateLines, jobs_text, refuse

log = logging.getLogger(__name__)

# Seconds a job gone from the queue may take to show its result file: a shared filesystem can lag
# (submitit itself waits 15 s for it) and a preempted job may sit in PREEMPTED before it is requeued.
RESULT_GRACE_S = 30.0
COMMAND_TIMEOUT_S = 30  # squeue or sacct taking longer than this counts as a failed call
SACCT_WARNING = "Bypassing sacct error"  # in submitit's warning on every failed sacct call
NO_ACCOUNTING = ("this cluster keeps no job accounting (sacct failed), so submitit cannot follow the jobs: "
                 "their states come from squeue")
# squeue -o: job id (an array task as <array id>_<n>, with -r), state, why it is pending ("None"
# when it is not). `|` appears in none of them.
SQUEUE_FORMAT = "%i|%T|%r"
RUNNING_STATES = frozenset({"RUNNING", "CONFIGURING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING"})
PENDING_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD"})
WAITING_STATES = PENDING_STATES | {"SUSPENDED", "STOPPED"}  # not over: the job will run (again) later


class JobLost(CompactHydraException):
    """A job ended without a result (cancelled, out of memory, node failure); Hydra prints its one line."""


class SqueueFailed(RuntimeError):
    """`squeue` could not answer; the message is its first line of error."""


@dataclass(frozen=True)
class Listed:
    """One line of `squeue`."""
    state: str  # SLURM's job state: PENDING, RUNNING, COMPLETED, CANCELLED, ...
    reason: str  # why it is pending: Resources, Priority, JobHeldUser, ...; "None" when it is not


class QueueStates:
    """Each job's state across `squeue` snapshots: pending again after it ran means requeued. A job is
    *over* once `squeue` shows a final state (COMPLETED, CANCELLED, ...) or no longer lists it (MinJobAge
    seconds after it ends). Times: seconds, any monotonic clock."""

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

    def unsettled(self) -> list[str]:
        return [job_id for job_id in self.job_ids if job_id not in self.outcomes]

    def over_without_result(self, now: float, grace_s: float) -> list[str]:
        """Jobs over for at least `grace_s` seconds whose result has not appeared: they died
        outside Python (cancelled, out of memory, node failure) and never will have one."""
        return [job_id for job_id in self.unsettled()
                if job_id in self.over_since and now - self.over_since[job_id] >= grace_s]

    def state_of(self, job_id: str) -> str:
        """`finished`, `failed`, `running`, `pending (Resources)`, `requeued`, `submitted` (not yet
        listed), or SLURM's state in lower case (`cancelled` while its result is awaited)."""
        if job_id in self.outcomes:
            return self.outcomes[job_id]
        entry = self.listed.get(job_id)
        if entry is None:
            return "submitted"
        if entry.state in RUNNING_STATES:
            return RUNNING
        if entry.state in PENDING_STATES:
            if job_id in self.ran:
                return "requeued"
            return PENDING if entry.reason in ("", "None") else f"{PENDING} ({entry.reason})"
        return entry.state.lower()

    def counts(self) -> dict[str, int]:
        return Counter(self.state_of(job_id) for job_id in self.job_ids)


def parse_squeue(text: str) -> dict[str, Listed]:
    """{job id: Listed} from `squeue -h -r -o SQUEUE_FORMAT` output; malformed lines are skipped."""
    listed = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) == 3 and fields[0]:
            listed[fields[0]] = Listed(state=fields[1].upper(), reason=fields[2])
    return listed


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    """Submit, wait, and return each job's JobReturn in order.

    Raises:
        SystemExit: status 2 when sbatch refuses the array or is not on PATH (after one line on stderr).
        submitit.core.utils.FailedJobError: a job failed outside Hydra's job wrapper (as the base does).
    """
    jobs = submit(launcher, job_overrides, initial_job_idx)
    with sacct_warnings_dropped():
        states = wait(jobs, launcher.poll_s, launcher.heartbeat_s)
        return [job_return(job, overrides, states) for job, overrides in zip(jobs, job_overrides)]


def submit(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[Any]:
    import submitit
    from submitit.core.utils import FailedJobError

    params = dict(launcher.params)  # mapped as hydra-submitit-launcher maps them
    executor = submitit.AutoExecutor(cluster="slurm", folder=params.pop("submitit_folder"),
                                     slurm_max_num_timeout=params.pop("max_num_timeout"))
    generic = set(OmegaConf.structured(BaseQueueConf).keys())  # AutoExecutor's names; others take the slurm_ prefix
    executor.update_parameters(**{key if key in generic else f"slurm_{key}": value for key, value in params.items()})
    sweep = launcher.config.hydra.sweep
    sweep_dir = Path(str(sweep.dir))
    log.info(f"Submitit 'slurm' sweep output dir : {sweep_dir}")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    if "mode" in sweep:
        os.chmod(sweep_dir, mode=int(str(sweep.mode), 8))
    calls = []
    for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        calls.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()))
    # submitit prints sbatch's stderr, then raises an error that carries it: show it once, as one line.
    printed = io.StringIO()
    try:
        with contextlib.redirect_stderr(printed):
            jobs = executor.map_array(launcher, *zip(*calls))
    except FailedJobError as err:
        refuse(f"sbatch refused the sweep: {sbatch_message(err)}")
    except FileNotFoundError as err:
        if err.filename != "sbatch":
            raise
        refuse("cannot submit the sweep: sbatch is not on PATH (run tlc-* where SLURM's commands are)")
    sys.stderr.write(printed.getvalue())
    arrays = sorted({job.job_id.partition("_")[0] for job in jobs})
    log.info(f"submitted {jobs_text(len(jobs))} as SLURM job {', '.join(arrays)}")
    return jobs


def sbatch_message(err: BaseException) -> str:
    """SLURM's reason from sbatch's stderr, which submitit's error carries: its first `fatal:` line
    (after a missing config, the lines before it are the lookups that failed), else its first line."""
    cause = err.__cause__
    text = (cause.stderr or cause.output or "") if isinstance(cause, subprocess.CalledProcessError) else str(err)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fatal = [line for line in lines if ": fatal:" in line]
    return (fatal or lines or [type(err).__name__])[0]


def read_squeue() -> dict[str, Listed]:
    """This user's jobs, recently ended ones included (`--me`, not `-j <ids>`, which fails when
    SLURM has forgotten one of them).

    Raises:
        SqueueFailed: squeue is missing, timed out or exited non-zero.
    """
    command = ["squeue", "--me", "--noheader", "--array", "--states=all", f"--format={SQUEUE_FORMAT}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SqueueFailed(str(err)) from err
    if done.returncode != 0:
        raise SqueueFailed(next((line for line in done.stderr.splitlines() if line.strip()),
                                f"exit status {done.returncode}"))
    return parse_squeue(done.stdout)


def accounting_works(job_id: str) -> bool:
    """Whether `sacct` answers for this job, i.e. the cluster keeps job accounting (slurmdbd)."""
    try:
        done = subprocess.run(["sacct", "--noheader", "--parsable2", "--allocations", "--format=JobID", "-j", job_id],
                              capture_output=True, timeout=COMMAND_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def wait(jobs: Sequence[Any], poll_s: float, heartbeat_s: float, *,
         squeue: Callable[[], dict[str, Listed]] = read_squeue, accounting: Callable[[str], bool] = accounting_works,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
         say: Callable[[str], None] = log.info) -> QueueStates:
    """Poll every `poll_s` seconds until every job has a result or has been gone from the queue for
    RESULT_GRACE_S, saying the jobs' states on each change and at least every `heartbeat_s` seconds."""
    job_ids = [job.job_id for job in jobs]
    by_id = dict(zip(job_ids, jobs))
    if not accounting(job_ids[0]):
        say(NO_ACCOUNTING)
    states, lines = QueueStates(job_ids), StateLines(heartbeat_s, clock)
    squeue_failed = False
    while True:
        now = clock()
        try:
            states.observe(squeue(), now)
            squeue_failed = False
        except SqueueFailed as err:
            if not squeue_failed:  # once per outage, not once per poll
                say(f"squeue failed ({err}); the states below are its last answer")
            squeue_failed = True
        for job_id in states.unsettled():
            if outcome := outcome_of(by_id[job_id]):
                states.outcomes[job_id] = outcome
        for job_id in states.over_without_result(now, RESULT_GRACE_S):
            states.outcomes[job_id] = FAILED
        if line := lines.update(states.counts()):
            say(line)
        if not states.unsettled():
            return states
        sleep(poll_s)


@contextlib.contextmanager
def sacct_warnings_dropped() -> Iterator[None]:
    """Keep submitit's warning on every failed sacct call off the terminal: `wait` says it once."""
    submitit_log = logging.getLogger("submitit")

    def keep(record: logging.LogRecord) -> bool:
        return SACCT_WARNING not in record.getMessage()

    submitit_log.addFilter(keep)
    try:
        yield
    finally:
        submitit_log.removeFilter(keep)


def has_result(job: Any) -> bool:
    return all(job.task(i).paths.result_pickle.exists() for i in range(job.num_tasks))


def outcome_of(job: Any) -> str | None:
    """FINISHED or FAILED once the job has its result, from what it returned; None before."""
    if not has_result(job):
        return None
    try:
        returned = job.results()[0]
    except Exception:  # noqa: BLE001 - the job raised outside Hydra's job wrapper: submitit re-raises it
        return FAILED
    return FINISHED if returned.status == JobStatus.COMPLETED else FAILED


def job_return(job: Any, overrides: Sequence[str], states: QueueStates) -> JobReturn:
    """What the job returned, as submitit reads it (its error raised, as hydra-submitit-launcher lets
    it be); a job without a result fails with one line naming its last state and its log."""
    if has_result(job):
        return job.results()[0]
    state = states.listed[job.job_id].state if job.job_id in states.listed else "unknown"
    error = JobLost(f"SLURM job {job.job_id} ended without a result (last state {state}); its log: {job.paths.stderr}")
    return JobReturn(overrides=list(overrides), status=JobStatus.FAILED, _return_value=error)

"""The launch of `hydra/launcher=slurm`: submit the sweep as one job array, wait for it while saying
what its jobs are doing, and return what each job returned.

Submitting repeats hydra-submitit-launcher's, parameter for parameter (its `launch` submits and
waits in one method, so there is no submitting half to call), except that a refused `sbatch`
stops the command with sbatch's own message. Waiting is new: submitit asks `sacct` about a job
that has no result file yet; a cluster without accounting (no slurmdbd) answers every call with an
error that submitit logs as a warning, and a job that died without a result (cancelled, out of
memory) then keeps the sweep waiting forever. Here `squeue` gives the states (`_slurm_queue`), a
job's result file says how it ended, and a job gone from the queue without one fails after
RESULT_GRACE_S. Imports submitit, so only a launch loads it; must not import train_large (it
launches any Hydra task).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.errors import CompactHydraException
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf

from .job_states import StateLines
from ._slurm_queue import FAILED, FINISHED, SQUEUE_FORMAT, Listed, QueueStates, parse_squeue

log = logging.getLogger(__name__)

# Seconds a job gone from the queue may take to show its result file: a shared filesystem can lag
# (submitit itself waits 15 s for it) and a preempted job may sit in PREEMPTED before it is requeued.
RESULT_GRACE_S = 30.0
COMMAND_TIMEOUT_S = 30  # squeue or sacct taking longer than this counts as a failed call
SACCT_WARNING = "Bypassing sacct error"  # in submitit's warning on every failed sacct call
NO_ACCOUNTING = ("this cluster keeps no job accounting (sacct failed), so submitit cannot follow the jobs: "
                 "their states come from squeue")


class JobLost(CompactHydraException):
    """A job ended without a result (cancelled, out of memory, node failure); Hydra prints its one line."""


class SqueueFailed(RuntimeError):
    """`squeue` could not answer; the message is its first line of error."""


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    """Submit, wait, and return each job's JobReturn in order, as hydra-submitit-launcher does.

    Raises:
        SystemExit: status 2 when sbatch refuses the array (after one line on stderr).
        submitit.core.utils.FailedJobError: a job failed outside Hydra's job wrapper (as the base does).
    """
    jobs = submit(launcher, job_overrides, initial_job_idx)
    with sacct_warnings_dropped():
        states = wait(jobs, launcher.poll_s, launcher.heartbeat_s)
        return [job_return(job, overrides, states) for job, overrides in zip(jobs, job_overrides)]


def submit(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[Any]:
    """One SLURM job per override list, as one array; returns submitit's jobs.

    Raises:
        SystemExit: status 2 when sbatch refuses the array, or is not on PATH.
    """
    from submitit.core.utils import FailedJobError

    executor = _executor(launcher.params)
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
    log.info(f"submitted {len(jobs)} job{'s' if len(jobs) != 1 else ''} as SLURM job {', '.join(arrays)}")
    return jobs


def _executor(params: dict[str, Any]) -> Any:
    """submitit's SLURM executor with the launcher's settings, mapped as hydra-submitit-launcher maps them."""
    import submitit

    params = dict(params)
    executor = submitit.AutoExecutor(cluster="slurm", folder=params.pop("submitit_folder"),
                                     slurm_max_num_timeout=params.pop("max_num_timeout"))
    generic = set(OmegaConf.structured(BaseQueueConf).keys())  # AutoExecutor's names; others take the slurm_ prefix
    executor.update_parameters(**{key if key in generic else f"slurm_{key}": value for key, value in params.items()})
    return executor


def refuse(line: str) -> NoReturn:
    """Stop as the command stops on any bad input: `<command>: error: <line>` on stderr, exit status 2.

    SystemExit rather than an exception: Hydra prints an Exception with a stack-trace hint and exits 1.
    """
    print(f"{Path(sys.argv[0]).name}: error: {line}", file=sys.stderr)
    raise SystemExit(2)


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
    """This user's jobs, recently ended ones included, one line per array task.

    `--me`, not `-j <ids>`: given one id that SLURM has already forgotten, `-j` fails.

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
    """Poll until every job has a result or has been gone from the queue for RESULT_GRACE_S, saying
    the jobs' states (`say`) on each change and at most every `heartbeat_s` seconds otherwise.

    `poll_s`: seconds between two polls. `squeue()`: the user's jobs as squeue lists them;
    `accounting(job id)`: whether sacct answers; `clock`: seconds, monotonic.
    """
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
            outcome = outcome_of(by_id[job_id])
            if outcome:
                states.settle(job_id, outcome)
        for job_id in states.over_without_result(now, RESULT_GRACE_S):
            states.settle(job_id, FAILED)
        line = lines.update(states.counts())
        if line:
            say(line)
        if not states.unsettled():
            return states
        sleep(poll_s)


@contextlib.contextmanager
def sacct_warnings_dropped() -> Iterator[None]:
    """Keep submitit's "Bypassing sacct error" warnings (one per failed sacct call) off the terminal;
    `wait` says once that the cluster keeps no accounting instead."""
    submitit_log = logging.getLogger("submitit")

    def keep(record: logging.LogRecord) -> bool:
        return SACCT_WARNING not in record.getMessage()

    submitit_log.addFilter(keep)
    try:
        yield
    finally:
        submitit_log.removeFilter(keep)


def has_result(job: Any) -> bool:
    """Whether every task of the job has written its result file (which submitit reads)."""
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
    state = states.last_state(job.job_id) or "unknown"
    error = JobLost(f"SLURM job {job.job_id} ended without a result (last state {state}); its log: {job.paths.stderr}")
    return JobReturn(overrides=list(overrides), status=JobStatus.FAILED, _return_value=error)

"""One batch of a `hydra/launcher=gpus` sweep on Ray: start or join Ray, refuse a job no node can
hold (Ray would wait for it forever), run each job in a fresh worker, log the jobs' states until all
are over, then a summary. Must not import train_large: it launches any Hydra task.

Each job is a streaming generator (`run_one`) that yields STARTED once its worker begins it, then its
JobReturn, so the driver sees jobs start without Ray's state API (it needs the dashboard, left off
here: `ray.util.state.list_tasks` then raises ServerUnavailable on Ray 2.60).

A job that raises, exits or whose worker dies is FAILED and never stops the others. Hydra 1.3.2's
BasicSweeper raises for a FAILED return (exit status 1) only after the launcher returns the batch,
by default the whole sweep; with `max_batch_size` set, later batches must still run, so failed
returns go back as COMPLETED (value None) and only the summary shows the failures.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import pickle
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import ray
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from omegaconf import DictConfig, OmegaConf, open_dict

from .outcomes import (FAILED, PENDING, RESULT_FILE, RUNNING, JobOutcome, StallWatch, StateLines, failed_return,
                       first_line, outcome_of, refuse, run_dir_of, running_elsewhere, summary_lines)
from .ray_resources import CPU_SLOT, job_request, request_settings, stall_line, unfit_line

log = logging.getLogger(__name__)

# hydra-ray-launcher's value: jobs pass only configs and JobReturns through the object store,
# and Ray's default (30% of RAM in /dev/shm) fails in small containers (ray-project/ray#11966).
OBJECT_STORE_BYTES = 75 * 1024 * 1024
# Ray's own messages at warning and above only. Jobs' console output stays in their workers: every
# job logs to its run's train.log, and Ray keeps each worker's stdout/stderr under
# /tmp/ray/session_latest/logs; +hydra.launcher.ray.init.log_to_driver=true interleaves it here.
QUIET_INIT = {"include_dashboard": False, "logging_level": "warning", "log_to_driver": False}
STARTED = "started"  # what a job's generator yields first, from inside its worker
TICK_S = 5.0  # the longest ray.wait between two looks at the clock (heartbeat, stall report)


@dataclasses.dataclass(frozen=True)
class Job:
    index: int  # Hydra's job number in the sweep
    overrides: list[str]
    run_dir: Path
    finished_before: bool  # its result.json existed before the launch


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    """Run every job of the batch on Ray; return their JobReturns in order.

    Raises:
        SystemExit: status 2, after one `<command>: error:` line, when no node can hold one job.
    """
    setup_globals()
    config = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    started_here = not ray.is_initialized()
    resources = start_ray(launcher)
    given = OmegaConf.to_container(launcher.ray_cfg.remote, resolve=True)  # hydra.launcher.ray.remote
    options = remote_options(launcher, resources, given)
    request = job_request(options)
    settings = request_settings(given, launcher.cpus_per_job, launcher.gpus_per_job)
    if refused := unfit_line(request, settings, alive_nodes()):
        if started_here:
            ray.shutdown()
        refuse(refused)
    sweep_dir, since = Path(str(config.hydra.sweep.dir)), time.time()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    log.info("launching %d jobs on Ray (%s) with %s; sweep dir %s", len(job_overrides),
             ", ".join(f"{k}={v:g}" for k, v in sorted(resources.items()) if "node:" not in k and "memory" not in k),
             options, sweep_dir)
    gens, jobs = submit(launcher, options, job_overrides, initial_job_idx)

    def report_stall(waited_s: float) -> None:
        log.warning(stall_line(request, waited_s, ray.available_resources(), ray.cluster_resources(),
                               alive_nodes(), settings))

    returns, outcomes = wait_all(gens, jobs, lambda run_dir: running_elsewhere(sweep_dir, since).get(run_dir.name),
                                 StallWatch(launcher.stall_after_s), report_stall)
    log.log(logging.ERROR if any(o.status == FAILED for o in outcomes) else logging.INFO,
            "sweep summary: %s", "\n".join(summary_lines(outcomes)))
    if OmegaConf.select(config, "hydra.sweeper.max_batch_size", default=None) is not None:
        returns = [dataclasses.replace(ret, status=JobStatus.COMPLETED, _return_value=None)
                   if ret.status == JobStatus.FAILED else ret for ret in returns]
    return returns


def submit(launcher: Any, options: dict, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int) -> tuple[list, list[Job]]:
    """Submit every job as a Ray streaming generator; return the generators and what each job is."""
    config, context = launcher.config, launcher.hydra_context
    run_remote = ray.remote(**{**options, "num_returns": "streaming"})(run_one)
    gens, jobs = [], []
    for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
        sweep_config = context.config_loader.load_sweep_config(config, list(overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"job_id_for_{idx}"
            sweep_config.hydra.job.num = idx
        HydraConfig.instance().set_config(sweep_config)  # the run dir interpolates ${hydra:...}
        run_dir = run_dir_of(sweep_config)
        jobs.append(Job(idx, list(overrides), run_dir, (run_dir / RESULT_FILE).is_file()))
        gens.append(run_remote.remote(context, sweep_config, launcher.task_function, Singleton.get_state(),
                                      os.getcwd()))
        log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
    HydraConfig.instance().set_config(config)
    return gens, jobs


def wait_all(gens: Sequence[Any], jobs: Sequence[Job], holder: Callable[[Path], Optional[str]], stall: StallWatch,
             report_stall: Callable[[float], None]) -> tuple[list[JobReturn], list[JobOutcome]]:
    """Every job's JobReturn (FAILED where its worker died) and outcome, in launch order, logging the
    state lines meanwhile. `holder(run_dir)`: who holds the run, if the job found it held."""
    states = [PENDING] * len(jobs)
    returns: list[Optional[JobReturn]] = [None] * len(jobs)
    outcomes: list[Optional[JobOutcome]] = [None] * len(jobs)
    lines, waiting = StateLines(), list(range(len(jobs)))
    while True:
        counts = Counter(states)
        if line := lines.update(counts):
            log.info(line)
        if (waited := stall.due(counts[PENDING], counts[RUNNING])) is not None:
            report_stall(waited)
        if not waiting:
            return returns, outcomes  # type: ignore[return-value]
        for i in ready(gens, waiting):
            job = jobs[i]
            try:
                item = ray.get(next(gens[i]))
            except (ray.exceptions.RayError, StopIteration) as err:  # worker crashed or was killed
                error = err if isinstance(err, ray.exceptions.RayError) else RuntimeError("ended without a result")
                item = failed_return(job.overrides, job.run_dir, error)
            if item == STARTED:
                states[i] = RUNNING
                continue
            returns[i] = item
            outcomes[i] = outcome_of(job.index, " ".join(filter_overrides(job.overrides)), job.run_dir,
                                     job.finished_before, item, holder=holder(job.run_dir))
            states[i] = outcomes[i].status  # type: ignore[union-attr]
            waiting.remove(i)


def ready(gens: Sequence[Any], waiting: list[int]) -> list[int]:
    """The waiting jobs with something new to read: at least one, unless TICK_S passes first."""
    first, rest = ray.wait([gens[i] for i in waiting], num_returns=1, timeout=TICK_S)
    if not first:
        return []
    more, _ = ray.wait(rest, num_returns=len(rest), timeout=0) if rest else ([], [])
    found = {id(gen) for gen in first + more}
    return [i for i in waiting if id(gens[i]) in found]


def start_ray(launcher: Any) -> dict:
    """Join the configured cluster, or start Ray here; return the cluster's resources."""
    if not ray.is_initialized():
        address = launcher.address or os.environ.get("RAY_ADDRESS")
        kwargs: dict = dict(QUIET_INIT)
        if address:
            kwargs["address"] = address  # a running cluster's resources cannot be redeclared
        else:
            # "local" starts a new Ray even if one from another sweep is running on this machine.
            # CPUs: cpu_slots jobs at once even on fewer cores, but never more CPUs for one job than
            # this machine has, so such a job is refused rather than run on OMP threads it lacks.
            cores = os.cpu_count() or 1
            kwargs.update(address="local", resources={CPU_SLOT: launcher.cpu_slots},
                          num_cpus=max(cores, launcher.cpu_slots * min(launcher.cpus_per_job, cores)),
                          object_store_memory=OBJECT_STORE_BYTES)
            if launcher.num_gpus is not None:
                kwargs["num_gpus"] = launcher.num_gpus
        kwargs.update(OmegaConf.to_container(launcher.ray_cfg.init, resolve=True))
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report and no prompt about it
        ray.init(**kwargs)
    return ray.cluster_resources()


def remote_options(launcher: Any, resources: dict, given: Any) -> dict:
    """ray.remote options for every job: `gpus_per_job` GPUs where the cluster has GPUs (Ray sets each
    job's CUDA_VISIBLE_DEVICES), else one CPU_SLOT where it has them; CPUs; a fresh process; then
    `given` (hydra.launcher.ray.remote)."""
    # max_calls=1: a fresh worker per job, so no CUDA context, process group or module state
    # outlives its job; max_retries=0: a crashed job is reported, not silently run again.
    on_gpus = resources.get("GPU", 0) > 0 and launcher.gpus_per_job > 0
    options: dict = {"max_calls": 1, "max_retries": 0, "num_cpus": launcher.cpus_per_job,
                     "num_gpus": launcher.gpus_per_job if on_gpus else 0}
    if not on_gpus and resources.get(CPU_SLOT, 0) > 0:
        options["resources"] = {CPU_SLOT: 1}
    options.update(given)
    return options


def alive_nodes() -> list[dict]:
    """Each alive node's total resources."""
    return [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]


class _StderrTail(io.TextIOBase):
    """sys.stderr that also remembers its last non-empty line (tlc-train's one-line error)."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.last_line = stream, ""

    def write(self, text: str) -> int:
        lines = [line for line in text.splitlines() if line.strip()]
        if lines:
            self.last_line = lines[-1].strip()
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()


def run_one(hydra_context: Any, sweep_config: DictConfig, task_function: Any, singleton_state: dict,
            cwd: str) -> Iterator[Any]:
    """One job in a fresh Ray worker: yield STARTED, run the job through Hydra's launcher API with
    the driver's Hydra state, as Hydra's own launchers do, and yield its JobReturn (an exit is FAILED)."""
    yield STARTED
    if os.path.isdir(cwd):  # relative paths in the config mean what they meant to the driver
        os.chdir(cwd)
    tail = _StderrTail(sys.stderr)
    try:
        with contextlib.redirect_stderr(tail):
            setup_globals()
            Singleton.set_state(singleton_state)
            HydraConfig.instance().set_config(sweep_config)
            ret = run_job(hydra_context=hydra_context, task_function=task_function, config=sweep_config,
                          job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
    except SystemExit as exit_:  # must not end the worker with the job's failure unreported
        message = tail.last_line or f"exited with status {exit_.code}"
        ret = failed_return(list(sweep_config.hydra.overrides.task), run_dir_of(sweep_config),
                            RuntimeError(message))
    if ret.status == JobStatus.FAILED:
        ret._return_value = _portable(ret._return_value)
    yield ret


def _portable(error: Any) -> Any:
    """The error itself if it survives pickling to the driver, else a RuntimeError with its first line."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - any exception type can refuse to pickle
        return RuntimeError(first_line(error))

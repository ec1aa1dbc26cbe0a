"""Launching one batch of a sweep on Ray: start or join Ray, check that a node can hold one job,
run every job in a fresh worker process, wait for all of them whatever happens to each (_ray_wait
logs their states meanwhile), then log a summary.

Placement: with GPUs in the cluster each job asks for `gpus_per_job` GPUs, so Ray runs as many
at once as the GPUs allow and gives each its own CUDA_VISIBLE_DEVICES; without GPUs each job
takes one `cpu_slot` (a custom resource a Ray started here declares `cpu_slots` of). A request no
alive node can hold (Ray would wait for it forever) stops the command with one line, exit status 2.

Failures: a job that raises, calls sys.exit or whose worker dies (killed, out of memory) is
recorded as FAILED and never stops the others. Hydra 1.3.2's BasicSweeper reads each JobReturn's
`return_value` only after the launcher returns the whole batch, and that raises for a FAILED one,
ending the sweep with exit status 1. With its default `max_batch_size: null` the batch is the
whole sweep, so every job has run by then and the failure is reported as it should be. When
batches are set, later batches still have to run: the failed returns are then handed back as
COMPLETED (value None) and the failures are known from the summary only.
Must not import train_large: it launches any Hydra task.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import ray
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from omegaconf import DictConfig, OmegaConf, open_dict

from .outcomes import (JobOutcome, failed_return, first_line, outcome_of, run_dir_of, running_elsewhere, summary_lines,
                       was_finished)
from .ray_resources import CPU_SLOT, job_request, request_settings, stall_line, unfit_line
from ._ray_wait import STARTED, Job, StallWatch, wait_all

log = logging.getLogger(__name__)

# hydra-ray-launcher's value: jobs pass only configs and JobReturns through the object store,
# and Ray's default (30% of RAM in /dev/shm) fails in small containers (ray-project/ray#11966).
OBJECT_STORE_BYTES = 75 * 1024 * 1024
# Ray's own messages at warning and above only. Jobs' console output stays in their workers: every
# job logs to its run's train.log, and Ray keeps each worker's stdout/stderr under
# /tmp/ray/session_latest/logs; +hydra.launcher.ray.init.log_to_driver=true interleaves it here.
QUIET_INIT = {"include_dashboard": False, "logging_level": "warning", "log_to_driver": False}


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    """Run every job of the batch on Ray; return their JobReturns in order (see the module doc).

    Raises:
        SystemExit: status 2, after one `<command>: error:` line, when no node can hold one job.
    """
    setup_globals()
    config = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    started_here = not ray.is_initialized()
    resources = start_ray(launcher)
    options = remote_options(launcher, resources)
    request = job_request(options)
    settings = request_settings(options_given(launcher), launcher.cpus_per_job, launcher.gpus_per_job)
    refused = unfit_line(request, settings, alive_nodes())
    if refused:
        stop(refused, shutdown=started_here)
    sweep_dir, since = Path(str(config.hydra.sweep.dir)), time.time()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    log.info("launching %d jobs on Ray (%s) with %s; sweep dir %s", len(job_overrides),
             ", ".join(f"{k}={v:g}" for k, v in sorted(resources.items()) if "node:" not in k and "memory" not in k),
             options, sweep_dir)
    gens, jobs = submit(launcher, options, job_overrides, initial_job_idx)

    def classify(job: Job, ret: Optional[JobReturn], error: Optional[BaseException]) -> JobOutcome:
        holder = running_elsewhere(sweep_dir, since).get(job.run_dir.name) if ret is not None else None
        return outcome_of(job.index, " ".join(filter_overrides(job.overrides)), job.run_dir, job.finished_before,
                          ret, error, holder)

    def report_stall(waited_s: float) -> None:
        log.warning(stall_line(request, waited_s, ray.available_resources(), ray.cluster_resources(),
                               alive_nodes(), settings))

    returns, outcomes = wait_all(gens, jobs, classify, StallWatch(launcher.stall_after_s), report_stall)
    report(outcomes)
    if OmegaConf.select(config, "hydra.sweeper.max_batch_size", default=None) is not None:
        returns = [completed_instead(ret) if ret.status == JobStatus.FAILED else ret for ret in returns]
    return returns


def submit(launcher: Any, options: dict, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int) -> tuple[list, list[Job]]:
    """Submit every job as a Ray streaming generator (it yields STARTED from its worker, then its
    JobReturn; see _ray_wait); return the generators and what each job is."""
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
        jobs.append(Job(idx, list(overrides), run_dir, was_finished(run_dir)))
        gens.append(run_remote.remote(context, sweep_config, launcher.task_function, Singleton.get_state(),
                                      os.getcwd()))
        log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
    HydraConfig.instance().set_config(config)
    return gens, jobs


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


def options_given(launcher: Any) -> dict:
    """hydra.launcher.ray.remote, as plain values."""
    return OmegaConf.to_container(launcher.ray_cfg.remote, resolve=True)  # type: ignore[return-value]


def remote_options(launcher: Any, resources: dict) -> dict:
    """ray.remote options for every job: its GPUs (or CPU slot), CPUs, and a fresh process.
    Whether a node can hold them is `ray_resources.unfit_line`'s question."""
    gpus = resources.get("GPU", 0)
    # max_calls=1: a fresh worker per job, so no CUDA context, process group or module state
    # outlives its job; max_retries=0: a crashed job is reported, not silently run again.
    options: dict = {"max_calls": 1, "max_retries": 0, "num_cpus": launcher.cpus_per_job}
    if gpus > 0 and launcher.gpus_per_job > 0:
        options["num_gpus"] = launcher.gpus_per_job
    else:
        options["num_gpus"] = 0
        if resources.get(CPU_SLOT, 0) > 0:
            options["resources"] = {CPU_SLOT: 1}
    options.update(options_given(launcher))
    return options


def alive_nodes() -> list[dict]:
    """Each alive node's total resources."""
    return [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]


def stop(line: str, *, shutdown: bool) -> None:
    """End the command with one error line and exit status 2, as the CLI does for a bad setting.

    Hydra's run_and_report turns any Exception into exit status 1 with a hint about tracebacks, so
    this prints the line itself and raises SystemExit, which Hydra lets through.

    Raises:
        SystemExit: always, status 2.
    """
    if shutdown:
        ray.shutdown()
    command = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "hydra"  # tlc-train, tlc-compress
    print(f"{command}: error: {line}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def report(outcomes: Sequence[JobOutcome]) -> None:
    lines = summary_lines(outcomes)
    log.log(logging.ERROR if any(o.status == "failed" for o in outcomes) else logging.INFO,
            "sweep summary: %s", "\n".join(lines))


def completed_instead(ret: JobReturn) -> JobReturn:
    return JobReturn(overrides=ret.overrides, cfg=ret.cfg, hydra_cfg=ret.hydra_cfg, working_dir=ret.working_dir,
                     task_name=ret.task_name, status=JobStatus.COMPLETED, _return_value=None)


class _StderrTail(io.TextIOBase):
    """sys.stderr that also remembers its last non-empty line (tlc-train's one-line errors)."""

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
    """One job in a Ray worker: yield STARTED, run the job as Hydra would, and yield its JobReturn
    (an exit becomes a FAILED one)."""
    yield STARTED
    if os.path.isdir(cwd):  # relative paths in the config mean what they meant to the driver
        os.chdir(cwd)
    tail = _StderrTail(sys.stderr)
    try:
        with contextlib.redirect_stderr(tail):
            ret = run_as_hydra(hydra_context, sweep_config, task_function, singleton_state)
    except SystemExit as exit_:  # must not end the worker with the job's failure unreported
        message = tail.last_line or f"exited with status {exit_.code}"
        ret = failed_return(list(sweep_config.hydra.overrides.task), run_dir_of(sweep_config),
                            RuntimeError(message))
    if ret.status == JobStatus.FAILED:
        ret._return_value = _portable(ret._return_value)
    yield ret


def run_as_hydra(hydra_context: Any, sweep_config: DictConfig, task_function: Any, singleton_state: dict) -> JobReturn:
    """Run one job in this fresh worker process through Hydra's launcher API, as Hydra's own
    launchers do: the driver's Hydra state first (globals, singletons, the job's Hydra config)."""
    setup_globals()
    Singleton.set_state(singleton_state)
    HydraConfig.instance().set_config(sweep_config)
    return run_job(hydra_context=hydra_context, task_function=task_function, config=sweep_config,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


def _portable(error: Any) -> Any:
    """The error itself if it survives pickling to the driver, else a RuntimeError with its first line."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - any exception type can refuse to pickle
        return RuntimeError(first_line(error))

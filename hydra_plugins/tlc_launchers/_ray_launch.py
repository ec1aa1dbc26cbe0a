"""Launching one batch of a sweep on Ray: start or join Ray, run every job in a fresh worker
process, wait for all of them whatever happens to each, then log a summary.

Placement: with GPUs in the cluster each job asks for `gpus_per_job` GPUs, so Ray runs as many
at once as the GPUs allow and gives each its own CUDA_VISIBLE_DEVICES; without GPUs each job
takes one `cpu_slot` (a custom resource a Ray started here declares `cpu_slots` of).

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
from typing import Any, Optional, Sequence

import ray
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra_plugins.hydra_ray_launcher._launcher_util import _run_job
from omegaconf import DictConfig, OmegaConf, open_dict

from .outcomes import JobOutcome, first_line, outcome_of, run_dir_of, summary_lines, was_finished

log = logging.getLogger(__name__)

CPU_SLOT = "cpu_slot"  # custom Ray resource: one per concurrent CPU-only job
# hydra-ray-launcher's value: jobs pass only configs and JobReturns through the object store,
# and Ray's default (30% of RAM in /dev/shm) fails in small containers (ray-project/ray#11966).
OBJECT_STORE_BYTES = 75 * 1024 * 1024
# Ray's own messages at warning and above only. Jobs' console output stays in their workers: every
# job logs to its run's train.log, and Ray keeps each worker's stdout/stderr under
# /tmp/ray/session_latest/logs; +hydra.launcher.ray.init.log_to_driver=true interleaves it here.
QUIET_INIT = {"include_dashboard": False, "logging_level": "warning", "log_to_driver": False}


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    """Run every job of the batch on Ray; return their JobReturns in order (see the module doc)."""
    setup_globals()
    config, context = launcher.config, launcher.hydra_context
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    resources = start_ray(launcher)
    options = remote_options(launcher, resources)
    log.info("launching %d jobs on Ray (%s) with %s; sweep dir %s", len(job_overrides),
             ", ".join(f"{k}={v:g}" for k, v in sorted(resources.items()) if "node:" not in k and "memory" not in k),
             options, config.hydra.sweep.dir)
    run_remote = ray.remote(**options)(run_one)
    jobs: list[tuple[int, list[str], Path, bool]] = []
    refs = []
    for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
        sweep_config = context.config_loader.load_sweep_config(config, list(overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"job_id_for_{idx}"
            sweep_config.hydra.job.num = idx
        HydraConfig.instance().set_config(sweep_config)  # the run dir interpolates ${hydra:...}
        run_dir = run_dir_of(sweep_config)
        jobs.append((idx, list(overrides), run_dir, was_finished(run_dir)))
        refs.append(run_remote.remote(context, sweep_config, launcher.task_function, Singleton.get_state(),
                                      os.getcwd()))
        log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
    HydraConfig.instance().set_config(config)
    returns = wait_all(refs, jobs)
    outcomes = [outcome_of(idx, " ".join(filter_overrides(overrides)), run_dir, before, ret)
                for (idx, overrides, run_dir, before), ret in zip(jobs, returns)]
    report(outcomes)
    if OmegaConf.select(config, "hydra.sweeper.max_batch_size", default=None) is not None:
        returns = [completed_instead(ret) if ret.status == JobStatus.FAILED else ret for ret in returns]
    return returns


def start_ray(launcher: Any) -> dict:
    """Join the configured cluster, or start Ray here; return the cluster's resources."""
    if not ray.is_initialized():
        address = launcher.address or os.environ.get("RAY_ADDRESS")
        kwargs: dict = dict(QUIET_INIT)
        if address:
            kwargs["address"] = address  # a running cluster's resources cannot be redeclared
        else:
            # "local" starts a new Ray even if one from another sweep is running on this machine
            kwargs.update(address="local", resources={CPU_SLOT: launcher.cpu_slots},
                          num_cpus=max(os.cpu_count() or 1, launcher.cpu_slots * launcher.cpus_per_job),
                          object_store_memory=OBJECT_STORE_BYTES)
            if launcher.num_gpus is not None:
                kwargs["num_gpus"] = launcher.num_gpus
        kwargs.update(OmegaConf.to_container(launcher.ray_cfg.init, resolve=True))
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report and no prompt about it
        ray.init(**kwargs)
    return ray.cluster_resources()


def remote_options(launcher: Any, resources: dict) -> dict:
    """ray.remote options for every job: its GPUs (or CPU slot), CPUs, and a fresh process.

    Raises:
        ValueError: gpus_per_job exceeds the GPUs of the whole cluster (Ray would wait forever).
    """
    gpus = resources.get("GPU", 0)
    # max_calls=1: a fresh worker per job, so no CUDA context, process group or module state
    # outlives its job; max_retries=0: a crashed job is reported, not silently run again.
    options: dict = {"max_calls": 1, "max_retries": 0, "num_cpus": launcher.cpus_per_job}
    if gpus > 0 and launcher.gpus_per_job > 0:
        if launcher.gpus_per_job > gpus:
            raise ValueError(f"hydra.launcher.gpus_per_job={launcher.gpus_per_job} but the Ray cluster has "
                             f"{gpus:g} GPUs")
        options["num_gpus"] = launcher.gpus_per_job
    else:
        options["num_gpus"] = 0
        if resources.get(CPU_SLOT, 0) > 0:
            options["resources"] = {CPU_SLOT: 1}
    options.update(OmegaConf.to_container(launcher.ray_cfg.remote, resolve=True))
    return options


def wait_all(refs: list, jobs: list[tuple[int, list[str], Path, bool]]) -> list[JobReturn]:
    """Every job's JobReturn, in launch order; a worker that died gives a FAILED one."""
    index = {ref: i for i, ref in enumerate(refs)}
    returns: list[Optional[JobReturn]] = [None] * len(refs)
    pending, t0 = list(refs), time.monotonic()
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        i = index[done[0]]
        idx, overrides, run_dir, _ = jobs[i]
        try:
            returns[i] = ray.get(done[0])
        except ray.exceptions.RayError as err:  # worker crashed or was killed, task cancelled
            returns[i] = failed_return(overrides, run_dir, err)
        status = "done" if returns[i].status == JobStatus.COMPLETED else "FAILED"
        log.info("job #%d %s after %.0f s (%d/%d)", idx, status, time.monotonic() - t0,
                 len(refs) - len(pending), len(refs))
    return returns  # type: ignore[return-value]


def report(outcomes: Sequence[JobOutcome]) -> None:
    lines = summary_lines(outcomes)
    log.log(logging.ERROR if any(o.status == "failed" for o in outcomes) else logging.INFO,
            "sweep summary: %s", "\n".join(lines))


def failed_return(overrides: list[str], run_dir: Path, error: BaseException) -> JobReturn:
    return JobReturn(overrides=overrides, working_dir=str(run_dir), status=JobStatus.FAILED,
                     _return_value=error)


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
            cwd: str) -> JobReturn:
    """One job in a Ray worker: run it as Hydra would, and turn an exit into a FAILED JobReturn."""
    if os.path.isdir(cwd):  # relative paths in the config mean what they meant to the driver
        os.chdir(cwd)
    tail = _StderrTail(sys.stderr)
    try:
        with contextlib.redirect_stderr(tail):
            ret = _run_job(hydra_context, sweep_config, task_function, singleton_state)
    except SystemExit as exit_:  # must not end the worker with the job's failure unreported
        message = tail.last_line or f"exited with status {exit_.code}"
        ret = failed_return(list(sweep_config.hydra.overrides.task), run_dir_of(sweep_config),
                            RuntimeError(message))
    if ret.status == JobStatus.FAILED:
        ret._return_value = _portable(ret._return_value)
    return ret


def _portable(error: Any) -> Any:
    """The error itself if it survives pickling to the driver, else a RuntimeError with its first line."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - any exception type can refuse to pickle
        return RuntimeError(first_line(error))

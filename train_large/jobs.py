"""What `tlc-train` and `tlc-compress` do around each Hydra job, under its run directory's lock.

A job's failure is one line: in a single run it stops the command (exit 2 for bad input or a run
held by another process, 1 for a crash, whose traceback goes to the run's log file only); in a
multirun it is recorded in the sweep's outcomes ("running elsewhere" for a held run), the other jobs
go on, and the sweep summary ends the command. Must not import fairseq or wandb.
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable

from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, read_write

from hydra_plugins.tlc_launchers.outcomes import (FAILED, FINISHED, RUNNING_ELSEWHERE, SKIPPED, first_line,
                                                  record_outcome, sweep_summary_lines)

from .rundir import RESULT_FILE, atomic_write_bytes
from .runlock import RunLocked, hold_run_lock, under_rank0

log = logging.getLogger(__name__)


class JobFailed(CompactHydraException):
    """One job of a multirun failed; the others go on. Hydra's sweeper re-raises it at the end and,
    as a compact Hydra error, prints its one line there rather than a traceback."""


def launch(argv: list[str], hydra_main: Callable[[], Any], sweep_dir: Callable[[], Path]) -> None:
    """Run the Hydra app; after a multirun, print the summary of `sweep_dir()`'s outcomes, unless the
    Ray launcher (hydra/launcher=gpus) printed its own or Hydra exited with status 2 (bad input
    refused before any job ran, e.g. the SLURM launcher's refused sbatch)."""
    if "-m" not in argv and "--multirun" not in argv:
        hydra_main()
        return
    started = time.time()
    refused = False
    try:
        hydra_main()
    except SystemExit as stop:
        refused = stop.code == 2
        raise
    finally:
        if "hydra/launcher=gpus" not in argv and not refused:
            lines, failed = sweep_summary_lines(sweep_dir(), started)
            for line in lines:
                print(line, file=sys.stderr if failed else sys.stdout)


def run_composed(config: DictConfig, config_name: str, task_function: Callable[[DictConfig], Any]) -> None:
    """A single run on an already composed config (with its `hydra` node), as `@hydra.main` runs one
    (`Hydra.run`): Hydra's logging, the run directory, the job and its callbacks, without composing
    the config twice more (once for the run mode, once for the run)."""
    from hydra import initialize_config_dir
    from hydra._internal.callbacks import Callbacks
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.utils import configure_log
    from hydra.core.utils import run_job as run_hydra_job
    from hydra.types import HydraContext

    from .core.shell import CONF_DIR

    with read_write(config.hydra):
        config.hydra.mode = RunMode.RUN
        config.hydra.overrides.hydra.append("hydra.mode=RUN")  # as @hydra.main records a run's mode
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    callbacks = Callbacks(config)
    # the job runs inside an initialised Hydra app, as under @hydra.main
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        context = HydraContext(config_loader=GlobalHydra.instance().config_loader(), callbacks=callbacks)
        callbacks.on_run_start(config=config, config_name=config_name)
        ret = run_hydra_job(task_function=task_function, config=config, job_dir_key="hydra.run.dir",
                            job_subdir_key=None, hydra_context=context)
        callbacks.on_run_end(config=config, config_name=config_name, job_return=ret)
    _ = ret.return_value  # re-raises the job's exception, as Hydra.run does


def run_job(job: Callable[[], dict | None], expected: tuple[type[Exception], ...],
            fail: Callable[..., None]) -> float | None:
    """Run one Hydra job and return its `validation_metric`. `job()`: the run's result, or None when
    another process reports it; `expected`: the errors that are bad input (no traceback);
    `fail(lines, status)` stops a single run."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    sweep_dir = Path(hydra_cfg.sweep.dir) if hydra_cfg.mode == RunMode.MULTIRUN else None
    already_done = (run_dir / RESULT_FILE).exists()
    try:
        from .distributed import slurm_task

        # The srun tasks of one data-parallel run share the run directory: rank 0 holds its lock for
        # all of them, and the others go on once it does.
        task = slurm_task()
        with hold_run_lock(run_dir) if task is None or task[0] == 0 else under_rank0(run_dir):
            result = job()
        if result is None:
            return None
    except RunLocked as err:  # a single run is refused; in a multirun the other jobs go on
        if sweep_dir is None:
            return fail([str(err)], 2)
        log.warning(str(err))
        record_outcome(sweep_dir, run_dir.name, RUNNING_ELSEWHERE, str(err))
        return None
    except expected as err:
        _failed(run_dir, sweep_dir, first_line(str(err)), fail=fail, status=2)
    except Exception as err:  # noqa: BLE001 - a crash of any kind: one line here, the traceback in the log
        _failed(run_dir, sweep_dir, first_line(err), fail=fail, status=1, where=log_traceback(run_dir))
    if sweep_dir is not None:
        record_outcome(sweep_dir, run_dir.name, SKIPPED if already_done else FINISHED)
    return validation_metric(result)


def validation_metric(result: dict) -> float | None:
    """What a sweeper (Optuna, say) may rank runs by: the best, else the final, validation metric;
    never a test score, which would make the test split a selection set."""
    metric = result.get("metric")
    best = result.get(f"best_valid_{metric}")
    return best if best is not None else (result.get("final", {}).get("valid") or {}).get(metric)


def save_job_config(run_dir: Path, cfg: DictConfig) -> None:
    """Hydra's `.hydra/` record of the job, once the job holds its run and its settings agree with
    the run there. Hydra's own (off: `hydra.output_subdir: null`) is written before the job starts,
    so a refused launch would overwrite the config of the run it was refused from."""
    hydra_cfg = HydraConfig.get()
    files = {"config.yaml": cfg, "hydra.yaml": OmegaConf.create({"hydra": hydra_cfg}),
             "overrides.yaml": OmegaConf.create(list(hydra_cfg.overrides.task))}
    for name, node in files.items():
        atomic_write_bytes(run_dir / ".hydra" / name, OmegaConf.to_yaml(node).encode())


def log_traceback(run_dir: Path) -> str:
    """Log the exception being handled, with its traceback, to the run's log files only (the console
    without one), and say where it went."""
    files = log_to_files("run failed", exc_info=True)
    if not files:
        log.exception("run failed")
        return "traceback above"
    named = [Path(f).name if Path(f).parent == run_dir.resolve() else f for f in files]
    return f"traceback in its {', '.join(named)}"


def log_to_files(message: str, *, exc_info: bool = False) -> list[str]:
    """Log an error to the root logger's files only (Hydra's `<run dir>/<job name>.log`), not to the
    console; returns their paths."""
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, message, None,
                            sys.exc_info() if exc_info else None)
    for handler in files:
        handler.handle(record)
    return [h.baseFilename for h in files]


def _failed(run_dir: Path, sweep_dir: Path | None, error: str, *, fail: Callable[..., None], status: int,
            where: str = "") -> None:
    """Stop a single run with `status` (the line on the terminal once, and in the log file), or record
    the failure for the sweep summary. `where`: where a crash's traceback went."""
    line = f"{error} (run {run_dir}; {where})" if where else error
    if sweep_dir is None:
        log_to_files(line)
        fail([line], status)
        return
    log.error(line)
    record_outcome(sweep_dir, run_dir.name, FAILED, f"{error} ({where})" if where else error)
    raise JobFailed(line)

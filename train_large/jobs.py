"""What every tlc-* command does around its Hydra jobs.

A job's failure is one line: in a single run it stops the command (exit 2 for a bad setting or
missing input; a crash keeps its traceback), in a multirun it is recorded in the sweep's
outcomes and the other jobs go on. A multirun ends with the sweep summary. Shared by
`tlc-train` and `tlc-compress`; must not import fairseq or wandb.
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from .outcomes import record_outcome, summary_lines

log = logging.getLogger(__name__)


class JobFailed(RuntimeError):
    """One job of a multirun failed; the others go on (Hydra's sweeper re-raises it at the end)."""


def launch(argv: list[str], hydra_main: Callable[[], Any], sweep_dir: Callable[[], Path]) -> None:
    """Run the Hydra app; after a multirun, print which runs finished, were already done, or failed.

    `sweep_dir()`: the multirun's folder. The Ray launcher (hydra/launcher=gpus) reports its own
    jobs, crashed workers included, so no second summary follows it.
    """
    if "-m" not in argv and "--multirun" not in argv:
        hydra_main()
        return
    started = time.time()
    try:
        hydra_main()
    finally:
        if "hydra/launcher=gpus" not in argv:
            lines, failed = summary_lines(sweep_dir(), started)
            for line in lines:
                print(line, file=sys.stderr if failed else sys.stdout)


def run_job(job: Callable[[], dict | None], expected: tuple[type[Exception], ...],
            fail: Callable[[list[str]], None]) -> float | None:
    """Run one Hydra job (`job` returns the run's result, or None when another process reports it).

    `expected`: the errors that are bad input (one line, no traceback); `fail` stops a single run.
    Returns the result's `final_metric` for Hydra.
    """
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    sweep_dir = Path(hydra_cfg.sweep.dir) if hydra_cfg.mode == RunMode.MULTIRUN else None
    from .rundir import RESULT_FILE

    already_done = (run_dir / RESULT_FILE).exists()
    try:
        result = job()
        if result is None:
            return None
    except expected as err:
        _failed(run_dir, sweep_dir, str(err), expected=True, fail=fail)
    except Exception as err:
        _failed(run_dir, sweep_dir, f"{type(err).__name__}: {err}", expected=False, fail=fail)
        raise
    if sweep_dir is not None:
        record_outcome(sweep_dir, run_dir.name, "skipped" if already_done else "finished")
    return result["final_metric"]


def _failed(run_dir: Path, sweep_dir: Path | None, error: str, *, expected: bool,
            fail: Callable[[list[str]], None]) -> None:
    """Log a job's failure where its sweep summary will find it; stop a single run with one line.

    `expected`: a bad setting or missing input; otherwise a crash, whose traceback goes to the
    run's log file.
    """
    error = error.strip().splitlines()[0] if error.strip() else error
    if expected:
        log.error(error)
    else:
        log.exception("run failed")
    if sweep_dir is None:
        if expected:
            fail([error])
        return
    record_outcome(sweep_dir, run_dir.name, "failed", error)
    if expected:
        raise JobFailed(error)

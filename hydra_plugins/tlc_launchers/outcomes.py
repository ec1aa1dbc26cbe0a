"""What became of each job of a sweep: finished, failed or skipped, and the summary printed after.

A job is *skipped* when its run directory already held result.json before the launch: the run
saw it and returned at once. Plain functions over Hydra's `JobReturn`; must not import Ray.
"""
# No `from __future__ import annotations`: Hydra's plugin scan runs this module before it is in
# sys.modules, and dataclasses then cannot resolve string annotations.
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from hydra.core.utils import JobReturn, JobStatus

RESULT_FILE = "result.json"  # written last by a finished run (train_large.rundir)
FINISHED, FAILED, SKIPPED = "finished", "failed", "skipped"


@dataclass(frozen=True)
class JobOutcome:
    index: int  # Hydra's job number in the sweep
    overrides: str  # the job's overrides, space-separated
    run_dir: Path
    status: str  # FINISHED | FAILED | SKIPPED
    error: str = ""  # first line of the error, for FAILED


def run_dir_of(sweep_config: Any) -> Path:
    """The directory Hydra will give this job: hydra.sweep.dir / hydra.sweep.subdir."""
    hydra = sweep_config.hydra
    return Path(str(hydra.sweep.dir)) / str(hydra.sweep.subdir)


def was_finished(run_dir: Path) -> bool:
    return (run_dir / RESULT_FILE).is_file()


def first_line(error: BaseException | str) -> str:
    """`Type: first line of the message`, the form the summary shows."""
    if isinstance(error, str):
        text = error
    else:
        text = f"{type(error).__name__}: {error}"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def outcome_of(index: int, overrides: str, run_dir: Path, finished_before: bool,
               job_return: Optional[JobReturn], error: Optional[BaseException] = None) -> JobOutcome:
    """Classify one job from its JobReturn, or from the error raised instead of one."""
    if job_return is not None and job_return.status == JobStatus.COMPLETED:
        return JobOutcome(index, overrides, run_dir, SKIPPED if finished_before else FINISHED)
    if job_return is not None:
        error = job_return._return_value  # the exception; `.return_value` would raise it
    return JobOutcome(index, overrides, run_dir, FAILED, first_line(error or "unknown error"))


def summary_lines(outcomes: Sequence[JobOutcome]) -> list[str]:
    """`N jobs: a finished, b failed, c skipped`, then one line per job (failed ones with their error)."""
    counts = {status: sum(o.status == status for o in outcomes) for status in (FINISHED, FAILED, SKIPPED)}
    lines = [f"{len(outcomes)} jobs: {counts[FINISHED]} finished, {counts[FAILED]} failed, "
             f"{counts[SKIPPED]} skipped"]
    for o in sorted(outcomes, key=lambda o: o.index):
        detail = f" -- {o.error}" if o.status == FAILED else ""
        lines.append(f"  {o.status:<8} #{o.index} {o.run_dir.name}{detail}")
    return lines

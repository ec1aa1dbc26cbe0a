"""What became of each job of a sweep: finished, failed, skipped or running elsewhere, and the
summary printed after.

A job is *skipped* when its run directory already held result.json before the launch: the run
saw it and returned at once. It is *running elsewhere* when it found its run locked by another
process: it then returned normally (COMPLETED, value None) after appending a line saying so to
`<sweep dir>/outcomes.jsonl` (`record_outcome`: `{"run", "status", "error", "time"}` per line), which
every launcher's summary reads. Plain functions over Hydra's `JobReturn`; must not import Ray or train_large.
"""
# No `from __future__ import annotations`: Hydra's plugin scan runs this module before it is in
# sys.modules, and dataclasses then cannot resolve string annotations.
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from hydra.core.utils import JobReturn, JobStatus

from .job_states import jobs_text

RESULT_FILE = "result.json"  # written last by a finished run (train_large.rundir)
OUTCOMES_FILE = "outcomes.jsonl"  # one line per job's outcome, appended by the job (record_outcome)
FINISHED, FAILED, SKIPPED, RUNNING_ELSEWHERE = "finished", "failed", "skipped", "running elsewhere"
STATUSES = (FINISHED, FAILED, SKIPPED, RUNNING_ELSEWHERE)


@dataclass(frozen=True)
class JobOutcome:
    index: int  # Hydra's job number in the sweep
    overrides: str  # the job's overrides, space-separated
    run_dir: Path
    status: str  # one of STATUSES
    error: str = ""  # FAILED: first line of the error; RUNNING_ELSEWHERE: the line naming the lock's holder


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


def failed_return(overrides: list, run_dir: Path, error: BaseException) -> JobReturn:
    """The JobReturn of a job that ended without one (its worker died, or it exited)."""
    return JobReturn(overrides=overrides, working_dir=str(run_dir), status=JobStatus.FAILED, _return_value=error)


def record_outcome(sweep_dir: Path, run_name: str, status: str, error: Optional[str] = None) -> None:
    """Append one job's outcome to the sweep's outcomes.jsonl: one small append, so concurrent jobs,
    on any process or node, do not interleave."""
    line = json.dumps({"run": run_name, "status": status, "error": error, "time": time.time()}) + "\n"
    path = Path(sweep_dir) / OUTCOMES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as outcomes:
        outcomes.write(line)


def read_outcomes(sweep_dir: Path, since: float) -> Dict[str, dict]:
    """The last outcome of each run recorded at or after `since` (unix time; a requeued job may
    report twice)."""
    path = Path(sweep_dir) / OUTCOMES_FILE
    latest: Dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill
            if isinstance(entry, dict) and entry.get("time", 0) >= since and "run" in entry:
                latest[str(entry["run"])] = entry
    return latest


def running_elsewhere(sweep_dir: Path, since: float) -> Dict[str, str]:
    """Run name -> holder line, for runs whose latest outcome at or after `since` says "running elsewhere"."""
    return {run: str(entry.get("error") or "locked by another process")
            for run, entry in read_outcomes(sweep_dir, since).items() if entry.get("status") == RUNNING_ELSEWHERE}


def outcome_of(index: int, overrides: str, run_dir: Path, finished_before: bool,
               job_return: Optional[JobReturn], error: Optional[BaseException] = None,
               holder: Optional[str] = None) -> JobOutcome:
    """Classify one job from its JobReturn, or from the error raised instead of one.

    `holder`: the line naming who holds the run's lock, when the job recorded "running elsewhere"
    (see `running_elsewhere`); it turns a completed job into RUNNING_ELSEWHERE.
    """
    if job_return is not None and job_return.status == JobStatus.COMPLETED:
        if holder is not None:
            return JobOutcome(index, overrides, run_dir, RUNNING_ELSEWHERE, holder)
        return JobOutcome(index, overrides, run_dir, SKIPPED if finished_before else FINISHED)
    if job_return is not None:
        error = job_return._return_value  # the exception; `.return_value` would raise it
    return JobOutcome(index, overrides, run_dir, FAILED, first_line(error or "unknown error"))


def summary_lines(outcomes: Sequence[JobOutcome]) -> list[str]:
    """`N jobs: a finished, b failed, c skipped, d running elsewhere`, then one line per job (failed
    ones with their error, those running elsewhere with the lock's holder)."""
    counts = {status: sum(o.status == status for o in outcomes) for status in STATUSES}
    lines = [f"{jobs_text(len(outcomes))}: " + ", ".join(f"{counts[status]} {status}" for status in STATUSES)]
    for o in sorted(outcomes, key=lambda o: o.index):
        detail = f" -- {o.error}" if o.status in (FAILED, RUNNING_ELSEWHERE) else ""
        lines.append(f"  {o.status:<8} #{o.index} {o.run_dir.name}{detail}")
    return lines

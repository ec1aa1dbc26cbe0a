"""What the launchers share: the lines on what each job is doing while they wait (`StateLines`,
`StallWatch`) and on what became of it, and how a launch is refused. A job is finished, failed,
*skipped* (its run held result.json before the launch) or *running elsewhere* (another process held
its run's lock: the job returned normally after a line in `<sweep dir>/outcomes.jsonl`,
`{"run", "status", "error", "time"}`, which only this module writes and reads).
Must not import Ray, submitit or train_large.
"""
# No `from __future__ import annotations`: Hydra's plugin scan runs this module before it is in
# sys.modules, and dataclasses then cannot resolve string annotations.
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, NoReturn, Optional, Sequence

from hydra.core.utils import JobReturn, JobStatus

RESULT_FILE = "result.json"  # written last by a finished run (train_large.rundir)
OUTCOMES_FILE = "outcomes.jsonl"
PENDING, RUNNING = "pending", "running"
FINISHED, FAILED, SKIPPED, RUNNING_ELSEWHERE = "finished", "failed", "skipped", "running elsewhere"
STATUSES = (FINISHED, FAILED, SKIPPED, RUNNING_ELSEWHERE)
# State line order: "pending (Resources)" sorts with "pending"; other states come last, as given.
ORDER = (PENDING, RUNNING, *STATUSES)
HEARTBEAT_S = 60.0  # the most seconds between two state lines while nothing changes


def refuse(line: str) -> NoReturn:
    """Stop as the CLI stops on bad input: `<command>: error: <line>` on stderr, exit status 2.
    SystemExit, because Hydra turns an Exception into exit status 1 with a stack-trace hint."""
    command = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "hydra"  # tlc-train, tlc-compress
    print(f"{command}: error: {line}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def jobs_text(n: int) -> str:
    return f"{n} job" if n == 1 else f"{n} jobs"


def states_line(counts: Mapping[str, int]) -> str:
    """`N jobs: 1 pending, 2 running, 3 finished`: every state with a non-zero count, in ORDER."""
    def rank(state: str) -> int:
        return next((i for i, known in enumerate(ORDER) if state == known or state.startswith(known + " (")),
                    len(ORDER))

    states = sorted((state for state, n in counts.items() if n), key=rank)  # sorted() is stable
    return f"{jobs_text(sum(counts.values()))}: " + ", ".join(f"{counts[state]} {state}" for state in states)


def elapsed_text(seconds: float) -> str:
    """`42 s`, `3 min 05 s`, `2 h 01 min`."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class StateLines:
    """The state line to print for each look at the counts: on every change, else every
    `heartbeat_s` seconds, with the time since construction. `clock`: seconds, monotonic."""

    def __init__(self, heartbeat_s: float = HEARTBEAT_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.heartbeat_s, self.clock = heartbeat_s, clock
        self.started = self.last_at = clock()
        self.last_counts: Optional[Dict[str, int]] = None

    def update(self, counts: Mapping[str, int]) -> Optional[str]:
        """None when the line would repeat the last one too soon."""
        now = self.clock()
        counts = {state: n for state, n in counts.items() if n}
        if counts == self.last_counts and now - self.last_at < self.heartbeat_s:
            return None
        self.last_counts, self.last_at = counts, now
        return f"{states_line(counts)} ({elapsed_text(now - self.started)})"


class StallWatch:
    """When to report jobs pending with none of them running (a job queued behind its own sweep's
    running ones is no stall): after `after_s` seconds (<= 0: never), then each time the stall's
    length doubles, so a long wait on a busy cluster is not a line a minute. `clock`: as StateLines'."""

    def __init__(self, after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after_s, self.clock = after_s, clock
        self.since: Optional[float] = None
        self.next_at = 0.0

    def due(self, pending: int, running: int) -> Optional[float]:
        """Seconds the stall has lasted when a report is due now, else None."""
        now = self.clock()
        if self.after_s <= 0 or pending == 0 or running > 0:
            self.since = None
            return None
        if self.since is None:
            self.since, self.next_at = now, now + self.after_s
        if now < self.next_at:
            return None
        self.next_at = self.since + 2 * (self.next_at - self.since)
        return now - self.since


@dataclass(frozen=True)
class JobOutcome:
    index: int  # Hydra's job number in the sweep
    overrides: str  # the job's overrides, space-separated
    run_dir: Path
    status: str  # one of STATUSES
    error: str = ""  # FAILED: first line of the error; RUNNING_ELSEWHERE: the line naming the lock's holder


def run_dir_of(sweep_config: Any) -> Path:
    return Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir)


def first_line(error: BaseException | str) -> str:
    """`Type: first line of the message`, the form the summary shows."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def failed_return(overrides: list, run_dir: Path, error: BaseException) -> JobReturn:
    """The JobReturn of a job that ended without one (its worker died, or it exited)."""
    return JobReturn(overrides=overrides, working_dir=str(run_dir), status=JobStatus.FAILED, _return_value=error)


def record_outcome(sweep_dir: Path, run_name: str, status: str, error: Optional[str] = None) -> None:
    """Append one job's outcome as one small append, so concurrent jobs on any node do not interleave."""
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
    """Run name -> holder line, for runs whose latest outcome since `since` is RUNNING_ELSEWHERE."""
    return {run: str(entry.get("error") or "locked by another process")
            for run, entry in read_outcomes(sweep_dir, since).items() if entry.get("status") == RUNNING_ELSEWHERE}


def outcome_of(index: int, overrides: str, run_dir: Path, finished_before: bool,
               job_return: Optional[JobReturn], error: Optional[BaseException] = None,
               holder: Optional[str] = None) -> JobOutcome:
    """Classify one job from its JobReturn, or from the error raised instead of one. `holder`
    (from `running_elsewhere`) turns a completed job into RUNNING_ELSEWHERE."""
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


def sweep_summary_lines(sweep_dir: Path, since: float) -> tuple[list[str], int]:
    """What ends a multirun under any launcher but Ray's, and how many runs failed: the counts, then
    each failed run (or run held elsewhere) with its error; the others are in their result.json."""
    outcomes = read_outcomes(sweep_dir, since)
    order = (FINISHED, SKIPPED, FAILED, RUNNING_ELSEWHERE)
    by_status = {status: sorted(run for run, entry in outcomes.items() if entry["status"] == status)
                 for status in order}
    shown = [s for s in order if s != RUNNING_ELSEWHERE or by_status[s]]  # the rare one only when it happened
    lines = [f"sweep {sweep_dir}: " + ", ".join(f"{len(by_status[s])} {s}" for s in shown)]
    for status in (FAILED, RUNNING_ELSEWHERE):
        lines += [f"  {status:<8} {run}: {outcomes[run]['error']}" for run in by_status[status]]
    return lines, len(by_status[FAILED])

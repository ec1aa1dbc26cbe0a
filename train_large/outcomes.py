"""Sweep outcomes: how each job of a multirun ended, and the summary printed when it is over.

Each job appends one line to `<sweep dir>/outcomes.jsonl` (finished, skipped because already
finished, failed with its error, or running elsewhere: another process held its run directory), from whichever process or node ran it; a line is one small
append, so concurrent jobs do not interleave. The command that launched the sweep then reads the
lines written since it started. Must not import fairseq or wandb.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

OUTCOMES_FILE = "outcomes.jsonl"
RUNNING_ELSEWHERE = "running elsewhere"  # another process held the run directory (train_large.runlock)
STATUSES = ("finished", "skipped", "failed", RUNNING_ELSEWHERE)


def record_outcome(sweep_dir: Path, run_name: str, status: str, error: str | None = None) -> None:
    line = json.dumps({"run": run_name, "status": status, "error": error, "time": time.time()}) + "\n"
    path = Path(sweep_dir) / OUTCOMES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as outcomes:
        outcomes.write(line)


def read_outcomes(sweep_dir: Path, since: float) -> dict[str, dict]:
    """The last outcome of each run recorded at or after `since` (a requeued job may report twice)."""
    path = Path(sweep_dir) / OUTCOMES_FILE
    latest: dict[str, dict] = {}
    if not path.exists():
        return latest
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a kill
        if entry.get("time", 0) >= since:
            latest[entry["run"]] = entry
    return latest


def summary_lines(sweep_dir: Path, since: float) -> tuple[list[str], int]:
    """Lines for the end of a multirun, and how many runs failed."""
    outcomes = read_outcomes(sweep_dir, since)
    by_status = {status: sorted(run for run, entry in outcomes.items() if entry["status"] == status)
                 for status in STATUSES}
    shown = [s for s in STATUSES if s != RUNNING_ELSEWHERE or by_status[s]]  # the rare one only when it happened
    lines = [f"sweep {sweep_dir}: " + ", ".join(f"{len(by_status[s])} {s}" for s in shown)]
    for status in STATUSES:
        for run in by_status[status]:
            error = outcomes[run]["error"]
            lines.append(f"  {status:<8} {run}" + (f": {error}" if error else ""))
    return lines, len(by_status["failed"])

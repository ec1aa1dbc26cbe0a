"""Sweep outcomes: how each job of a multirun ended, and the summary printed when it is over.

Each job appends one line to `<sweep dir>/outcomes.jsonl` (finished, skipped because already
finished, failed with its error, or running elsewhere: another process held its run directory), from whichever process or node ran it; a line is one small
append, so concurrent jobs do not interleave. The command that launched the sweep then reads the
lines written since it started. Must not import fairseq or wandb.
"""
from __future__ import annotations

from pathlib import Path

# The file's format is the launcher plugin's (it must not import train_large): one reader, one writer.
from hydra_plugins.tlc_launchers.outcomes import (OUTCOMES_FILE, RUNNING_ELSEWHERE, read_outcomes,  # noqa: F401
                                                  record_outcome)

STATUSES = ("finished", "skipped", "failed", RUNNING_ELSEWHERE)  # the order of the summary


def summary_lines(sweep_dir: Path, since: float) -> tuple[list[str], int]:
    """Lines for the end of a multirun, and how many runs failed: the counts, then one line per
    failed run (or run held elsewhere) with its error."""
    outcomes = read_outcomes(sweep_dir, since)
    by_status = {status: sorted(run for run, entry in outcomes.items() if entry["status"] == status)
                 for status in STATUSES}
    shown = [s for s in STATUSES if s != RUNNING_ELSEWHERE or by_status[s]]  # the rare one only when it happened
    lines = [f"sweep {sweep_dir}: " + ", ".join(f"{len(by_status[s])} {s}" for s in shown)]
    for status in STATUSES:
        if status not in ("finished", "skipped"):  # those are in result.json; the counts say how many
            lines += [f"  {status:<8} {run}: {outcomes[run]['error']}" for run in by_status[status]]
    return lines, len(by_status["failed"])

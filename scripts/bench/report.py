"""The report section: how long `tlc-report` takes over many finished runs.

It writes synthetic run directories in the formats tlc-train writes (tests/report_runs.py, the
same writer the report's tests use): sweeps of widths, every width in several seeds, each run with
12 validations and 12 train records (24 records), and times the real `tlc-report` command over
all of them, from its start to its exit (imports, reading, tables, figures, claims and advice), a
few times; the figure is their mean with its 95% interval (stats), the median kept beside it.
Goal: 200 runs in under 10 s. Must not import torch or fairseq: tlc-report runs as a subprocess.
"""
from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .runs import Workspace
from .stats import interval
from .toy import Sizes

TLC_REPORT = str(Path(sys.executable).parent / "tlc-report")
WIDTHS = (32, 64, 128, 256, 512)
SEEDS = 4
GOAL_SECONDS = 10.0


def write_runs(root: Path, count: int) -> int:
    """`count` finished training runs (rounded down to whole sweeps of WIDTHS x SEEDS) under `root`;
    returns how many were written. Each seed shifts its curve a little, as a seed would."""
    from tests.report_runs import rising, write_training_run

    per_sweep = len(WIDTHS) * SEEDS
    written = 0
    for sweep in range(max(1, count // per_sweep)):
        for width in WIDTHS:
            for seed in range(1, SEEDS + 1):
                cap = 10.0 + 4.0 * WIDTHS.index(width) + 0.3 * seed
                write_training_run(root, f"mt_width_{sweep}", f"width={width},seed={seed}",
                                   rising(cap, 8.0 + width / 64), width=width)
                written += 1
    return written


def time_report(work: Path, runs: int, repeats: int) -> dict:
    """Seconds `tlc-report --claims --advise` takes over `runs` synthetic runs (median of `repeats`)."""
    root = work / "report_runs"
    shutil.rmtree(root, ignore_errors=True)
    written = write_runs(root, runs)
    command = [TLC_REPORT, str(root), "--claims", "--advise", "train_seconds=30", "--out", str(work / "report_out")]
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"tlc-report failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
    return {"runs": written, "records_per_run": 24, "seconds": [round(s, 2) for s in seconds],
            "median_seconds": round(statistics.median(seconds), 2), "interval": interval(seconds),
            "goal_seconds": GOAL_SECONDS}


def run(space: Workspace, sizes: Sizes, report: dict) -> dict:
    return time_report(space.root, sizes.report_runs, sizes.report_repeats)

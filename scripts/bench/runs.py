"""Commands the benchmark times from outside their process: runs of the real `tlc-train` with
their output lines' arrival times, in a workspace of their own.

Every run gets fresh run directories, so none is skipped as already done. Output lines are read
as they arrive (PYTHONUNBUFFERED) with their arrival times, and the run's metrics.jsonl is watched
for its first record, so the moment training starts is known without touching the harness. Must
not import torch or fairseq: the commands do.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
# Validation in the timed loop off (the overhead runs compare update throughput only) and the
# final evaluation as small as it goes: these runs are timed, not scored.
NO_EVAL = ["budget.eval_every_seconds=100000", "budget.checkpoint_every_seconds=100000", "task.eval.beam=1",
           "task.eval.test_beam=1", "task.eval.bleu_sentences=10", "task.eval.test_sentences=10"]


class BenchError(RuntimeError):
    """A benchmarked command failed; the message holds the end of its output."""


@dataclass
class CommandRun:
    seconds: float  # the command's wall time
    lines: list[tuple[float, str]]  # (seconds after the start, line) of stdout and stderr
    first_record: float | None = None  # seconds after the start at which metrics.jsonl got its first line
    started_at: float = 0.0  # time.time() at the start
    first_records: dict[Path, float] = field(default_factory=dict)  # the same for each run dir, when watched

    def first(self, pattern: str) -> float | None:
        """Arrival time of the first output line matching `pattern`."""
        return next((at for at, line in self.lines if re.search(pattern, line)), None)

    def tail(self, chars: int = 3000) -> str:
        return "\n".join(line for _, line in self.lines)[-chars:]


@dataclass
class Workspace:
    """Where the benchmark's data and runs live; `env` points tlc-train at them."""

    root: Path
    threads: int | None = None  # OMP_NUM_THREADS of every run; None: torch's default
    env: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "TLC_DATA_ROOT": str(self.data), "PYTHONUNBUFFERED": "1",
                    "WANDB_MODE": "offline", "RAY_USAGE_STATS_ENABLED": "0"}
        self.env.pop("WANDB_API_KEY", None)
        if self.threads:
            self.env["OMP_NUM_THREADS"] = str(self.threads)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def fresh_runs(self) -> Path:
        (self.root / "runs").mkdir(exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="r", dir=self.root / "runs"))


def run_command(argv: list[str], env: dict, *, watch: Path | None = None, timeout: float = 900) -> CommandRun:
    """Run `argv`, collecting its output with arrival times; with `watch`, also note when each
    metrics.jsonl under that folder gets its first line (polled every 20 ms)."""
    started_at, start = time.time(), time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: list[tuple[float, str]] = []

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append((time.perf_counter() - start, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    first_records: dict[Path, float] = {}
    while proc.poll() is None:
        if watch is not None:
            for run_dir in runs_with_a_record(watch) - first_records.keys():
                first_records[run_dir] = time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            proc.kill()
            raise BenchError(f"{Path(argv[0]).name} ran past {timeout:.0f} s")
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    reader.join()
    run = CommandRun(seconds, lines, min(first_records.values(), default=None), started_at, first_records)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[:3])} ... exited with {proc.returncode}:\n{run.tail()}")
    return run


def runs_with_a_record(runs: Path) -> set[Path]:
    """The run directories under `runs` whose metrics.jsonl holds a record."""
    return {path.parent for path in runs.rglob("metrics.jsonl") if path.stat().st_size > 0}


def tlc_train(space: Workspace, overrides: list[str], *,
              env: dict | None = None) -> tuple[CommandRun, dict, list[dict]]:
    """One `tlc-train` run: (the command, its result.json, its records)."""
    runs = space.fresh_runs()
    run = run_command([str(BIN / "tlc-train"), *overrides], {**space.env, "TLC_RUNS_ROOT": str(runs), **(env or {})},
                      watch=runs)
    (result_file,) = runs.rglob("result.json")
    records = [json.loads(line) for line in (result_file.parent / "metrics.jsonl").read_text().splitlines()]
    return run, json.loads(result_file.read_text()), records

"""The command-line parts of `scripts/bench.py`: runs of the real `tlc-train`, of plain
`fairseq-train` and of a Ray sweep, timed from outside the process.

Every run gets fresh run directories, so none is skipped as already done. Output lines are read
as they arrive (PYTHONUNBUFFERED) with their arrival times, and the run's metrics.jsonl is watched
for its first record, so the moment training starts is known without touching the harness.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench_stats import interval

BIN = Path(sys.executable).parent
# Optional packages tlc-train must not import unless the run uses them (a logger, a launcher, plots).
HEAVY_UNLESS_USED = ("wandb", "ray", "submitit", "matplotlib")
# Validation in the timed loop off (the overhead runs compare update throughput only) and the
# final evaluation as small as it goes: these runs are timed, not scored.
NO_EVAL = ["budget.eval_every_seconds=100000", "budget.checkpoint_every_seconds=100000", "task.eval.beam=1",
           "task.eval.test_beam=1", "task.eval.bleu_sentences=10", "task.eval.test_sentences=10"]
# The overhead runs stop at a number of updates (fairseq-train then runs as many); their records come
# at the cadence of a toy sweep's 20 s budget (budget.log_every_seconds = train_seconds / 100), far
# more records per second than a run of hours writes.
BY_UPDATES = ["budget.train_seconds=100000", "budget.log_every_seconds=0.2"]


class BenchError(RuntimeError):
    """A benchmarked command failed; the message holds the end of its output."""


@dataclass
class CommandRun:
    seconds: float  # the command's wall time
    lines: list[tuple[float, str]]  # (seconds after the start, line) of stdout and stderr
    first_record: float | None = None  # seconds after the start at which metrics.jsonl got its first line
    started_at: float = 0.0  # time.time() at the start

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
    """Run `argv`, collecting its output with arrival times; with `watch`, also note when the
    first metrics.jsonl under that folder gets its first line (polled every 20 ms)."""
    started_at, start = time.time(), time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: list[tuple[float, str]] = []

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append((time.perf_counter() - start, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    first_record = None
    while proc.poll() is None:
        if watch is not None and first_record is None and has_a_record(watch):
            first_record = time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            proc.kill()
            raise BenchError(f"{Path(argv[0]).name} ran past {timeout:.0f} s")
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    reader.join()
    run = CommandRun(seconds, lines, first_record, started_at)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[:3])} ... exited with {proc.returncode}:\n{run.tail()}")
    return run


def has_a_record(runs: Path) -> bool:
    return any(path.stat().st_size > 0 for path in runs.rglob("metrics.jsonl"))


def tlc_train(space: Workspace, overrides: list[str], *,
              env: dict | None = None) -> tuple[CommandRun, dict, list[dict]]:
    """One `tlc-train` run: (the command, its result.json, its records)."""
    runs = space.fresh_runs()
    run = run_command([str(BIN / "tlc-train"), *overrides], {**space.env, "TLC_RUNS_ROOT": str(runs), **(env or {})},
                      watch=runs)
    (result_file,) = runs.rglob("result.json")
    records = [json.loads(line) for line in (result_file.parent / "metrics.jsonl").read_text().splitlines()]
    return run, json.loads(result_file.read_text()), records


def steady_state(records: list[dict]) -> tuple[float, float]:
    """(tokens per wall second, share of that wall time outside the updates) between the first and
    the last train record of a run whose loop neither validates nor checkpoints. The first update
    (warm-up) is left out, as fairseq's own `wps` meter leaves it out; the share outside the updates
    is the loop's own time (records, the clock, bookkeeping), which the training clock leaves out."""
    train = [r for r in records if r["kind"] == "train"]
    if len(train) < 2:
        raise BenchError("fewer than 2 train records: raise the budget or lower budget.log_every_seconds")
    first, last = train[0], train[-1]
    wall = last["wall_seconds"] - first["wall_seconds"]
    return (last["tokens"] - first["tokens"]) / wall, 1 - (last["train_seconds"] - first["train_seconds"]) / wall


def tlc_overhead_run(space: Workspace, overrides: list[str], *, profile_imports: bool = False) -> dict:
    """tokens/s through tlc-train, and its startup: seconds from the command to the first update's
    start; with `profile_imports`, also what it imported (`python -X importtime`, which slows
    the imports by a percent or two)."""
    env = {"PYTHONPROFILEIMPORTTIME": "1"} if profile_imports else None
    run, result, records = tlc_train(space, [*overrides, *NO_EVAL, *BY_UPDATES], env=env)
    first = next(r for r in records if r["kind"] == "train")
    # The first record follows the first update when that update outlasts log_every_seconds (the
    # warm-up makes it long); its train_seconds are that update, so it began that much earlier.
    after_one = first["updates"] == 1
    startup = run.first_record - first["train_seconds"] if after_one and run.first_record else None
    tokens_per_second, loop_share = steady_state(records)
    return {"tokens_per_second": tokens_per_second, "loop_share": loop_share, "updates": result["updates"],
            "startup_seconds": startup, "first_update_seconds": first["train_seconds"] if after_one else None,
            "command_seconds": run.seconds, **({"imports": import_times(run.lines)} if profile_imports else {})}


def fairseq_overhead_run(argv: list[str], updates: int, save_dir: Path, env: dict) -> dict:
    """tokens/s through plain fairseq-train for `updates` updates, and its startup (to the line it
    logs just before the first update).

    Its progress line (every `updates` / 15 updates, its mean tokens per update since the last one)
    arrives as an update ends: tokens over the time from the first such line to the last, as
    tlc-train's are over its records. (fairseq's own wps meter runs on to its end-of-epoch
    summary, which would charge it the teardown.)
    """
    flags = [*argv, "--max-update", str(updates), "--disable-validation", "--no-save", "--save-dir", str(save_dir),
             "--log-interval", str(max(1, updates // 15))]
    run = run_command([str(BIN / "fairseq-train"), *flags], env)
    lines = [(at, int(re.search(r"num_updates=(\d+)", line)[1]), float(re.search(r"wpb=([\d.]+)", line)[1]))
             for at, line in run.lines if "| train_inner |" in line and "wpb=" in line]
    if len(lines) < 2:
        raise BenchError(f"fairseq-train logged fewer than 2 progress lines:\n{run.tail()}")
    tokens = sum(wpb * (done - before) for (_, before, _), (_, done, wpb) in zip(lines, lines[1:]))
    summary = re.search(r"\| train \|.*\| num_updates (\d+)", "\n".join(line for _, line in run.lines))
    return {"tokens_per_second": tokens / (lines[-1][0] - lines[0][0]),
            "updates": int(summary[1]) if summary else lines[-1][1],
            "startup_seconds": run.first(r"Start iterating over samples"), "command_seconds": run.seconds}


def overhead_pairs(space: Workspace, overrides: list[str], fairseq_argv: list[str], pairs: int) -> dict:
    """tlc-train then fairseq-train (as many updates), `pairs` times: A B A B on the same config.
    The first tlc-train run also reports its imports."""
    rows = []
    for pair in range(pairs):
        tlc = tlc_overhead_run(space, overrides, profile_imports=pair == 0)
        plain = fairseq_overhead_run(fairseq_argv, tlc["updates"], space.fresh_runs(), space.env)
        rows.append({"tlc": tlc, "fairseq": plain,
                     "ratio": plain["tokens_per_second"] / tlc["tokens_per_second"]})
        print(f"  pair {pair}: tlc-train {tlc['tokens_per_second']:.0f} tok/s, fairseq-train "
              f"{plain['tokens_per_second']:.0f} tok/s, ratio {rows[-1]['ratio']:.3f}", flush=True)
    # The pairs' ratios, not the runs' tokens/s, carry the interval: both runs of a pair see about the
    # same load from other jobs, so it cancels in their ratio.
    ratios, shares = [r["ratio"] for r in rows], [r["tlc"]["loop_share"] for r in rows]
    return {"median_ratio": statistics.median(ratios), "ratio": interval(ratios), "goal": 1.01,
            "median_loop_share": statistics.median(shares), "loop_share": interval(shares), "pairs": rows}


# Packages whose import time the startup section reports (cumulative, where each first loads).
IMPORTS_REPORTED = ("torch", "hydra", "fairseq", "sklearn", "torch._dynamo", "sympy", *HEAVY_UNLESS_USED)


def import_times(lines: list[tuple[float, str]]) -> dict:
    """What a run imported, from its `python -X importtime` lines: the total, the big packages,
    our own modules' share, and which of HEAVY_UNLESS_USED it loaded."""
    total = ours = 0.0
    packages: dict[str, float] = {}
    names = set()
    for _, line in lines:
        # "import time: <self us> | <cumulative us> | <name indented two spaces per nesting level>"
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)$", line)
        if not match:
            continue
        own, cumulative, depth, name = int(match[1]) / 1e6, int(match[2]) / 1e6, len(match[3]), match[4]
        names.add(name)
        total += cumulative if depth == 0 else 0.0
        ours += own if name.split(".")[0] == "train_large" or name.startswith("hydra_plugins.tlc_") else 0.0
        if name in IMPORTS_REPORTED:
            packages.setdefault(name, round(cumulative, 3))
    # A package counts once its submodules load: a blocked import (None in sys.modules, see
    # train_large.engine.fairseq_import) still logs the bare name with a few microseconds.
    heavy = [pkg for pkg in HEAVY_UNLESS_USED if any(n.startswith(pkg + ".") for n in names)]
    return {"imported_heavy": heavy, "import_seconds": round(total, 3), "own_modules_seconds": round(ours, 3),
            "package_seconds": packages}


def fan_out(space: Workspace, jobs: int, slots: int, overrides: list[str]) -> dict:
    """A Ray sweep of `jobs` equal toy runs (seeds 1..jobs) on `slots` CPU slots.

    Returns makespan / (sum of job times / slots), the job time being each run's span in
    result.json (run.main start to end); the makespan is the sweep command's wall time, so Ray's
    start and each fresh worker's imports count against the fan-out.
    """
    runs = space.fresh_runs()
    seeds = ",".join(str(seed) for seed in range(1, jobs + 1))
    argv = [str(BIN / "tlc-train"), "-m", "hydra/launcher=gpus", "hydra.launcher.gpus_per_job=0",
            f"hydra.launcher.cpu_slots={slots}", "hydra.launcher.cpus_per_job=1", "experiment=fanout",
            f"seed={seeds}", *overrides]
    run = run_command(argv, {**space.env, "TLC_RUNS_ROOT": str(runs)})
    results = [json.loads(p.read_text()) for p in runs.rglob("result.json")]
    if len(results) != jobs:
        raise BenchError(f"the fan-out sweep finished {len(results)} of {jobs} runs:\n{run.tail()}")
    spans = [(r["placement"]["started_at"], r["placement"]["finished_at"]) for r in results]
    job_seconds = [end - start for start, end in spans]
    ideal = sum(job_seconds) / slots
    jobs_span = max(end for _, end in spans) - min(start for start, _ in spans)
    return {"jobs": jobs, "slots": slots, "makespan_seconds": run.seconds, "job_seconds": job_seconds,
            "ratio": run.seconds / ideal, "jobs_only_ratio": jobs_span / ideal, "goal": 1.10,
            # where the rest of the makespan went: before the first run started, after the last ended
            "first_start_seconds": min(start for start, _ in spans) - run.started_at,
            "after_last_seconds": run.started_at + run.seconds - max(end for _, end in spans)}

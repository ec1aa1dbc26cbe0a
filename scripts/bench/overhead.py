"""The overhead section: tokens/s of plain `fairseq-train` over `tlc-train` on the same toy config
and flags (engine.fairseq_args), in pairs A B A B; the mean ratio with its 95% interval over the
pairs, goal <= 1.01 (met only when the interval's upper end is). Also tlc-train's own time between
updates, from its records (the same run, so other jobs on the machine cancel out), and what the
first tlc-train run imports (`-X importtime`), which the startup section reports.

Both commands run as subprocesses; this module must not import torch or fairseq.
"""
from __future__ import annotations

import re
import statistics
from pathlib import Path

from .runs import BIN, NO_EVAL, BenchError, Workspace, run_command, tlc_train
from .stats import interval
from .toy import TOY, Sizes, toy_setup

# Optional packages tlc-train must not import unless the run uses them (a logger, a launcher, plots).
HEAVY_UNLESS_USED = ("wandb", "ray", "submitit", "matplotlib")
# The overhead runs stop at a number of updates (fairseq-train then runs as many); their records come
# at the cadence of a toy sweep's 20 s budget (budget.log_every_seconds = train_seconds / 100), far
# more records per second than a run of hours writes.
BY_UPDATES = ["budget.train_seconds=100000", "budget.log_every_seconds=0.2"]


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
    run, result, records = tlc_train(space, [*BY_UPDATES, *overrides, *NO_EVAL], env=env)  # `overrides` win
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
IMPORTS_REPORTED = ("torch", "hydra", "fairseq", "sklearn", "scipy.stats", "torch._dynamo", "sympy", *HEAVY_UNLESS_USED)


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


def toy_pairs(space: Workspace, sizes: Sizes, pairs: int, *overrides: str) -> dict:
    """`pairs` overhead pairs on the toy config, `sizes.pair_updates` updates each (and tlc-train's
    `overrides`)."""
    from train_large.engine.fairseq_args import train_argv
    from train_large.runtime import resolve_runtime, with_runtime

    cfg, data = toy_setup(space)
    return overhead_pairs(space, [*TOY, f"budget.max_updates={sizes.pair_updates}", *overrides],
                          train_argv(with_runtime(cfg, resolve_runtime(cfg, "cpu")), data.bin_dir, "cpu"), pairs)


def run(space: Workspace, sizes: Sizes, report: dict) -> dict:
    return toy_pairs(space, sizes, sizes.pairs)

#!/usr/bin/env python
"""Harness overhead: tokens/s through `tlc-train` against plain `fairseq-train` with the same flags.

Both train the same toy config on the same data, alternating A B A B. tlc-train runs for a
training-clock budget; fairseq-train then runs exactly as many updates with validation off, and
its own `wps` is read from its log. tlc-train's tokens/s is over its loop's wall time (updates
plus the harness's work between them; evaluation and checkpoints excluded). Prints a table, the
median tokens/s ratio (goal: >= 0.97) and the eval share of wall time, and writes JSON.

    python scripts/bench_overhead.py --train-seconds 60 --repeats 3
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from train_large.cli import compose_train  # noqa: E402
from train_large.data.datasets import ensure_dataset  # noqa: E402
from train_large.engine.fairseq_args import train_argv  # noqa: E402

BIN = Path(sys.executable).parent


def run_tlc(overrides: list[str], env: dict) -> dict:
    proc = subprocess.run([str(BIN / "tlc-train"), *overrides], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"tlc-train failed:\n{proc.stderr[-3000:]}")
    run_dirs = [line.split("run complete: ")[1].strip() for line in (proc.stdout + proc.stderr).splitlines()
                if "run complete: " in line]
    result = json.loads(Path(run_dirs[-1]).read_text())
    spent = result["seconds_outside_budget"]
    # The honest throughput counts the loop's own work between updates (records, progress, the
    # schedule), which the training clock leaves out: wall time since the engine was built,
    # minus evaluation and checkpoints.
    loop_seconds = result["wall_seconds"] - sum(spent.values())
    return {"tokens_per_second": result["tokens"] / loop_seconds,
            "tokens_per_clock_second": result["tokens"] / result["train_seconds"],
            "updates": result["updates"],
            "eval_share": (spent.get("eval", 0.0) + spent.get("bleu", 0.0)) / result["wall_seconds"],
            "wall_seconds": result["wall_seconds"], "train_seconds": result["train_seconds"]}


def run_fairseq(argv: list[str], updates: int, save_dir: Path, env: dict) -> dict:
    flags = [*argv, "--max-update", str(updates), "--disable-validation", "--no-save",
             "--save-dir", str(save_dir), "--log-interval", str(10**9)]
    proc = subprocess.run([str(BIN / "fairseq-train"), *flags], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"fairseq-train failed:\n{proc.stderr[-3000:]}")
    final = [line for line in (proc.stdout + proc.stderr).splitlines() if "| train |" in line]
    fields = dict(re.findall(r"\| (\w+) ([\d.]+)", final[-1])) if final else {}
    if "wps" not in fields:
        sys.exit("fairseq-train printed no train summary: " + (proc.stdout + proc.stderr)[-2000:])
    # wps is fairseq's own meter over its training loop (first update to the end of training).
    return {"tokens_per_second": float(fields["wps"]), "updates": updates}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("filelock").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-seconds", type=float, default=60.0, help="tlc-train budget per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="A B pairs")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="data and runs (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=Path("bench_overhead.json"))
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="tlc-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    runs = Path(tempfile.mkdtemp(prefix="runs-", dir=work))  # fresh runs every time: none is skipped as done
    env = {**os.environ, "TLC_DATA_ROOT": str(work / "data"), "TLC_RUNS_ROOT": str(runs)}
    overrides = [f"model.width={args.width}", f"model.depth={args.depth}",
                 f"budget.train_seconds={args.train_seconds}", "logger=none", "device=cpu"]
    cfg = compose_train([f"paths.data_root={work / 'data'}", *overrides])
    data = ensure_dataset(cfg.task)
    argv = train_argv(cfg, data.bin_dir, "cpu")

    rows = []
    for repeat in range(args.repeats):
        tlc = run_tlc([f"experiment=bench{repeat}", *overrides], env)
        plain = run_fairseq(argv, tlc["updates"], runs / "fairseq" / str(repeat), env)
        ratio = tlc["tokens_per_second"] / plain["tokens_per_second"]
        rows.append({"repeat": repeat, "tlc": tlc, "fairseq": plain, "ratio": ratio})
        print(f"repeat {repeat}: tlc-train {tlc['tokens_per_second']:9.0f} tok/s | fairseq-train "
              f"{plain['tokens_per_second']:9.0f} tok/s | ratio {ratio:.3f} | clock-only {tlc['tokens_per_clock_second']:.0f} tok/s | updates {tlc['updates']} | "
              f"eval share of wall {tlc['eval_share']:.1%}", flush=True)

    summary = {"median_ratio": statistics.median(r["ratio"] for r in rows),
               "median_eval_share": statistics.median(r["tlc"]["eval_share"] for r in rows),
               "config": {"width": args.width, "depth": args.depth, "train_seconds": args.train_seconds},
               "rows": rows}
    print(f"median tokens/s ratio tlc-train / fairseq-train: {summary['median_ratio']:.3f} "
          f"(goal >= 0.97: the harness costs at most 3%)")
    print(f"median eval share of wall time: {summary['median_eval_share']:.1%}")
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Does pretraining pay on the toy tasks? For each seed: pretrain a toy_mlm model, fine-tune it on
toy_cls, and fine-tune the same architecture on toy_cls from a random init with the same budget.
Prints a table of dev and test accuracy (and the mean gap) and writes it as JSON.

    python scripts/pretrain_vs_scratch.py          # 3 seeds, 64x2: 600 pretraining updates, 8 s of fine-tuning
    python scripts/pretrain_vs_scratch.py --seeds 1 2 3 4 5 --width 128 --depth 4 \\
        --pretrain budget.train_seconds=60 --finetune budget.train_seconds=30

Budgets are tlc-train overrides: pretraining is counted in updates by default (a large
budget.train_seconds with budget.max_updates), so a loaded machine changes the time it takes,
not what it measures. Every run goes through the real `tlc-train`, under --workdir (a
temporary directory by default). Each job's overrides pass tlc-train's pre-flight before the
first job starts (a bad one is one line, exit 2); a line on stderr marks each job's start and end.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TLC_TRAIN = str(Path(sys.executable).parent / "tlc-train")


def tlc_train(workdir: Path, experiment: str, *overrides: str) -> Path:
    """Run one tlc-train job, with a progress line on stderr, and return its run directory."""
    env = {**os.environ, "TLC_DATA_ROOT": str(workdir / "data"), "TLC_RUNS_ROOT": str(workdir / "runs")}
    command = [TLC_TRAIN, *overrides, f"experiment={experiment}", "logger=none"]
    print(f"{experiment}: running ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"pretrain_vs_scratch: {' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    (run_dir,) = [path.parent for path in (workdir / "runs" / experiment).glob("*/result.json")]
    print(f"{experiment}: done in {time.monotonic() - started:.0f} s ({run_dir})", file=sys.stderr, flush=True)
    return run_dir


def override_problems(option: str, overrides: list[str]) -> list[str]:
    """tlc-train's own pre-flight on a job's overrides: one line per problem, naming `option`."""
    from train_large.cli import TRAIN

    _, _, problems = TRAIN.command_line_problems([*overrides, "logger=none"])
    return [f"{option}: {problem}" for problem in problems]


def final_accuracy(run_dir: Path) -> dict[str, float]:
    final = json.loads((run_dir / "result.json").read_text())["final"]
    return {split: final[split]["accuracy"] for split in ("valid", "test")}


def compare(workdir: Path, seed: int, model: list[str], pretrain: list[str], finetune: list[str]) -> dict:
    source = tlc_train(workdir, f"mlm_seed{seed}", "task=toy_mlm", *model, *pretrain, f"seed={seed}")
    source_ppl = json.loads((source / "result.json").read_text())["final"]["valid"]["ppl"]
    pretrained = tlc_train(workdir, f"pretrained_seed{seed}", "task=toy_cls", f"init_from={source}",
                           *finetune, f"seed={seed}")
    scratch = tlc_train(workdir, f"scratch_seed{seed}", "task=toy_cls", *model, *finetune, f"seed={seed}")
    return {"seed": seed, "mlm_valid_ppl": source_ppl, "pretrained": final_accuracy(pretrained),
            "scratch": final_accuracy(scratch)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--pretrain", nargs="+", default=["budget.max_updates=600", "budget.train_seconds=600"],
                        help="tlc-train overrides of the toy_mlm run (default: 600 updates)")
    parser.add_argument("--finetune", nargs="+", default=["budget.train_seconds=8"],
                        help="tlc-train overrides of both toy_cls runs (default: budget.train_seconds=8)")
    parser.add_argument("--workdir", type=Path, help="data and runs go here (default: a temporary directory)")
    parser.add_argument("--json", type=Path, default=Path("pretrain_vs_scratch.json"))
    args = parser.parse_args(argv)

    model = [f"model.width={args.width}", f"model.depth={args.depth}"]
    # Every job checked before the first trains: a bad --finetune must not wait for the pretraining.
    problems = (override_problems("--width/--depth/--pretrain", ["task=toy_mlm", *model, *args.pretrain])
                or override_problems("--finetune", ["task=toy_cls", *model, *args.finetune]))
    if problems:
        parser.exit(2, f"pretrain_vs_scratch: error: {problems[0]}\n")
    with tempfile.TemporaryDirectory(prefix="pretrain_vs_scratch_") as scratch_dir:
        workdir = (args.workdir or Path(scratch_dir)).resolve()
        rows = []
        print(f"{'seed':>4}  {'mlm ppl':>8}  {'pretrained dev':>14}  {'scratch dev':>11}  {'gap':>6}  "
              f"{'pretrained test':>15}  {'scratch test':>12}", flush=True)
        for seed in args.seeds:
            row = compare(workdir, seed, model, args.pretrain, args.finetune)
            row["gap"] = row["pretrained"]["valid"] - row["scratch"]["valid"]
            rows.append(row)
            print(f"{seed:>4}  {row['mlm_valid_ppl']:>8.1f}  {row['pretrained']['valid']:>14.3f}  "
                  f"{row['scratch']['valid']:>11.3f}  {row['gap']:>+6.3f}  {row['pretrained']['test']:>15.3f}  "
                  f"{row['scratch']['test']:>12.3f}", flush=True)
    summary = {"width": args.width, "depth": args.depth, "pretrain": args.pretrain, "finetune": args.finetune,
               "runs": rows, "mean_gap": statistics.mean(row["gap"] for row in rows),
               "min_gap": min(row["gap"] for row in rows)}
    print(f"mean gap (dev accuracy, pretrained - scratch): {summary['mean_gap']:+.3f}; "
          f"smallest: {summary['min_gap']:+.3f}")
    args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

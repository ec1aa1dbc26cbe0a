#!/usr/bin/env python
"""Print a table of finished runs under a results folder: size, budget and final BLEU.

    python scripts/show_results.py runs/demo
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train_large.rundir import RESULT_FILE, read_result  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    folder = parser.parse_args().folder
    if not folder.is_dir():
        sys.exit(f"error: {folder} is not a folder of runs")
    rows, unfinished = [], []
    for run_dir in sorted({p.parent for p in folder.rglob(".hydra")}):
        result = read_result(run_dir)
        (rows.append(result) if result else unfinished.append(run_dir))
    rows.sort(key=lambda r: (r["config"]["model"]["width"], r["config"]["model"]["depth"]))
    header = f"{'width':>6} {'depth':>6} {'params':>10} {'updates':>8} {'train s':>8} {'valid BLEU':>11} {'test BLEU':>10}"
    print(f"\nresults in {folder.resolve()}\n{header}")
    for r in rows:
        m = r["config"]["model"]
        print(f"{m['width']:>6} {m['depth']:>6} {r['params']:>10,} {r['updates']:>8} {r['train_seconds']:>8.1f} "
              f"{r['final']['valid']['bleu']:>11.2f} {r['final']['test']['bleu']:>10.2f}")
    for run_dir in unfinished:
        print(f"  unfinished: {run_dir}")
    wandb_runs = sorted(folder.rglob("offline-run-*"))
    print(f"\nper run: metrics.jsonl (every record), {RESULT_FILE}, checkpoints/; "
          f"{len(wandb_runs)} offline W&B runs (upload: ./scripts/sync_wandb.sh {folder})")


if __name__ == "__main__":
    main()

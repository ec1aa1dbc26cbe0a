#!/usr/bin/env python
"""Print a table of finished runs under a results folder: size, budget and final metric
(BLEU, perplexity or accuracy).

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
    rows.sort(key=lambda r: (r["task"], r["config"]["model"]["width"], r["config"]["model"]["depth"]))
    header = (f"{'task':>10} {'width':>6} {'depth':>6} {'params':>10} {'updates':>8} {'train s':>8} "
              f"{'metric':>8} {'valid':>8} {'test':>8}")
    print(f"\nresults in {folder.resolve()}\n{header}")
    for r in rows:
        m, metric = r["config"]["model"], r.get("metric", "bleu")
        test = r["final"].get("test", {}).get(metric)
        print(f"{r['task']:>10} {m['width']:>6} {m['depth']:>6} {r['params']:>10,} {r['updates']:>8} "
              f"{r['train_seconds']:>8.1f} {metric:>8} {r['final']['valid'][metric]:>8.4g} "
              f"{'-' if test is None else format(test, '.4g'):>8}")
    for run_dir in unfinished:
        print(f"  unfinished: {run_dir}")
    wandb_runs = sorted(folder.rglob("offline-run-*"))
    print(f"\nper run: metrics.jsonl (every record), {RESULT_FILE}, checkpoints/; "
          f"{len(wandb_runs)} offline W&B runs (upload: ./scripts/sync_wandb.sh {folder})")


if __name__ == "__main__":
    main()

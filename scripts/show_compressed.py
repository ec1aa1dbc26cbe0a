#!/usr/bin/env python
"""Print a table of finished compression runs under a folder: the metric (BLEU, accuracy or
perplexity) against the bytes the compressed model needs, smallest first.

A `*` marks the runs no other run beats at equal or fewer bytes (the Pareto front): for a memory
budget, ship the largest starred model that fits.

    python scripts/show_compressed.py runs/demo_compress
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train_large.evaluate import PRIMARY_METRIC  # noqa: E402
from train_large.rundir import read_result  # noqa: E402


def pareto(rows: list[dict]) -> set[int]:
    """Indices of rows (sorted by bytes) whose metric beats every row at fewer or equal bytes."""
    front, best = set(), None
    for i, row in enumerate(rows):
        _, higher = PRIMARY_METRIC[row["kind"]]
        value = row["final_metric"]
        if best is None or (value > best if higher else value < best):
            front.add(i)
            best = value
    return front


def recipe(result: dict) -> str:
    """How it was reached: one-shot or iterative pruning, QAT, and the fine-tuning seconds spent."""
    c = result["compression"]
    steps = []
    if c["method"] in ("prune", "prune_quantize"):
        steps.append(f"iter{c['steps']}" if c["schedule"] == "iterative" else "1shot")
    if c.get("qat"):
        steps.append("qat")
    tuned = f"+{result['train_seconds']:.0f}s" if result["train_seconds"] > 0 else ""
    return ("/".join(steps) or "-") + tuned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    folder = parser.parse_args().folder
    if not folder.is_dir():
        sys.exit(f"error: {folder} is not a folder of runs")
    rows, unfinished = [], []
    for run_dir in sorted({p.parent for p in folder.rglob(".hydra")}):
        result = read_result(run_dir)
        if result is None:
            unfinished.append(run_dir)
        elif "compression" in result:
            rows.append(result)
    rows.sort(key=lambda r: (r["bytes"], r["source"]["name"]))
    front = pareto(rows)
    metric = rows[0]["metric"] if rows else "metric"
    split = "test" if rows and all("test" in r["final"] for r in rows) else "valid"
    print(f"\ncompressed models in {folder.resolve()} ({metric} on {split}; * = best at its size or less)")
    print(f"  {'bytes':>11} {'ratio':>6} {'method':>14} {'sparsity':>8} {'bits':>4} {'recipe':>16} {metric:>8}  source")
    for i, r in enumerate(rows):
        value = r["final"][split][r["metric"]]
        print(f"{'*' if i in front else ' '} {r['bytes']:>11,} {r['ratio']:>6.2f} {r['method']:>14} "
              f"{r['sparsity']:>8.3f} {r['bits']:>4} {recipe(r):>16} {value:>8.4g}  {r['source']['name']}")
    for run_dir in unfinished:
        print(f"  unfinished: {run_dir}")


if __name__ == "__main__":
    main()

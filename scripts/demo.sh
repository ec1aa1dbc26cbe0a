#!/usr/bin/env bash
# The demo sweep on CPU: toy En->Fr translation at three widths for the same training-clock
# budget, then a table of final BLEU per width, then each model compressed (pruned, quantized)
# with BLEU against bytes. A fresh machine needs nothing else: this sets
# up .venv first (a second run reuses it, and finished runs are skipped).
#
#   ./scripts/demo.sh                       # results under ./runs/demo
#   DEMO_SECONDS=120 ./scripts/demo.sh      # a longer budget per width
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export TLC_RUNS_ROOT=${TLC_RUNS_ROOT:-$PWD/runs}
export TLC_DATA_ROOT=${TLC_DATA_ROOT:-$PWD/data}
export WANDB_SILENT=${WANDB_SILENT:-true}
# The sweep itself is sweeps/demo.yaml; a budget given here names the runs (train_seconds=...).
BUDGET=()
[[ -n "${DEMO_SECONDS:-}" ]] && BUDGET=("budget.train_seconds=${DEMO_SECONDS}")

echo "[demo] training toy_mt at widths 32, 64, 128 for ${DEMO_SECONDS:-60} training seconds each"
.venv/bin/tlc-train -m +sweep=demo "${BUDGET[@]}"
.venv/bin/python scripts/show_results.py "$TLC_RUNS_ROOT/demo"

# The second half of the paper on the same models: compress each at a few ratios, then BLEU
# against bytes (scripts/demo_compress.sh).
./scripts/demo_compress.sh "$TLC_RUNS_ROOT/demo"

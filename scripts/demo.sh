#!/usr/bin/env bash
# The demo sweep on CPU: toy En->Fr translation at three widths for the same training-clock
# budget, then a table of final BLEU per width. A fresh machine needs nothing else: this sets
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
SECONDS_PER_RUN=${DEMO_SECONDS:-60}

echo "[demo] training toy_mt at widths 32, 64, 128 for ${SECONDS_PER_RUN} training seconds each"
.venv/bin/tlc-train -m experiment=demo task=toy_mt model.width=32,64,128 model.depth=2 \
  "budget.train_seconds=${SECONDS_PER_RUN}"
.venv/bin/python scripts/show_results.py "$TLC_RUNS_ROOT/demo"

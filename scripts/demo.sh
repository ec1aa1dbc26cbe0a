#!/usr/bin/env bash
# The demo sweep on CPU: toy En->Fr translation at three widths for the same training-clock
# budget, then each model compressed (pruned, quantized), then a report: tables, the paper's
# figures, its claims checked on these runs, and advice for a budget. A fresh machine needs
# nothing else: this sets up .venv first (a second run reuses it, and finished runs are skipped).
#
#   ./scripts/demo.sh                       # runs under ./runs/demo and ./runs/demo_compress, report in ./runs/demo_report
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

# The second half of the paper on the same models: compress each at a few ratios
# (scripts/demo_compress.sh; its own report is left to the one below, which covers both halves).
./scripts/demo_compress.sh "$TLC_RUNS_ROOT/demo" --no-report

# Advice for the demo's own training budget, and for 500 kB: between the fp32 sizes of the width
# 32 and 64 models, so it weighs a compressed larger model against a smaller one.
# The terminal gets the verdicts, the advice and where the files are; the tables (one row per run,
# 21 here) are in report.md and runs.csv.
REPORT="$TLC_RUNS_ROOT/demo_report"
echo "[demo] report on the training and compression runs"
.venv/bin/tlc-report "$TLC_RUNS_ROOT/demo" "$TLC_RUNS_ROOT/demo_compress" --out "$REPORT" --claims \
    --advise train_seconds="${DEMO_SECONDS:-60}" bytes=5e5 | grep -v -e '^|' -e '^$'
# The demo writes under $TLC_RUNS_ROOT only (ignored by git). README's figure is a committed copy of
# this one, docs/images/demo_figure.png: copy it there by hand, and commit it, to refresh it.
echo "[demo] report: $REPORT/report.md (figures in $REPORT/figures; W&B runs: ./scripts/sync_wandb.sh $TLC_RUNS_ROOT)"
# The demo has no depth or batch sweep: claims 2 and 3 say "not enough data", and the report names
# the command that makes their runs.
echo "[demo] claims 2 and 3 need depth and batch sweeps: ./scripts/reproduce.sh toy runs every claim's sweeps (~25 min)"

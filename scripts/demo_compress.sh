#!/usr/bin/env bash
# Compress every finished run in RUNS_DIR (the demo sweep's folder) at a few ratios, then report
# BLEU against bytes: magnitude pruning to 50% and 90% of the attention and FFN weights, and
# 8- and 4-bit per-channel weight quantization, beside the fp32 baseline (bits=32). BLEU is the
# valid subset the training curves use; finished compressions are skipped on a re-run.
#
#   ./scripts/demo_compress.sh runs/demo          # results under $TLC_RUNS_ROOT/demo_compress, report in its report/
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS_DIR=${1:?usage: scripts/demo_compress.sh RUNS_DIR (a folder of finished tlc-train runs, e.g. runs/demo)}

export TLC_RUNS_ROOT=${TLC_RUNS_ROOT:-$PWD/runs}
export TLC_DATA_ROOT=${TLC_DATA_ROOT:-$PWD/data}
export WANDB_SILENT=${WANDB_SILENT:-true}
COMMON=("source_sweep=$RUNS_DIR" experiment=demo_compress evaluation.test=false)

echo "[demo] compressing the finished runs in $RUNS_DIR: prune 0.5 / 0.9, quantize 32 (fp32) / 8 / 4 bits"
.venv/bin/tlc-compress -m "${COMMON[@]}" compression=prune compression.sparsity=0.5,0.9
.venv/bin/tlc-compress -m "${COMMON[@]}" compression=quantize compression.bits=32,8,4
.venv/bin/tlc-report "$TLC_RUNS_ROOT/demo_compress"

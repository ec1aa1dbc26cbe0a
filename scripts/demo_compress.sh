#!/usr/bin/env bash
# Compress every finished run in RUNS_DIR (the demo sweep's folder) at a few ratios, then report
# BLEU against bytes: magnitude pruning to 50% and 90% of the attention and FFN weights, and
# 8- and 4-bit per-channel weight quantization, beside the fp32 baseline (bits=32); then 90%
# pruning with 4 bits, the embeddings included, far enough for claim 4 (below). BLEU is the
# valid subset the training curves use; finished compressions are skipped on a re-run.
#
#   ./scripts/demo_compress.sh runs/demo              # results under $TLC_RUNS_ROOT/demo_compress, report in its report/
#   ./scripts/demo_compress.sh runs/demo --no-report  # no report (scripts/demo.sh makes one of both halves)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS_DIR=${1:?usage: scripts/demo_compress.sh RUNS_DIR [--no-report] (RUNS_DIR: a folder of finished tlc-train runs, e.g. runs/demo)}
REPORT=true
case "${2:-}" in
  "") ;;
  --no-report) REPORT=false ;;
  *) echo "usage: scripts/demo_compress.sh RUNS_DIR [--no-report]" >&2; exit 2 ;;
esac

export TLC_RUNS_ROOT=${TLC_RUNS_ROOT:-$PWD/runs}
export TLC_DATA_ROOT=${TLC_DATA_ROOT:-$PWD/data}
export WANDB_SILENT=${WANDB_SILENT:-true}
COMMON=("source_sweep=$RUNS_DIR" experiment=demo_compress evaluation.test=false)

echo "[demo] compressing the finished runs in $RUNS_DIR: prune 0.5 / 0.9, quantize 32 (fp32) / 8 / 4 bits," \
     "prune 0.9 + 4 bits with the embeddings"
.venv/bin/tlc-compress -m "${COMMON[@]}" compression=prune compression.sparsity=0.5,0.9
.venv/bin/tlc-compress -m "${COMMON[@]}" compression=quantize compression.bits=32,8,4
# Claim 4 compares the widest and the narrowest model only at memory budgets where both fit. With
# the embeddings kept in fp32, even 90% pruning at 4 bits leaves width 128 near 690 kB, above width
# 32's fp32 size (366 kB), and the claim has no budget to compare at; compressing them too: about 200 kB.
.venv/bin/tlc-compress -m "${COMMON[@]}" compression=prune_quantize compression.sparsity=0.9 compression.bits=4 \
    compression.embeddings=true
if $REPORT; then
  .venv/bin/tlc-report "$TLC_RUNS_ROOT/demo_compress"
fi

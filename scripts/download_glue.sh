#!/usr/bin/env bash
# GLUE MNLI and SST-2, the fine-tuning tasks, from the official zips, in the layout
# train_large/data/prepare_glue.py reads: DIR/MNLI/{train,dev_matched,dev_mismatched}.tsv and
# DIR/SST-2/{train,dev}.tsv, and the unlabelled test TSVs, from which a fine-tuned run writes its
# predictions in the GLUE submission format (outputs/glue/).
#
# Usage: scripts/download_glue.sh [--out DIR] [--tasks "MNLI SST-2"]
#   --out DIR      where the tasks go (default: ${TLC_DATA_ROOT:-data}/glue)
#   --tasks NAMES  which of MNLI and SST-2 (default: both)
# Resumable: an interrupted download continues where it stopped; finished steps are skipped.
# Integrity: no published checksums of these zips could be confirmed, so their own CRC-32s are
# tested (unzip -t) and the example counts compared with GLUE's published ones. Needs curl and
# unzip; about 320 MB of download. Ends by printing the prepare commands.
set -euo pipefail

DATA_ROOT="${TLC_DATA_ROOT:-data}"
OUT="$DATA_ROOT/glue"
TASKS="MNLI SST-2"
BASE_URL="https://dl.fbaipublicfiles.com/glue/data"
# Labelled examples (lines minus the header) of each file, as published by GLUE.
declare -A EXAMPLES=([MNLI/train.tsv]=392702 [MNLI/dev_matched.tsv]=9815
                     [MNLI/dev_mismatched.tsv]=9832 [SST-2/train.tsv]=67349 [SST-2/dev.tsv]=872)
declare -A PREPARE_TASK=([MNLI]=mnli [SST-2]=sst2)

usage() { sed -n '/^# Usage:/,/^#   --tasks/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
fail() { echo "download_glue: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) [[ -n "${2:-}" ]] || fail "--out needs a directory"; OUT="$2"; shift 2 ;;
        --tasks) [[ -n "${2:-}" ]] || fail "--tasks needs MNLI and/or SST-2"; TASKS="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; fail "unknown argument: $1" ;;
    esac
done
for tool in curl unzip wc; do command -v "$tool" >/dev/null || fail "$tool is not installed"; done
mkdir -p "$OUT"

for task in $TASKS; do
    [[ -n "${PREPARE_TASK[$task]:-}" ]] || fail "unknown task $task; choose from MNLI SST-2"
    zip="$OUT/$task.zip"
    if [[ ! -f "$zip" ]]; then
        echo "downloading $BASE_URL/$task.zip"
        curl -fL --retry 5 -C - -o "$zip.part" "$BASE_URL/$task.zip" \
            || fail "could not download $BASE_URL/$task.zip (re-run to continue the download)"
        mv "$zip.part" "$zip"
    fi
    if [[ ! -f "$OUT/.extracted.$task" ]]; then
        unzip -tq "$zip" >/dev/null || fail "$zip is damaged (CRC check failed); delete it and re-run"
        unzip -oq "$zip" -d "$OUT" || fail "could not extract $zip"
        touch "$OUT/.extracted.$task"
    fi
    for file in "${!EXAMPLES[@]}"; do
        [[ "$file" == "$task/"* ]] || continue
        [[ -f "$OUT/$file" ]] || fail "$OUT/$file is missing after extraction; delete $zip and re-run"
        examples=$(( $(wc -l < "$OUT/$file") - 1 ))
        [[ "$examples" == "${EXAMPLES[$file]}" ]] \
            || echo "warning: $OUT/$file has $examples examples, ${EXAMPLES[$file]} published" >&2
        echo "$file: $examples examples"
    done
done

PRETRAIN="$DATA_ROOT/wikipedia_bookcorpus"
echo "done; prepare with the pretraining corpus's vocabulary (PRETRAIN: a dir written by"
echo "tlc-prepare mlm, e.g. $PRETRAIN):"
for task in $TASKS; do
    echo "  tlc-prepare glue --task ${PREPARE_TASK[$task]} --glue-dir $OUT/$task" \
         "--vocab-from $PRETRAIN --out $DATA_ROOT/${PREPARE_TASK[$task]}"
done

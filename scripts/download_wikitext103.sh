#!/usr/bin/env bash
# WikiText-103 (raw, untokenised; about 103M words from Wikipedia Good and Featured articles), a
# small pretraining corpus for the masked-LM task, laid out the way
# train_large/data/prepare_mlm.py reads it: DIR/{train,valid,test}.txt from wiki.{split}.raw.
# Its paragraphs are separated by blank lines and its " = Heading = " lines stay plain text, so
# each paragraph is one document (as in fairseq's RoBERTa pretraining tutorial).
#
# Usage: scripts/download_wikitext103.sh [--out DIR]
#   --out DIR  where the text goes (default: ${TLC_DATA_ROOT:-data}/wikitext103.raw)
# Resumable: an interrupted download continues where it stopped; finished steps are skipped.
# Integrity: no published checksum of the raw zip could be confirmed, so the zip's own CRC-32s
# are tested (unzip -t) and the line counts compared with the published ones. Needs curl and
# unzip; about 190 MB of download and 1 GB of disk. Ends by printing the prepare command.
set -euo pipefail

DATA_ROOT="${TLC_DATA_ROOT:-data}"
OUT="$DATA_ROOT/wikitext103.raw"
URLS=(  # the first that answers is used
    "https://wikitext.smerity.com/wikitext-103-raw-v1.zip"
    "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-raw-v1.zip"
)
# Lines of wiki.{train,valid,test}.raw as published with the corpus (torchtext lists the same).
declare -A LINES=([train]=1801350 [valid]=3760 [test]=4358)

usage() { sed -n '/^# Usage:/,/^#   --out/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
fail() { echo "download_wikitext103: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) [[ -n "${2:-}" ]] || fail "--out needs a directory"; OUT="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; fail "unknown argument: $1" ;;
    esac
done
for tool in curl unzip wc; do command -v "$tool" >/dev/null || fail "$tool is not installed"; done
mkdir -p "$OUT"
ZIP="$OUT/wikitext-103-raw-v1.zip"

if [[ ! -f "$ZIP" ]]; then
    for url in "${URLS[@]}"; do
        echo "downloading $url"
        if curl -fL --retry 5 -C - -o "$ZIP.part" "$url"; then
            mv "$ZIP.part" "$ZIP"
            break
        fi
        echo "could not download $url; trying the next mirror" >&2
    done
    [[ -f "$ZIP" ]] || fail "no mirror answered (re-run to continue the download)"
fi
if [[ ! -f "$OUT/.checked" ]]; then
    unzip -tq "$ZIP" >/dev/null || fail "$ZIP is damaged (CRC check failed); delete it and re-run"
    touch "$OUT/.checked"
fi
for split in train valid test; do
    if [[ ! -f "$OUT/$split.txt" ]]; then
        echo "extracting wiki.$split.raw"
        unzip -p "$ZIP" "wikitext-103-raw/wiki.$split.raw" > "$OUT/$split.txt.tmp" \
            || fail "wiki.$split.raw is not in $ZIP; delete it and re-run"
        mv "$OUT/$split.txt.tmp" "$OUT/$split.txt"
    fi
    lines=$(wc -l < "$OUT/$split.txt")
    [[ "$lines" == "${LINES[$split]}" ]] \
        || echo "warning: $OUT/$split.txt has $lines lines, ${LINES[$split]} published" >&2
    echo "$split.txt: $lines lines"
done

echo "done; prepare it with:"
echo "  tlc-prepare mlm --raw-dir $OUT --out $DATA_ROOT/wikitext103 --vocab-size 32000"

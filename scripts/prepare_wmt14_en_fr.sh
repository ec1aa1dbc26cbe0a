#!/usr/bin/env bash
# WMT14 English->French, the translation task of Li et al. 2020, prepared for fairseq.
#
# Training pairs: the corpora of fairseq's examples/translation/prepare-wmt14en2fr.sh (Europarl
# v7, CommonCrawl, UN, News Commentary v9, Giga-FrEn; about 40M pairs before cleaning), cleaned
# like that script's clean-corpus-n step (1 to 250 words a side, length ratio at most 1.5) but
# counted in words, as there are no subwords yet. Valid: newstest2013. Test: newstest2014, the
# full set of test-full.tgz (sacrebleu -t wmt14/full), as in fairseq's script.
# Then `tlc-prepare translation`: normalisation, one joint 40k sentencepiece model, fairseq
# binarization, into ${TLC_DATA_ROOT:-data}/wmt14_en_fr (complete once prepared.json is there).
#
# Usage: scripts/prepare_wmt14_en_fr.sh [--max-train N] [--work DIR]
#   --max-train N  keep a fixed random sample of N cleaned training pairs (default: all)
#   --work DIR     downloads and raw text (default: ${TLC_DATA_ROOT:-data}/wmt14_en_fr.work)
# Resumable: finished downloads, extractions and raw files are kept and skipped; an interrupted
# download continues where it stopped. Needs curl, tar, gzip, awk, shuf and the project's
# tlc-prepare on PATH (source .venv/bin/activate). Cost: several GB of downloads, tens of GB of
# disk, and hours of CPU for all pairs (mostly normalisation and binarization, single-threaded).
set -euo pipefail

DATA_ROOT="${TLC_DATA_ROOT:-data}"
OUT="$DATA_ROOT/wmt14_en_fr"
WORK="$DATA_ROOT/wmt14_en_fr.work"
MAX_TRAIN=""
VOCAB_SIZE=40000  # joint sentencepiece pieces (fairseq's script learns 40k BPE merges)
MAX_WORDS=250     # longest side kept, in words
MAX_RATIO=1.5     # longest allowed length ratio between the two sides

usage() { sed -n '/^# Usage:/,/^#   --work/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
fail() { echo "prepare_wmt14_en_fr: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --max-train) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || fail "--max-train needs a positive number"
                     MAX_TRAIN="$2"; shift 2 ;;
        --work) [[ -n "${2:-}" ]] || fail "--work needs a directory"; WORK="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; fail "unknown argument: $1" ;;
    esac
done
for tool in curl tar gzip awk shuf paste md5sum tlc-prepare; do
    command -v "$tool" >/dev/null || fail "$tool is not installed"
done

ORIG="$WORK/orig"
RAW="$WORK/raw"
mkdir -p "$ORIG" "$RAW"

# url, file name, md5 (known for the test sets, from sacrebleu's dataset table; else empty)
ARCHIVES=(
    "https://statmt.org/wmt13/training-parallel-europarl-v7.tgz training-parallel-europarl-v7.tgz -"
    "https://statmt.org/wmt13/training-parallel-commoncrawl.tgz training-parallel-commoncrawl.tgz -"
    "https://statmt.org/wmt13/training-parallel-un.tgz training-parallel-un.tgz -"
    "https://statmt.org/wmt14/training-parallel-nc-v9.tgz training-parallel-nc-v9.tgz -"
    "https://statmt.org/wmt10/training-giga-fren.tar training-giga-fren.tar -"
    "https://statmt.org/wmt13/test.tgz wmt13-test.tgz 48eca5d02f637af44e85186847141f67"
    "https://statmt.org/wmt14/test-full.tgz test-full.tgz a8cd784e006feb32ac6f3d9ec7eb389a"
)
# Each corpus is <path>.en and <path>.fr under $ORIG, plain or gzipped.
CORPORA=(
    "training/europarl-v7.fr-en"
    "commoncrawl.fr-en"
    "un/undoc.2000.fr-en"
    "training/news-commentary-v9.fr-en"
    "giga-fren.release2.fixed"
)

fetch() {
    local url="$1" file="$2" md5="$3"
    if [[ -f "$ORIG/$file" ]]; then
        echo "have $file"
    else
        echo "downloading $url"
        curl -fL --retry 5 -C - -o "$ORIG/$file.part" "$url" \
            || fail "could not download $url (re-run to continue the download)"
        mv "$ORIG/$file.part" "$ORIG/$file"
    fi
    if [[ "$md5" != "-" && ! -f "$ORIG/.checked.$file" ]]; then
        echo "$md5  $ORIG/$file" | md5sum -c --quiet - \
            || fail "$ORIG/$file has the wrong md5 sum; delete it and re-run"
        touch "$ORIG/.checked.$file"
    fi
    if [[ ! -f "$ORIG/.extracted.$file" ]]; then
        echo "extracting $file"
        tar -xf "$ORIG/$file" -C "$ORIG" || fail "$ORIG/$file is damaged; delete it and re-run"
        touch "$ORIG/.extracted.$file"
    fi
}

read_side() {  # the text of one corpus side, gzipped or not
    if [[ -f "$1" ]]; then cat "$1"
    elif [[ -f "$1.gz" ]]; then gzip -dc "$1.gz"
    else fail "$1 is missing after extraction; delete $ORIG/.extracted.* and re-run"; fi
}

clean_pairs() {  # source<TAB>target lines kept: no blank side, no tab inside, length limits
    awk -F'\t' -v max_words="$MAX_WORDS" -v max_ratio="$MAX_RATIO" 'NF == 2 {
        s = split($1, words, " "); t = split($2, words, " ")
        if (s >= 1 && t >= 1 && s <= max_words && t <= max_words \
            && s <= max_ratio * t && t <= max_ratio * s) print
    }'
}

build_train() {
    local pairs="$RAW/train.pairs.tmp" corpus en_lines fr_lines
    : > "$pairs"
    for corpus in "${CORPORA[@]}"; do
        en_lines=$(read_side "$ORIG/$corpus.en" | wc -l)
        fr_lines=$(read_side "$ORIG/$corpus.fr" | wc -l)
        [[ "$en_lines" == "$fr_lines" ]] \
            || fail "$corpus.en has $en_lines lines but $corpus.fr has $fr_lines"
        paste <(read_side "$ORIG/$corpus.en") <(read_side "$ORIG/$corpus.fr") | clean_pairs >> "$pairs"
        echo "$corpus: $en_lines pairs, $(wc -l < "$pairs") kept so far"
    done
    if [[ -n "$MAX_TRAIN" ]]; then
        # A fixed random source makes the sample the same on every run.
        shuf -n "$MAX_TRAIN" --random-source=<(yes) "$pairs" > "$pairs.sample"
        mv "$pairs.sample" "$pairs"
    fi
    awk -F'\t' -v en="$RAW/train.en.tmp" -v fr="$RAW/train.fr.tmp" \
        '{ print $1 > en; print $2 > fr }' "$pairs"
    mv "$RAW/train.en.tmp" "$RAW/train.en"
    mv "$RAW/train.fr.tmp" "$RAW/train.fr"
    rm "$pairs"
    echo "max_train=${MAX_TRAIN:-all}" > "$RAW/train.done"
}

sgm_text() {  # segment text of a WMT "fake SGML" file, extracted as sacrebleu does
    grep '^<seg ' "$1" | sed -e 's/^<seg[^>]*>//' -e 's#</seg>.*$##'
}

build_eval() {
    local split="$1" en_sgm="$2" fr_sgm="$3"
    [[ -f "$RAW/$split.en" && -f "$RAW/$split.fr" ]] && return 0
    sgm_text "$en_sgm" > "$RAW/$split.en.tmp"
    sgm_text "$fr_sgm" > "$RAW/$split.fr.tmp"
    local en_lines fr_lines
    en_lines=$(wc -l < "$RAW/$split.en.tmp")
    fr_lines=$(wc -l < "$RAW/$split.fr.tmp")
    [[ "$en_lines" -gt 0 && "$en_lines" == "$fr_lines" ]] \
        || fail "$en_sgm gave $en_lines segments but $fr_sgm gave $fr_lines"
    mv "$RAW/$split.en.tmp" "$RAW/$split.en"
    mv "$RAW/$split.fr.tmp" "$RAW/$split.fr"
    echo "$split: $en_lines pairs from $(basename "$en_sgm")"
}

for archive in "${ARCHIVES[@]}"; do
    # shellcheck disable=SC2086  # word splitting of the table row is intended
    fetch $archive
done

if [[ "$(cat "$RAW/train.done" 2>/dev/null)" == "max_train=${MAX_TRAIN:-all}" ]]; then
    echo "have $RAW/train.{en,fr} (max_train=${MAX_TRAIN:-all})"
else
    echo "building training pairs in $RAW (max_train=${MAX_TRAIN:-all})"
    rm -f "$RAW/train.done"
    build_train
fi
build_eval valid "$ORIG/test/newstest2013-src.en.sgm" "$ORIG/test/newstest2013-src.fr.sgm"
build_eval test "$ORIG/test-full/newstest2014-fren-src.en.sgm" \
    "$ORIG/test-full/newstest2014-fren-ref.fr.sgm"

if [[ -f "$OUT/prepared.json" && "$OUT/prepared.json" -nt "$RAW/train.done" ]]; then
    echo "$OUT is already prepared from these files; delete $OUT/prepared.json to redo it"
    exit 0
fi
tlc-prepare translation --raw-dir "$RAW" --out "$OUT" \
    --src en --tgt fr --vocab-size "$VOCAB_SIZE"

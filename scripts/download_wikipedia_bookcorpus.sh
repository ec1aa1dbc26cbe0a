#!/usr/bin/env bash
# English Wikipedia + BookCorpus, the BERT pretraining data RoBERTa's smaller setting (and the
# paper's pretraining runs) use, written as DIR/{train,valid,test}.txt with one document per line
# (an article; a run of BookCorpus sentences), the layout train_large/data/prepare_mlm.py reads.
#
# Needs the Hugging Face `datasets` library (pip install datasets), a network, and about 20 GB of
# disk for the text (plus the library's own download cache, about as much again).
# Sources: wikimedia/wikipedia (config 20231101.en) and bookcorpus/bookcorpus. The Hub copy of
# BookCorpus has lost its book boundaries (one sentence per row), so every SENTENCES_PER_DOC
# consecutive sentences are written as one document. A document goes to valid or test when the
# md5 of its text falls in a fixed 1/HOLDOUT share each: a fixed split, the same on every run.
#
# Usage: scripts/download_wikipedia_bookcorpus.sh [--out DIR]
#   --out DIR  where the text goes (default: ${TLC_DATA_ROOT:-data}/wikipedia_bookcorpus.raw)
# Resumable: `datasets` keeps and resumes its downloads; the text files are written to *.tmp and
# renamed at the end, so a finished run is skipped. Ends by printing the prepare command.
set -euo pipefail

DATA_ROOT="${TLC_DATA_ROOT:-data}"
OUT="$DATA_ROOT/wikipedia_bookcorpus.raw"
WIKIPEDIA_CONFIG="20231101.en"
SENTENCES_PER_DOC=64  # BookCorpus sentences per pseudo-document (about 1000 words)
HOLDOUT=5000          # 1 document in HOLDOUT goes to valid, another 1 in HOLDOUT to test

usage() { sed -n '/^# Usage:/,/^#   --out/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
fail() { echo "download_wikipedia_bookcorpus: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) [[ -n "${2:-}" ]] || fail "--out needs a directory"; OUT="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; fail "unknown argument: $1" ;;
    esac
done
PYTHON="${PYTHON:-python}"
"$PYTHON" -c "import datasets" 2>/dev/null \
    || fail "the datasets library is missing; install it with: pip install datasets"
mkdir -p "$OUT"

if [[ -f "$OUT/train.txt" && -f "$OUT/valid.txt" && -f "$OUT/test.txt" ]]; then
    echo "have $OUT/{train,valid,test}.txt"
else
    "$PYTHON" - "$OUT" "$WIKIPEDIA_CONFIG" "$SENTENCES_PER_DOC" "$HOLDOUT" <<'PY'
import hashlib
import os
import sys

from datasets import load_dataset

out, wikipedia_config, per_doc, holdout = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
files = {split: open(os.path.join(out, f"{split}.txt.tmp"), "w", encoding="utf-8")
         for split in ("train", "valid", "test")}
counts = dict.fromkeys(files, 0)


def write(document):
    text = " ".join(document.split())  # the whole document on one line
    if not text:
        return
    bucket = int(hashlib.md5(text.encode("utf-8")).hexdigest(), 16) % holdout
    split = "valid" if bucket == 0 else "test" if bucket == 1 else "train"
    files[split].write(text + "\n")
    counts[split] += 1
    if sum(counts.values()) % 100_000 == 0:
        print(f"{sum(counts.values())} documents: {counts}", flush=True)


print(f"wikimedia/wikipedia {wikipedia_config}", flush=True)
for article in load_dataset("wikimedia/wikipedia", wikipedia_config, split="train"):
    write(article["text"])
print("bookcorpus/bookcorpus", flush=True)
sentences = []
for row in load_dataset("bookcorpus/bookcorpus", split="train"):
    sentences.append(row["text"])
    if len(sentences) == per_doc:
        write(" ".join(sentences))
        sentences = []
write(" ".join(sentences))
for split, sink in files.items():
    sink.close()
for split in files:  # renamed only once everything is written
    os.replace(os.path.join(out, f"{split}.txt.tmp"), os.path.join(out, f"{split}.txt"))
print(f"documents per split: {counts}", flush=True)
PY
fi

echo "done; prepare it with:"
echo "  tlc-prepare mlm --raw-dir $OUT --out $DATA_ROOT/wikipedia_bookcorpus --vocab-size 32000"

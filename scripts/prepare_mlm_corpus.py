"""Prepare a plain-text corpus as the data dir of fairseq's masked_lm task (RoBERTa pretraining).

    python scripts/prepare_mlm_corpus.py --raw-dir RAW --out DATA_DIR --vocab-size 32000

RAW holds {train,valid,test}.txt: one document per line, or documents separated by blank lines
(scripts/download_wikitext103.sh and scripts/download_wikipedia_bookcorpus.sh write them). Bad
input exits with status 2 and one line on stderr. Layout of DATA_DIR:
train_large/data/prepare_mlm.py.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

# Lets the script run from a checkout that was not pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train_large.data.prepare import PrepareError  # noqa: E402
from train_large.data.prepare_mlm import prepare_mlm_corpus  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raw-dir", type=Path, required=True,
                        help="folder of {train,valid,test}.txt, documents one per line or "
                             "separated by blank lines")
    parser.add_argument("--out", type=Path, required=True, help="data dir to write")
    parser.add_argument("--vocab-size", type=int, default=32000,
                        help="sentencepiece pieces (default: 32000)")
    parser.add_argument("--max-spm-sentences", type=int, default=2_000_000,
                        help="train chunks of up to 1000 characters sampled to train "
                             "sentencepiece (default: 2000000)")
    parser.add_argument("--seed", type=int, default=0, help="seed for sentencepiece and its sample")
    args = parser.parse_args(argv)
    if args.vocab_size < 1 or args.max_spm_sentences < 1:
        parser.error("--vocab-size and --max-spm-sentences must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("fairseq").setLevel(logging.WARNING)  # its import logs a tensorboardX hint
    try:
        prepared = prepare_mlm_corpus(args.raw_dir, args.out, vocab_size=args.vocab_size,
                                      seed=args.seed,
                                      max_train_sentences_for_spm=args.max_spm_sentences)
    except PrepareError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    lines = ", ".join(f"{split} {count}" for split, count in prepared.lines.items())
    print(f"prepared {prepared.data_dir}: masked_lm, dictionary {prepared.vocab_size} entries "
          f"(sha1 {prepared.dictionary_sha1}), text lines: {lines}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

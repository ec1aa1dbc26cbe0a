"""Prepare line-aligned parallel text (or a source<TAB>target file) as a fairseq translation dataset.

    python scripts/prepare_translation.py --raw-dir RAW --out DATA_DIR --src en --tgt fr --vocab-size 32000
    python scripts/prepare_translation.py --tsv pairs.tsv --valid 500 --test 500 \\
        --raw-dir RAW --out DATA_DIR --src en --tgt fr --vocab-size 8000

RAW holds {train,valid,test}.{src,tgt}; with --tsv they are written there first. Bad input
exits with status 2 and one line on stderr. Layout of DATA_DIR: train_large/data/prepare.py.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

# Lets the script run from a checkout that was not pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train_large.data.prepare import PrepareError, prepare_translation, split_tsv  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raw-dir", type=Path, required=True,
                        help="folder of {split}.{lang} files, one sentence per line")
    parser.add_argument("--out", type=Path, required=True, help="data dir to write")
    parser.add_argument("--src", required=True, help="source language code, e.g. en")
    parser.add_argument("--tgt", required=True, help="target language code, e.g. fr")
    parser.add_argument("--vocab-size", type=int, default=8000,
                        help="sentencepiece pieces, shared by both languages (default: 8000)")
    parser.add_argument("--max-spm-sentences", type=int, default=2_000_000,
                        help="train lines sampled to train sentencepiece (default: 2000000)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the --tsv shuffle and sentencepiece")
    parser.add_argument("--tsv", type=Path,
                        help="source<TAB>target file to split into --raw-dir first")
    parser.add_argument("--valid", type=int, help="with --tsv: pairs held out for validation")
    parser.add_argument("--test", type=int, help="with --tsv: pairs held out for test")
    args = parser.parse_args(argv)
    if args.tsv is not None and (args.valid is None or args.test is None):
        parser.error("--tsv needs --valid N and --test N")
    if args.tsv is None and (args.valid is not None or args.test is not None):
        parser.error("--valid and --test only apply with --tsv")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("fairseq").setLevel(logging.WARNING)  # its import logs a tensorboardX hint
    try:
        if args.tsv is not None:
            sizes = split_tsv(args.tsv, args.raw_dir, source_lang=args.src, target_lang=args.tgt,
                              valid=args.valid, test=args.test, seed=args.seed)
            logging.info("split %s into %s: %s", args.tsv, args.raw_dir, sizes)
        prepared = prepare_translation(
            args.raw_dir, args.out, source_lang=args.src, target_lang=args.tgt,
            vocab_size=args.vocab_size, max_train_sentences_for_spm=args.max_spm_sentences,
            seed=args.seed)
    except PrepareError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    pairs = ", ".join(f"{split} {count}" for split, count in prepared.lines.items())
    print(f"prepared {prepared.data_dir}: {prepared.source_lang}-{prepared.target_lang}, "
          f"dictionary {prepared.vocab_size} entries, pairs: {pairs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Prepare a GLUE task (MNLI, SST-2) for fine-tuning with the pretraining corpus's vocabulary.

    python scripts/prepare_glue.py --task mnli --glue-dir GLUE/MNLI --vocab-from PRETRAIN_DIR --out DATA_DIR

GLUE_DIR holds the official TSVs (scripts/download_glue.sh): MNLI train.tsv, dev_matched.tsv,
dev_mismatched.tsv; SST-2 train.tsv, dev.tsv. The unlabelled test sets, where they are there too
(MNLI test_matched.tsv and test_mismatched.tsv, SST-2 test.tsv), are checked and prepared as well,
and a run then writes its predictions for them as GLUE submission files (outputs/glue/MNLI-m.tsv,
MNLI-mm.tsv, SST-2.tsv); a labelled test.tsv (the toy task's) is the scored test split instead.
PRETRAIN_DIR is a data dir written by scripts/prepare_mlm_corpus.py: its sentencepiece model and
dictionary encode the task, so a model pretrained on it can be fine-tuned. Bad input exits with
status 2 and one line on stderr. Layout of DATA_DIR: train_large/data/prepare_glue.py.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

# Lets the script run from a checkout that was not pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train_large.data.prepare import PrepareError  # noqa: E402
from train_large.data.prepare_glue import LAYOUTS, prepare_glue  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", required=True, choices=sorted(LAYOUTS), help="GLUE task")
    parser.add_argument("--glue-dir", type=Path, required=True,
                        help="folder of the task's official TSV files")
    parser.add_argument("--vocab-from", type=Path, required=True,
                        help="prepared pretraining corpus (scripts/prepare_mlm_corpus.py --out)")
    parser.add_argument("--out", type=Path, required=True, help="data dir to write")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("fairseq").setLevel(logging.WARNING)  # its import logs a tensorboardX hint
    try:
        prepared = prepare_glue(args.task, args.glue_dir, args.out, vocab_from=args.vocab_from)
    except PrepareError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    examples = ", ".join(f"{split} {count}" for split, count in prepared.lines.items())
    unlabelled = ", ".join(f"{split} {s['lines']} (for {s['file']})" for split, s in prepared.submission.items())
    print(f"prepared {prepared.data_dir}: {args.task}, labels {' '.join(prepared.labels)}, "
          f"{'sentence pairs' if prepared.sentence_pairs else 'single sentences'}, "
          f"examples: {examples}; unlabelled test sets: {unlabelled or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`tlc-prepare`: the console entry point that turns raw text into the data dirs tlc-train reads.

One subcommand per kind of data, each a thin shell over its preparer: `translation`
(prepare.py), `mlm` (prepare_mlm.py) and `glue` (prepare_glue.py). Bad input, option or data,
exits with status 2 and one line on stderr. Imports only train_large.data, never Hydra; fairseq
loads only at a preparation's binarize step, so `--help` and bad options stay fast.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import NoReturn

from .prepare import PrepareError, available_cores, prepare_translation, split_tsv
from .prepare_glue import LAYOUTS, prepare_glue
from .prepare_mlm import prepare_mlm_corpus

TRANSLATION = """\
Prepare line-aligned parallel text (or a source<TAB>target file) as a fairseq translation
dataset.

RAW holds {train,valid,test}.{src,tgt}; with --tsv they are written there first.
Layout of DATA_DIR: train_large/data/prepare.py.

  tlc-prepare translation --raw-dir RAW --out DATA_DIR --src en --tgt fr --vocab-size 32000
  tlc-prepare translation --tsv pairs.tsv --valid 500 --test 500 \\
      --raw-dir RAW --out DATA_DIR --src en --tgt fr --vocab-size 8000
"""

MLM = """\
Prepare a plain-text corpus as the data dir of fairseq's masked_lm task (RoBERTa
pretraining).

RAW holds {train,valid,test}.txt: one document per line, or documents separated by blank
lines (scripts/download_wikitext103.sh and scripts/download_wikipedia_bookcorpus.sh write
them). Layout of DATA_DIR: train_large/data/prepare_mlm.py.

  tlc-prepare mlm --raw-dir RAW --out DATA_DIR --vocab-size 32000
"""

GLUE = """\
Prepare a GLUE task (MNLI, SST-2) for fine-tuning with the pretraining corpus's vocabulary.

GLUE_DIR holds the official TSVs (scripts/download_glue.sh): MNLI train.tsv, dev_matched.tsv,
dev_mismatched.tsv; SST-2 train.tsv, dev.tsv. The unlabelled test sets, where they are there
too (MNLI test_matched.tsv and test_mismatched.tsv, SST-2 test.tsv), are checked and prepared
as well, and a run then writes its predictions for them as GLUE submission files
(outputs/glue/MNLI-m.tsv, MNLI-mm.tsv, SST-2.tsv); a labelled test.tsv (the toy task's) is the
scored test split instead. PRETRAIN_DIR is a data dir written by `tlc-prepare mlm`: its
sentencepiece model and dictionary encode the task, so a model pretrained on it can be
fine-tuned. Layout of DATA_DIR: train_large/data/prepare_glue.py.

  tlc-prepare glue --task mnli --glue-dir GLUE/MNLI --vocab-from PRETRAIN_DIR --out DATA_DIR
"""


def error_line(prog: str, message: str) -> str:
    return f"{prog}: error: {message} (see {prog} --help)\n"


class OneLineParser(argparse.ArgumentParser):
    """Its errors are one line on stderr (no usage block), status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, error_line(self.prog, message))


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def translation_problem(args: argparse.Namespace) -> str | None:
    if args.tsv is not None and (args.valid is None or args.test is None):
        return "--tsv needs --valid N and --test N"
    if args.tsv is None and (args.valid is not None or args.test is not None):
        return "--valid and --test only apply with --tsv"
    return None


def counts(lines: dict[str, int]) -> str:
    return ", ".join(f"{split} {count}" for split, count in lines.items())


def translation(args: argparse.Namespace) -> str:
    """Split --tsv if given, prepare the translation data dir; the summary line."""
    if args.tsv is not None:
        sizes = split_tsv(args.tsv, args.raw_dir, source_lang=args.src, target_lang=args.tgt,
                          valid=args.valid, test=args.test, seed=args.seed)
        logging.info("split %s into %s: %s", args.tsv, args.raw_dir, sizes)
    prepared = prepare_translation(
        args.raw_dir, args.out, source_lang=args.src, target_lang=args.tgt,
        vocab_size=args.vocab_size, max_train_sentences_for_spm=args.max_spm_sentences,
        seed=args.seed, workers=args.workers)
    return (f"prepared {prepared.data_dir}: {prepared.source_lang}-{prepared.target_lang}, "
            f"dictionary {prepared.vocab_size} entries, pairs: {counts(prepared.lines)}")


def mlm(args: argparse.Namespace) -> str:
    prepared = prepare_mlm_corpus(args.raw_dir, args.out, vocab_size=args.vocab_size, seed=args.seed,
                                  max_train_sentences_for_spm=args.max_spm_sentences, workers=args.workers)
    return (f"prepared {prepared.data_dir}: masked_lm, dictionary {prepared.vocab_size} entries "
            f"(sha1 {prepared.dictionary_sha1}), text lines: {counts(prepared.lines)}")


def glue(args: argparse.Namespace) -> str:
    prepared = prepare_glue(args.task, args.glue_dir, args.out, vocab_from=args.vocab_from, workers=args.workers)
    unlabelled = ", ".join(f"{split} {s['lines']} (for {s['file']})"
                           for split, s in prepared.submission.items())
    return (f"prepared {prepared.data_dir}: {args.task}, labels {' '.join(prepared.labels)}, "
            f"{'sentence pairs' if prepared.sentence_pairs else 'single sentences'}, "
            f"examples: {counts(prepared.lines)}; unlabelled test sets: {unlabelled or 'none'}")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """The options every subcommand takes."""
    parser.add_argument("--out", type=Path, required=True, metavar="DATA_DIR", help="data dir to write")
    parser.add_argument("--workers", type=positive_int, metavar="N", default=None,
                        help="processes that normalise, encode and binarize, like fairseq-preprocess --workers "
                             f"(default: every core this process may use, here {available_cores()})")


def add_corpus_options(parser: argparse.ArgumentParser, raw_dir_help: str, vocab_size: int) -> None:
    """The options `translation` and `mlm` share."""
    parser.add_argument("--raw-dir", type=Path, required=True, metavar="RAW", help=raw_dir_help)
    add_output_options(parser)
    parser.add_argument("--vocab-size", type=positive_int, metavar="N", default=vocab_size,
                        help="sentencepiece pieces, shared by both languages of a translation "
                             "(default: %(default)s)")
    parser.add_argument("--max-spm-sentences", type=positive_int, metavar="N", default=2_000_000,
                        help="train lines (mlm: chunks of up to 1000 characters) sampled to train "
                             "sentencepiece (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed for sentencepiece and its sample (and the translation --tsv shuffle)")


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="tlc-prepare", description="Prepare raw text as a data dir for tlc-train.")
    commands = parser.add_subparsers(title="commands", dest="command", required=True,
                                     metavar="{translation,mlm,glue}")
    sub = {"formatter_class": argparse.RawDescriptionHelpFormatter}

    p = commands.add_parser("translation", help="parallel text or a TSV of pairs -> translation data dir",
                            description=TRANSLATION, **sub)
    add_corpus_options(p, "folder of {split}.{lang} files, one sentence per line", vocab_size=8000)
    p.add_argument("--src", required=True, metavar="LANG", help="source language code, e.g. en")
    p.add_argument("--tgt", required=True, metavar="LANG", help="target language code, e.g. fr")
    p.add_argument("--tsv", type=Path, metavar="PAIRS_TSV",
                   help="source<TAB>target file to split into --raw-dir first")
    p.add_argument("--valid", type=int, metavar="N", help="with --tsv: pairs held out for validation")
    p.add_argument("--test", type=int, metavar="N", help="with --tsv: pairs held out for test")
    p.set_defaults(prepare=translation, problem=translation_problem)

    p = commands.add_parser("mlm", help="plain-text corpus -> masked-LM (RoBERTa pretraining) data dir",
                            description=MLM, **sub)
    add_corpus_options(p, "folder of {train,valid,test}.txt, documents one per line or separated by "
                          "blank lines", vocab_size=32000)
    p.set_defaults(prepare=mlm)

    p = commands.add_parser("glue", help="GLUE task TSVs -> classification data dir, in the "
                                         "pretraining corpus's vocabulary", description=GLUE, **sub)
    p.add_argument("--task", required=True, choices=sorted(LAYOUTS), help="GLUE task")
    p.add_argument("--glue-dir", type=Path, required=True, metavar="GLUE_DIR",
                   help="folder of the task's official TSV files")
    p.add_argument("--vocab-from", type=Path, required=True, metavar="PRETRAIN_DIR",
                   help="prepared pretraining corpus (tlc-prepare mlm --out)")
    add_output_options(p)
    p.set_defaults(prepare=glue)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line; exits with status 2 and one line on stderr when it is bad."""
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = args.problem(args) if "problem" in args else None
    if problem:
        parser.exit(2, error_line(f"{parser.prog} {args.command}", problem))
    return args


def main(argv: list[str] | None = None) -> int:
    """Run one preparation with logging on: print its summary line and return 0, or print its
    PrepareError as one line on stderr and return 2."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("fairseq").setLevel(logging.WARNING)  # its import logs a tensorboardX hint
    try:
        print(args.prepare(args))
    except PrepareError as err:
        print(f"tlc-prepare {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

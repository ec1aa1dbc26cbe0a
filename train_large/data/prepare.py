"""Real-text preparation for translation, and the steps every preparer shares.

raw_dir/{split}.{lang} -> checked (every split, before any heavy work) -> normalised into
data_dir/raw/ (the validation BLEU's references), the held-out target files also kept byte for
byte in data_dir/untouched/ (the final test BLEU's, `references.py`) -> one joint unigram
sentencepiece model on train source + target (spm.model) -> pieces/ -> one joint fairseq
dictionary and binarized splits bin/{dict,split.src-tgt}.{lang} -> prepared.json, written last
and atomically: a data dir without it is incomplete and is prepared again from the start.

Must not import fairseq: `train_large.engine.binarize` does the fairseq part.
"""
from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import sentencepiece as spm
from filelock import FileLock

from train_large.console import FILE_ONLY
from train_large.rundir import atomic_write_json

from .ranges import aligned_ranges, in_workers, join_parts, line_ranges, part_names, range_lines
from .references import keep_untouched

log = logging.getLogger(__name__)

PREPARED_FILE = "prepared.json"
SPLITS = ("train", "valid", "test")
# Sentencepiece's training threads. A constant, not the core count: the model is byte-identical
# across runs only at the same thread count (measured on Tatoeba, 2 vs 4). Encoding gives the same
# pieces at any count, so it uses the preparation's workers (write_pieces).
SPM_THREADS = 4
ENCODE_BATCH_LINES = 10_000  # lines per sentencepiece encode call

# Curly quotes and the dash family come from the author's keyboard, not the language: one form
# each lets the model learn one symbol. « » stay, they are French punctuation itself. The acute
# accent is here because it is a common stand-in for the apostrophe (C´est).
_PUNCTUATION = {
    **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),  # “ ” „ ‟
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u00b4", "'"),  # ‘ ’ ‚ ‛ ´
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),  # hyphens, dashes, minus
}
# Invisible characters that carry nothing in running text: soft hyphen, zero-width space, word
# joiner, byte-order mark, and C0/C1 controls other than whitespace (whitespace is collapsed).
# Zero-width (non-)joiners stay: they change how Persian, Indic scripts and emoji read.
_INVISIBLE = "\u00ad\u200b\u2060\ufeff" + "".join(
    chr(code) for code in [*range(0x20), *range(0x7F, 0xA0)] if not chr(code).isspace()
)
_TRANSLATION = str.maketrans({**_PUNCTUATION, **dict.fromkeys(_INVISIBLE)})


@dataclass
class PreparedData:
    """A prepared data dir of one `kind`; its layout is in the docstring of the module that
    prepares it (translation: this one, masked_lm: prepare_mlm.py, classification: prepare_glue.py)."""

    data_dir: Path
    source_lang: str  # translation only ("" otherwise)
    target_lang: str  # translation only ("" otherwise)
    vocab_size: int  # entries of the (joint) fairseq dictionary: specials, pieces, padding to 8
    lines: dict[str, int]  # sentences (pairs, documents' lines or examples) per split
    kind: str = "translation"  # translation | masked_lm | classification
    labels: list[str] = field(default_factory=list)  # classification: label names by class id
    sentence_pairs: bool = False  # classification: inputs are pairs (input0, input1)
    dictionary_sha1: str = ""  # of the input dictionary: a fine-tuned model must share it
    # translation: split -> untouched reference file relative to data_dir; {} if prepared before they were kept
    untouched: dict[str, str] = field(default_factory=dict)
    # classification: unlabelled GLUE test split -> {"file": the submission file GLUE's server expects its
    # predictions in (MNLI-m.tsv), "lines": examples}; not in `lines`. {} without test TSVs, or if prepared
    # before they were kept.
    submission: dict[str, dict] = field(default_factory=dict)

    @property
    def bin_dir(self) -> Path:
        return self.data_dir / "bin"

    @property
    def spm_model(self) -> Path:
        return self.data_dir / "spm.model"

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def eval_splits(self) -> list[str]:
        """Splits scored at every validation: valid first, then extra dev sets (MNLI mismatched)."""
        return ["valid"] + sorted(s for s in self.lines if s.startswith("valid_"))

    def reference(self, split: str) -> Path:
        """The normalised target text of `split`: the validation BLEU's reference (translation)."""
        return self.data_dir / "raw" / f"{split}.{self.target_lang}"

    def glue_index(self, split: str) -> Path:
        """The GLUE index of each example of the unlabelled test split `split`, one per line in order."""
        return self.data_dir / "raw" / f"{split}.index"

    def untouched_reference(self, split: str) -> Path | None:
        """The target text of `split` byte for byte as given, or None when it was not kept."""
        return self.data_dir / self.untouched[split] if split in self.untouched else None


class PrepareError(ValueError):
    """Bad input for preparation; the message is one line naming the file and what to do."""


def normalize_line(text: str) -> str:
    """NFKC, one form of quotes and dashes, no invisible characters, single spaces, stripped. Case
    and accents are kept (NFKC composes `e` + combining acute into `é`)."""
    # Translated before NFKC too: NFKC turns ´ into a space plus a combining accent.
    text = unicodedata.normalize("NFKC", text.translate(_TRANSLATION)).translate(_TRANSLATION)
    # str.split() splits on exactly the characters of fairseq's `\s+` tokenizer (checked over
    # all code points), so no piece can later be split apart by fairseq.
    return " ".join(text.split())


def check_parallel(src: Path, tgt: Path) -> int:
    """The number of sentence pairs in two line-aligned files; PrepareError when a file is missing,
    empty or not UTF-8, the counts differ, or a line is blank."""
    src, tgt = Path(src), Path(tgt)
    for path in (src, tgt):
        if not path.is_file():
            raise PrepareError(f"{path} does not exist; expected line-aligned files "
                               f"{path.parent}/<split>.<lang>, one sentence per line")
        if path.stat().st_size == 0:
            raise PrepareError(f"{path} is empty; every split needs at least one sentence pair")
    src_lines, src_blank = _scan(src)
    tgt_lines, tgt_blank = _scan(tgt)
    if src_lines != tgt_lines:
        raise PrepareError(f"{src} has {src_lines} lines but {tgt} has {tgt_lines}; "
                           "the files must be line-aligned, one sentence pair per line")
    if src_blank is not None and src_blank == tgt_blank:
        raise PrepareError(f"{src} and {tgt} line {src_blank} are both blank; "
                           "remove that line from both files")
    for number, path, other in sorted((number, path, other) for number, path, other
                                      in ((src_blank, src, tgt), (tgt_blank, tgt, src)) if number is not None):
        raise PrepareError(f"{path} line {number} is blank but {other} line {number} is not; "
                           "remove the pair from both files or fix the misalignment")
    return src_lines


def _scan(path: Path) -> tuple[int, int | None]:
    """Line count and the number of the first blank line, or None."""
    lines, first_blank = 0, None
    for lines, line in numbered_lines(path):
        if first_blank is None and not line.strip():
            first_blank = lines
    return lines, first_blank


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(number, line) from 1; only newline ends a line, as for `wc -l`. PrepareError names the
    first line that is not valid UTF-8."""
    with path.open("rb") as data:
        for number, raw in enumerate(data, start=1):
            try:  # line by line, so the error names the right line
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise PrepareError(f"{path} line {number} is not valid UTF-8 ({err.reason}); "
                                   "convert it with: iconv -f <its encoding> -t UTF-8") from err


def log_step(logger: logging.Logger, started: float, message: str, *args: object) -> None:
    """Log a preparation step's detail, with the seconds since `started`, to the run's log only."""
    logger.info(f"{message} (%.1f s)", *args, time.perf_counter() - started, extra=FILE_ONLY)


@contextmanager
def preparing(data_dir: Path, started: float) -> Iterator[None]:
    """Hold `data_dir`'s preparation lock while it is (re)written. Its prepared.json, which marks a
    finished preparation, goes first; the caller writes the new one last, inside the block."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_dir / ".prepare.lock")):
        (data_dir / PREPARED_FILE).unlink(missing_ok=True)
        yield
    log.info("prepared %s in %.1f s", data_dir, time.perf_counter() - started)


def prepare_translation(raw_dir: Path, data_dir: Path, *, source_lang: str, target_lang: str,
                        vocab_size: int = 8000, max_train_sentences_for_spm: int = 2_000_000,
                        seed: int = 0, workers: int | None = None) -> PreparedData:
    """Prepare `raw_dir`/{split}.{lang} into `data_dir`. vocab_size: sentencepiece pieces wanted (a
    small corpus may give fewer); max_train_sentences_for_spm: train lines, both languages, it samples;
    workers: processes that normalise, encode and binarize (None: every core this process may use).
    PrepareError on bad input, most of it found by checks that run before anything is written."""
    raw_dir, data_dir = Path(raw_dir), Path(data_dir)
    langs = (source_lang, target_lang)
    if source_lang == target_lang:
        raise PrepareError(f"source and target language are both {source_lang!r}; give two")
    started = time.perf_counter()
    workers = workers or available_cores()
    lines = {split: check_parallel(*(raw_dir / f"{split}.{lang}" for lang in langs)) for split in SPLITS}
    log_step(log, started, "checked %s in %s: %s pairs", "/".join(SPLITS), raw_dir,
             "/".join(map(str, lines.values())))
    with preparing(data_dir, started):
        untouched = keep_untouched(raw_dir, data_dir, SPLITS, target_lang)
        step = time.perf_counter()
        normalize_pairs(raw_dir, data_dir, langs, workers)
        log_step(log, step, "normalised %d files into %s", 2 * len(SPLITS), data_dir / "raw")
        spm_fields = train_spm([data_dir / "raw" / f"train.{lang}" for lang in langs], data_dir,
                               vocab_size=vocab_size, max_sentences=max_train_sentences_for_spm, seed=seed)
        dictionary_size = encode_and_binarize(
            data_dir, {f"{split}.{lang}": f"{split}.{source_lang}-{target_lang}.{lang}" for split in SPLITS
                       for lang in langs}, [f"train.{lang}" for lang in langs], f"dict.{source_lang}.txt", workers)
        # One joint dictionary: the target's is a copy, so encoding with the source's is the same.
        shutil.copyfile(data_dir / "bin" / f"dict.{source_lang}.txt", data_dir / "bin" / f"dict.{target_lang}.txt")
        atomic_write_json(data_dir / PREPARED_FILE, {
            "kind": "translation", "source_lang": source_lang, "target_lang": target_lang, "lines": lines,
            "vocab_size": dictionary_size, **spm_fields, "raw_dir": str(raw_dir.resolve()), "untouched": untouched,
        })
    return PreparedData(data_dir, source_lang, target_lang, dictionary_size, lines, untouched=untouched)


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity (what a SLURM job or taskset gives it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def encode_and_binarize(data_dir: Path, outputs: dict[str, str], train: list[str], dictionary: str,
                        workers: int) -> int:
    """Encode each data_dir/raw/`name` of `outputs` into pieces/, count the `train` ones into the
    fairseq dictionary bin/`dictionary`, then binarize each into bin/`outputs[name]`; returns its size.
    workers: processes (and sentencepiece threads) to use."""
    # Imported only now: fairseq takes ~4 s to import and logs to stderr, and bad input must be reported first.
    from train_large.engine import binarize

    step = time.perf_counter()
    write_pieces(data_dir, outputs, workers)
    log_step(log, step, "encoded %d files into %s", len(outputs), data_dir / "pieces")
    step = time.perf_counter()
    bin_dir = data_dir / "bin"
    if bin_dir.exists():
        shutil.rmtree(bin_dir)  # an earlier preparation's files must not survive into this one
    size = binarize.build_joint_dictionary([data_dir / "pieces" / name for name in train], bin_dir / dictionary,
                                           workers)
    binarize.binarize_files([(data_dir / "pieces" / name, bin_dir / dictionary, bin_dir / out)
                             for name, out in outputs.items()], workers)
    log_step(log, step, "binarized %d files into %s with %d workers, dictionary %d entries", len(outputs),
             bin_dir, workers, size)
    return size


def normalize_pairs(raw_dir: Path, data_dir: Path, langs: tuple[str, str], workers: int) -> None:
    """Normalise raw_dir/{split}.{lang} into data_dir/raw/, a large split by up to `workers` processes."""
    (data_dir / "raw").mkdir(parents=True, exist_ok=True)
    tasks, outputs = [], []
    for split in SPLITS:
        sources = [raw_dir / f"{split}.{lang}" for lang in langs]
        spans = aligned_ranges(*sources, workers)
        parts = [part_names(data_dir / "raw" / f"{split}.{lang}", len(spans)) for lang in langs]
        tasks += [(*sources, *span, *outs) for span, *outs in zip(spans, *parts)]
        outputs += [(names, data_dir / "raw" / f"{split}.{lang}") for names, lang in zip(parts, langs)]
    in_workers(_normalize_range, tasks, workers, files=len(SPLITS))
    for names, out in outputs:
        join_parts(names, out)


def _normalize_range(src: Path, tgt: Path, src_start: int, src_end: int, tgt_start: int, tgt_end: int,
                     first: int, src_out: Path, tgt_out: Path) -> None:
    with src_out.open("w", encoding="utf-8") as src_file, tgt_out.open("w", encoding="utf-8") as tgt_file:
        pairs = zip(range_lines(src, src_start, src_end), range_lines(tgt, tgt_start, tgt_end))
        for number, (src_line, tgt_line) in enumerate(pairs, start=first):
            src_text, tgt_text = normalize_line(src_line), normalize_line(tgt_line)
            for path, text, line in ((src, src_text, src_line), (tgt, tgt_text, tgt_line)):
                if not text:
                    original = line.rstrip("\n")
                    raise PrepareError(f"{path} line {number} is empty after normalisation "
                                       f"({original!r}); remove the pair from both files")
            src_file.write(src_text + "\n")
            tgt_file.write(tgt_text + "\n")


def train_spm(files: list[Path], data_dir: Path, *, vocab_size: int, max_sentences: int, seed: int) -> dict:
    """Train one unigram model on all `files` into data_dir/spm.model/.vocab; returns its fields of prepared.json."""
    started = time.perf_counter()
    # For whatever sentencepiece draws at random; with sentencepiece 0.2.3 the sample was the
    # same for seeds 0 and 1, and runs with equal inputs gave byte-identical models.
    spm.set_random_generator_seed(seed)
    try:
        spm.SentencePieceTrainer.train(
            input=[str(path) for path in files], model_prefix=str(data_dir / "spm"), model_type="unigram",
            vocab_size=vocab_size,
            hard_vocab_limit=False,  # a small corpus gets fewer pieces instead of an error
            character_coverage=1.0,  # every character of train text gets a piece, accents included
            # normalize_line already ran; a second normalisation would make the decoded
            # output differ from the references.
            normalization_rule_name="identity",
            input_sentence_size=max_sentences, shuffle_input_sentence=True,
            num_threads=SPM_THREADS, minloglevel=1,
        )
    except RuntimeError as err:
        message = " ".join(str(err).split())
        raise PrepareError(f"sentencepiece could not train on {files[0].parent}/train.*: "
                           f"{message}; change the vocab size") from err
    pieces = spm.SentencePieceProcessor(model_file=str(data_dir / "spm.model")).get_piece_size()
    log_step(log, started, "trained sentencepiece: %d pieces (%d asked)", pieces, vocab_size)
    return {"spm_vocab_size": pieces, "spm_vocab_size_asked": vocab_size, "seed": seed,
            "spm_model": "spm.model"}  # relative to the data dir, so the dir can move


def write_pieces(data_dir: Path, names: Iterable[str], workers: int) -> None:
    """Encode each data_dir/raw/`name` with data_dir/spm.model into data_dir/pieces/`name`, a large
    file by up to `workers` processes (`ranges`), a small one on `workers` sentencepiece threads."""
    (data_dir / "pieces").mkdir(parents=True, exist_ok=True)
    tasks, outputs = [], []
    for name in names:
        spans = line_ranges(data_dir / "raw" / name, workers)
        parts = part_names(data_dir / "pieces" / name, len(spans))
        threads = workers if len(spans) == 1 else 1
        tasks += [(data_dir / "spm.model", data_dir / "raw" / name, *span, part, threads)
                  for span, part in zip(spans, parts)]
        outputs.append((parts, data_dir / "pieces" / name))
    in_workers(_encode_range, tasks, workers, files=len(outputs))
    for parts, out in outputs:
        join_parts(parts, out)


def _encode_range(model: Path, path: Path, start: int, end: int, out: Path, threads: int) -> None:
    processor = spm.SentencePieceProcessor(model_file=str(model))
    lines = range_lines(path, start, end)
    with out.open("w", encoding="utf-8", newline="\n") as sink:
        for batch in iter(lambda: list(islice(lines, ENCODE_BATCH_LINES)), []):
            for pieces in processor.encode([line.rstrip("\n") for line in batch], out_type=str,
                                           num_threads=threads):
                sink.write(" ".join(pieces) + "\n")


def load_prepared(data_dir: Path) -> PreparedData:
    """The prepared dataset in `data_dir`; PrepareError when it has no readable prepared.json."""
    data_dir = Path(data_dir)
    path = data_dir / PREPARED_FILE
    if not path.is_file():
        raise PrepareError(f"{data_dir} is not a prepared dataset (no {PREPARED_FILE}); prepare "
                           f"it with: tlc-prepare translation --raw-dir RAW "
                           f"--out {data_dir} --src SRC --tgt TGT")
    try:
        meta = {"source_lang": "", "target_lang": "", **json.loads(path.read_text(encoding="utf-8"))}
        names = {item.name for item in fields(PreparedData)} - {"data_dir"}
        prepared = PreparedData(data_dir, **{name: value for name, value in meta.items() if name in names})
        prepared.vocab_size = int(prepared.vocab_size)
        prepared.lines = {split: int(count) for split, count in prepared.lines.items()}
        return prepared
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise PrepareError(f"{path} is unreadable ({type(err).__name__}: {err}); "
                           "delete it and prepare the data again") from err


def split_tsv(tsv: Path, raw_dir: Path, *, source_lang: str, target_lang: str, valid: int,
              test: int, seed: int = 0) -> dict[str, int]:
    """Shuffle `source<TAB>target` lines into raw_dir/{train,valid,test}.{lang}; returns pairs per
    split: `valid` and `test` as asked, the rest in train. PrepareError on a missing file, a line
    without exactly one tab or with an empty side, or no pairs left for training."""
    tsv, raw_dir = Path(tsv), Path(raw_dir)
    if not tsv.is_file():
        raise PrepareError(f"{tsv} does not exist; expected one source<TAB>target pair per line")
    if valid < 1 or test < 1:
        raise PrepareError(f"valid={valid} and test={test} must both be at least 1")
    pairs = []
    for number, line in numbered_lines(tsv):
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != 2:
            raise PrepareError(
                f"{tsv} line {number} has {len(fields) - 1} tabs, expected exactly one "
                f"(source<TAB>target); to keep the first two columns: cut -f1,2 {tsv}")
        if not fields[0].strip() or not fields[1].strip():
            raise PrepareError(f"{tsv} line {number} has an empty side; remove that line")
        pairs.append(fields)
    if valid + test >= len(pairs):
        raise PrepareError(f"{tsv} has {len(pairs)} pairs: too few for valid={valid} and "
                           f"test={test} with some left for training")
    random.Random(seed).shuffle(pairs)
    sizes = {"valid": valid, "test": test, "train": len(pairs) - valid - test}
    raw_dir.mkdir(parents=True, exist_ok=True)
    start = 0
    for split, size in sizes.items():
        for side, lang in enumerate((source_lang, target_lang)):
            text = "".join(pair[side] + "\n" for pair in pairs[start:start + size])
            (raw_dir / f"{split}.{lang}").write_text(text, encoding="utf-8")
        start += size
    return {split: sizes[split] for split in ("train", "valid", "test")}

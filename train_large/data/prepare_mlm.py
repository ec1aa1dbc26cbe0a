"""Masked-LM corpus preparation: plain-text documents to the data dir of fairseq's `masked_lm` task.

raw_dir/{train,valid,test}.txt -> checked (every split, before any heavy work) -> data_dir/raw/
{split}.txt, normalised, an empty line after each document (the eos-only items that fairseq's
`--sample-break-mode complete_doc` does not cross) -> a unigram sentencepiece model on train
(spm.model) -> bin/dict.txt from train -> bin/{split}.bin/.idx -> prepared.json, written last and
atomically. A file's documents are separated by blank lines (WikiText-103's ` = Heading = ` lines
are plain text), or one per line when no blank line falls between two text lines. pieces/ is
deleted once binarized: it is as large as the corpus and nothing reads it. Must not import fairseq.
"""
from __future__ import annotations

import hashlib
import logging
import random
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, TextIO

from train_large.rundir import atomic_write_json

from .prepare import (PREPARED_FILE, SPLITS, PrepareError, PreparedData, available_cores, encode_and_binarize,
                      log_step, normalize_line, numbered_lines, preparing, train_spm)
from .ranges import in_workers, line_ranges, part_names, range_lines

log = logging.getLogger(__name__)

# Sentencepiece silently skips training sentences over 4192 bytes (its max_sentence_length), which
# would drop every document of a one-document-per-line corpus; 1000 characters of UTF-8 are at
# most 4000 bytes, so train lines are cut at spaces into chunks this long for its input only.
SPM_CHUNK_CHARS = 1000
BLANK_LINE_LAYOUT, LINE_LAYOUT = "blank_line_separated", "one_document_per_line"


@dataclass
class CorpusFile:
    path: Path
    lines: int  # non-blank lines
    layout: str  # BLANK_LINE_LAYOUT or LINE_LAYOUT
    spm_chunks: int  # SPM_CHUNK_CHARS chunks its text lines give (an upper estimate)


def check_corpus_file(path: Path) -> CorpusFile:
    """Scan one split file for its text lines and layout; PrepareError when it is missing, empty,
    not UTF-8 (naming the line) or only blank lines."""
    if not path.is_file():
        raise PrepareError(f"{path} does not exist; expected {path.parent}/{{train,valid,test}}.txt, "
                           "documents one per line or separated by blank lines")
    if path.stat().st_size == 0:
        raise PrepareError(f"{path} is empty; every split needs at least one document")
    lines = chunks = 0
    blank_pending = blank_between = False
    for _, line in numbered_lines(path):
        if not line.strip():
            blank_pending = lines > 0
            continue
        blank_between = blank_between or blank_pending
        blank_pending = False
        lines += 1
        chunks += len(line) // SPM_CHUNK_CHARS + 1
    if lines == 0:
        raise PrepareError(f"{path} has only blank lines; every split needs at least one document")
    return CorpusFile(path, lines, BLANK_LINE_LAYOUT if blank_between else LINE_LAYOUT, chunks)


def prepare_mlm_corpus(raw_dir: Path, data_dir: Path, *, vocab_size: int, seed: int = 0,
                       max_train_sentences_for_spm: int = 2_000_000, workers: int | None = None) -> PreparedData:
    """Prepare `raw_dir`/{train,valid,test}.txt into `data_dir`. vocab_size: sentencepiece pieces
    wanted (a small corpus may give fewer); max_train_sentences_for_spm: train chunks it samples;
    workers: processes that normalise, encode and binarize (None: every core this process may use).
    PrepareError on bad input, found by checks of every split before anything is written."""
    raw_dir, data_dir = Path(raw_dir), Path(data_dir)
    started = time.perf_counter()
    files = {split: check_corpus_file(raw_dir / f"{split}.txt") for split in SPLITS}
    log_step(log, started, "checked %s: %s text lines, layouts %s", raw_dir,
             "/".join(str(f.lines) for f in files.values()), "/".join(f.layout for f in files.values()))
    workers = workers or available_cores()
    with preparing(data_dir, started):
        step = time.perf_counter()
        spm_input = data_dir / "raw" / "train.spm_sample"
        keep = min(1.0, max_train_sentences_for_spm / files["train"].spm_chunks)
        lines, documents = {}, {}
        spm_input.parent.mkdir(parents=True, exist_ok=True)
        for split, corpus in files.items():
            with (spm_input.open("w", encoding="utf-8", newline="\n") if split == "train"
                  else nullcontext()) as sample:
                lines[split], documents[split] = normalize_documents(
                    corpus, data_dir / "raw" / f"{split}.txt", sample, keep, random.Random(seed), workers)
        log_step(log, step, "normalised %d files into %s: %s documents", len(files), data_dir / "raw",
                 "/".join(map(str, documents.values())))
        spm_fields = train_spm([spm_input], data_dir, vocab_size=vocab_size,
                               max_sentences=max_train_sentences_for_spm, seed=seed)
        spm_input.unlink()
        dictionary_size = encode_and_binarize(data_dir, {f"{split}.txt": split for split in SPLITS},
                                              ["train.txt"], "dict.txt", workers)
        shutil.rmtree(data_dir / "pieces")
        sha1 = file_sha1(data_dir / "bin" / "dict.txt")
        atomic_write_json(data_dir / PREPARED_FILE, {
            "kind": "masked_lm", "lines": lines, "documents": documents,
            "layout": {split: corpus.layout for split, corpus in files.items()},
            "vocab_size": dictionary_size, **spm_fields, "dictionary_sha1": sha1, "raw_dir": str(raw_dir.resolve()),
        })
    return PreparedData(data_dir, "", "", dictionary_size, lines, kind="masked_lm", dictionary_sha1=sha1)


def normalize_documents(corpus: CorpusFile, out: Path, spm_sample: Optional[TextIO], keep: float,
                        rng: random.Random, workers: int) -> tuple[int, int]:
    """Write `corpus` normalised to `out`, an empty line after each document (a line that normalises
    to nothing counts as blank); each chunk of a text line goes to `spm_sample` with probability
    `keep`. Returns (text lines, documents); PrepareError when no text is left."""
    lines = documents = 0
    in_document = False
    with out.open("w", encoding="utf-8", newline="\n") as sink:
        for text in normalized_lines(corpus.path, out.parent / f"{out.name}.normalised", workers):
            if text:
                sink.write(text + "\n")
                lines += 1
                in_document = True
                if spm_sample is not None:
                    for chunk in _chunks(text, SPM_CHUNK_CHARS):
                        if keep >= 1.0 or rng.random() < keep:
                            spm_sample.write(chunk + "\n")
            if in_document and (not text or corpus.layout == LINE_LAYOUT):
                sink.write("\n")
                documents += 1
                in_document = False
        if in_document:
            sink.write("\n")
            documents += 1
    if lines == 0:
        raise PrepareError(f"{corpus.path} has no text left after normalisation (only invisible "
                           "or control characters); every split needs at least one document")
    return lines, documents


def normalized_lines(path: Path, scratch: Path, workers: int) -> Iterator[str]:
    """normalize_line of each line of `path`, in order. A large file is normalised first, by up to
    `workers` processes (`ranges`), into part files at `scratch`, deleted as they are read: the
    documents and the sentencepiece sample are then made in order, as from a small file."""
    spans = line_ranges(path, workers)
    if len(spans) == 1:
        for _, line in numbered_lines(path):
            yield normalize_line(line)
        return
    parts = part_names(scratch, len(spans))
    in_workers(_normalize_range, [(path, *span, part) for span, part in zip(spans, parts)], workers, files=1)
    for part in parts:
        with part.open(encoding="utf-8", newline="\n") as texts:
            for text in texts:
                yield text[:-1]  # normalize_line leaves no line break inside a line
        part.unlink()


def _normalize_range(path: Path, start: int, end: int, out: Path) -> None:
    with out.open("w", encoding="utf-8", newline="\n") as sink:
        for line in range_lines(path, start, end):
            sink.write(normalize_line(line) + "\n")


def file_sha1(path: Path) -> str:
    """Hex sha1 of a file's bytes: names a dictionary, which a fine-tuned model must share."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha1").hexdigest()


def _chunks(text: str, size: int) -> Iterator[str]:
    """`text` cut at spaces into pieces of at most `size` characters (a longer word is cut)."""
    while len(text) > size:
        cut = text.rfind(" ", 0, size + 1)
        cut = cut if cut > 0 else size
        yield text[:cut]
        text = text[cut:].lstrip(" ")
    if text:
        yield text

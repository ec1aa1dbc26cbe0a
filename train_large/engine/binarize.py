"""Binarization: piece files to the fairseq dictionaries (`dict*.txt`) and mmap datasets
(`{prefix}.bin/.idx`) fairseq's tasks load. The only module of the data path that imports fairseq;
the callers (`train_large.data.prepare*`) choose the file names. A large file is binarized by
worker processes, a range each (`train_large.data.ranges`).
"""
from __future__ import annotations

import logging
import shutil
import struct
from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..console import FILE_ONLY
from ..data.ranges import in_workers, line_ranges, part_names, range_lines
from . import fairseq_import
from .hydra_compat import park_fairseq_configs

with fairseq_import():
    from fairseq.data import Dictionary, indexed_dataset
    from fairseq.tokenizer import tokenize_line

park_fairseq_configs()  # importing fairseq registered its configs under our group names

log = logging.getLogger(__name__)


def _count_pieces(path: Path, start: int, end: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in range_lines(path, start, end):
        # str.split() splits where fairseq's tokenize_line does (prepare.normalize_line checked
        # every code point), in 40% of its time.
        counts.update(line.split())
    return counts


def build_joint_dictionary(piece_files: list[Path], out_path: Path, workers: int = 1) -> int:
    """Count the pieces of all `piece_files` into one dictionary at `out_path`; returns its size:
    fairseq's 4 specials, every piece seen, then `madeupword`s up to a multiple of 8."""
    # Counted here rather than with Dictionary.add_file_to_dictionary, which updates its
    # counter one word at a time: 0.97 s against 0.12 s on Tatoeba's 34k train lines, same file.
    tasks = [(path, *span) for path in piece_files for span in line_ranges(path, workers)]
    counts = sum(in_workers(_count_pieces, tasks, workers, files=len(piece_files)), Counter())
    dictionary = Dictionary()
    for piece, count in sorted(counts.items()):
        dictionary.add_symbol(piece, count)
    dictionary.finalize(threshold=-1, nwords=-1, padding_factor=8)
    return _save(dictionary, out_path)


def _save(dictionary: Dictionary, out_path: Path) -> int:
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    dictionary.save(str(out_path))
    return len(dictionary)


def _encode_range(path: Path, start: int, end: int, dictionary_path: Path, out_prefix: Path) -> tuple[int, int, int]:
    """Binarize the lines of `path` in [start, end) into `out_prefix`.bin/.idx; (lines, tokens, <unk>s)."""
    dictionary = Dictionary.load(str(dictionary_path))
    # Dictionary.encode_line's ids, looked up here: it fills a tensor one element at a time, over
    # ten times slower (2.6 s against 0.22 s for 200k lines).
    index, unk, eos = dictionary.indices, dictionary.unk_index, dictionary.eos_index
    dtype = indexed_dataset.best_fitting_int_dtype(len(dictionary))
    builder = indexed_dataset.make_builder(f"{out_prefix}.bin", impl="mmap", vocab_size=len(dictionary))
    lines = tokens = unknown = 0
    for line in range_lines(path, start, end):
        ids = [index.get(piece, unk) for piece in line.split()]
        ids.append(eos)
        builder.add_item(torch.from_numpy(np.array(ids, dtype=dtype)))
        lines += 1
        tokens += len(ids)
        unknown += ids.count(unk)
    builder.finalize(f"{out_prefix}.idx")
    return lines, tokens, unknown


def binarize_files(jobs: list[tuple[Path, Path, Path]], workers: int = 1) -> None:
    """For each (piece file, dictionary, out prefix) of `jobs`, encode each line (pieces plus </s>)
    into prefix.bin and .idx; pieces missing from the dictionary become <unk>, their share logged."""
    tasks, parts = [], []
    for path, dictionary_path, out_prefix in jobs:
        spans = line_ranges(path, workers)
        names = part_names(out_prefix, len(spans))
        tasks += [(path, *span, dictionary_path, name) for span, name in zip(spans, names)]
        parts.append(names)
    totals = iter(in_workers(_encode_range, tasks, workers, files=len(jobs)))
    for (path, dictionary_path, out_prefix), names in zip(jobs, parts):
        lines, tokens, unknown = map(sum, zip(*(next(totals) for _ in names)))
        if len(names) > 1:
            _merge(names, Path(out_prefix))
        log.info("binarized %s: %d lines, %d tokens, %.3f%% <unk>",
                 Path(out_prefix).name, lines, tokens, 100 * unknown / max(tokens, 1), extra=FILE_ONLY)


def _merge(parts: list[Path], out_prefix: Path) -> None:
    """Concatenate the part files into out_prefix.bin and .idx, streaming: fairseq's own
    merge_file_ and index writer hold Python objects for every line (gigabytes for one side of
    WMT14's 40.8M lines)."""
    with open(f"{out_prefix}.bin", "wb") as data:
        for part in parts:
            with open(f"{part}.bin", "rb") as piece:
                shutil.copyfileobj(piece, data)
    index_type = indexed_dataset.MMapIndexedDataset.Index
    indexes = [index_type(f"{part}.idx") for part in parts]  # memory-mapped
    with open(f"{parts[0]}.idx", "rb") as first:
        header = first.read(len(index_type._HDR_MAGIC) + 8 + 1)  # magic, version, dtype code
    itemsize = indexes[0].dtype().itemsize
    # The layout fairseq's Index reads: header, line count, every size (int32), every start (int64).
    with open(f"{out_prefix}.idx", "wb") as index:
        index.write(header + struct.pack("<Q", sum(len(part) for part in indexes)))
        for part in indexes:
            for chunk in _chunks(part.sizes):
                index.write(chunk.astype(np.int32).tobytes())
        address = 0
        for part in indexes:
            for chunk in _chunks(part.sizes):
                ends = address + np.cumsum(chunk, dtype=np.int64) * itemsize
                index.write((ends - chunk.astype(np.int64) * itemsize).tobytes())
                address = int(ends[-1])
    del indexes
    for part in parts:
        for suffix in (".bin", ".idx"):
            Path(f"{part}{suffix}").unlink()


def _chunks(sizes: np.ndarray, length: int = 2**20) -> Iterator[np.ndarray]:
    for start in range(0, len(sizes), length):
        yield sizes[start:start + length]


def build_label_dictionary(labels: list[str], out_path: Path) -> None:
    """A dictionary of `labels` in order: fairseq's `sentence_prediction` subtracts nspecial (4)
    from a label's id, so the i-th label is class i. Not finalized: finalize would reorder by count
    and pad with `madeupword`s."""
    if len(set(labels)) != len(labels) or any(len(tokenize_line(label)) != 1 for label in labels):
        raise ValueError(f"labels must be distinct single tokens, got {labels}")
    dictionary = Dictionary()
    for label in labels:
        dictionary.add_symbol(label, n=1)
    _save(dictionary, out_path)


def dictionary_size(dictionary_path: Path) -> int:
    """Entries of a saved dictionary, fairseq's specials included."""
    return len(Dictionary.load(str(dictionary_path)))

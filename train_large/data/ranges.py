"""Work on large files in parallel, as fairseq-preprocess does: a file is cut into line-aligned
byte ranges, each range is streamed by a worker process into a part file, and the parts are
joined in order, so the output is byte for byte that of one process and no process holds the
corpus in memory. Used by normalisation (`prepare.normalize_pairs`, `prepare_mlm.normalized_lines`),
sentencepiece encoding (`prepare.write_pieces`) and binarization (`train_large.engine.binarize`).
Must not import fairseq.
"""
from __future__ import annotations

import multiprocessing
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from itertools import starmap
from pathlib import Path
from typing import Any, Callable, Iterator

# A file gets one worker per this many bytes at most (about 100k lines): a toy corpus stays in one
# process, a WMT-sized one uses every worker.
MIN_RANGE_BYTES = 4 * 2**20
# And a range is at most this large (about 1.5M lines of pieces): fairseq's builder holds a few
# dozen bytes per line of its range until it writes the index, so a worker's memory is bounded
# whatever the corpus.
MAX_RANGE_BYTES = 64 * 2**20


def line_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """[start, end) byte ranges of `path`, each starting at a line's start and together covering
    it: `parts` of them but no more than one per MIN_RANGE_BYTES, and more if one would pass
    MAX_RANGE_BYTES."""
    size = Path(path).stat().st_size
    parts = max(1, min(parts, size // MIN_RANGE_BYTES), -(-size // MAX_RANGE_BYTES))
    starts = [0]
    with Path(path).open("rb") as data:
        for part in range(1, parts):
            data.seek(max(size * part // parts, starts[-1] + 1) - 1)
            data.readline()  # to the start of the next line
            if data.tell() < size:
                starts.append(data.tell())
    return list(zip(starts, starts[1:] + [size]))


def range_lines(path: Path, start: int, end: int) -> Iterator[str]:
    """The lines of `path` in [start, end), newline kept; only newline ends a line."""
    with Path(path).open("rb") as data:
        data.seek(start)
        position = start
        while position < end:
            raw = data.readline()
            position += len(raw)
            yield raw.decode("utf-8")


def part_names(out: Path, parts: int) -> list[Path]:
    """Where each range of a file to be written at `out` goes: `out` itself when there is one."""
    return [Path(out)] if parts == 1 else [Path(f"{out}.part{k}") for k in range(parts)]


def join_parts(parts: list[Path], out: Path) -> None:
    """Concatenate `parts` into `out` and delete them (nothing to do for a single part at `out`)."""
    if parts == [Path(out)]:
        return
    with Path(out).open("wb") as sink:
        for part in parts:
            with part.open("rb") as piece:
                shutil.copyfileobj(piece, sink)
            part.unlink()


def in_workers(function: Callable[..., Any], tasks: list[tuple], workers: int, files: int) -> list[Any]:
    """`function` over `tasks` (the ranges of `files` files), results in task order: in up to
    `workers` worker processes when some file was cut into ranges, else in this process. So a toy
    corpus, and the training process that prepares it on first use, forks nothing."""
    if workers <= 1 or len(tasks) <= files:
        return list(starmap(function, tasks))
    # Forked on Linux, as fairseq-preprocess's pool is: a worker starts with the modules already
    # imported, and a caller's script needs no `if __name__ == "__main__"` guard (spawn would run it
    # again in each worker). A worker only reads its range and writes its part file.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as pool:
        return list(pool.map(function, *zip(*tasks)))


def aligned_ranges(first: Path, second: Path, parts: int) -> list[tuple[int, int, int, int, int]]:
    """Ranges of two files with the same number of lines (a source and its target), cut at the
    same lines: (start, end in `first`, start, end in `second`, number of the range's first line)."""
    spans = line_ranges(first, parts)
    numbers = [1]
    with Path(first).open("rb") as data:
        for start, end in spans[:-1]:
            data.seek(start)
            numbers.append(numbers[-1] + data.read(end - start).count(b"\n"))  # at most MAX_RANGE_BYTES
    starts, position = [], 0
    with Path(second).open("rb") as data:
        for number, raw in enumerate(data, start=1):
            if number == numbers[len(starts)]:
                starts.append(position)
                if len(starts) == len(numbers):
                    break
            position += len(raw)
    ends = [*starts[1:], Path(second).stat().st_size]
    return [(*span, start, end, number) for span, start, end, number in zip(spans, starts, ends, numbers)]

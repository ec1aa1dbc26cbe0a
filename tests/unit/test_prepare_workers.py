"""Preparation in worker processes: line-aligned ranges, and output byte for byte that of one
process (and, for binarization, of fairseq's own `Dictionary.encode_line`)."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from train_large.data.prepare import PrepareError, load_prepared, prepare_translation
from train_large.data import ranges
from train_large.engine import binarize

from .test_prepare import write_toy_corpus

REPO = Path(__file__).resolve().parents[2]
# Pieces, an unknown one, runs of spaces and tabs, a no-break space (fairseq's \s splits there too),
# a last line without newline.
PIECES = ["▁le ▁chat ▁voit", "▁la   ▁maison\t▁bleue", "▁inconnu ▁le", "▁le\u00a0▁chat", "▁voit"]


def write_pieces(path: Path, copies: int) -> Path:
    path.write_text("\n".join(PIECES * copies), encoding="utf-8")
    return path


def digests(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha1(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


@pytest.fixture
def small_ranges(monkeypatch):
    """Ranges of 64 bytes, so a few hundred lines already go to several workers."""
    monkeypatch.setattr(ranges, "MIN_RANGE_BYTES", 64)


def test_line_ranges_start_at_lines_and_cover_the_file(tmp_path, small_ranges):
    path = write_pieces(tmp_path / "pieces", copies=40)
    data = path.read_bytes()
    for parts in (1, 2, 3, 7):
        spans = ranges.line_ranges(path, parts)
        assert len(spans) == parts
        assert spans[0][0] == 0 and spans[-1][1] == len(data)
        assert all(end == start for (_, end), (start, _) in zip(spans, spans[1:]))
        assert all(data[start - 1:start] == b"\n" for start, _ in spans[1:])
    short = write_pieces(tmp_path / "short", copies=1)  # 88 bytes: one range of at least 64
    assert ranges.line_ranges(short, 4) == [(0, short.stat().st_size)] == [(0, 88)]


def test_no_range_passes_the_largest_size_even_with_one_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(ranges, "MAX_RANGE_BYTES", 1000)
    path = write_pieces(tmp_path / "pieces", copies=40)  # 3,559 bytes
    spans = ranges.line_ranges(path, 1)
    assert len(spans) == 4 and all(end - start <= 1000 + 40 for start, end in spans)


def test_aligned_ranges_cut_a_source_and_its_target_at_the_same_lines(tmp_path, small_ranges):
    source = write_pieces(tmp_path / "src", copies=30)
    target = tmp_path / "tgt"
    target.write_text("".join(f"ligne {number} " + "x" * (number % 13) + "\n" for number in range(150)),
                      encoding="utf-8")
    spans = ranges.aligned_ranges(source, target, 4)
    assert len(spans) == 4
    src, tgt = source.read_bytes(), target.read_bytes()
    assert spans[0][0] == spans[0][2] == 0 and (spans[-1][1], spans[-1][3]) == (len(src), len(tgt))
    for src_start, src_end, tgt_start, tgt_end, first in spans:
        lines_before = src[:src_start].count(b"\n")
        assert first == lines_before + 1 and tgt[:tgt_start].count(b"\n") == lines_before
        assert src[src_start:src_end].count(b"\n") == tgt[tgt_start:tgt_end].count(b"\n") or src_end == len(src)


def test_a_line_empty_after_normalisation_is_named_by_its_number_from_any_worker(tmp_path, small_ranges):
    write_toy_corpus(tmp_path / "source", pairs=600)
    train = tmp_path / "source" / "train.fr"
    lines = train.read_text(encoding="utf-8").splitlines()
    lines[300] = "\u200b"  # invisible: nothing left after normalisation
    train.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(PrepareError, match=r"train.fr line 301 is empty after normalisation"):
        prepare_translation(tmp_path / "source", tmp_path / "data", source_lang="en", target_lang="fr",
                            vocab_size=200, workers=2)


def test_a_small_corpus_is_prepared_without_worker_processes(tmp_path, monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("a worker pool was started for a corpus no file of which was cut")

    monkeypatch.setattr(ranges, "ProcessPoolExecutor", no_pool)
    write_toy_corpus(tmp_path / "source", pairs=600)
    prepare_translation(tmp_path / "source", tmp_path / "data", source_lang="en", target_lang="fr",
                        vocab_size=200, workers=8)
    assert load_prepared(tmp_path / "data").lines["train"] == 400


def test_a_file_smaller_than_a_range_stays_in_one_process(tmp_path):
    path = write_pieces(tmp_path / "pieces", copies=40)
    assert ranges.line_ranges(path, 8) == [(0, path.stat().st_size)]


def test_workers_write_what_fairseqs_encode_line_writes(tmp_path, small_ranges, monkeypatch):
    monkeypatch.setattr(ranges, "MAX_RANGE_BYTES", ranges.MAX_RANGE_BYTES)  # restored after the test
    from fairseq.data import Dictionary, indexed_dataset

    pieces = write_pieces(tmp_path / "train.pieces", copies=60)
    (tmp_path / "unseen").mkdir()
    dictionary_path = tmp_path / "dict.txt"
    (tmp_path / "seen.pieces").write_text("▁le ▁chat ▁voit ▁la ▁maison ▁bleue\n", encoding="utf-8")
    binarize.build_joint_dictionary([tmp_path / "seen.pieces"], dictionary_path)
    dictionary = Dictionary.load(str(dictionary_path))
    reference = indexed_dataset.make_builder(str(tmp_path / "reference.bin"), impl="mmap",
                                             vocab_size=len(dictionary))
    for line in pieces.read_text(encoding="utf-8").split("\n"):
        reference.add_item(dictionary.encode_line(line, add_if_not_exist=False, append_eos=True))
    reference.finalize(str(tmp_path / "reference.idx"))

    for workers, largest in ((1, 10**9), (3, 10**9), (1, 500)):  # (1, 500): ranges merged in this process
        out = tmp_path / f"workers{workers}-{largest}"
        out.mkdir()
        ranges.MAX_RANGE_BYTES = largest
        binarize.binarize_files([(pieces, dictionary_path, out / "train")], workers)
        assert sorted(path.name for path in out.iterdir()) == ["train.bin", "train.idx"]  # no part left
        for suffix in (".bin", ".idx"):
            assert (out / f"train{suffix}").read_bytes() == (tmp_path / f"reference{suffix}").read_bytes()


def test_the_dictionary_counted_by_workers_is_the_one_process_dictionary(tmp_path, small_ranges):
    files = [write_pieces(tmp_path / "a", copies=50), write_pieces(tmp_path / "b", copies=7)]
    sizes = {workers: binarize.build_joint_dictionary(files, tmp_path / f"dict{workers}.txt", workers)
             for workers in (1, 2)}
    assert sizes[1] == sizes[2] == 16  # 4 specials, 8 pieces, padding to 8
    assert (tmp_path / "dict1.txt").read_bytes() == (tmp_path / "dict2.txt").read_bytes()


def test_a_preparation_with_workers_is_byte_for_byte_the_one_process_one(tmp_path, small_ranges):
    write_toy_corpus(tmp_path / "source", pairs=600)
    for workers in (1, 2):
        prepare_translation(tmp_path / "source", tmp_path / f"w{workers}", source_lang="en", target_lang="fr",
                            vocab_size=200, workers=workers)
    assert digests(tmp_path / "w1" / "bin") == digests(tmp_path / "w2" / "bin")
    assert digests(tmp_path / "w1" / "pieces") == digests(tmp_path / "w2" / "pieces")
    assert digests(tmp_path / "w1" / "raw") == digests(tmp_path / "w2" / "raw")


def test_a_masked_lm_preparation_with_workers_is_byte_for_byte_the_one_process_one(tmp_path, small_ranges):
    from train_large.data.prepare_mlm import prepare_mlm_corpus

    from .test_prepare_mlm import write_blank_line_layout

    write_blank_line_layout(tmp_path / "raw", {"train": 60, "valid": 7, "test": 5})
    train = tmp_path / "raw" / "train.txt"  # a line that normalises to nothing ends a document too
    train.write_text(train.read_text(encoding="utf-8").replace("\n\n", "\n\u200b\n", 3), encoding="utf-8")
    prepared = {workers: prepare_mlm_corpus(tmp_path / "raw", tmp_path / f"w{workers}", vocab_size=80,
                                            workers=workers) for workers in (1, 2)}
    assert prepared[1].lines == prepared[2].lines
    for folder in ("raw", "bin"):  # (spm.model records its own path, so it is compared through bin/)
        assert digests(tmp_path / "w1" / folder) == digests(tmp_path / "w2" / folder)


KILLED_IN_BINARIZATION = """
import sys, time
from pathlib import Path
from train_large.data import ranges
from train_large.engine import binarize
from train_large.data.prepare import prepare_translation

from train_large.data import ranges
ranges.MIN_RANGE_BYTES = 64
encode = binarize._encode_range

def encode_then_hang(*args):
    result = encode(*args)
    Path(sys.argv[2], "part-written").touch()
    time.sleep(600)
    return result

binarize._encode_range = encode_then_hang
prepare_translation(sys.argv[1], sys.argv[2], source_lang="en", target_lang="fr", vocab_size=200, workers=2)
"""


def test_a_kill_while_workers_binarize_leaves_a_dir_that_is_not_taken_as_ready(tmp_path):
    write_toy_corpus(tmp_path / "source", pairs=600)
    data = tmp_path / "data"
    job = subprocess.Popen([sys.executable, "-c", KILLED_IN_BINARIZATION, str(tmp_path / "source"), str(data)],
                           cwd=REPO, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (data / "part-written").exists():
        assert job.poll() is None and time.monotonic() < deadline, "the preparation never reached binarization"
        time.sleep(0.2)
    os.killpg(job.pid, signal.SIGKILL)  # the preparation and its workers, as a scheduler's kill would
    job.wait()
    assert any(".part" in path.name for path in (data / "bin").iterdir())
    with pytest.raises(PrepareError, match="not a prepared dataset"):
        load_prepared(data)

    prepare_translation(tmp_path / "source", data, source_lang="en", target_lang="fr", vocab_size=200, workers=1)
    assert not any(".part" in path.name for path in (data / "bin").iterdir())
    prepare_translation(tmp_path / "source", tmp_path / "fresh", source_lang="en", target_lang="fr", vocab_size=200)
    assert digests(data / "bin") == digests(tmp_path / "fresh" / "bin")

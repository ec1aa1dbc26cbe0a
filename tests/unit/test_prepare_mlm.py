"""Masked-LM corpus preparation: both input layouts keep document boundaries; bad input is one line."""
from __future__ import annotations

import json

import pytest

from train_large.data.prepare import PrepareError
from train_large.data.prepare_mlm import SPM_CHUNK_CHARS, _chunks, file_sha1, prepare_mlm_corpus

SENTENCES = ["The red cat sat on the mat.", "A dog chased the bird in the garden.",
             "My sister sings a song.", "The old man walks to the market.",
             "These children play with the ball.", "Mary reads the newspaper."]


def document(number: int, lines: int) -> list[str]:
    return [f"{SENTENCES[(number + i) % len(SENTENCES)]} Number {number}." for i in range(lines)]


def write_blank_line_layout(raw_dir, docs: dict[str, int]) -> None:
    """WikiText-like: a ` = Heading = ` line, whitespace-only and repeated blank lines."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    for split, count in docs.items():
        parts = [" \n = Heading = \n \n"] + ["\n".join(document(n, 3)) + "\n\n\n" for n in range(count - 1)]
        (raw_dir / f"{split}.txt").write_text("".join(parts), encoding="utf-8")


def write_line_layout(raw_dir, docs: dict[str, int]) -> None:
    raw_dir.mkdir(parents=True, exist_ok=True)
    for split, count in docs.items():
        text = "".join(" ".join(document(n, 4)) + "\n" for n in range(count))
        (raw_dir / f"{split}.txt").write_text(text, encoding="utf-8")


def eos_only_items(prefix) -> tuple[int, int]:
    """(items, items holding only </s>) of a binarized split."""
    from train_large.engine import binarize

    dataset = binarize.indexed_dataset.make_dataset(str(prefix), impl="mmap")
    return len(dataset), int((dataset.sizes == 1).sum())


@pytest.fixture(scope="module")
def blank_line_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlm_blank")
    write_blank_line_layout(root / "raw", {"train": 60, "valid": 7, "test": 5})
    return prepare_mlm_corpus(root / "raw", root / "data", vocab_size=80)


def test_blank_line_layout_keeps_document_boundaries(blank_line_corpus):
    data_dir = blank_line_corpus.data_dir
    meta = json.loads((data_dir / "prepared.json").read_text())
    # 6 docs of 3 lines plus the heading line, which is a document of its own.
    assert meta["lines"]["valid"] == 6 * 3 + 1 and meta["documents"]["valid"] == 7
    assert meta["layout"]["valid"] == "blank_line_separated"
    assert eos_only_items(data_dir / "bin" / "valid") == (19 + 7, 7)
    raw = (data_dir / "raw" / "valid.txt").read_text(encoding="utf-8")
    assert raw.startswith("= Heading =\n\nThe") and raw.endswith(".\n\n") and "\n\n\n" not in raw


def test_prepared_json_records_the_dictionary(blank_line_corpus):
    from train_large.engine import binarize

    data_dir = blank_line_corpus.data_dir
    meta = json.loads((data_dir / "prepared.json").read_text())
    assert meta["kind"] == blank_line_corpus.kind == "masked_lm"
    assert meta["dictionary_sha1"] == blank_line_corpus.dictionary_sha1 == file_sha1(data_dir / "bin" / "dict.txt")
    assert meta["vocab_size"] == binarize.dictionary_size(data_dir / "bin" / "dict.txt")
    assert (data_dir / "spm.model").is_file() and not (data_dir / "pieces").exists()
    assert not (data_dir / "raw" / "train.spm_sample").exists()


def test_fairseq_masked_lm_task_loads_the_splits(blank_line_corpus):
    from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

    from train_large.engine.hydra_compat import park_fairseq_configs

    park_fairseq_configs()
    cfg = MaskedLMConfig(data=str(blank_line_corpus.bin_dir), tokens_per_sample=64,
                         sample_break_mode="complete_doc", seed=1)
    task = MaskedLMTask.setup_task(cfg)
    for split in ("train", "valid", "test"):
        task.load_dataset(split)
        assert len(task.dataset(split)) > 0


def test_one_document_per_line_layout(tmp_path):
    write_line_layout(tmp_path / "raw", {"train": 40, "valid": 6, "test": 3})
    prepared = prepare_mlm_corpus(tmp_path / "raw", tmp_path / "data", vocab_size=80)
    meta = json.loads((tmp_path / "data" / "prepared.json").read_text())
    assert meta["layout"] == dict.fromkeys(("test", "train", "valid"), "one_document_per_line")
    assert prepared.lines == meta["documents"] == {"train": 40, "valid": 6, "test": 3}
    assert eos_only_items(tmp_path / "data" / "bin" / "valid") == (12, 6)


def test_long_lines_reach_sentencepiece_in_chunks():
    text = " ".join(f"word{i}" for i in range(1000)) + " " + "x" * 2500
    chunks = list(_chunks(text, SPM_CHUNK_CHARS))
    assert all(0 < len(chunk) <= SPM_CHUNK_CHARS and chunk == chunk.strip() for chunk in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")
    # Cut at spaces: the 1000 short words stay whole; only the 2500-character word is split.
    assert sum(len(chunk.split()) for chunk in chunks) == 1000 + 3


@pytest.mark.parametrize("damage, expected", [
    (lambda raw: (raw / "valid.txt").unlink(), "valid.txt does not exist; expected"),
    (lambda raw: (raw / "test.txt").write_bytes(b""), "test.txt is empty"),
    (lambda raw: (raw / "train.txt").write_bytes(b"fine\n\nalso fine\n\xff\xfe bad\n"),
     "train.txt line 4 is not valid UTF-8"),
    (lambda raw: (raw / "valid.txt").write_text(" \n\n\t\n"), "valid.txt has only blank lines"),
    (lambda raw: (raw / "test.txt").write_text("\u200b\n\ufeff\n"), "test.txt has no text left after normalisation"),
])
def test_bad_input_is_one_line_naming_the_file(tmp_path, damage, expected):
    write_line_layout(tmp_path / "raw", {"train": 5, "valid": 2, "test": 2})
    damage(tmp_path / "raw")
    with pytest.raises(PrepareError) as err:
        prepare_mlm_corpus(tmp_path / "raw", tmp_path / "data", vocab_size=50)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "raw") in message and expected in message
    assert not (tmp_path / "data" / "prepared.json").exists()

"""Datasets: toy tasks generated once per data root; a classifier shares its pretraining vocabulary."""
from __future__ import annotations

import json
from functools import partial

import pytest

from train_large.config import TaskConfig
from train_large.data import datasets
from train_large.data.datasets import DataMissing, ensure_dataset, missing_data
from train_large.data.toy_mt import write_toy_corpus
from train_large.data.toy_text import write_toy_cls, write_toy_mlm_corpus


def toy_task(name: str, root, **overrides) -> TaskConfig:
    kinds = {"toy_mt": "translation", "toy_mlm": "masked_lm", "toy_cls": "classification"}
    vocab_from = str(root / "toy_mlm") if name == "toy_cls" else None
    return TaskConfig(**{"name": name, "kind": kinds[name], "data_dir": str(root / name), "generated": True,
                         "vocab_size": 300, "vocab_from": vocab_from, **overrides})


@pytest.fixture
def small_toys(monkeypatch):
    """Toy generators at a fraction of their size, and a count of masked-LM preparations."""
    monkeypatch.setattr(datasets, "write_toy_corpus", partial(write_toy_corpus, train=400, valid=20, test=20))
    monkeypatch.setattr(datasets, "write_toy_mlm_corpus",
                        partial(write_toy_mlm_corpus, train_docs=120, valid_docs=8, test_docs=8))
    monkeypatch.setattr(datasets, "write_toy_cls", partial(write_toy_cls, train=60, dev=20, test=20))
    calls = []
    prepare = datasets.prepare_mlm_corpus
    monkeypatch.setattr(datasets, "prepare_mlm_corpus",
                        lambda raw_dir, data_dir, **kw: calls.append(data_dir) or prepare(raw_dir, data_dir, **kw))
    return calls


def test_toy_cls_generates_toy_mlm_once_and_shares_its_dictionary(tmp_path, small_toys):
    cls = ensure_dataset(toy_task("toy_cls", tmp_path))
    mlm = ensure_dataset(toy_task("toy_mlm", tmp_path))
    assert ensure_dataset(toy_task("toy_cls", tmp_path)).lines == cls.lines
    assert small_toys == [tmp_path / "toy_mlm"]  # prepared once, for the classifier, then reused
    assert cls.kind == "classification" and mlm.kind == "masked_lm"
    assert cls.dictionary_sha1 == mlm.dictionary_sha1 != ""
    assert cls.labels == ["0", "1"] and not cls.sentence_pairs
    assert cls.lines == {"train": 60, "valid": 20, "test": 20}
    assert cls.submission == {}  # its test.tsv is labelled: the scored test split, not a GLUE submission
    # The classifier's sentences are none of the pretraining corpus's held-out ones.
    held_out = {line for split in ("valid", "test")
                for line in (mlm.data_dir / "raw" / f"{split}.txt").read_text().splitlines() if line}
    examples = {line for split in ("train", "valid", "test")
                for line in (cls.data_dir / "raw" / f"{split}.input0").read_text().splitlines()}
    assert held_out and not held_out & examples


def test_toy_mt_still_generates_translation_data(tmp_path, small_toys):
    prepared = ensure_dataset(toy_task("toy_mt", tmp_path))
    assert prepared.kind == "translation" and prepared.lines == {"train": 400, "valid": 20, "test": 20}
    assert (prepared.bin_dir / "dict.fr.txt").is_file() and small_toys == []


def test_toy_cls_without_vocab_from_says_what_to_set(tmp_path):
    with pytest.raises(DataMissing, match="task.vocab_from is not set"):
        ensure_dataset(toy_task("toy_cls", tmp_path, vocab_from=None))


def test_real_classification_reports_an_unprepared_pretraining_corpus(tmp_path):
    task = TaskConfig(name="mnli", kind="classification", data_dir=str(tmp_path / "mnli"),
                      vocab_from=str(tmp_path / "wiki"), prepare_hint="tlc-prepare glue ...")
    data_line, vocab_line = missing_data(task)
    assert data_line.startswith(f"task.data_dir={tmp_path / 'mnli'} is not a prepared dataset")
    assert vocab_line == (f"task.vocab_from={tmp_path / 'wiki'} is not a prepared pretraining corpus "
                          "(no prepared.json); prepare it first with: tlc-prepare mlm "
                          f"--raw-dir RAW --out {tmp_path / 'wiki'}")
    # once prepared, the data carries its vocabulary: the pretraining corpus is no longer needed
    (tmp_path / "mnli").mkdir()
    (tmp_path / "mnli" / "prepared.json").write_text(json.dumps({"vocab_size": 8, "lines": {}}))
    assert missing_data(task) == []
    assert ensure_dataset(task).data_dir == tmp_path / "mnli"


@pytest.mark.e2e
def test_default_toy_cls_and_toy_mlm_prepare_together(tmp_path):
    cls = ensure_dataset(toy_task("toy_cls", tmp_path, vocab_size=1000))
    mlm = ensure_dataset(toy_task("toy_mlm", tmp_path, vocab_size=1000))
    assert cls.dictionary_sha1 == mlm.dictionary_sha1
    assert cls.lines == {"train": 2000, "valid": 500, "test": 500}
    assert 39_000 < mlm.lines["train"] < 41_000 and 900 < mlm.lines["valid"] < 1100
    meta = json.loads((cls.data_dir / "prepared.json").read_text())
    assert meta["majority_class_rate"] == {"train": 0.5, "valid": 0.5, "test": 0.5}


def test_toy_data_an_earlier_generator_wrote_is_refused_not_reused(tmp_path, small_toys):
    ensure_dataset(toy_task("toy_mlm", tmp_path))
    marker = tmp_path / "toy_mlm" / "generator.json"
    assert json.loads(marker.read_text()) == {"generator": "toy_mlm", "version": 2}
    marker.unlink()  # as a data root from before the topics looks
    for name in ("toy_mlm", "toy_cls"):  # toy_cls would be encoded with it
        with pytest.raises(DataMissing, match=r"toy_mlm data from an earlier version of its generator "
                                              r"\(version 1, now 2\); delete it"):
            ensure_dataset(toy_task(name, tmp_path))
    assert not (tmp_path / "toy_cls" / "prepared.json").exists() and small_toys == [tmp_path / "toy_mlm"]
    marker.write_text("{")
    with pytest.raises(DataMissing, match="is not a generator marker"):
        ensure_dataset(toy_task("toy_mlm", tmp_path))


def test_toy_mt_data_from_before_the_marker_is_still_used(tmp_path, small_toys):
    first = ensure_dataset(toy_task("toy_mt", tmp_path))
    (tmp_path / "toy_mt" / "generator.json").unlink()
    assert ensure_dataset(toy_task("toy_mt", tmp_path)).lines == first.lines

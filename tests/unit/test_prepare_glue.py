"""GLUE preparation: official-layout TSVs load in fairseq's sentence_prediction task."""
from __future__ import annotations

import json

import pytest
import sentencepiece as spm

from train_large.data.prepare import PrepareError
from train_large.data.prepare_glue import prepare_glue
from train_large.data.prepare_mlm import prepare_mlm_corpus
from train_large.data.toy_text import write_toy_mlm_corpus

from tests.glue_fixtures import (MNLI_DEV_HEADER, MNLI_LABELS, MNLI_TRAIN_HEADER, QUOTED, mnli_row,  # noqa: F401
                                 write_mnli, write_sst2)

def load_task(data_dir, num_classes: int):
    from fairseq.tasks.sentence_prediction import SentencePredictionConfig, SentencePredictionTask

    from train_large.engine.hydra_compat import park_fairseq_configs

    park_fairseq_configs()
    cfg = SentencePredictionConfig(data=str(data_dir / "bin"), num_classes=num_classes, init_token=0,
                                   separator_token=2, max_positions=512, seed=1,
                                   regression_target=False, classification_head_name="head")
    return SentencePredictionTask.setup_task(cfg)


def labels_in_file_order(task, split: str) -> list[str]:
    task.load_dataset(split)
    dataset = task.dataset(split)
    targets = {int(dataset[i]["id"]): int(dataset[i]["target"]) for i in range(len(dataset))}
    offset = task.label_dictionary.nspecial
    return [task.label_dictionary[targets[i] + offset] for i in range(len(targets))]


@pytest.fixture(scope="module")
def pretraining(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretraining")
    write_toy_mlm_corpus(root / "raw", train_docs=150, valid_docs=5, test_docs=5)
    return prepare_mlm_corpus(root / "raw", root / "data", vocab_size=300)


def test_mnli_loads_as_sentence_pairs_with_labels_in_order(tmp_path, pretraining):
    gold = write_mnli(tmp_path / "MNLI")
    prepared = prepare_glue("mnli", tmp_path / "MNLI", tmp_path / "mnli", vocab_from=pretraining.data_dir)
    assert prepared.labels == MNLI_LABELS and prepared.sentence_pairs
    assert prepared.lines == {"train": 12, "valid": 5, "valid_mismatched": 4}
    assert prepared.eval_splits == ["valid", "valid_mismatched"]
    assert prepared.dictionary_sha1 == pretraining.dictionary_sha1
    assert (tmp_path / "mnli" / "spm.model").read_bytes() == pretraining.spm_model.read_bytes()
    task = load_task(tmp_path / "mnli", num_classes=3)
    for split, labels in gold.items():
        assert labels_in_file_order(task, split) == labels
        assert (tmp_path / "mnli" / "bin" / "input1" / f"{split}.bin").is_file()
    # The quoted premise reaches the model whole: tab splitting, no csv quoting.
    first = (tmp_path / "mnli" / "raw" / "valid.input0").read_text(encoding="utf-8").split("\n")[0]
    assert first == QUOTED
    from train_large.engine import binarize

    processor = spm.SentencePieceProcessor(model_file=str(prepared.spm_model))
    expected = task.source_dictionary.encode_line(" ".join(processor.encode(QUOTED, out_type=str)),
                                                  add_if_not_exist=False)
    items = binarize.indexed_dataset.make_dataset(str(prepared.bin_dir / "input0" / "valid"), impl="mmap")
    assert items[0].tolist() == expected.tolist()
    meta = json.loads((tmp_path / "mnli" / "prepared.json").read_text())
    assert meta["glue_task"] == "mnli" and meta["vocab_from"] == str(pretraining.data_dir.resolve())


@pytest.mark.parametrize("labelled_test", [False, True])
def test_sst2_is_single_sentence_and_uses_a_test_set_only_if_labelled(tmp_path, pretraining, labelled_test):
    write_sst2(tmp_path / "SST-2", labelled_test)
    prepared = prepare_glue("sst2", tmp_path / "SST-2", tmp_path / "sst2", vocab_from=pretraining.data_dir)
    assert prepared.labels == ["0", "1"] and not prepared.sentence_pairs
    assert ("test" in prepared.lines) == labelled_test
    assert not (tmp_path / "sst2" / "bin" / "input1").exists()
    task = load_task(tmp_path / "sst2", num_classes=2)
    assert labels_in_file_order(task, "train") == [str(i % 2) for i in range(10)]
    meta = json.loads((tmp_path / "sst2" / "prepared.json").read_text())
    assert meta["majority_class_rate"]["valid"] == 0.5
    assert meta["vocab_size"] == pretraining.vocab_size


@pytest.mark.parametrize("damage, expected", [
    (lambda d: (d / "dev_matched.tsv").unlink(), "dev_matched.tsv does not exist; download"),
    (lambda d: (d / "train.tsv").write_text(MNLI_TRAIN_HEADER.replace("gold_label", "gold") + "\n"),
     "train.tsv line 1 (the header) lacks column 'gold_label'"),
    (lambda d: d.joinpath("dev_mismatched.tsv").write_text(
        MNLI_DEV_HEADER + "\n" + mnli_row(0, "a", "b", "neutral", True) + "\textra\n"),
     "dev_mismatched.tsv line 2 has 17 tab-separated columns but the header has 16"),
    (lambda d: d.joinpath("train.tsv").write_text(
        MNLI_TRAIN_HEADER + "\n" + mnli_row(0, "a", "b", "neutral", False) + "\n"
        + mnli_row(1, "a", " \u200b ", "neutral", False) + "\n"), "train.tsv line 3 has an empty sentence2"),
    (lambda d: d.joinpath("dev_matched.tsv").write_text(
        MNLI_DEV_HEADER + "\n" + mnli_row(0, "a", "b", "-", True) + "\n"),
     "dev_matched.tsv line 2 has gold_label '-'; allowed: contradiction, entailment, neutral"),
])
def test_bad_tsv_is_one_line_naming_file_line_and_what_is_allowed(tmp_path, pretraining, damage, expected):
    write_mnli(tmp_path / "MNLI")
    damage(tmp_path / "MNLI")
    with pytest.raises(PrepareError) as err:
        prepare_glue("mnli", tmp_path / "MNLI", tmp_path / "out", vocab_from=pretraining.data_dir)
    assert "\n" not in str(err.value) and f"{tmp_path / 'MNLI'}/" in str(err.value)
    assert expected in str(err.value)
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_vocab_from_must_be_a_prepared_masked_lm_corpus(tmp_path, pretraining):
    write_sst2(tmp_path / "SST-2", labelled_test=False)
    with pytest.raises(PrepareError, match="prepare the pretraining corpus first: python scripts/"
                                           "prepare_mlm_corpus.py") as err:
        prepare_glue("sst2", tmp_path / "SST-2", tmp_path / "a", vocab_from=tmp_path / "nothing")
    assert "\n" not in str(err.value)
    prepare_glue("sst2", tmp_path / "SST-2", tmp_path / "a", vocab_from=pretraining.data_dir)
    with pytest.raises(PrepareError, match="is a classification dataset, not a masked-LM corpus"):
        prepare_glue("sst2", tmp_path / "SST-2", tmp_path / "b", vocab_from=tmp_path / "a")
    with pytest.raises(PrepareError, match="choose one of mnli, sst2"):
        prepare_glue("cola", tmp_path / "SST-2", tmp_path / "c", vocab_from=pretraining.data_dir)

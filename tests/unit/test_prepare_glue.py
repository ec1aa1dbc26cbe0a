"""GLUE preparation: official-layout TSVs load in fairseq's sentence_prediction task; the unlabelled
test sets load without targets and come back as GLUE submission files."""
from __future__ import annotations

import json

import pytest
import sentencepiece as spm

from train_large.clock import TrainingClock
from train_large.data.prepare import PREPARED_FILE, PrepareError, load_prepared
from train_large.data.prepare_glue import prepare_glue
from train_large.data.prepare_mlm import prepare_mlm_corpus
from train_large.data.references import file_sha256
from train_large.data.toy_text import write_toy_mlm_corpus
from train_large.evaluate import Evaluator, submission_rows

from tests.glue_fixtures import (MNLI_DEV_HEADER, MNLI_LABELS, MNLI_TEST_HEADER, MNLI_TESTS,  # noqa: F401
                                 MNLI_TRAIN_HEADER, QUOTED, SST2_TEST_EXAMPLES, mnli_row, mnli_test_row,
                                 write_mnli, write_sst2)

# GLUE's submission file for each official test file, as its server names them
MNLI_SUBMISSION = {"test_matched": ("test_matched.tsv", "MNLI-m.tsv"),
                   "test_mismatched": ("test_mismatched.tsv", "MNLI-mm.tsv")}

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


def glue_column(path, name: str) -> list[str]:
    """One column of a GLUE TSV, read without the code under test."""
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    at = header.split("\t").index(name)
    return [row.split("\t")[at] for row in rows]


@pytest.fixture(scope="module")
def pretraining(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretraining")
    write_toy_mlm_corpus(root / "raw", train_docs=150, valid_docs=5, test_docs=5)
    return prepare_mlm_corpus(root / "raw", root / "data", vocab_size=300)


@pytest.fixture(scope="module")
def mnli(tmp_path_factory, pretraining):
    """MNLI fixtures with both test sets, prepared into <root>/mnli (read-only): (root, gold labels, prepared)."""
    root = tmp_path_factory.mktemp("glue")
    gold = write_mnli(root / "MNLI")
    return root, gold, prepare_glue("mnli", root / "MNLI", root / "mnli", vocab_from=pretraining.data_dir)


def test_mnli_loads_as_sentence_pairs_with_labels_in_order(mnli, pretraining):
    tmp_path, gold, prepared = mnli
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


def test_official_test_sets_load_without_targets_and_keep_their_glue_index(mnli):
    root, _, prepared = mnli
    expected = {split: {"file": file, "lines": MNLI_TESTS[name]} for split, (name, file) in MNLI_SUBMISSION.items()}
    assert prepared.submission == expected and load_prepared(root / "mnli").submission == expected
    meta = json.loads((root / "mnli" / PREPARED_FILE).read_text())
    assert meta["submission"] == expected
    # Label statistics stay about the labelled splits.
    assert set(meta["label_counts"]) == set(meta["majority_class_rate"]) == set(prepared.lines) \
        == {"train", "valid", "valid_mismatched"}
    task = load_task(root / "mnli", num_classes=3)
    for split, (name, _) in MNLI_SUBMISSION.items():
        official = root / "MNLI" / name
        assert prepared.glue_index(split).read_text().splitlines() == glue_column(official, "index")
        for column, sentence in (("input0", "sentence1"), ("input1", "sentence2")):
            assert (root / "mnli" / "raw" / f"{split}.{column}").read_text().splitlines() == \
                glue_column(official, sentence)
            assert (prepared.bin_dir / column / f"{split}.bin").is_file()
        assert not list((prepared.bin_dir / "label").glob(f"{split}.*"))
        assert not (root / "mnli" / "raw" / f"{split}.label").exists()
        task.load_dataset(split)
        dataset = task.dataset(split)
        assert len(dataset) == MNLI_TESTS[name]
        assert "target" not in dataset.collater([dataset[i] for i in range(len(dataset))])


def test_without_the_official_test_sets_nothing_is_submitted(tmp_path, pretraining):
    write_mnli(tmp_path / "MNLI", tests=False)
    prepared = prepare_glue("mnli", tmp_path / "MNLI", tmp_path / "mnli", vocab_from=pretraining.data_dir)
    assert prepared.submission == {} and not list((tmp_path / "mnli" / "raw").glob("test*"))
    # A data dir prepared before test sets were kept has no `submission` key, and still loads.
    meta = json.loads((tmp_path / "mnli" / PREPARED_FILE).read_text())
    assert meta.pop("submission") == {}
    (tmp_path / "mnli" / PREPARED_FILE).write_text(json.dumps(meta))
    assert load_prepared(tmp_path / "mnli").submission == {}


class ClassIdEngine:
    """Predicts class (example number mod classes) for every example of a split."""

    def __init__(self, sizes: dict[str, int], classes: int) -> None:
        self.sizes, self.classes = sizes, classes

    def predict(self, split: str) -> list[int]:
        return [i % self.classes for i in range(self.sizes[split])]


def test_submission_files_hold_each_test_examples_glue_index_and_label_name(mnli, tmp_path):
    root, _, prepared = mnli
    sizes = {**prepared.lines, **{split: s["lines"] for split, s in prepared.submission.items()}}
    outputs = tmp_path / "run" / "outputs"
    saved = Evaluator(ClassIdEngine(sizes, 3), prepared, None, outputs_dir=outputs).write_predictions(TrainingClock())
    assert set(saved) == {"valid", "valid_mismatched", *MNLI_SUBMISSION}
    for split, (name, file) in MNLI_SUBMISSION.items():
        indices = glue_column(root / "MNLI" / name, "index")
        rows = [f"{index}\t{MNLI_LABELS[i % 3]}" for i, index in enumerate(indices)]
        path = outputs / "glue" / file
        assert path.read_text(encoding="utf-8") == "index\tprediction\n" + "".join(row + "\n" for row in rows)
        assert saved[split] == {"file": str(path), "sha256": file_sha256(path), "lines": len(indices) + 1}
    # test=False (a compression run with evaluation.test=false) predicts no test set.
    other = Evaluator(ClassIdEngine(sizes, 3), prepared, None, outputs_dir=tmp_path / "other")
    assert set(other.write_predictions(TrainingClock(), test=False)) == {"valid", "valid_mismatched"}
    assert not (tmp_path / "other" / "glue").exists()
    (tmp_path / "short.index").write_text("4\n7\n")
    with pytest.raises(ValueError, match="short.index holds 2 indices for 3 predictions; prepare the data again"):
        submission_rows(tmp_path / "short.index", ["0", "1", "0"])


@pytest.mark.parametrize("labelled_test", [False, True])
def test_sst2_is_single_sentence_and_uses_a_test_set_only_if_labelled(tmp_path, pretraining, labelled_test):
    write_sst2(tmp_path / "SST-2", labelled_test)
    prepared = prepare_glue("sst2", tmp_path / "SST-2", tmp_path / "sst2", vocab_from=pretraining.data_dir)
    assert prepared.labels == ["0", "1"] and not prepared.sentence_pairs
    assert ("test" in prepared.lines) == labelled_test
    assert not (tmp_path / "sst2" / "bin" / "input1").exists()
    task = load_task(tmp_path / "sst2", num_classes=2)
    assert labels_in_file_order(task, "train") == [str(i % 2) for i in range(10)]
    if labelled_test:  # the toy task's: scored as `test`, nothing to submit
        assert labels_in_file_order(task, "test") == ["1"] and prepared.submission == {}
        assert not list((tmp_path / "sst2" / "raw").glob("*.index"))
    else:  # the official one: a submission split, never the scored `test`
        assert prepared.submission == {"test_unlabelled": {"file": "SST-2.tsv", "lines": SST2_TEST_EXAMPLES}}
        assert prepared.glue_index("test_unlabelled").read_text().splitlines() == \
            glue_column(tmp_path / "SST-2" / "test.tsv", "index")
        task.load_dataset("test_unlabelled")
        assert len(task.dataset("test_unlabelled")) == SST2_TEST_EXAMPLES
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
    # The unlabelled test sets are checked as strictly.
    (lambda d: d.joinpath("test_matched.tsv").write_text(MNLI_TEST_HEADER.replace("index", "id") + "\n"),
     "test_matched.tsv line 1 (the header) lacks column 'index'"),
    (lambda d: d.joinpath("test_mismatched.tsv").write_text(
        MNLI_TEST_HEADER + "\n" + mnli_test_row(0, "a", "b") + "\n" + mnli_test_row(1, "a", "b") + "\tneutral\n"),
     "test_mismatched.tsv line 3 has 11 tab-separated columns but the header has 10"),
    (lambda d: d.joinpath("test_matched.tsv").write_text(MNLI_TEST_HEADER + "\n" + mnli_test_row(0, " ", "b") + "\n"),
     "test_matched.tsv line 2 has an empty sentence1"),
    (lambda d: d.joinpath("test_matched.tsv").write_text(
        MNLI_TEST_HEADER + "\n" + mnli_test_row(4, "a", "b") + "\n" + mnli_test_row(4, "c", "d") + "\n"),
     "test_matched.tsv line 3 repeats index 4 of line 2"),
    (lambda d: d.joinpath("test_mismatched.tsv").write_text(
        MNLI_TEST_HEADER + "\n" + mnli_test_row(0, "a", "b").replace("0", "", 1) + "\n"),
     "test_mismatched.tsv line 2 has index '', not a whole number"),
])
def test_bad_tsv_is_one_line_naming_file_line_and_what_is_allowed(tmp_path, pretraining, damage, expected):
    write_mnli(tmp_path / "MNLI")
    damage(tmp_path / "MNLI")
    with pytest.raises(PrepareError) as err:
        prepare_glue("mnli", tmp_path / "MNLI", tmp_path / "out", vocab_from=pretraining.data_dir)
    assert "\n" not in str(err.value) and f"{tmp_path / 'MNLI'}/" in str(err.value)
    assert expected in str(err.value)
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_an_sst2_test_file_without_label_or_index_is_one_line(tmp_path, pretraining):
    write_sst2(tmp_path / "SST-2", labelled_test=False)
    (tmp_path / "SST-2" / "test.tsv").write_text("sentence\nfine film\n")
    with pytest.raises(PrepareError) as err:
        prepare_glue("sst2", tmp_path / "SST-2", tmp_path / "out", vocab_from=pretraining.data_dir)
    assert str(err.value).startswith(f"{tmp_path / 'SST-2' / 'test.tsv'} line 1 (the header) lacks column 'index'")
    assert "\n" not in str(err.value) and not (tmp_path / "out").exists()


def test_vocab_from_must_be_a_prepared_masked_lm_corpus(tmp_path, pretraining):
    write_sst2(tmp_path / "SST-2", labelled_test=False)
    with pytest.raises(PrepareError, match="prepare the pretraining corpus first: tlc-prepare mlm "
                                           "--raw-dir RAW") as err:
        prepare_glue("sst2", tmp_path / "SST-2", tmp_path / "a", vocab_from=tmp_path / "nothing")
    assert "\n" not in str(err.value)
    prepare_glue("sst2", tmp_path / "SST-2", tmp_path / "a", vocab_from=pretraining.data_dir)
    with pytest.raises(PrepareError, match="is a classification dataset, not a masked-LM corpus"):
        prepare_glue("sst2", tmp_path / "SST-2", tmp_path / "b", vocab_from=tmp_path / "a")
    with pytest.raises(PrepareError, match="choose one of mnli, sst2"):
        prepare_glue("cola", tmp_path / "SST-2", tmp_path / "c", vocab_from=pretraining.data_dir)

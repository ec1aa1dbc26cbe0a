"""RoBERTa end to end on CPU: toy masked-LM pretraining, then fine-tuning on the toy
classification task (against a random init with the same budget) and on MNLI/SST-2-layout
fixtures, all from the pretraining run dir."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import compose_train, kinds, only_run_dir, tlc_train
from tests.glue_fixtures import write_mnli, write_sst2
from tests.wandb_log import read_offline_run
from train_large.data.datasets import ensure_dataset
from train_large.data.prepare_glue import prepare_glue
from train_large.rundir import read_records

pytestmark = pytest.mark.e2e

SMALL = ["model.width=64", "model.depth=2"]
PRETRAIN_UPDATES, FINETUNE_SECONDS = 800, 10


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A data root holding the toy corpus and the toy classification task (encoded with its vocabulary)."""
    root = tmp_path_factory.mktemp("roberta")
    ensure_dataset(compose_train(["task=toy_cls", f"paths.data_root={root / 'data'}"]).task)
    return root


@pytest.fixture(scope="module")
def pretrained(root) -> Path:
    # Counted in updates, not seconds: the toy topics take shape after 500-700 updates (about a
    # minute on 2 quiet cores), and a loaded machine must not stop the run before that.
    proc = tlc_train(root, "task=toy_mlm", *SMALL, f"budget.max_updates={PRETRAIN_UPDATES}",
                     "budget.train_seconds=600", "budget.eval_every_seconds=6", "experiment=mlm", "logger=none")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return only_run_dir(root, "mlm")


def fine_tune(root: Path, experiment: str, *init: str) -> Path:
    """toy_cls for FINETUNE_SECONDS of training from `init` (an init_from, or the model size for a random init)."""
    proc = tlc_train(root, "task=toy_cls", *init, f"budget.train_seconds={FINETUNE_SECONDS}",
                     f"experiment={experiment}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return only_run_dir(root, experiment)


@pytest.fixture(scope="module")
def fine_tuned(root, pretrained) -> Path:
    # the run dir as a user pastes it: tlc-train quotes it for Hydra (run names hold '=' and ',')
    return fine_tune(root, "cls", f"init_from={pretrained}")


def dev_accuracy(run_dir: Path) -> float:
    return json.loads((run_dir / "result.json").read_text())["final"]["valid"]["accuracy"]


def test_masked_lm_perplexity_falls_and_records_are_well_formed(pretrained):
    records = read_records(pretrained / "metrics.jsonl")
    valid = kinds(records, "valid")
    # How many validations 800 updates span depends on the machine (3 at 12 s on 2 quiet cores, more
    # when loaded): ask for a curve, not a count.
    assert len(valid) >= 2 and valid[-1]["updates"] == PRETRAIN_UPDATES
    assert valid[-1]["ppl"] < 0.7 * valid[0]["ppl"]
    assert all(later["ppl"] < 1.02 * earlier["ppl"] for earlier, later in zip(valid, valid[1:]))
    for record in records:
        assert record["batch_sequences"] == 16 and record["batch_tokens"] is None
    flops = [r["flops"] for r in records]
    assert flops == sorted(flops) and flops[-1] > 0
    assert [r["train_seconds"] for r in records] == sorted(r["train_seconds"] for r in records)
    result = json.loads((pretrained / "result.json").read_text())
    assert result["metric"] == "ppl" and result["best_valid_ppl"] == min(r["ppl"] for r in valid)
    assert {"valid", "test"} == set(result["final"]) and "accuracy" not in result["final"]["test"]


def test_fine_tuning_from_the_pretraining_run_beats_the_majority_class(root, pretrained, fine_tuned):
    run_dir = fine_tuned
    result = json.loads((run_dir / "result.json").read_text())
    source = json.loads((pretrained / "result.json").read_text())
    majority = json.loads((root / "data" / "toy_cls" / "prepared.json").read_text())["majority_class_rate"]["valid"]
    assert result["final"]["valid"]["accuracy"] > majority + 0.3
    assert result["config"]["model"]["width"] == 64 and result["init_from"] == str(pretrained)
    records = read_records(run_dir / "metrics.jsonl")
    assert {r["source_run_id"] for r in records} == {source["run_id"]}
    assert all("accuracy" in r for r in kinds(records, "valid"))
    wandb_run = read_offline_run(run_dir)
    assert wandb_run.job_type == "finetune"


def test_saved_dev_predictions_give_the_recorded_accuracy(root, fine_tuned):
    result = json.loads((fine_tuned / "result.json").read_text())
    for split in ("valid", "test"):  # toy_cls has a labelled test set
        predicted = (fine_tuned / "outputs" / f"{split}.pred").read_text().splitlines()
        gold = (root / "data" / "toy_cls" / "raw" / f"{split}.label").read_text().splitlines()
        assert len(predicted) == len(gold) == result["outputs"][split]["lines"]
        accuracy = sum(p == g for p, g in zip(predicted, gold)) / len(gold)
        assert accuracy == pytest.approx(result["final"][split]["accuracy"], abs=1e-12)


def test_a_random_init_with_the_same_budget_is_far_worse(root, fine_tuned):
    # toy_cls is scored on words only the pretraining corpus holds: without it a model can only guess
    scratch = fine_tune(root, "cls_scratch", *SMALL)
    assert dev_accuracy(scratch) < dev_accuracy(fine_tuned) - 0.25
    assert json.loads((scratch / "result.json").read_text())["init_from"] is None


def test_a_model_setting_that_disagrees_with_the_checkpoint_is_one_line(root, pretrained):
    proc = tlc_train(root, "task=toy_cls", f"init_from='{pretrained}'", "model.depth=3", "logger=none")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"tlc-train: error: model.depth=3 disagrees with init_from={pretrained}, which "
                                   "was trained with model.depth=2; drop model.depth to use the checkpoint's")


def read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a tab-separated file with a header row."""
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    return header.split("\t"), [row.split("\t") for row in rows]


@pytest.mark.parametrize("task, write, extra_key, submissions", [
    ("mnli", write_mnli, "accuracy_mismatched",
     {"MNLI-m.tsv": "test_matched.tsv", "MNLI-mm.tsv": "test_mismatched.tsv"}),
    ("sst2", lambda glue_dir: write_sst2(glue_dir, labelled_test=False), None, {"SST-2.tsv": "test.tsv"}),
])
def test_glue_layout_fixtures_prepare_and_fine_tune(root, pretrained, task, write, extra_key, submissions):
    glue_dir, data_dir = root / f"glue_{task}", root / "data" / f"fixture_{task}"
    write(glue_dir)
    prepare_glue(task, glue_dir, data_dir, vocab_from=root / "data" / "toy_mlm")
    proc = tlc_train(root, f"task={task}", f"task.data_dir={data_dir}", f"init_from='{pretrained}'",
                     "budget.max_updates=3", "optim.batch_size=4", f"experiment=glue_{task}", "logger=none")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((only_run_dir(root, f"glue_{task}") / "result.json").read_text())
    assert result["updates"] == 3 and "test" not in result["final"]  # GLUE test sets are unlabelled
    valid = result["final"]["valid"]
    assert 0.0 <= valid["accuracy"] <= 1.0
    if extra_key:
        assert 0.0 <= valid[extra_key] <= 1.0
    run_dir = only_run_dir(root, f"glue_{task}")
    prepared = json.loads((data_dir / "prepared.json").read_text())
    for split in [s for s in prepared["lines"] if s.startswith("valid")]:  # MNLI: matched and mismatched
        predicted = (run_dir / "outputs" / f"{split}.pred").read_text().splitlines()
        assert len(predicted) == prepared["lines"][split] and set(predicted) <= set(prepared["labels"])
    # GLUE submission files (submission file -> the official test file it answers), listed with the outputs
    written = {Path(saved["file"]).name: saved for saved in result["outputs"].values()}
    for file, official in submissions.items():
        path = run_dir / "outputs" / "glue" / file
        header, rows = read_tsv(path)
        official_header, examples = read_tsv(glue_dir / official)
        assert header == ["index", "prediction"] and all(len(row) == 2 for row in rows)
        assert [index for index, _ in rows] == [example[official_header.index("index")] for example in examples]
        assert {prediction for _, prediction in rows} <= set(prepared["labels"])
        assert written[file]["file"] == str(path) and written[file]["lines"] == len(examples) + 1

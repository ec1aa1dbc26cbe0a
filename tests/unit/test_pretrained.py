"""`init_from`: finding the pretraining run and taking its architecture."""
from __future__ import annotations

import json

import pytest

from tests.conftest import compose_train
from train_large.checkpoint import save_checkpoint
from train_large.pretrained import SourceError, find_source, resolve_init


def pretraining_run(tmp_path, *, kind="masked_lm", width=128, depth=4, checkpoint="best.pt", finished=True):
    run_dir = tmp_path / "pretrain"
    (run_dir / "checkpoints").mkdir(parents=True)
    if checkpoint:
        save_checkpoint(run_dir / "checkpoints" / checkpoint, {"engine": {"model": {}}})
    model = {"arch": "roberta", "width": width, "depth": depth, "heads": width // 64, "ffn": 4 * width,
             "norm": "pre", "max_positions": 512}
    config = {"task": {"kind": kind, "data_dir": str(tmp_path / "data")}, "model": model}
    if finished:
        (run_dir / "result.json").write_text(json.dumps({"config": config}))
    else:
        (run_dir / ".hydra").mkdir()
        (run_dir / ".hydra" / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
    return run_dir


def test_fine_tuning_takes_the_source_architecture(tmp_path):
    run_dir = pretraining_run(tmp_path, width=256, depth=3)
    cfg = compose_train(["task=toy_cls", f"init_from={run_dir}"])
    assert resolve_init(cfg, [f"init_from={run_dir}"]) == []
    assert (cfg.model.width, cfg.model.depth, cfg.model.heads, cfg.model.ffn) == (256, 3, 4, 1024)


def test_an_unfinished_source_is_read_from_its_saved_config(tmp_path):
    run_dir = pretraining_run(tmp_path, checkpoint="last.pt", finished=False)
    source = find_source(str(run_dir))
    assert source.checkpoint.name == "last.pt" and source.config["model"]["width"] == 128


def test_an_explicit_setting_that_disagrees_names_both(tmp_path):
    run_dir = pretraining_run(tmp_path, width=128)
    overrides = ["task=toy_cls", f"init_from={run_dir}", "model.width=256"]
    assert resolve_init(compose_train(overrides), overrides) == [
        f"model.width=256 disagrees with init_from={run_dir}, which was trained with model.width=128; "
        "drop model.width to use the checkpoint's"]


@pytest.mark.parametrize("setup, message", [
    (lambda tmp: str(tmp / "nowhere"), "does not exist; give a pretraining run directory"),
    (lambda tmp: str(pretraining_run(tmp, checkpoint=None)), "has no checkpoint (checkpoints/best.pt or last.pt)"),
    (lambda tmp: str(pretraining_run(tmp, kind="translation")), "is a task.kind=translation run"),
])
def test_bad_sources_are_one_line(tmp_path, setup, message):
    with pytest.raises(SourceError, match=None) as err:
        find_source(setup(tmp_path))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_init_from_is_only_for_classification(tmp_path):
    run_dir = pretraining_run(tmp_path)
    cfg = compose_train(["task=toy_mlm", f"init_from={run_dir}"])
    assert resolve_init(cfg, []) == ["init_from is for fine-tuning, but task.kind=masked_lm; use a classification "
                                     "task (mnli, sst2, toy_cls) or drop init_from"]

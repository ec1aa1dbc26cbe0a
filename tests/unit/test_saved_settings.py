"""A run directory reused with other settings: which differences refuse the launch and which are safe
to resume with, read from result.json or from the last checkpoint."""
from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import compose_train
from train_large.checkpoint import checkpoint_path, save_checkpoint
from train_large.config import to_container
from train_large.saved_settings import SettingsChanged, changed_settings, check_same_settings


def config(*overrides: str) -> dict:
    return to_container(compose_train(["paths.data_root=/data", *overrides]))


def test_a_model_task_or_optimizer_setting_refuses():
    base = config("model.width=32")
    for override, key in [("model.width=64", "model.width"), ("optim.lr=0.1", "optim.lr"), ("seed=2", "seed"),
                          ("task.mask_prob=0.3", "task.mask_prob"), ("budget.train_seconds=99", "budget.train_seconds"),
                          ("task.eval.beam=1", "task.eval.beam")]:
        other = config("model.width=32", override) if key != "model.width" else config(override)
        assert key in [k for k, _, _ in changed_settings(base, other)], override


def test_where_files_go_what_is_logged_and_how_it_runs_may_change():
    base = config("model.width=32")
    other = config("model.width=32", "paths.data_root=/elsewhere", "logger.project=p", "logger=none",
                   "experiment=renamed", "device=cpu", "precision=fp32", "num_workers=3", "world_size=2",
                   "compile=true", "budget.eval_every_seconds=7", "budget.checkpoint_every_seconds=9",
                   "budget.log_every_seconds=1")
    assert changed_settings(base, other) == []


def test_a_key_only_one_side_has_is_not_compared():
    saved = config("model.width=32")
    del saved["compile"], saved["model"]["norm"]  # a run saved before these settings existed
    assert changed_settings(saved, config("model.width=32", "compile=true", "model.norm=pre")) == []


def test_the_saved_result_is_compared_and_the_line_names_both_values(tmp_path):
    check_same_settings(tmp_path, config("model.width=64"))  # an empty run dir: nothing to compare
    (tmp_path / "result.json").write_text(json.dumps({"status": "complete", "config": config("model.width=32")}))
    check_same_settings(tmp_path, config("model.width=32", "logger=none"))
    with pytest.raises(SettingsChanged) as refused:
        check_same_settings(tmp_path, config("model.width=64"))
    message = str(refused.value)
    assert "\n" not in message and "model.width=32 there, 64 now" in message and "result.json" in message


def test_the_last_checkpoint_is_compared_when_the_run_has_not_finished(tmp_path):
    save_checkpoint(checkpoint_path(tmp_path), {"weights": torch.zeros(3),
                                                "config": config("optim.lr=0.002")})
    with pytest.raises(SettingsChanged, match=r"optim.lr=0.002 there, 0.1 now.*"):
        check_same_settings(tmp_path, config("optim.lr=0.1"))
    check_same_settings(tmp_path, config("optim.lr=0.002"))

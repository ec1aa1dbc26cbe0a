"""Batch plans (sequences per update through accumulation) and the checks for RoBERTa tasks."""
from __future__ import annotations

import pytest

from tests.conftest import compose_train
from train_large.config import batch_plan, check


def problems(*overrides):
    return check(compose_train(list(overrides)), cuda_available=False)


@pytest.mark.parametrize("wanted, fits, device_batch, update_freq", [
    (8192, 64, 64, 128),  # the paper's large batch on one GPU
    (100, 32, 25, 4),  # spread evenly: 4 x 25, not 3 x 32 + 4
    (32, None, 32, 1),  # fits as is
])
def test_batch_plan_reaches_the_requested_sequences(wanted, fits, device_batch, update_freq):
    cfg = compose_train(["task=roberta_mlm", f"optim.batch_size={wanted}",
                         f"optim.device_batch_size={'null' if fits is None else fits}"])
    plan = batch_plan(cfg.optim)
    assert (plan.device_batch_size, plan.update_freq) == (device_batch, update_freq)
    assert plan.sequences == wanted


def test_batch_plan_spreads_over_devices():
    cfg = compose_train(["task=roberta_mlm", "optim.batch_size=2048", "optim.device_batch_size=64"])
    plan = batch_plan(cfg.optim, world_size=4)
    assert (plan.device_batch_size, plan.update_freq, plan.sequences) == (64, 8, 2048)


def test_token_batches_report_tokens_per_update():
    plan = batch_plan(compose_train(["optim=adam", "optim.update_freq=4"]).optim)
    assert plan.sequences is None and plan.tokens == 4096 * 4


def test_explicit_update_freq_too_small_for_the_batch_is_one_line():
    assert problems("task=roberta_mlm", "optim.batch_size=1024", "optim.device_batch_size=64",
                    "optim.update_freq=2") == [
        "optim.batch_size=1024 needs optim.update_freq >= 16 at optim.device_batch_size=64, not 2; "
        "leave update_freq null to derive it"]


def test_task_kind_needs_its_architecture():
    assert problems("task=toy_mlm", "model=transformer") == [
        "model.arch=transformer cannot train task.kind=masked_lm; use model=roberta"]
    assert problems("task=toy_mt", "model=roberta") == [
        "model.arch=roberta cannot train task.kind=translation; use model=transformer"]


def test_masked_lm_settings_are_checked():
    assert problems("task=toy_mlm", "task.mask_prob=0") == ["task.mask_prob=0.0 must be in (0, 1) (RoBERTa: 0.15)"]
    assert problems("task=toy_mlm", "task.tokens_per_sample=1024") == [
        "task.tokens_per_sample=1024 exceeds model.max_positions=512; raise model.max_positions or "
        "shorten the samples"]


def test_roberta_presets_compose_clean():
    for task in ("toy_mlm", "toy_cls", "roberta_mlm", "mnli", "sst2"):
        cfg = compose_train([f"task={task}"])
        assert cfg.model.arch == "roberta" and cfg.model.norm == "pre"
        assert check(cfg, cuda_available=False) == []

"""Config composition, derived defaults and the validation table."""
from __future__ import annotations

import json
import pickle

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from tests.conftest import compose_train
from train_large.cli import TRAIN, group_choices
from train_large.config import (
    MAX_WORKERS_PER_GPU,
    Precision,
    check,
    resolve_num_workers,
    resolve_precision,
    to_container,
)
from train_large.preflight import preflight


def problems_for(overrides, cuda=False):
    return check(compose_train(overrides), cuda_available=cuda)


def test_every_task_preset_composes_and_passes_check():
    for task in group_choices("task"):
        assert problems_for([f"task={task}"]) == [], task


def test_heads_default_to_width_over_64_with_a_minimum_of_one():
    assert compose_train(["model.width=1024"]).model.heads == 16
    assert compose_train(["model.width=32"]).model.heads == 1
    assert compose_train(["model.width=1024"]).model.ffn == 4096


def test_explicit_heads_override_the_default():
    assert compose_train(["model.width=512", "model.heads=4"]).model.heads == 4


def test_eval_interval_follows_the_budget():
    cfg = compose_train(["budget.train_seconds=120"])
    assert cfg.budget.eval_every_seconds == pytest.approx(12.0)


def test_toy_task_selects_the_toy_optimizer_unless_the_user_chooses():
    assert compose_train([]).optim.warmup_updates == 100
    assert compose_train(["optim=adam"]).optim.warmup_updates == 4000


BAD_VALUES = [
    (["model.width=130", "model.heads=4"], "model.width=130 is not divisible by model.heads=4"),
    (["budget.train_seconds=0"], "budget.train_seconds=0.0 must be > 0"),
    (["budget.train_seconds=-5"], "budget.train_seconds=-5.0 must be > 0"),
    (["precision=fp16"], "precision=fp16 needs a CUDA device"),
    (["precision=bf16", "device=cpu"], "precision=bf16 needs a CUDA device"),
    (["device=cuda"], "device=cuda but no CUDA device is visible"),
    (["optim.schedule=polynomial_decay"], "needs budget.max_updates"),
    (["model.dropout=1.5"], "model.dropout=1.5 must be in [0, 1)"),
    (["optim.max_tokens=null", "optim.batch_size=null"], "set at least one"),
    (["optim.warmup_updates=0"], "optim.warmup_updates=0 must be > 0"),
    (["task.target_lang=en"], "task.target_lang='en' equals task.source_lang"),
    (["model.depth=0"], "model.depth=0 must be > 0"),
]


@pytest.mark.parametrize("overrides,expected", BAD_VALUES, ids=[" ".join(o) for o, _ in BAD_VALUES])
def test_bad_value_gives_one_line_naming_the_key(overrides, expected):
    problems = problems_for(overrides)
    assert len(problems) == 1, problems
    assert expected in problems[0]
    assert "\n" not in problems[0]


BAD_CHOICES = [
    (["model.norm=middle"], "model.norm='middle' is not allowed; choose one of: pre, post"),
    (["optim.schedule=cosine"],
     "optim.schedule='cosine' is not allowed; choose one of: inverse_sqrt, fixed, polynomial_decay, budget"),
    (["logger.mode=loud"], "logger.mode='loud' is not allowed; choose one of: auto, online, offline, disabled"),
    (["precision=fp8"], "precision='fp8' is not allowed; choose one of: auto, fp32, fp16, bf16"),
    (["task.kind=regression"], "task.kind='regression' is not allowed; choose one of: translation, masked_lm, "
                               "classification"),
]


@pytest.mark.parametrize("overrides,expected", BAD_CHOICES, ids=[" ".join(o) for o, _ in BAD_CHOICES])
def test_bad_choice_fails_at_compose_time_and_preflight_names_the_choices(overrides, expected):
    with pytest.raises(ConfigCompositionException):
        compose_train(overrides)
    assert preflight(overrides, compose_train, lambda cfg, _: check(cfg, cuda_available=False)) == [expected]


def test_choices_read_as_plain_strings_and_are_saved_as_strings():
    cfg = compose_train(["precision=fp16", "optim.schedule=budget"])
    assert cfg.precision == "fp16" and f"{cfg.precision}|{cfg.precision:>5}" == "fp16| fp16"
    assert str(cfg.optim.schedule) == "budget" and {"budget": 1}[cfg.optim.schedule] == 1
    assert json.dumps({"precision": cfg.precision}) == '{"precision": "fp16"}'
    saved = to_container(cfg)
    assert type(saved["precision"]) is str and type(saved["optim"]["decay"]) is str
    assert pickle.loads(pickle.dumps(Precision.bf16)) is Precision.bf16  # Ray and submitit pickle configs


def test_fp16_is_accepted_when_cuda_is_present():
    assert problems_for(["precision=fp16"], cuda=True) == []


def test_unknown_task_is_named_with_the_choices():
    problems = TRAIN.check_group_overrides(["task=wmt15", "model.width=64"])
    assert problems == [f"task=wmt15 is not a known task; choose one of: {', '.join(group_choices('task'))}"]


def test_multirun_group_values_are_each_checked():
    problems = TRAIN.check_group_overrides(["task=toy_mt,nope"])
    assert len(problems) == 1 and problems[0].startswith("task=nope")


def test_misspelt_key_fails_at_compose_time():
    with pytest.raises(Exception, match="widht"):
        compose_train(["model.widht=64"])


def test_resolved_config_is_plain_data():
    container = OmegaConf.to_container(compose_train(["paths.data_root=/d"]), resolve=True)
    assert container["task"]["data_dir"] == "/d/toy_mt"
    assert container["model"]["heads"] == 8


def test_presets_still_compose_after_fairseq_registered_its_configs():
    import train_large.engine.core  # noqa: F401 - registers fairseq's dataclasses in the ConfigStore

    for task in group_choices("task"):
        assert problems_for([f"task={task}"]) == [], task
    assert compose_train(["model=transformer"]).model.width == 512


@pytest.mark.parametrize("precision, device, bf16, expected", [
    ("auto", "cuda", True, "bf16"), ("auto", "cuda", False, "fp16"), ("auto", "cpu", False, "fp32"),
    ("fp32", "cuda", True, "fp32"), ("fp16", "cuda", True, "fp16"),
])
def test_auto_precision_is_mixed_on_gpus_and_fp32_on_cpu(precision, device, bf16, expected):
    assert resolve_precision(precision, device, bf16) == expected


def test_default_workers_are_one_on_cpu_and_a_share_of_the_cpus_per_gpu():
    assert resolve_num_workers(None, "cpu", cpus=64, gpus=0) == 1
    assert resolve_num_workers(None, "cuda", cpus=16, gpus=1) == MAX_WORKERS_PER_GPU
    assert resolve_num_workers(None, "cuda", cpus=16, gpus=4) == 3  # 4 CPUs each, one for the trainer
    assert resolve_num_workers(None, "cuda", cpus=2, gpus=8) == 1
    assert resolve_num_workers(0, "cuda", cpus=16, gpus=1) == 0


def test_precision_auto_and_compile_pass_check_on_cpu():
    assert check(compose_train(["precision=auto", "compile=true"]), cuda_available=False) == []

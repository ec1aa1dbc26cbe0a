"""tlc-compress at the door: every bad value, source and ratio is one line; the compress sweeps
compose; the size-accounting skeleton and the compressed checkpoint are faithful."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException
from torch import nn

from compress.checkpoint import ACTIVATION_QUANT, LEGACY_FORMAT, load_compressed, restore_compressed
from compress.cli import COMPRESS, compose_compress, job_problems
from compress.config import check
from compress.footprint import model_bytes, plan_for_ratio
from compress.prune import make_permanent, prune_magnitude
from compress.quantize import QuantizedTensor, quantize_weights
from compress.skeleton import skeleton
from compress.targets import Target, select_targets
from tests.conftest import REPO, subprocess_env
from tests.unit.test_compress_prune import tiny_translation_model
from train_large.checkpoint import save_checkpoint
from train_large.preflight import job_overrides, preflight
from train_large.run_names import run_name

TLC_COMPRESS = str(Path(sys.executable).parent / "tlc-compress")


def fake_source(root: Path, *, finished: bool = True, compressed: bool = False) -> Path:
    """A run directory as tlc-train leaves it, around the tiny translation model."""
    run_dir = root / "runs" / "toy" / "width=8"
    (run_dir / "checkpoints").mkdir(parents=True)
    save_checkpoint(run_dir / "checkpoints" / "best.pt", {"engine": {"model": tiny_translation_model().state_dict()}})
    task = {"name": "toy_mt", "kind": "translation", "data_dir": str(root / "data"), "generated": True}
    result = {"status": "complete" if finished else "running", "config": {"task": task}}
    if compressed:
        result.update(compression={"method": "prune"}, source={"run_dir": "/elsewhere"})
    (run_dir / "result.json").write_text(json.dumps(result))
    return run_dir


def problems_for(overrides: list[str]) -> list[str]:
    return job_problems(compose_compress(overrides), overrides)


BAD_VALUES = [
    (["compression=prune", "compression.sparsity=1.0"], "compression.sparsity=1.0 must be in [0, 1)"),
    (["compression=prune", "compression.sparsity=-0.1"], "compression.sparsity=-0.1 must be in [0, 1)"),
    (["compression=quantize", "compression.bits=1"], "compression.bits=1 must be in 2..16 (or 32 for fp32)"),
    (["compression=quantize", "compression.bits=17"], "compression.bits=17 must be in 2..16"),
    (["compression=prune", "compression.steps=0"], "compression.steps=0 must be >= 1"),
    (["compression=prune", "compression.ratio=0"], "compression.ratio=0.0 must be > 0"),
    (["compression=prune", "compression.schedule=iterative"], "iterative needs compression.finetune_seconds > 0"),
    (["compression=prune", "compression.bits=8"], "compression.bits=8 but compression.method=prune does not"),
    (["compression=quantize", "compression.sparsity=0.5"], "compression.method=quantize does not prune"),
    (["compression=quantize", "compression.qat=true"], "compression.qat=true needs compression.finetune_seconds"),
    (["compression=quantize", "compression.activations=true"], "activations=true needs compression.qat=true"),
    (["compression=none", "compression.ratio=4"], "compression.ratio needs a method that compresses"),
]


@pytest.mark.parametrize("overrides,expected", BAD_VALUES, ids=[" ".join(o) for o, _ in BAD_VALUES])
def test_each_bad_value_is_one_line_naming_the_key(tmp_path, overrides, expected):
    problems = problems_for([f"source='{fake_source(tmp_path)}'", *overrides])
    assert len(problems) == 1 and expected in problems[0], problems
    assert "\n" not in problems[0]


BAD_CHOICES = [
    (["compression.method=distill"],
     "compression.method='distill' is not allowed; choose one of: none, prune, quantize, prune_quantize"),
    (["compression=prune", "compression.scope=row"],
     "compression.scope='row' is not allowed; choose one of: global, layer"),
    (["compression=quantize", "compression.granularity=group"],
     "compression.granularity='group' is not allowed; choose one of: channel, tensor, per_channel, per_tensor"),
    (["compression=prune", "compression.schedule=gradual"],
     "compression.schedule='gradual' is not allowed; choose one of: one_shot, iterative"),
    (["device=tpu"], "device='tpu' is not allowed; choose one of: auto, cpu, cuda"),
]


@pytest.mark.parametrize("overrides,expected", BAD_CHOICES, ids=[" ".join(o) for o, _ in BAD_CHOICES])
def test_bad_choice_fails_at_compose_time_and_preflight_names_the_choices(overrides, expected):
    with pytest.raises(ConfigCompositionException):
        compose_compress(overrides)
    assert preflight(overrides, compose_compress, lambda cfg, _: check(cfg)) == [expected]


def test_good_settings_and_the_issue_spelling_of_granularity_pass(tmp_path):
    source = fake_source(tmp_path)
    for overrides in (["compression=prune", "compression.sparsity=0.75"],
                      ["compression=quantize", "compression.bits=4", "compression.granularity=per_channel"],
                      ["compression=quantize", "compression.bits=32"],
                      ["compression=prune_quantize", "compression.ratio=2"],
                      ["compression=prune", "compression.schedule=iterative", "compression.finetune_seconds=5"]):
        assert problems_for([f"source='{source}'", *overrides]) == [], overrides


@pytest.mark.parametrize("make,expected", [
    (lambda root: root / "nowhere", "does not exist"),
    (lambda root: fake_source(root, finished=False), "has no finished run (no complete result.json)"),
    (lambda root: fake_source(root, compressed=True), "is a tlc-compress run; give the training run"),
], ids=["missing", "unfinished", "compressed"])
def test_a_source_without_a_finished_training_run_is_one_line(tmp_path, make, expected):
    problems = problems_for([f"source='{make(tmp_path)}'"])
    assert len(problems) == 1 and expected in problems[0], problems


def test_a_missing_source_is_one_line():
    (problem,) = job_problems(compose_compress([]))
    assert problem.startswith("source is not set")


def test_a_bf16_source_is_planned_at_the_fp32_a_cpu_job_holds_it_at(tmp_path):
    """5x is within reach of the tiny model's bf16 weights (16 bits each) but not at fp32: a job on
    CPU computes at fp32, so it must be refused up front, not after the data has loaded."""
    run_dir = fake_source(tmp_path)
    best = run_dir / "checkpoints" / "best.pt"
    save_checkpoint(best, {"engine": {"model": tiny_translation_model().to(torch.bfloat16).state_dict()}})
    model = skeleton(torch.load(best, weights_only=True)["engine"]["model"])
    assert plan_for_ratio(model, select_targets(model), 5.0, "prune").sparsity > 0  # at bf16: reachable
    problems = problems_for([f"source='{run_dir}'", "device=cpu", "compression=prune", "compression.ratio=5"])
    assert len(problems) == 1 and "compression.ratio=5.0 is out of reach for prune" in problems[0], problems


def test_an_unreachable_ratio_is_one_line_before_anything_is_built(tmp_path):
    problems = problems_for([f"source='{fake_source(tmp_path)}'", "compression=prune", "compression.ratio=50"])
    assert len(problems) == 1 and "compression.ratio=50.0 is out of reach for prune" in problems[0], problems


def test_skeleton_of_a_state_dict_counts_and_plans_like_the_model():
    model = tiny_translation_model()
    bones = skeleton(model.state_dict())
    assert [t.name for t in select_targets(bones)] == [t.name for t in select_targets(model)]
    assert model_bytes(bones).to_dict() == model_bytes(model).to_dict()  # the tied embedding counted once
    for method, ratio in (("prune", 1.2), ("quantize", 2.0), ("prune_quantize", 3.0)):
        assert plan_for_ratio(bones, select_targets(bones), ratio, method) == \
            plan_for_ratio(model, select_targets(model), ratio, method)


def compressed_state(model: nn.Module, targets: Sequence[Target], quantized: dict[str, QuantizedTensor],
                     *, activations: dict[str, float] | None = None, activation_bits: int = 8,
                     info: dict | None = None) -> dict:
    """A format-1 checkpoint, as runs before format 2 saved it; kept to test the format-1 reader."""
    weights = {name: value for name, value in model.state_dict().items() if not name.endswith(ACTIVATION_QUANT)}
    codes = {}
    for target in (t for t in targets if t.name in quantized):
        q = quantized[target.name]
        names = [target.name, *(alias for alias, _, _ in target.aliases)]
        for name in names:
            weights.pop(name, None)
        codes[target.name] = {"codes": q.codes, "scale": q.scale, "bits": q.bits, "granularity": q.granularity,
                              "names": names}
    return {"format": LEGACY_FORMAT, "weights": weights, "quantized": codes,
            "activation_scales": dict(activations or {}), "activation_bits": activation_bits, **(info or {})}


def test_compressed_checkpoint_restores_the_exact_compressed_weights(tmp_path):
    model = tiny_translation_model()
    targets = select_targets(model, embeddings=True)
    prune_magnitude(model, targets, 0.5)
    make_permanent(model)
    quantized = quantize_weights(model, targets, 4)
    torch.save(compressed_state(model, targets, quantized, info={"config": {"a": 1}}), tmp_path / "c.pt")
    state = load_compressed(tmp_path / "c.pt")  # weights_only: tensors and plain values only
    assert "encoder.embed_tokens.weight" not in state["weights"]  # stored as 4-bit codes and scales
    fresh = tiny_translation_model()
    torch.manual_seed(1)
    fresh.apply(lambda m: [torch.nn.init.normal_(p) for p in m.parameters(recurse=False)])
    restore_compressed(fresh, state)
    for name, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name
    assert fresh.decoder.output_projection.weight is fresh.encoder.embed_tokens.weight  # still tied


@pytest.mark.parametrize("name", ["prune", "quantize", "toy_prune", "toy_quantize", "repro_compress"])
def test_every_job_of_a_compress_sweep_composes_and_passes_the_checks(name):
    jobs = job_overrides(["-m", f"+sweep={name}", "source='/runs/x/width=64'"], COMPRESS.sweeper_params)
    for overrides in jobs:
        cfg = compose_compress(overrides)
        assert cfg.experiment == name and check(cfg) == [], overrides
    assert len({run_name(overrides) for overrides in jobs}) == len(jobs) >= 4


def test_cfg_job_prints_a_compress_sweep_job_without_a_source(tmp_path):
    proc = subprocess.run([TLC_COMPRESS, "+sweep=toy_prune", "--cfg", "job"], cwd=tmp_path,
                          env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "experiment: toy_prune" in proc.stdout and "schedule: iterative" in proc.stdout


def test_compress_yaml_lives_beside_train_yaml_so_sweeps_resolve():
    assert (REPO / "conf" / "compress.yaml").is_file() and (REPO / "conf" / "sweep").resolve() == REPO / "sweeps"

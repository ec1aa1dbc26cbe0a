"""Every sweep file composes into valid jobs, says what it reproduces, and has a toy twin."""
from __future__ import annotations

import subprocess

import pytest

from tests.conftest import REPO, TLC_TRAIN, compose_train, subprocess_env
from train_large.cli import TRAIN
from train_large.config import check
from train_large.preflight import job_overrides
from train_large.run_names import run_name

SWEEPS = sorted(p.stem for p in (REPO / "sweeps").glob("*.yaml"))
PAPER = ["batch_size", "finetune", "mt_depth", "mt_width", "roberta_depth", "roberta_width"]
# tlc-compress sweeps compose under conf/compress.yaml: tests/unit/test_compress_config.py checks them.
COMPRESS = ["prune", "quantize"]
# scripts/reproduce.sh's sweeps: the claims' miniatures, each named for its mode and axis.
REPRODUCE = [name for name in SWEEPS if name.startswith("repro_")]
TRAIN_SWEEPS = [name for name in SWEEPS if name.removeprefix("toy_") not in COMPRESS and name != "repro_compress"]


def test_every_paper_sweep_and_its_toy_twin_exist():
    assert set(PAPER + COMPRESS) <= set(SWEEPS)
    assert {f"toy_{name}" for name in PAPER + COMPRESS} <= set(SWEEPS) and "demo" in SWEEPS


@pytest.mark.parametrize("name", TRAIN_SWEEPS)
def test_every_job_of_a_sweep_composes_and_passes_the_checks(name):
    jobs = job_overrides(["-m", f"+sweep={name}"], TRAIN.sweeper_params)
    names = set()
    for overrides in jobs:
        cfg = compose_train(overrides)
        assert cfg.experiment == name
        assert check(cfg, cuda_available=True) == [], overrides
        names.add(run_name(overrides))
    assert len(names) == len(jobs)  # one directory per job, named by the swept keys only
    if name in PAPER and name != "finetune":
        assert len(jobs) >= 3


@pytest.mark.parametrize("name", SWEEPS)
def test_every_sweep_file_says_what_it_reproduces(name):
    text = (REPO / "sweeps" / f"{name}.yaml").read_text()
    assert text.startswith("# @package _global_\n")
    if name in PAPER + COMPRESS:
        assert "Paper figure" in text and "(?)" in text  # unconfirmed defaults are marked
    elif name in REPRODUCE:
        assert text.splitlines()[1].startswith("# scripts/reproduce.sh") and "claim" in text.lower() and "Cost:" in text
    elif name != "demo":
        assert f"Toy twin of {name.removeprefix('toy_')}" in text


def test_sweep_run_names_hold_only_the_swept_keys():
    (first, *_) = job_overrides(["-m", "+sweep=mt_width"], TRAIN.sweeper_params)
    assert run_name(first) == "width=256"


def test_cfg_job_prints_a_paper_job_without_its_data(tmp_path):
    proc = subprocess.run([TLC_TRAIN, "+sweep=mt_depth", "model.depth=8", "--cfg", "job"], cwd=tmp_path,
                          env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "experiment: mt_depth" in proc.stdout and "width: 1024" in proc.stdout

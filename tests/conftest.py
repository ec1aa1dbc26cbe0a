"""Shared test fixtures: a composed config, isolated data/run roots, and the repo paths."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from train_large.cli import compose_train  # noqa: F401 - re-exported for the tests

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """Data and runs under tmp_path, W&B offline and silent, no API key."""
    monkeypatch.setenv("TLC_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("TLC_RUNS_ROOT", str(tmp_path / "runs"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_MODE", "offline")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb-home"))
    return tmp_path


def subprocess_env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env.update(TLC_DATA_ROOT=str(tmp_path / "data"), TLC_RUNS_ROOT=str(tmp_path / "runs"),
               WANDB_SILENT="true", WANDB_MODE="offline", WANDB_CONFIG_DIR=str(tmp_path / "wandb-home"),
               WANDB_CACHE_DIR=str(tmp_path / "wandb-home"), WANDB_DATA_DIR=str(tmp_path / "wandb-home"))
    env.pop("WANDB_API_KEY", None)
    return env

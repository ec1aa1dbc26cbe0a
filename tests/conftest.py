"""Shared test helpers: composed configs, a fake clock, isolated environments and repo paths."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from train_large.cli import compose_train  # noqa: F401 - re-exported for the tests

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


class FakeTime:
    """A clock that moves only when a test moves it (seconds)."""

    def __init__(self, start: float = 100.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


def subprocess_env(tmp_path: Path) -> dict:
    """The environment for a CLI run whose data, runs and W&B files all stay under tmp_path, offline."""
    env = dict(os.environ)
    env.update(TLC_DATA_ROOT=str(tmp_path / "data"), TLC_RUNS_ROOT=str(tmp_path / "runs"),
               WANDB_SILENT="true", WANDB_MODE="offline", WANDB_CONFIG_DIR=str(tmp_path / "wandb-home"),
               WANDB_CACHE_DIR=str(tmp_path / "wandb-home"), WANDB_DATA_DIR=str(tmp_path / "wandb-home"))
    env.pop("WANDB_API_KEY", None)
    return env

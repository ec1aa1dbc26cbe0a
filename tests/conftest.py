"""Shared test helpers: composed configs, a fake clock, isolated environments, repo paths, what a
run resolves on the machine the tests see, and the skip of `gpu`-marked tests without CUDA."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from train_large.cli import compose_train  # noqa: F401 - re-exported for the tests

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TLC_TRAIN = str(Path(sys.executable).parent / "tlc-train")


NO_GPU = ("needs a CUDA GPU: torch.cuda.is_available() is False on this machine "
          "(run ./scripts/test.sh -m gpu on a GPU machine)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu`-marked tests, with the reason, where no CUDA device is visible: on CPU they are
    reported as skipped, never as passed."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    import torch

    if not torch.cuda.is_available():
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason=NO_GPU))


def expected_runtime(overrides: list[str]) -> dict:
    """{'device', 'precision', 'num_workers', 'world_size'} that `tlc-train` with `overrides`
    resolves here, through the harness's own resolution functions, on the devices this process
    sees (the CLI subprocesses see the same ones)."""
    from train_large.runtime import resolve_runtime

    runtime = resolve_runtime(compose_train(overrides))
    return {"device": runtime.device, **runtime.settings(), "world_size": runtime.world_size}


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


def tlc_train(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `tlc-train` with data, runs and W&B files under `root`."""
    return subprocess.run([TLC_TRAIN, *args], env=subprocess_env(root), capture_output=True, text=True,
                          timeout=timeout)


def only_run_dir(root: Path, experiment: str) -> Path:
    (run_dir,) = [p.parent for p in (root / "runs" / experiment).glob("*/.hydra")]
    return run_dir


def kinds(records: list[dict], kind: str) -> list[dict]:
    return [r for r in records if r["kind"] == kind]

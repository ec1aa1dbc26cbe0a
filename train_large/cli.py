"""`tlc-train`: the console entry point on the shared shell (`train_large.core.shell`); each checked
job is handed to `run.main`."""
from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from .config import check, register_configs
from .core.shell import CONF_DIR, Command, group_choices  # noqa: F401 - group_choices for tests and scripts
from .pretrained import SourceError, resolve_init


def job_problems(cfg: DictConfig, overrides: list[str], inputs: bool) -> list[str]:
    """Problems with one job's config once `init_from` gave it the source's architecture; with
    `inputs`, also its prepared data."""
    import torch

    from .data.datasets import missing_data

    return (resolve_init(cfg, overrides) or check(cfg, cuda_available=torch.cuda.is_available())
            or (missing_data(cfg.task) if inputs else []))


def run(cfg: DictConfig, run_dir: Path, run_name: str) -> dict | None:
    from . import run as training

    # None in a data-parallel SLURM task other than rank 0: rank 0 reports the run.
    return training.main(cfg, run_dir, run_name)


TRAIN = Command(name="tlc-train", config_name="train", groups=("task", "model", "optim", "budget", "logger"),
                source_key="init_from", register=register_configs, job_problems=job_problems, run=run,
                expected_errors=(SourceError,), inputs_checked_in_job=False)
compose_train = TRAIN.compose  # the training config as tlc-train composes it, for scripts and tests


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def hydra_main(cfg: DictConfig) -> float | None:
    return TRAIN.run_job(cfg)


def main() -> None:
    TRAIN.main(hydra_main)

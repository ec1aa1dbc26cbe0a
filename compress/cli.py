"""`tlc-compress`: the console entry of the compression side, on the shell `train_large.core.shell`
shares. Each job's values are checked, then its source and whether a target ratio is reachable
on its weights; then `compress.pipeline.main` runs it.
"""
from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from train_large.core.shell import CONF_DIR, Command

from .config import check, register_configs
from .source import SourceError, find_source, source_problems


def job_problems(cfg: DictConfig, overrides: list[str] | None = None, inputs: bool = True) -> list[str]:
    """Problems with one job: its values, then (with `inputs`, if those are fine) its source and data."""
    from train_large.data.datasets import missing_data

    problems = check(cfg)
    if problems or not inputs:
        return problems
    if OmegaConf.is_missing(cfg, "source"):
        return ["source is not set; give a finished tlc-train run directory (source=runs/<experiment>/<run>) "
                "or, with -m, a folder of them (source_sweep=runs/<experiment>)"]
    return source_problems(cfg) or missing_data(OmegaConf.create(find_source(cfg.source).config["task"]))


def run(cfg: DictConfig, run_dir: Path, run_name: str) -> dict:
    from . import pipeline

    return pipeline.main(cfg, run_dir, run_name)


COMPRESS = Command(name="tlc-compress", config_name="compress", groups=("compression", "logger"),
                   source_key="source", register=register_configs, job_problems=job_problems, run=run,
                   expected_errors=(SourceError,),
                   # the source is compared by its resolved path when the run is found finished (pipeline)
                   resumable_keys=("source",))
compose_compress = COMPRESS.compose  # the compression config as tlc-compress composes it


@hydra.main(config_path=str(CONF_DIR), config_name="compress", version_base="1.3")
def hydra_main(cfg: DictConfig) -> float | None:
    return COMPRESS.run_job(cfg)


def main() -> None:
    COMPRESS.main(hydra_main)

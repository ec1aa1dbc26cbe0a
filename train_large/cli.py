"""`tlc-train`: the console entry point.

Before Hydra starts, it checks the preset names and composes and validates every job the
command line describes (`preflight`); only then does Hydra run the jobs, each handed to
`run.main`. Bad input stops with one line naming the setting and what is allowed, and exit
status 2, before any data or model is built.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from .config import check, register_configs
from .preflight import preflight

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
GROUPS = ("task", "model", "optim", "budget", "logger")

log = logging.getLogger("tlc-train")


class ConfigError(ValueError):
    """A bad setting; the message is the one line shown to the user."""


def group_choices(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def check_group_overrides(overrides: list[str]) -> list[str]:
    """One line per `group=choice` override naming a preset that does not exist."""
    problems = []
    for override in overrides:
        key, sep, values = override.lstrip("+~").partition("=")
        if not sep or key not in GROUPS:
            continue
        known = group_choices(key)
        for value in values.split(","):
            if value and value not in known:
                problems.append(f"{key}={value} is not a known {key}; choose one of: {', '.join(known)}")
    return problems


def compose_train(overrides: list[str] | None = None) -> DictConfig:
    """The composed training config for `overrides`, as `tlc-train` sees it (for scripts and tests)."""
    from hydra import compose, initialize_config_dir

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides or []))


def fail(lines: list[str]) -> None:
    for line in lines:
        print(f"tlc-train: error: {line}", file=sys.stderr)
    raise SystemExit(2)


def main() -> None:
    argv = sys.argv[1:]
    problems = check_group_overrides(argv)
    if not problems:
        import torch

        from .data.datasets import missing_data

        cuda = torch.cuda.is_available()
        problems = preflight(argv, compose_train,
                             lambda cfg: check(cfg, cuda_available=cuda) or missing_data(cfg.task))
    if problems:
        fail(problems)
    register_configs()
    hydra_main()


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def hydra_main(cfg: DictConfig) -> float | None:
    import torch

    from .data.datasets import DataMissing

    problems = check(cfg, cuda_available=torch.cuda.is_available())
    if problems:
        for line in problems:
            log.error(line)
        fail(problems)
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    run_name = run_dir.name  # the overrides that name the run (conf/train.yaml, hydra.run.dir)
    from . import run

    try:
        result = run.main(cfg, run_dir, run_name)
    except DataMissing as err:
        log.error(str(err))
        fail([str(err)])
    return result["final"]["test"]["bleu"]

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
from typing import Callable

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from .config import check, register_configs
from .jobs import launch, run_job, save_job_config
from .launchers import launcher_problems
from .preflight import preflight
from .pretrained import resolve_init

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
GROUPS = ("task", "model", "optim", "budget", "logger")

log = logging.getLogger("tlc-train")


class ConfigError(ValueError):
    """A bad setting; the message is the one line shown to the user."""


def group_choices(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def check_group_overrides(overrides: list[str], groups: tuple[str, ...] = GROUPS) -> list[str]:
    """One line per `group=choice` override naming a preset that does not exist."""
    problems = []
    for override in overrides:
        key, sep, values = override.lstrip("+~").partition("=")
        if not sep or key not in groups:
            continue
        known = group_choices(key)
        for value in values.split(","):
            if value and value not in known:
                problems.append(f"{key}={value} is not a known {key}; choose one of: {', '.join(known)}")
    return problems


def compose_config(config_name: str, overrides: list[str] | None = None, *, with_hydra: bool = False) -> DictConfig:
    """The composed config `config_name` (train, compress) of conf/ for `overrides`.

    with_hydra: also return the `hydra` node (sweeper params, launcher), left unresolved.
    """
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides or []), return_hydra_config=with_hydra)


def compose_train(overrides: list[str] | None = None, *, with_hydra: bool = False) -> DictConfig:
    """The composed training config for `overrides`, as `tlc-train` sees it (for scripts and tests)."""
    register_configs()
    return compose_config("train", overrides, with_hydra=with_hydra)


def sweeper_params(fixed: list[str], compose: Callable[..., DictConfig] = compose_train) -> dict[str, str]:
    """The `hydra.sweeper.params` that the configs named by `fixed` (a `+sweep=` file) add."""
    try:
        params = compose(fixed, with_hydra=True).hydra.sweeper.params
    except Exception:  # noqa: BLE001 - composing each job reports the error in one line
        return {}
    return {str(key): str(value) for key, value in (params or {}).items()}


def job_problems(cfg: DictConfig, overrides: list[str], cuda_available: bool) -> list[str]:
    """Problems with one job's config, after `init_from` has given it the source's architecture."""
    return resolve_init(cfg, overrides) or check(cfg, cuda_available=cuda_available)


def fail(lines: list[str], status: int = 2) -> None:
    """Stop with one line per problem on stderr; status 2 is bad input, 1 a crashed run."""
    for line in lines:
        print(f"tlc-train: error: {line}", file=sys.stderr)
    raise SystemExit(status)


# Flags that only print (a config, help): they need no data on disk.
PRINT_ONLY_FLAGS = ("--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help", "--resolve", "-p", "--package")


def command_line_problems(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Everything wrong with a `tlc-train` command line, found before Hydra starts.

    Returns (argv with `source_sweep` expanded, notes to print, one line per problem).
    """
    from .source_sweep import SourceSweepError, expand, quote_run_dirs

    try:
        argv, notes = expand(quote_run_dirs(argv), "init_from")
    except SourceSweepError as err:
        return argv, [], [str(err)]
    problems = check_group_overrides(argv)
    if not problems:
        import torch

        from .data.datasets import missing_data

        cuda = torch.cuda.is_available()
        needs_data = not any(flag in argv for flag in PRINT_ONLY_FLAGS)
        problems = preflight(argv, compose_train, lambda cfg, overrides: job_problems(cfg, overrides, cuda)
                             or (missing_data(cfg.task) if needs_data else []), sweeper_params, launcher_problems)
    return argv, notes, problems


def main() -> None:
    argv, notes, problems = command_line_problems(sys.argv[1:])
    for note in notes:
        print(note, file=sys.stderr)
    if problems:
        fail(problems)
    sys.argv[1:] = argv  # Hydra reads the expanded overrides from sys.argv
    register_configs()
    launch(argv, hydra_main, lambda: sweep_dir(argv))


def sweep_dir(argv: list[str]) -> Path:
    """The folder of this command line's multirun: runs_root / experiment."""
    from .preflight import job_overrides

    cfg = compose_train(job_overrides(argv, sweeper_params)[0])
    return Path(cfg.paths.runs_root) / cfg.experiment


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def hydra_main(cfg: DictConfig) -> float | None:
    import torch

    from .data.datasets import DataMissing
    from .pretrained import SourceError
    from .rundir import CorruptFile
    from .saved_settings import SettingsChanged, check_same_settings

    def train() -> dict | None:
        hydra_cfg = HydraConfig.get()
        problems = job_problems(cfg, list(hydra_cfg.overrides.task), torch.cuda.is_available())
        if problems:
            raise ConfigError(problems[0])
        from . import run
        from .config import to_container

        run_dir = Path(hydra_cfg.runtime.output_dir)
        check_same_settings(run_dir, to_container(cfg))
        save_job_config(run_dir, cfg)
        # None in a data-parallel SLURM task other than rank 0: rank 0 reports the run.
        return run.main(cfg, run_dir, run_dir.name)  # named by its overrides (conf/train.yaml)

    return run_job(train, (ConfigError, DataMissing, SourceError, CorruptFile, SettingsChanged), fail)

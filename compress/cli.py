"""`tlc-compress`: the console entry point of the compression side.

Before Hydra starts, `source_sweep=<dir>` becomes a sweep over that folder's finished runs, and
every job the command line describes is composed and checked (`train_large.preflight`): its
values (`compress.config.check`), its source (a finished training run) and, for a target
ratio, whether that ratio is reachable on the source's weights. Only then does Hydra run the
jobs, each handed to `compress.pipeline.main`. Bad input stops with one line naming the
setting and what is allowed, and exit status 2, before any data or model is built.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from train_large.cli import CONF_DIR, PRINT_ONLY_FLAGS, compose_config
from train_large.cli import check_group_overrides as check_presets
from train_large.cli import sweeper_params as train_sweeper_params
from train_large.jobs import launch, run_job, save_job_config

from .config import ConfigError, check, register_configs

GROUPS = ("compression", "logger")

log = logging.getLogger("tlc-compress")


def compose_compress(overrides: list[str] | None = None, *, with_hydra: bool = False) -> DictConfig:
    """The composed config for `overrides`, as `tlc-compress` sees it (for scripts and tests)."""
    register_configs()
    return compose_config("compress", overrides, with_hydra=with_hydra)


def sweeper_params(fixed: list[str]) -> dict[str, str]:
    """The `hydra.sweeper.params` that the configs named by `fixed` (a `+sweep=` file) add."""
    return train_sweeper_params(fixed, compose_compress)


def check_group_overrides(overrides: list[str]) -> list[str]:
    """One line per `group=choice` override naming a preset that does not exist."""
    return check_presets(overrides, GROUPS)


def job_problems(cfg: DictConfig, overrides: list[str] | None = None, *, needs_source: bool = True) -> list[str]:
    """Problems with one job: its values first, then (only if those are fine) its source."""
    from train_large.data.datasets import missing_data

    from .source import find_source, source_problems

    problems = check(cfg)
    if problems or not needs_source:
        return problems
    if OmegaConf.is_missing(cfg, "source"):
        return ["source is not set; give a finished tlc-train run directory (source=runs/<experiment>/<run>) "
                "or, with -m, a folder of them (source_sweep=runs/<experiment>)"]
    problems = source_problems(cfg)
    if problems:
        return problems
    return missing_data(OmegaConf.create(find_source(cfg.source).config["task"]))


def fail(lines: list[str], status: int = 2) -> None:
    """Stop with one line per problem on stderr; status 2 is bad input, 1 a crashed run."""
    for line in lines:
        print(f"tlc-compress: error: {line}", file=sys.stderr)
    raise SystemExit(status)


def command_line_problems(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Everything wrong with a `tlc-compress` command line, found before Hydra starts.

    Returns (argv with `source_sweep` expanded, notes to print, one line per problem).
    """
    from train_large.launchers import launcher_problems
    from train_large.preflight import preflight
    from train_large.source_sweep import SourceSweepError, expand, quote_run_dirs

    try:
        argv, notes = expand(quote_run_dirs(argv), "source")
    except SourceSweepError as err:
        return argv, [], [str(err)]
    needs_source = not any(flag in argv for flag in PRINT_ONLY_FLAGS)
    problems = check_group_overrides(argv) or preflight(
        argv, compose_compress, lambda cfg, overrides: job_problems(cfg, overrides, needs_source=needs_source),
        sweeper_params, launcher_problems)
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
    from train_large.preflight import job_overrides

    cfg = compose_compress(job_overrides(argv, sweeper_params)[0])
    return Path(cfg.paths.runs_root) / cfg.experiment


@hydra.main(config_path=str(CONF_DIR), config_name="compress", version_base="1.3")
def hydra_main(cfg: DictConfig) -> float | None:
    from train_large.data.datasets import DataMissing
    from train_large.config import to_container
    from train_large.rundir import CorruptFile
    from train_large.saved_settings import SettingsChanged, check_same_settings

    from . import pipeline
    from .source import SourceError

    def compress() -> dict:
        hydra_cfg = HydraConfig.get()
        problems = job_problems(cfg, list(hydra_cfg.overrides.task))
        if problems:
            raise ConfigError(problems[0])
        run_dir = Path(hydra_cfg.runtime.output_dir)
        # the source is compared by its resolved path when the run is found finished (pipeline)
        check_same_settings(run_dir, to_container(cfg), also_resumable=("source",))
        save_job_config(run_dir, cfg)
        return pipeline.main(cfg, run_dir, run_dir.name)

    return run_job(compress, (ConfigError, DataMissing, SourceError, CorruptFile, SettingsChanged), fail)

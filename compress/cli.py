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
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from .config import ConfigError, check, register_configs

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
GROUPS = ("compression", "logger")
# Flags that only print (a config, help): they need no source on disk.
PRINT_ONLY_FLAGS = ("--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help", "--resolve", "-p", "--package")

log = logging.getLogger("tlc-compress")


def compose_compress(overrides: list[str] | None = None, *, with_hydra: bool = False) -> DictConfig:
    """The composed config for `overrides`, as `tlc-compress` sees it (for scripts and tests)."""
    from hydra import compose, initialize_config_dir

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="compress", overrides=list(overrides or []), return_hydra_config=with_hydra)


def sweeper_params(fixed: list[str]) -> dict[str, str]:
    """The `hydra.sweeper.params` that the configs named by `fixed` (a `+sweep=` file) add."""
    try:
        params = compose_compress(fixed, with_hydra=True).hydra.sweeper.params
    except Exception:  # noqa: BLE001 - composing each job reports the error in one line
        return {}
    return {str(key): str(value) for key, value in (params or {}).items()}


def check_group_overrides(overrides: list[str]) -> list[str]:
    """One line per `group=choice` override naming a preset that does not exist."""
    problems = []
    for override in overrides:
        key, sep, values = override.lstrip("+~").partition("=")
        if not sep or key not in GROUPS:
            continue
        known = sorted(p.stem for p in (CONF_DIR / key).glob("*.yaml"))
        for value in values.split(","):
            if value and value not in known:
                problems.append(f"{key}={value} is not a known {key}; choose one of: {', '.join(known)}")
    return problems


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


def fail(lines: list[str]) -> None:
    for line in lines:
        print(f"tlc-compress: error: {line}", file=sys.stderr)
    raise SystemExit(2)


def main() -> None:
    from train_large.preflight import preflight
    from train_large.source_sweep import SourceSweepError, expand

    try:
        argv, notes = expand(sys.argv[1:], "source")
    except SourceSweepError as err:
        fail([str(err)])
    for note in notes:
        print(note, file=sys.stderr)
    sys.argv[1:] = argv  # Hydra reads the expanded overrides from sys.argv
    needs_source = not any(flag in argv for flag in PRINT_ONLY_FLAGS)
    problems = check_group_overrides(argv) or preflight(
        argv, compose_compress, lambda cfg, overrides: job_problems(cfg, overrides, needs_source=needs_source),
        sweeper_params)
    if problems:
        fail(problems)
    register_configs()
    if "-m" not in argv and "--multirun" not in argv:
        hydra_main()
        return
    started = time.time()
    try:
        hydra_main()
    finally:
        report_sweep(argv, started)


def report_sweep(argv: list[str], started: float) -> None:
    """Print which runs of this multirun finished, were already done, or failed."""
    from train_large.outcomes import summary_lines
    from train_large.preflight import job_overrides

    cfg = compose_compress(job_overrides(argv, sweeper_params)[0])
    lines, failed = summary_lines(Path(cfg.paths.runs_root) / cfg.experiment, started)
    for line in lines:
        print(line, file=sys.stderr if failed else sys.stdout)


@hydra.main(config_path=str(CONF_DIR), config_name="compress", version_base="1.3")
def hydra_main(cfg: DictConfig) -> float | None:
    from train_large.cli import JobFailed
    from train_large.data.datasets import DataMissing
    from train_large.outcomes import record_outcome
    from train_large.rundir import RESULT_FILE

    from . import pipeline
    from .source import SourceError

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    sweep_dir = Path(hydra_cfg.sweep.dir) if hydra_cfg.mode == RunMode.MULTIRUN else None
    already_done = (run_dir / RESULT_FILE).exists()
    try:
        problems = job_problems(cfg, list(hydra_cfg.overrides.task))
        if problems:
            raise ConfigError(problems[0])
        result = pipeline.main(cfg, run_dir, run_dir.name)
    except (ConfigError, DataMissing, SourceError) as err:
        log.error(str(err))
        if sweep_dir is None:
            fail([str(err).splitlines()[0]])
        record_outcome(sweep_dir, run_dir.name, "failed", str(err).splitlines()[0])
        raise JobFailed(str(err).splitlines()[0]) from err
    except Exception as err:
        log.exception("compression failed")
        if sweep_dir is not None:
            record_outcome(sweep_dir, run_dir.name, "failed", f"{type(err).__name__}: {err}".splitlines()[0])
        raise
    if sweep_dir is not None:
        record_outcome(sweep_dir, run_dir.name, "skipped" if already_done else "finished")
    return result["final_metric"]

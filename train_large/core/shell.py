"""The console shell shared by every `tlc-*` command that runs Hydra jobs (`tlc-train`, `tlc-compress`).

Before Hydra starts, `source_sweep=<dir>` is expanded and every job is composed and checked
(`train_large.preflight`): bad input stops with one line naming the setting, and exit status 2,
before any data or model is built. Hydra then runs each job under its run directory's lock
(`train_large.jobs`); a single run of plain overrides is handed the config the pre-flight composed
(`jobs.run_composed`) rather than composed twice more by `@hydra.main`. A command is a `Command`
value (data and two functions), not a second copy of this shell. Must not import fairseq or wandb.
"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"

# Flags that only print (a config, help): they need no data or source on disk.
PRINT_ONLY_FLAGS = ("--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help", "--resolve", "-p", "--package")


class ConfigError(ValueError):
    """A bad setting; the message is the one line shown to the user."""


@dataclass(frozen=True)
class Command:
    """What one `tlc-*` command adds to the shell."""

    name: str  # "tlc-train": the prefix of every error line
    config_name: str  # conf/<config_name>.yaml
    groups: tuple[str, ...]  # config groups whose presets a command line picks by name
    source_key: str  # the setting a `source_sweep=<dir>` sweeps over that folder's runs
    register: Callable[[], None]  # registers the schemas and resolvers the config needs
    # one line per problem with a composed job (its overrides; inputs: also check its data and source)
    job_problems: Callable[[DictConfig, list[str], bool], list[str]]
    run: Callable[[DictConfig, Path, str], dict | None]  # one job in its run directory; its result
    expected_errors: tuple[type[Exception], ...] = ()  # bad input found inside a job: one line, status 2
    resumable_keys: tuple[str, ...] = ()  # settings a finished run is compared on after it has run
    inputs_checked_in_job: bool = True  # False: the job's own steps report missing inputs
    # each job the pre-flight composed, with its `hydra` node, by its overrides: a single run is handed
    # its config rather than composed again (a composition is about 0.1 s of the startup)
    composed: dict[tuple[str, ...], DictConfig] = field(default_factory=dict, compare=False, repr=False)

    def compose(self, overrides: list[str] | None = None, *, with_hydra: bool = False) -> DictConfig:
        """The composed config for `overrides`, as the command sees it (for scripts and tests); with_hydra:
        with the `hydra` node (sweeper params, launcher), left unresolved."""
        from hydra import compose, initialize_config_dir

        self.register()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name=self.config_name, overrides=list(overrides or []),
                           return_hydra_config=with_hydra)

    def compose_job(self, overrides: list[str], *, with_hydra: bool = False) -> DictConfig:
        """`compose` for the pre-flight: each job's full config (with `hydra`) is kept for `main`."""
        full = self.compose(overrides, with_hydra=True)
        self.composed[tuple(overrides)] = full
        job = copy.deepcopy(full)  # the job's checks may fill in settings (`init_from`'s architecture)
        if not with_hydra:
            with open_dict(job):
                del job["hydra"]
        return job

    def sweeper_params(self, fixed: list[str]) -> dict[str, str]:
        """The `hydra.sweeper.params` that the configs named by `fixed` (a `+sweep=` file) add."""
        try:
            params = self.compose(fixed, with_hydra=True).hydra.sweeper.params
        except Exception:  # noqa: BLE001 - composing each job reports the error in one line
            return {}
        return {str(key): str(value) for key, value in (params or {}).items()}

    def check_group_overrides(self, overrides: list[str]) -> list[str]:
        """One line per `group=choice` override naming a preset that does not exist."""
        problems = []
        for override in overrides:
            key, sep, values = override.lstrip("+~").partition("=")
            if not sep or key not in self.groups:
                continue
            known = group_choices(key)
            problems += [f"{key}={value} is not a known {key}; choose one of: {', '.join(known)}"
                         for value in values.split(",") if value and value not in known]
        return problems

    def command_line_problems(self, argv: list[str]) -> tuple[list[str], list[str], list[str]]:
        """(argv with `source_sweep` expanded, notes to print, one line per problem) before Hydra starts."""
        from train_large.launchers import launcher_problems
        from train_large.preflight import preflight
        from train_large.rundir import runs_root_problems
        from train_large.source_sweep import SourceSweepError, expand, quote_run_dirs

        try:
            argv, notes = expand(quote_run_dirs(argv), self.source_key)
        except SourceSweepError as err:
            return argv, [], [str(err)]
        inputs = not any(flag in argv for flag in PRINT_ONLY_FLAGS)

        def problems_of(cfg: DictConfig, overrides: list[str]) -> list[str]:
            found = self.job_problems(cfg, overrides, inputs)
            return found or (runs_root_problems(cfg.paths.runs_root) if inputs else [])

        problems = self.check_group_overrides(argv) or preflight(
            argv, self.compose_job, problems_of, self.sweeper_params, launcher_problems)
        return argv, notes, problems

    def fail(self, lines: list[str], status: int = 2) -> None:
        """Stop with one line per problem on stderr; status 2 is bad input, 1 a crashed run."""
        for line in lines:
            print(f"{self.name}: error: {line}", file=sys.stderr)
        raise SystemExit(status)

    def sweep_dir(self, argv: list[str]) -> Path:
        """The folder of this command line's multirun: runs_root / experiment."""
        from train_large.preflight import job_overrides

        cfg = self.compose(job_overrides(argv, self.sweeper_params)[0])
        return Path(cfg.paths.runs_root) / cfg.experiment

    def main(self, hydra_main: Callable[[], Any]) -> None:
        """The console entry: check the whole command line, then run `hydra_main` (the command's
        `@hydra.main` function, which calls `run_job`)."""
        from train_large.jobs import launch, run_composed

        argv, notes, problems = self.command_line_problems(sys.argv[1:])
        for note in notes:
            print(note, file=sys.stderr)
        if problems:
            self.fail(problems)
        self.register()
        if not any(arg.startswith("-") for arg in argv) and tuple(argv) in self.composed:
            # a single run of plain overrides: Hydra's run steps on the config the pre-flight composed
            run_composed(self.composed[tuple(argv)], self.config_name, self.run_job)
            return
        sys.argv[1:] = argv  # Hydra reads the expanded overrides from sys.argv
        launch(argv, hydra_main, lambda: self.sweep_dir(argv))

    def run_job(self, cfg: DictConfig) -> float | None:
        """One Hydra job: checked again (a source may have changed since the pre-flight) and against a run
        of other settings in its folder, then run under the run's lock."""
        from train_large.config import to_container
        from train_large.data.datasets import DataMissing
        from train_large.jobs import run_job, save_job_config
        from train_large.rundir import CorruptFile
        from train_large.saved_settings import SettingsChanged, check_same_settings

        def job() -> dict | None:
            hydra_cfg = HydraConfig.get()
            problems = self.job_problems(cfg, list(hydra_cfg.overrides.task), self.inputs_checked_in_job)
            if problems:
                raise ConfigError(problems[0])
            run_dir = Path(hydra_cfg.runtime.output_dir)
            check_same_settings(run_dir, to_container(cfg), also_resumable=self.resumable_keys)
            save_job_config(run_dir, cfg)
            return self.run(cfg, run_dir, run_dir.name)  # named by its overrides (conf/*.yaml)

        expected = (ConfigError, DataMissing, CorruptFile, SettingsChanged, *self.expected_errors)
        return run_job(job, expected, self.fail)


def group_choices(group: str) -> list[str]:
    """The presets of a config group: the YAML files in conf/<group>/."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))

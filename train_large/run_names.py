"""Run names from a job's overrides (Dora's rule: same overrides -> same directory -> a re-run resumes
or skips it), through the `run_name` resolver in conf/*.yaml. Must not import fairseq, torch or wandb.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# Settings that do not change what a run trains, compresses or measures on valid. A fixed list, not
# "drop overrides equal to their default": a default depends on the group choices and sweep file
# (model.depth is 6, but 2 under +sweep=demo), which would mean composing again inside a resolver that
# Ray and SLURM workers evaluate without Hydra's global state, and renaming runs that spelled one out.
RUN_NAME_EXCLUDED = ("experiment", "sweep", "source_sweep", "paths.data_root", "paths.runs_root", "logger",
                     "logger.wandb", "logger.mode", "logger.project", "logger.entity", "logger.tags", "device",
                     "num_workers", "world_size", "compile",
                     "evaluation.test")  # tlc-compress: whether the test split is also scored afterwards
# Keys that named runs before they were excluded above. A run started under the earlier naming
# keeps its directory (`run_name` with `parent`), so a finished run is still skipped, never redone.
_EARLIER_NAMED = ("evaluation.test",)
# Keys whose value is a run directory: the run is named after that run, not its path.
_RUN_DIR_KEYS = ("init_from", "source")


def run_name(overrides: Any, parent: str | None = None) -> str:
    """A run's directory name from its job's overrides (`hydra:overrides.task`) outside RUN_NAME_EXCLUDED,
    sorted by key, keys shortened to their last part unless two would clash (`model.width=1024` ->
    `width=1024`), a run-directory value named by its last part, and no '/'.

    parent: the run directory's folder. When only the directory of the earlier naming exists there
    (`...,test=False,source=width=32`), that name is returned, so the run is used where it is: moving it
    would change its W&B run id (a hash of its path), leave paths in result.json and in the runs made
    from it stale, and could pull it from under a process still holding it.
    """
    name = _name(overrides, RUN_NAME_EXCLUDED)
    if parent is None:
        return name
    earlier = _name(overrides, tuple(key for key in RUN_NAME_EXCLUDED if key not in _EARLIER_NAMED))
    if earlier != name and not (Path(parent) / name).exists() and (Path(parent) / earlier).is_dir():
        return earlier
    return name


def _name(overrides: Any, excluded: tuple[str, ...]) -> str:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides([str(o) for o in overrides])
    items = sorted((o.key_or_group, o.get_value_element_as_str() if o.is_sweep_override() else str(o.value()))
                   for o in parsed
                   if not o.is_hydra_override() and o.key_or_group not in excluded)
    short = [key.rpartition(".")[2] for key, _ in items]
    names = []
    for (key, value), brief in zip(items, short):
        if brief in _RUN_DIR_KEYS:
            value = value.rstrip("/").rpartition("/")[2]
        names.append(f"{brief if short.count(brief) == 1 else key}={value}".replace("/", "_"))
    return ",".join(names) or "default"


_SEED_PART = re.compile(r"(^|,)seed=[^,]*(?=,|$)")


def config_id(name: str) -> str:
    """A run name without its `seed=...` parts (`source=width=64,seed=2,sparsity=0.5` ->
    `source=width=64,sparsity=0.5`): replicas share it, and reports and W&B group by it."""
    return _SEED_PART.sub("", name).strip(",") or "default"

"""Settings that disagree with the run directory, found before anything is built.

A launch lands in an existing run directory when `hydra.run.dir` is reused or a preset was edited
between launches; resuming would then crash on a `state_dict` size mismatch or, worse, quietly go on
under settings the first half never had. So the saved config is compared key by key: only keys in
`RESUMABLE` may differ; keys only one side has (added to the schema since) are not compared. Must not
import fairseq or wandb; torch only through `train_large.checkpoint`, when a checkpoint is read.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from .rundir import read_result

# Safe to change between two launches of one run, by key or by a prefix of dotted keys.
RESUMABLE = (
    "experiment", "sweep", "source_sweep",  # names and groups, not the computation
    "paths", "task.data_dir", "task.vocab_from", "task.prepare_hint",  # where files are, not what they hold
    "logger",  # W&B settings
    "device", "precision", "num_workers", "world_size", "compile",  # how the same run is computed
    "budget.eval_every_seconds", "budget.checkpoint_every_seconds", "budget.log_every_seconds",  # how often it looks
)


class SettingsChanged(ValueError):
    """The run directory holds a run with other settings; the message is one line naming them."""


def check_same_settings(run_dir: Path, now: dict, also_resumable: Iterable[str] = ()) -> None:
    """Raises SettingsChanged when a key of `now` (a resolved config) outside RESUMABLE and `also_resumable`
    differs from the run in `run_dir`; CorruptFile when result.json or the checkpoint is damaged."""
    saved = saved_config(Path(run_dir))
    if saved is None:
        return
    config, where = saved
    changed = changed_settings(config, now, (*RESUMABLE, *also_resumable))
    if changed:
        listed = "; ".join(f"{key}={_show(old)} there, {_show(new)} now" for key, old, new in changed)
        raise SettingsChanged(f"{run_dir} already holds a run with other settings ({where.name}): {listed}; "
                              "give this one its own experiment= or hydra.run.dir, or delete that directory to "
                              "start it again")


def saved_config(run_dir: Path) -> tuple[dict, Path] | None:
    """(config, file it came from): result.json's when the run finished, else its last checkpoint's;
    None when the directory holds neither."""
    result = read_result(run_dir)
    if result is not None and isinstance(result.get("config"), dict):
        return result["config"], run_dir / "result.json"
    from .checkpoint import checkpoint_path, read_saved_config

    last = checkpoint_path(run_dir)
    if last.is_file():
        config = read_saved_config(last)
        if config is not None:
            return config, last
    return None


def changed_settings(saved: dict, now: dict, resumable: tuple[str, ...] = RESUMABLE) -> list[tuple[str, Any, Any]]:
    """(dotted key, saved value, new value) for each key both configs have that differs and is not
    resumable (by key or a prefix of dotted keys), sorted by key."""
    old, new = flatten(saved), flatten(now)
    return [(key, old[key], new[key]) for key in sorted(old.keys() & new.keys()) if old[key] != new[key]
            and not any(key == allowed or key.startswith(allowed + ".") for allowed in resumable)]


def flatten(config: dict, prefix: str = "") -> dict[str, Any]:
    """{'model.width': 64, ...}: nested dicts become dotted keys; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)

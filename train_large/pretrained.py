"""Fine-tuning's starting point, the pretraining run `init_from` names: its architecture (an explicit
model setting that disagrees is an error) and its best, else last, checkpoint's weights, loaded
safely (`train_large.core.source_run`). Must not import fairseq or wandb."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from omegaconf import OmegaConf, open_dict

from .core.source_run import SourceError, SourceRun, load_weights, run_directory, whole_checkpoint  # noqa: F401
from .rundir import RESULT_FILE, run_id

# What must match between a checkpoint and the model it is loaded into.
ARCHITECTURE_KEYS = ("arch", "width", "depth", "heads", "ffn", "norm", "max_positions")
PRETRAINING_KINDS = ("masked_lm",)


def find_source(init_from: str) -> SourceRun:
    """The pretraining run `init_from` names; SourceError unless it is a run directory with a whole,
    safe checkpoint and a pretraining task."""
    run_dir = run_directory("init_from", init_from, "a pretraining run directory")
    checkpoint = whole_checkpoint("init_from", init_from, run_dir,
                                  "let its training reach a validation first, or give another run")
    config = _run_config(run_dir)
    kind = config.get("task", {}).get("kind")
    if kind not in PRETRAINING_KINDS:
        raise SourceError(f"init_from={init_from} is a task.kind={kind} run; fine-tuning starts from a "
                          f"{' or '.join(PRETRAINING_KINDS)} pretraining run")
    return SourceRun("init_from", run_dir, run_id(run_dir), checkpoint, config)


def _run_config(run_dir: Path) -> dict:
    """The run's resolved config: from result.json when finished, else Hydra's saved one."""
    result = run_dir / RESULT_FILE
    if result.is_file():
        try:
            return json.loads(result.read_bytes())["config"]
        except (ValueError, TypeError, KeyError) as err:
            raise SourceError(f"init_from={run_dir}: {result} is damaged or holds no config "
                              f"({type(err).__name__}); delete it and run that run's tlc-train command "
                              "again to redo its final evaluation") from err
    try:
        saved = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
        # Only what fine-tuning reads; resolving all of it would need the source's environment.
        return {"task": OmegaConf.to_container(saved.task, resolve=True),
                "model": OmegaConf.to_container(saved.model, resolve=True)}
    except Exception as err:  # noqa: BLE001 - JSON, YAML and interpolation errors alike
        raise SourceError(f"init_from={run_dir} has no readable config ({type(err).__name__}: {err}); "
                          "is it a tlc-train run directory?") from err


def resolve_init(cfg: Any, overrides: Iterable[str]) -> list[str]:
    """Apply `cfg.init_from` to the config (`cfg.model` takes the source's architecture); one line per problem."""
    if not cfg.init_from:
        return []
    if cfg.task.kind != "classification":
        return [f"init_from is for fine-tuning, but task.kind={cfg.task.kind}; use a classification "
                "task (mnli, sst2, toy_cls) or drop init_from"]
    try:
        source = find_source(cfg.init_from)
    except SourceError as err:
        return [str(err)]
    # the keys the overrides set by value (`model.width=...`, not `model=...`)
    explicit = {o.lstrip("+~").partition("=")[0] for o in overrides if "=" in o}
    problems = []
    with open_dict(cfg):
        for key in ARCHITECTURE_KEYS:
            trained = source.config["model"][key]
            if f"model.{key}" in explicit and cfg.model[key] != trained:
                problems.append(f"model.{key}={cfg.model[key]} disagrees with init_from={source.run_dir}, "
                                f"which was trained with model.{key}={trained}; drop model.{key} to use "
                                "the checkpoint's")
            else:
                cfg.model[key] = trained
    return problems

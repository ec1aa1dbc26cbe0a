"""The run being compressed: a finished `tlc-train` run directory (`source`), whose result.json
holds the config that rebuilds its engine and whose best checkpoint (else last) the weights; and
the door checks that need it (finished? target ratio reachable?), one line each. Must not import
fairseq or wandb.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, open_dict

from train_large import checkpoint as ckpt
from train_large.config import resolve_device, typed_config
from train_large.core.source_run import (SourceError, SourceRun, load_weights, run_directory,  # noqa: F401
                                         whole_checkpoint)
from train_large.rundir import CorruptFile, read_result, run_id

from .config import granularity
from .footprint import plan_for_ratio
from .skeleton import skeleton
from .targets import select_targets


def find_source(source: str) -> SourceRun:
    """The finished training run `source` names. Raises SourceError when it is missing, unfinished,
    damaged, a compression run, or has no safe checkpoint."""
    run_dir = run_directory("source", source, "a finished tlc-train run directory")
    try:
        result = read_result(run_dir)
    except ValueError as err:
        raise SourceError(f"source={source}: {err}") from err
    if result is None:
        raise SourceError(f"source={source} has no finished run (no complete result.json); let its training "
                          "finish (re-run its tlc-train command) or give another run")
    if "compression" in result:
        raise SourceError(f"source={source} is a tlc-compress run; give the training run it compressed "
                          f"({result.get('source', {}).get('run_dir', '?')})")
    if "task" not in result.get("config", {}):
        raise SourceError(f"source={source} has a result.json without its training config; "
                          "is it a tlc-train run directory?")
    checkpoint = whole_checkpoint("source", source, run_dir, "its weights are gone")
    return SourceRun("source", run_dir, run_id(run_dir), checkpoint, result["config"], result)


def engine_config(source: SourceRun, cfg: Any, device: str) -> DictConfig:
    """The source's training config on `device` (fp32 on CPU), with this run's seed and evaluation."""
    engine_cfg = typed_config(source.config)
    with open_dict(engine_cfg):
        engine_cfg.device = device
        engine_cfg.seed = cfg.seed
        if device == "cpu":
            engine_cfg.precision = "fp32"
        if cfg.evaluation.bleu_sentences is not None:
            engine_cfg.task.eval.bleu_sentences = cfg.evaluation.bleu_sentences
    return engine_cfg


@lru_cache(maxsize=16)  # a sweep checks one source many times; `modified` keys the cache
def _skeleton_of(checkpoint: Path, modified: float, dtype: Any):
    """A skeleton of the checkpoint's weights, cast to `dtype` unless None. Raises CorruptFile
    when the checkpoint is damaged, foreign or unsafe."""
    return skeleton(ckpt.load_checkpoint(checkpoint)["engine"]["model"], dtype)


def source_problems(cfg: Any) -> list[str]:
    """The problems a compress job has with its source: one line, or none."""
    try:
        source = find_source(cfg.source)
    except SourceError as err:
        return [str(err)]
    c = cfg.compression
    if c.ratio is None or c.method == "none":
        return []
    # The ratio a bf16 source reaches depends on the precision the job holds it at: fp32 on CPU.
    on_cpu = resolve_device(cfg.device, torch.cuda.is_available()) == "cpu"
    try:
        model = _skeleton_of(source.checkpoint, source.checkpoint.stat().st_mtime, torch.float32 if on_cpu else None)
        targets = select_targets(model, **target_kinds(c))
        plan_for_ratio(model, targets, c.ratio, c.method, granularity=granularity(c.granularity),
                       sparse_format=c.sparse_format)
    except CorruptFile as err:
        return [f"source={cfg.source}: {err}"]
    except ValueError as err:
        return [f"{str(err).splitlines()[0]} (source={source.run_dir.name})"]
    return []


def target_kinds(compression: Any) -> dict[str, bool]:
    """`select_targets` keyword arguments from the compression settings."""
    return {key: bool(compression[key]) for key in ("attention", "ffn", "embeddings", "output")}

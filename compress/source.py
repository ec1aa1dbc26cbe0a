"""The run being compressed: a finished `tlc-train` run directory named by `source`.

Its `result.json` holds the full resolved training config, so the compression run rebuilds the
same engine (task, model, optimizer for fine-tuning) from it, and its best checkpoint (else its
last) holds the weights. The door checks that need the source live here too: is it a finished
training run, and can the target ratio be reached on its weights (counted on a skeleton of its
state dict, before any data is loaded or model built). A damaged result.json or checkpoint, or
one that would run code when loaded, is one line naming the file. Must not import fairseq or wandb.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from train_large import checkpoint as ckpt
from train_large.config import typed_config
from train_large.core.source_run import (SourceError, SourceRun, load_weights, run_directory,  # noqa: F401
                                         whole_checkpoint)
from train_large.rundir import CorruptFile, read_result, run_id

from .config import granularity


def find_source(source: str) -> SourceRun:
    """The finished training run `source` names.

    Raises:
        SourceError: it does not exist, has not finished (or its result.json is damaged), is
            itself a compression run, or has no whole checkpoint that loads safely.
    """
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
    """The source's training config, to rebuild its engine here: on `device`, at fp32 on CPU, with
    this run's seed and evaluation settings."""
    engine_cfg = typed_config(source.config)
    with open_dict(engine_cfg):
        engine_cfg.device = device
        engine_cfg.seed = cfg.seed
        if device == "cpu":
            engine_cfg.precision = "fp32"
        if cfg.evaluation.bleu_sentences is not None:
            engine_cfg.task.eval.bleu_sentences = cfg.evaluation.bleu_sentences
    return engine_cfg


@lru_cache(maxsize=16)
def _skeleton_of(checkpoint: Path, modified: float, as_fp32: bool):
    """A skeleton of the checkpoint's weights (cached: a sweep checks one source many times), cast
    to fp32 when the compress job will hold them so (on CPU: `engine_config`).

    Raises:
        CorruptFile: the checkpoint is damaged, foreign or unsafe.
    """
    import torch

    from .skeleton import skeleton

    return skeleton(ckpt.load_checkpoint(checkpoint)["engine"]["model"], torch.float32 if as_fp32 else None)


def source_problems(cfg: Any) -> list[str]:
    """The problems a compress job has with its source: one line, or none."""
    try:
        source = find_source(cfg.source)
    except SourceError as err:
        return [str(err)]
    c = cfg.compression
    if c.ratio is None or c.method not in ("prune", "quantize", "prune_quantize"):
        return []
    from .footprint import plan_for_ratio
    from .targets import select_targets

    try:
        # The ratio a bf16 source reaches depends on the precision the job holds it at: fp32 on CPU.
        model = _skeleton_of(source.checkpoint, source.checkpoint.stat().st_mtime, _runs_on_cpu(cfg))
        targets = select_targets(model, **target_kinds(c))
        plan_for_ratio(model, targets, c.ratio, c.method, granularity=granularity(c.granularity),
                       sparse_format=c.sparse_format)
    except CorruptFile as err:
        return [f"source={cfg.source}: {err}"]
    except ValueError as err:
        return [f"{str(err).splitlines()[0]} (source={source.run_dir.name})"]
    return []


def _runs_on_cpu(cfg: Any) -> bool:
    import torch

    from train_large.config import resolve_device

    return resolve_device(cfg.device, torch.cuda.is_available()) == "cpu"


def target_kinds(compression: Any) -> dict[str, bool]:
    """`select_targets` keyword arguments from the compression settings."""
    return {key: bool(compression[key]) for key in ("attention", "ffn", "embeddings", "output")}

"""The run being compressed: a finished `tlc-train` run directory named by `source`.

Its `result.json` holds the full resolved training config, so the compression run rebuilds the
same engine (task, model, optimizer for fine-tuning) from it, and its best checkpoint (else its
last) holds the weights. The door checks that need the source live here too: is it a finished
training run, and can the target ratio be reached on its weights (counted on a skeleton of its
state dict, before any data is loaded or model built). A damaged result.json or checkpoint, or
one that would run code when loaded, is one line naming the file. Must not import fairseq or wandb.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from train_large import checkpoint as ckpt
from train_large.config import TrainConfig, register_configs
from train_large.rundir import CorruptFile, read_result, run_id

from .config import granularity


class SourceError(ValueError):
    """A bad `source`; the message is one line naming it and what to do."""


@dataclass(frozen=True)
class SourceRun:
    run_dir: Path
    run_id: str
    checkpoint: Path  # best.pt, else last.pt
    result: dict  # the source's result.json

    @property
    def config(self) -> dict:
        return self.result["config"]

    @property
    def kind(self) -> str:
        return self.config["task"]["kind"]


def find_source(source: str) -> SourceRun:
    """The finished training run `source` names.

    Raises:
        SourceError: it does not exist, has not finished (or its result.json is damaged), is
            itself a compression run, or has no whole checkpoint that loads safely.
    """
    run_dir = Path(str(source)).expanduser().resolve()
    if not run_dir.is_dir():
        raise SourceError(f"source={source} does not exist; give a finished tlc-train run directory "
                          "(runs/<experiment>/<run name>)")
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
    checkpoint = ckpt.best_or_last(run_dir)
    if checkpoint is None:
        raise SourceError(f"source={source} has no checkpoint ({ckpt.CHECKPOINT_DIR}/{ckpt.BEST} or "
                          f"{ckpt.LAST}); its weights are gone")
    try:
        ckpt.check_checkpoint(checkpoint)
    except CorruptFile as err:
        raise SourceError(f"source={source}: {err}") from err
    return SourceRun(run_dir, run_id(run_dir), checkpoint, result)


def load_weights(source: SourceRun) -> dict:
    """The model weights of the source's best checkpoint (else its last).

    Raises:
        SourceError: the checkpoint is unreadable (the message names it).
    """
    try:
        return ckpt.load_checkpoint(source.checkpoint)["engine"]["model"]
    except CorruptFile as err:
        raise SourceError(f"source={source.run_dir}: {err}") from err


def engine_config(source: SourceRun, cfg: Any, device: str) -> DictConfig:
    """The source's training config, to rebuild its engine here: on `device`, at fp32 on CPU, with
    this run's seed and evaluation settings."""
    engine_cfg = training_config(source.config)
    with open_dict(engine_cfg):
        engine_cfg.device = device
        engine_cfg.seed = cfg.seed
        if device == "cpu":
            engine_cfg.precision = "fp32"
        if cfg.evaluation.bleu_sentences is not None:
            engine_cfg.task.eval.bleu_sentences = cfg.evaluation.bleu_sentences
    return engine_cfg


def training_config(config: dict) -> DictConfig:
    """A source run's resolved config on today's training schema: settings added to the schema
    since that run trained take their defaults (which reproduce the old behaviour)."""
    register_configs()
    try:
        return OmegaConf.merge(OmegaConf.structured(TrainConfig), config)
    except Exception:  # noqa: BLE001 - a setting since removed: use the run's config as it is
        return OmegaConf.create(config)


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

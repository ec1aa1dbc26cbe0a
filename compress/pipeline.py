"""One compression run, top to bottom: run dir -> done? -> source -> data -> sinks -> engine with
the source's best weights -> sparsity and bits (or a plan for a target ratio) -> prune -> quantize
-> bytes -> the compressed file -> the model rebuilt from it -> evaluation by the training side's
`Evaluator` -> result.json, written last: it reports the file's model, as it ships. Must not import
fairseq or wandb at module level: the engine and the W&B sink are imported where they are built.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from omegaconf import OmegaConf

from train_large import checkpoint as ckpt
from train_large.clock import TrainingClock, cuda_sync
from train_large.config import resolve_device, to_container
from train_large.data.datasets import ensure_dataset
from train_large.evaluate import PRIMARY_METRIC, Evaluator
from train_large.loop import Progress
from train_large.outputs import OUTPUTS_DIR
from train_large.console import FILE_ONLY
from train_large.core.run_records import Emit, final_summary, open_sinks, publish, record_emitter, result_basics
from train_large.core.shell import ConfigError
from train_large.runtime import Runtime, resolve_runtime
from train_large.rundir import CHECKPOINT_DIR, METRICS_FILE, atomic_write_bytes, read_result, write_records

from .checkpoint import (FILE, LEGACY_FILE, activation_scales, attach_activation_quant, load_compressed,
                         pack_compressed, restore_compressed)
from .config import PRUNING_METHODS, granularity, quantizes
from .finetune import ZerosHeld, fine_tune
from .footprint import Footprint, model_bytes, plan_for_ratio, state_bytes
from .prune import make_permanent, measured_sparsity, prune_magnitude, sparsity_schedule
from .quantize import attach_fake_quant, detach_fake_quant, quantize_weights
from .source import SourceRun, engine_config, find_source, load_weights, target_kinds
from .targets import Target, select_targets

log = logging.getLogger(__name__)
# The W&B summary beside the final figures: bytes and ratio are the x-axes of the compression plots.
SUMMARY_KEYS = ("bytes", "file_bytes", "fp32_bytes", "source_bytes", "ratio", "sparsity", "bits", "remaining_params",
                "params", "final_metric", "train_seconds", "precision")


@dataclass(frozen=True)
class Settings:
    sparsity: float  # of the targeted weights; 0 without pruning
    bits: Optional[int]  # None: weights stay at the precision the job holds them at
    predicted_ratio: Optional[float] = None  # the plan's prediction, when a ratio was asked for


def main(cfg: Any, run_dir: Path, run_name: str) -> dict:
    """Compress `cfg.source` into `run_dir` and return the result (at once if already done)."""
    if (done := finished_result(cfg, run_dir)) is not None:
        return done
    source = find_source(cfg.source)
    engine_cfg = engine_config(source, cfg, resolve_device(cfg.device, torch.cuda.is_available()))
    runtime = resolve_runtime(engine_cfg).for_world(1)
    data = ensure_dataset(engine_cfg.task)
    write_records(run_dir / METRICS_FILE, [])  # a run killed midway starts again from the source: it is short
    sinks = open_sinks(cfg, run_dir, run_name, "compress")
    try:
        from train_large.engine import build_engine

        c = cfg.compression
        engine = build_engine(engine_cfg, data, runtime)
        load_source(engine, source, fine_tunes=c.finetune_seconds > 0)
        clock = TrainingClock(sync=cuda_sync if runtime.device == "cuda" else None)
        progress = Progress()
        emit = record_emitter(sinks, clock, progress, {"source_run_id": source.run_id}, lambda: engine.learning_rate)
        targets, settings, quantized, act_scales = apply(engine, c, clock, progress, emit, engine_cfg.optim)
        footprint = model_bytes(engine.model, quantized=quantized, sparse_format=c.sparse_format)
        figures = compression_figures(c, settings, footprint, engine.model, targets)
        shipped = run_dir / CHECKPOINT_DIR / FILE
        with clock.timed("checkpoint"):
            atomic_write_bytes(shipped, pack_compressed(
                engine.model, footprint, quantized, activations=act_scales, activation_bits=c.activation_bits,
                info={"config": to_container(engine_cfg), "compression": figures}), fault_point="checkpoint")
            # The compressing engine (and its optimizer state) goes first, so a large model is never
            # held twice; the model evaluated is the one the file rebuilds, packing included.
            del targets, quantized, engine
            engine = rebuild(load_compressed(shipped), data, runtime)
        evaluator = Evaluator(engine, data, engine_cfg.task.eval, outputs_dir=run_dir / OUTPUTS_DIR)
        final = evaluate(evaluator, data, clock, emit, figures, test=cfg.evaluation.test)
        result = build_result(cfg, run_dir, run_name, engine_cfg, source, engine, clock, progress, figures,
                              final, footprint)
        result.update(file=str(shipped), file_bytes=shipped.stat().st_size, outputs=evaluator.saved)
        log.info("%s: %d bytes on disk, %d reported (header and buffers: %d)", shipped, result["file_bytes"],
                 footprint.bytes, result["file_bytes"] - footprint.bytes, extra=FILE_ONLY)
        return publish(sinks, run_dir, result, final_summary(result, SUMMARY_KEYS), "compression")
    finally:
        sinks.close()


def finished_result(cfg: Any, run_dir: Path) -> dict | None:
    """The result of an earlier run of this job, or None. Raises ConfigError when the run dir
    holds the compression of another source with the same name."""
    done = read_result(run_dir)
    if done is None:
        return None
    compressed = Path(done.get("source", {}).get("run_dir", ""))
    if compressed != Path(str(cfg.source)).expanduser().resolve():
        raise ConfigError(f"{run_dir} already holds the compression of {compressed}, another run with the same "
                          "name; give this source its own experiment=...")
    log.info("run already complete: %s", run_dir / "result.json")
    print(json.dumps(done.get("final", {})))
    return done


def load_source(engine: Any, source: SourceRun, *, fine_tunes: bool) -> None:
    """The source's best weights; before fine-tuning, first its last full state, so the optimizer,
    learning-rate schedule and data order carry on where its training stopped."""
    last = ckpt.checkpoint_path(source.run_dir)
    if fine_tunes and last.is_file():
        engine.load_state_dict(ckpt.load_checkpoint(last)["engine"])
    engine.model.load_state_dict(load_weights(source))
    log.info("compressing %s", source.checkpoint, extra=FILE_ONLY)  # Hydra's job line names the run


def apply(engine: Any, c: Any, clock: TrainingClock, progress: Progress, emit: Emit,
          optim: Any) -> tuple[list[Target], Settings, dict, dict[str, float]]:
    """Prune (in one shot, or in rounds, each fine-tuned and leaving a `prune` record with the
    valid loss after it), then quantize (after QAT when asked) the engine's model as `c` says.
    Returns the targets, the settings, the k-bit codes and scales by target name, and the
    activation scales QAT learned (kept on the model for evaluation)."""
    model, per = engine.model, granularity(c.granularity)
    targets = select_targets(model, **target_kinds(c))
    settings = settle(c, model, targets)
    if c.method in PRUNING_METHODS:
        rounds = sparsity_schedule(settings.sparsity, c.steps) if c.schedule == "iterative" else [settings.sparsity]
        for number, sparsity in enumerate(rounds, start=1):
            prune_magnitude(model, targets, sparsity, c.scope)
            fine_tune(engine, clock, progress, c.finetune_seconds, emit, optim, phase="prune", round=number)
            if len(rounds) > 1 or c.finetune_seconds > 0:
                with clock.timed("eval"):
                    metrics = engine.validate("valid")
                emit("prune", {"round": number, "sparsity": measured_sparsity(model, targets), **metrics})
        make_permanent(model)
    if not quantizes(settings.bits):
        return targets, settings, {}, {}
    scales: dict[str, float] = {}
    if c.qat:
        trained = ZerosHeld(engine, targets) if c.method in PRUNING_METHODS else engine
        attach_fake_quant(model, targets, settings.bits, per, activations=c.activations,
                          activation_bits=c.activation_bits)
        fine_tune(trained, clock, progress, c.finetune_seconds, emit, optim, phase="qat")
        scales = activation_scales(model)
        detach_fake_quant(model)
    quantized = quantize_weights(model, targets, settings.bits, per)
    if scales:
        attach_activation_quant(model, scales, c.activation_bits)
    return targets, settings, quantized, scales


def settle(c: Any, model: torch.nn.Module, targets: list[Target]) -> Settings:
    """Sparsity and bits: as configured, or the least compression that reaches `c.ratio`."""
    if c.ratio is None:
        return Settings(c.sparsity if c.method in PRUNING_METHODS else 0.0, c.bits if quantizes(c.bits) else None)
    try:
        plan = plan_for_ratio(model, targets, c.ratio, c.method, granularity=granularity(c.granularity),
                              sparse_format=c.sparse_format)
    except ValueError as err:
        raise ConfigError(str(err).splitlines()[0]) from err
    log.info("planned for ratio %s: sparsity %.4f, bits %s (predicted %.3fx)", c.ratio, plan.sparsity,
             plan.bits, plan.predicted_ratio)
    return Settings(plan.sparsity, plan.bits, plan.predicted_ratio)


def compression_figures(c: Any, settings: Settings, footprint: Footprint, model: torch.nn.Module,
                        targets: list[Target]) -> dict:
    """What was done and what it gives, for every record and the result. `ratio`: `fp32_bytes` /
    `bytes` at any precision; `bits`: k when quantized, else the bits of the weights' dtype."""
    remaining = sum(int(torch.count_nonzero(p.detach())) for p in model.parameters())
    quantized = settings.bits is not None
    return {"method": c.method, "bytes": footprint.bytes, "fp32_bytes": footprint.fp32_bytes,
            "ratio": footprint.ratio, "sparsity": measured_sparsity(model, targets),
            "target_sparsity": settings.sparsity, "quantized": quantized, "precision": footprint.precision,
            "bits": settings.bits if quantized else max(row.bits for row in footprint.rows),
            "granularity": granularity(c.granularity), "remaining_params": remaining,
            "target_ratio": c.ratio, "predicted_ratio": settings.predicted_ratio}


def evaluate(evaluator: Evaluator, data: Any, clock: TrainingClock, emit, figures: dict, *, test: bool) -> dict:
    """Valid (as on the training curves), then all of test at the final settings; predictions
    saved (with `test`, GLUE submission files too)."""
    final = {"valid": evaluator.evaluate("valid", clock)}
    emit("valid", {**final["valid"], **figures})
    if test and "test" in data.lines:
        final["test"] = evaluator.evaluate("test", clock, full=True)
        emit("test", {**final["test"], **figures})
    evaluator.write_predictions(clock, test=test)
    return final


def build_result(cfg: Any, run_dir: Path, run_name: str, engine_cfg: Any, source: SourceRun, engine: Any,
                 clock: TrainingClock, progress: Progress, figures: dict, final: dict, footprint: Footprint) -> dict:
    """result.json: the common fields, what compression did and gave, and the source.
    `source_bytes`: the source's checkpoint at its own precision (`fp32_bytes` is `ratio`'s baseline)."""
    metric, _ = PRIMARY_METRIC[engine_cfg.task.kind]
    return {**result_basics(cfg, run_dir, run_name, engine_cfg.task, engine.parameter_count(), final, metric),
            **figures, "source_bytes": state_bytes(load_weights(source)), "source_run_id": source.run_id,
            "source": {"run_dir": str(source.run_dir), "run_id": source.run_id, "checkpoint": str(source.checkpoint),
                       "name": source.run_dir.name, "final_metric": source.result.get("final_metric"),
                       "params": source.result.get("params")},
            "train_seconds": clock.train_seconds, "wall_seconds": clock.wall_seconds, "updates": progress.updates,
            "seconds_outside_budget": dict(clock.spent), "tensors": footprint.to_dict()["tensors"],
            "compression": to_container(cfg.compression), "config": to_container(cfg)}


def reload(run_dir: Path, device: str = "cpu") -> tuple[Any, Any, Any]:
    """(engine, data, config) of a finished compression run, its compressed weights loaded."""
    path = Path(run_dir) / CHECKPOINT_DIR / FILE
    if not path.is_file() and (path.parent / LEGACY_FILE).is_file():
        path = path.parent / LEGACY_FILE
    state = load_compressed(path)
    engine_cfg = OmegaConf.create(state["config"])
    data = ensure_dataset(engine_cfg.task)
    return rebuild(state, data, resolve_runtime(engine_cfg, device).for_world(1)), data, engine_cfg


def rebuild(state: dict, data: Any, runtime: Runtime) -> Any:
    """A fresh engine built from a compressed checkpoint's own config, holding its weights."""
    from train_large.engine import build_engine

    engine = build_engine(OmegaConf.create(state["config"]), data, runtime)
    restore_compressed(engine.model, state)
    return engine

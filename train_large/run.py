"""One training run, top to bottom: run dir -> done? -> data -> sinks -> engine -> restore (or start
from a pretrained checkpoint) -> loop -> final evaluation -> result.json.

The config arrives validated (see `train_large.cli`). Must not import fairseq or wandb at module
level: the engine and the W&B sink are imported where they are built.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from . import checkpoint as ckpt
from .clock import TrainingClock, cuda_sync
from .config import batch_plan, resolve_device, resolve_world_size, to_container
from .data.datasets import ensure_dataset
from .data.prepare import PreparedData, load_prepared
from .evaluate import PRIMARY_METRIC, Evaluator, is_better
from .loop import Progress, train_until_budget
from .pretrained import SourceError, SourceRun, find_source, load_weights
from .rundir import METRICS_FILE, read_result, run_id, truncate_records, write_result
from .sinks import FanOut, GuardedSink, JsonlSink, Sink

log = logging.getLogger(__name__)


def main(cfg: Any, run_dir: Path, run_name: str) -> dict | None:
    """Train one config in `run_dir` (resuming if a checkpoint is there) and return its result
    (None in the SLURM tasks other than rank 0: rank 0 reports the run)."""
    started_at = time.time()
    done = read_result(run_dir)
    if done is not None:
        log.info("run already complete: %s", run_dir / "result.json")
        print(json.dumps(done.get("final", {}), indent=2))
        return done
    from .distributed import join_slurm, slurm_task

    device = resolve_device(cfg.device, torch.cuda.is_available())
    data = ensure_dataset(cfg.task)
    source = find_source(cfg.init_from) if cfg.init_from else None
    if source:
        check_shared_vocabulary(source, data)
    run = Run(to_container(cfg), run_dir, run_name, data, source, started_at)
    task = slurm_task()
    if task:
        log.info("training data-parallel as SLURM task %d of %d", task[0], task[1])
        return join_slurm(train, device, run)
    world_size = resolve_world_size(cfg, device, torch.cuda.device_count() if device == "cuda" else 0)
    if world_size == 1:
        return train(0, 1, device, run)
    from .distributed import spawn

    log.info("training data-parallel in %d processes", world_size)
    spawn(train, world_size, device, run_dir / "train.log", run)
    result = read_result(run_dir)
    if result is None:
        raise RuntimeError(f"the data-parallel processes ended without {run_dir / 'result.json'}; "
                           f"see {run_dir / 'train.log'}")
    return result


@dataclass
class Run:
    """What every process of one run needs (picklable, for data-parallel workers)."""

    config: dict  # the resolved config
    run_dir: Path
    run_name: str
    data: PreparedData
    source: SourceRun | None
    started_at: float


def train(rank: int, world_size: int, device: str, run: Run) -> dict | None:
    """One process's part of a run; rank 0 also evaluates, writes and returns the result."""
    cfg, run_dir, data, source = OmegaConf.create(run.config), run.run_dir, run.data, run.source
    lead = rank == 0
    state = restore(run_dir)
    progress = Progress(**state["progress"]) if state else Progress.fresh(cfg.budget)
    if lead:
        truncate_records(run_dir / METRICS_FILE, progress.records)
    sinks = open_sinks(cfg, run_dir, run.run_name, source) if lead else FanOut([])
    try:
        from .engine import build_engine

        engine = build_engine(cfg, data, device, world_size=world_size, rank=rank)
        if state:
            engine.load_state_dict(state["engine"])
        elif source:
            try:
                engine.load_pretrained(load_weights(source), str(source.run_dir))
            except ValueError as err:
                raise SourceError(str(err)) from err
            log.info("fine-tuning from %s", source.checkpoint)
        agree = None
        if world_size > 1:
            from .distributed import rank0_reading

            agree = rank0_reading(device)
        clock = TrainingClock(sync=cuda_sync if device == "cuda" else None, state=state and state["clock"],
                              agree=agree)
        evaluator = Evaluator(engine, data, cfg.task.eval)
        emit = record_emitter(sinks, clock, progress, run_constants(cfg, source, world_size))
        metric, _ = PRIMARY_METRIC[cfg.task.kind]

        def validate() -> dict | None:
            if not lead:
                return None  # rank 0 scores the model; the others wait at the next update
            metrics = evaluator.evaluate("valid", clock)
            progress.last_metric = metrics[metric]
            emit("valid", metrics)
            if is_better(cfg.task.kind, metrics[metric], progress.best_metric):
                progress.best_metric = metrics[metric]
                with clock.timed("checkpoint"):
                    ckpt.save_checkpoint(ckpt.checkpoint_path(run_dir, ckpt.BEST), best_state(cfg, engine, metrics))
            return metrics

        def save() -> None:
            if lead:
                with clock.timed("checkpoint"):
                    ckpt.save_checkpoint(ckpt.checkpoint_path(run_dir), full_state(cfg, engine, clock, progress))

        train_until_budget(engine, clock, progress, cfg.budget, emit, validate, save, metric)
        if not lead:
            return None
        save()  # training is over: a kill during the final evaluation does not retrain
        final = final_evaluation(evaluator, data, clock, emit, validate)
        result = build_result(cfg, run_dir, run.run_name, engine, clock, progress, final, source, world_size)
        result["placement"] = placement(run.started_at)
        sinks.summary(flat_summary(result))
        write_result(run_dir, result)
        log.info("run complete: %s", run_dir / "result.json")
        return result
    finally:
        sinks.close()


def restore(run_dir: Path) -> dict | None:
    path = ckpt.checkpoint_path(run_dir)
    if not path.exists():
        return None
    state = ckpt.load_checkpoint(path)
    log.info("resuming from %s at %.1f training seconds", path, state["clock"]["train_seconds"])
    return state


def check_shared_vocabulary(source: SourceRun, data: PreparedData) -> None:
    """A fine-tuning task must be encoded with its pretraining corpus's dictionary.

    Raises:
        SourceError: the two dictionaries differ (the message names both data dirs).
    """
    try:
        pretraining = load_prepared(source.data_dir)
    except ValueError:
        log.warning("cannot read %s to compare dictionaries; assuming %s matches it", source.data_dir, data.data_dir)
        return
    if pretraining.dictionary_sha1 != data.dictionary_sha1:
        raise SourceError(f"{data.data_dir} was not encoded with the dictionary of {source.data_dir}, which "
                          f"init_from={source.run_dir} was trained on; prepare it with --vocab-from {source.data_dir}")


def open_sinks(cfg: Any, run_dir: Path, run_name: str, source: SourceRun | None = None) -> Sink:
    sinks: list[Sink] = [JsonlSink(run_dir / METRICS_FILE)]
    if cfg.logger.wandb:
        try:
            from .wandb_sink import WandbSink

            sinks.append(GuardedSink(WandbSink(
                run_dir=run_dir, run_id=run_id(run_dir), name=run_name, group=cfg.experiment,
                job_type="finetune" if source else "train", project=cfg.logger.project, entity=cfg.logger.entity,
                mode=cfg.logger.mode, tags=list(cfg.logger.tags), config=to_container(cfg)), "W&B"))
        except Exception as err:  # noqa: BLE001 - W&B is optional; the JSONL log is the truth
            log.warning("W&B unavailable (%s: %s); local records only", type(err).__name__, err)
    return FanOut(sinks)


def run_constants(cfg: Any, source: SourceRun | None, world_size: int) -> dict:
    """Fields every record of this run carries: the effective batch and the pretraining source."""
    plan = batch_plan(cfg.optim, world_size)
    constants = {"batch_sequences": plan.sequences, "batch_tokens": plan.tokens, "world_size": world_size}
    if source:
        constants["source_run_id"] = source.run_id
    return constants


def record_emitter(sinks: Sink, clock: TrainingClock, progress: Progress, constants: dict):
    """A function that stamps a record with the clock and counters and sends it to every sink."""

    def emit(kind: str, metrics: dict) -> None:
        record = {"kind": kind, "train_seconds": round(clock.train_seconds, 4),
                  "wall_seconds": round(clock.wall_seconds, 4), "updates": progress.updates,
                  "tokens": progress.tokens, "flops": progress.flops, **constants, **metrics}
        sinks.log(record)
        progress.records += 1

    return emit


def final_evaluation(evaluator: Evaluator, data: PreparedData, clock: TrainingClock, emit, validate) -> dict:
    """The last point of the valid curve, then the whole test set (at the paper's decoding settings
    for translation). GLUE tasks have no labelled test set: their final figures are the dev sets'."""
    final = {"valid": validate()}
    if "test" in data.lines:
        final["test"] = evaluator.evaluate("test", clock, full=True)
        emit("test", final["test"])
    return final


def full_state(cfg: Any, engine: Any, clock: TrainingClock, progress: Progress) -> dict:
    return {"engine": engine.state_dict(), "clock": clock.state_dict(), "progress": progress.state_dict(),
            "config": to_container(cfg)}


def best_state(cfg: Any, engine: Any, metrics: dict) -> dict:
    return {"engine": {"model": engine.model.state_dict()}, "metrics": metrics, "config": to_container(cfg)}


def build_result(cfg: Any, run_dir: Path, run_name: str, engine: Any, clock: TrainingClock,
                 progress: Progress, final: dict, source: SourceRun | None, world_size: int) -> dict:
    """result.json. `final_metric`: the primary metric on test, or on valid without a test set."""
    metric, _ = PRIMARY_METRIC[cfg.task.kind]
    return {"run_dir": str(run_dir), "run_id": run_id(run_dir), "name": run_name, "experiment": cfg.experiment,
            "task": cfg.task.name, "kind": cfg.task.kind, "params": engine.parameter_count(),
            "train_seconds": clock.train_seconds, "wall_seconds": clock.wall_seconds, "updates": progress.updates,
            "tokens": progress.tokens, "flops": progress.flops, **run_constants(cfg, source, world_size),
            "seconds_outside_budget": dict(clock.spent), "metric": metric,
            f"best_valid_{metric}": progress.best_metric,
            "final_metric": final.get("test", final["valid"])[metric],
            "init_from": str(source.run_dir) if source else None, "final": final, "config": to_container(cfg)}


def placement(started_at: float) -> dict:
    """Where and when the last attempt of this run ran: for sweep summaries and launcher checks."""
    return {"host": socket.gethostname(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "slurm_restart_count": os.environ.get("SLURM_RESTART_COUNT"),
            "started_at": started_at, "finished_at": time.time()}


def flat_summary(result: dict) -> dict:
    """The W&B summary: final figures per split under final/, with the run's totals."""
    summary = {f"final/{split}_{key}": value for split, metrics in result["final"].items()
               for key, value in metrics.items() if isinstance(value, (int, float))}
    summary.update({key: result[key] for key in ("params", "train_seconds", "updates", "flops", "final_metric",
                                                  f"best_valid_{result['metric']}")})
    return summary

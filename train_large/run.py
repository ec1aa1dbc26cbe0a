"""One training run, top to bottom: run dir -> done? -> data -> sinks -> engine -> restore -> loop
-> final evaluation -> result.json.

The config arrives validated (see `train_large.cli`). Must not import fairseq or wandb at module
level: the engine and the W&B sink are imported where they are built.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from . import checkpoint as ckpt
from .clock import TrainingClock, cuda_sync
from .config import resolve_device, to_container
from .data.datasets import ensure_dataset
from .evaluate import Evaluator
from .loop import Progress, train_until_budget
from .rundir import METRICS_FILE, read_result, run_id, truncate_records, write_result
from .sinks import FanOut, GuardedSink, JsonlSink, Sink

log = logging.getLogger(__name__)


def main(cfg: Any, run_dir: Path, run_name: str) -> dict:
    """Train one config in `run_dir` (resuming if a checkpoint is there) and return its result."""
    done = read_result(run_dir)
    if done is not None:
        log.info("run already complete: %s", run_dir / "result.json")
        print(json.dumps(done.get("final", {}), indent=2))
        return done
    device = resolve_device(cfg.device, torch.cuda.is_available())
    data = ensure_dataset(cfg.task)
    state = restore(run_dir)
    progress = Progress(**state["progress"]) if state else Progress.fresh(cfg.budget)
    truncate_records(run_dir / METRICS_FILE, progress.records)
    sinks = open_sinks(cfg, run_dir, run_name)
    try:
        from .engine import build_engine

        engine = build_engine(cfg, data.bin_dir, device)
        if state:
            engine.load_state_dict(state["engine"])
        clock = TrainingClock(sync=cuda_sync if device == "cuda" else None, state=state and state["clock"])
        evaluator = Evaluator(engine, data)
        emit = record_emitter(sinks, clock, progress)

        def validate() -> dict:
            metrics = evaluator.evaluate("valid", clock, sentences=cfg.task.eval.bleu_sentences,
                                         beam=cfg.task.eval.beam, lenpen=cfg.task.eval.lenpen,
                                         max_len_a=cfg.task.eval.max_len_a, max_len_b=cfg.task.eval.max_len_b)
            progress.last_bleu = metrics["bleu"]
            emit("valid", metrics)
            if progress.best_bleu is None or metrics["bleu"] > progress.best_bleu:
                progress.best_bleu = metrics["bleu"]
                with clock.timed("checkpoint"):
                    ckpt.save_checkpoint(ckpt.checkpoint_path(run_dir, ckpt.BEST), best_state(cfg, engine, metrics))
            return metrics

        def save() -> None:
            with clock.timed("checkpoint"):
                ckpt.save_checkpoint(ckpt.checkpoint_path(run_dir), full_state(cfg, engine, clock, progress))

        train_until_budget(engine, clock, progress, cfg.budget, emit, validate, save)
        save()  # training is over: a kill during the final evaluation does not retrain
        final = final_evaluation(cfg, evaluator, clock, emit, validate, progress)
        result = build_result(cfg, run_dir, run_name, engine, clock, progress, final)
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


def open_sinks(cfg: Any, run_dir: Path, run_name: str) -> Sink:
    sinks: list[Sink] = [JsonlSink(run_dir / METRICS_FILE)]
    if cfg.logger.wandb:
        try:
            from .wandb_sink import WandbSink

            sinks.append(GuardedSink(WandbSink(
                run_dir=run_dir, run_id=run_id(run_dir), name=run_name, group=cfg.experiment,
                job_type="train", project=cfg.logger.project, entity=cfg.logger.entity,
                mode=cfg.logger.mode, tags=list(cfg.logger.tags), config=to_container(cfg)), "W&B"))
        except Exception as err:  # noqa: BLE001 - W&B is optional; the JSONL log is the truth
            log.warning("W&B unavailable (%s: %s); local records only", type(err).__name__, err)
    return FanOut(sinks)


def record_emitter(sinks: Sink, clock: TrainingClock, progress: Progress):
    """A function that stamps a record with the clock and counters and sends it to every sink."""

    def emit(kind: str, metrics: dict) -> None:
        record = {"kind": kind, "train_seconds": round(clock.train_seconds, 4),
                  "wall_seconds": round(clock.wall_seconds, 4), "updates": progress.updates,
                  "tokens": progress.tokens, **metrics}
        sinks.log(record)
        progress.records += 1

    return emit


def final_evaluation(cfg: Any, evaluator: Evaluator, clock: TrainingClock, emit, validate,
                     progress: Progress) -> dict:
    """The last point of the valid curve, then the full test set at the paper's decoding settings."""
    valid = validate()
    e = cfg.task.eval
    test = evaluator.evaluate("test", clock, sentences=0, beam=e.test_beam, lenpen=e.test_lenpen,
                              max_len_a=e.max_len_a, max_len_b=e.max_len_b)
    emit("test", test)
    return {"valid": valid, "test": test}


def full_state(cfg: Any, engine: Any, clock: TrainingClock, progress: Progress) -> dict:
    return {"engine": engine.state_dict(), "clock": clock.state_dict(), "progress": progress.state_dict(),
            "config": to_container(cfg)}


def best_state(cfg: Any, engine: Any, metrics: dict) -> dict:
    return {"engine": {"model": engine.model.state_dict()}, "metrics": metrics, "config": to_container(cfg)}


def build_result(cfg: Any, run_dir: Path, run_name: str, engine: Any, clock: TrainingClock,
                 progress: Progress, final: dict) -> dict:
    return {"run_dir": str(run_dir), "run_id": run_id(run_dir), "name": run_name, "experiment": cfg.experiment,
            "task": cfg.task.name, "params": engine.parameter_count(), "train_seconds": clock.train_seconds,
            "wall_seconds": clock.wall_seconds, "updates": progress.updates, "tokens": progress.tokens,
            "seconds_outside_budget": dict(clock.spent), "best_valid_bleu": progress.best_bleu,
            "final": final, "config": to_container(cfg)}


def flat_summary(result: dict) -> dict:
    test = result["final"]["test"]
    return {"final/test_bleu": test["bleu"], "final/test_loss": test["loss"], "final/test_ppl": test["ppl"],
            "final/valid_bleu": result["final"]["valid"]["bleu"], "best_valid_bleu": result["best_valid_bleu"],
            "params": result["params"], "train_seconds": result["train_seconds"], "updates": result["updates"]}

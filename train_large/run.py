"""One training run, top to bottom: run dir -> done? -> whole? -> data -> sinks -> engine -> restore
(or pretrained weights) -> loop -> final evaluation -> result.json. Must not import fairseq or
wandb at module level: the engine and the W&B sink are imported where they are built."""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import checkpoint as ckpt
from . import faults
from .clock import TrainingClock, cuda_sync
from .core.run_records import final_summary, open_sinks, publish, record_emitter, result_basics
from .config import batch_plan, to_container, typed_config
from .data.datasets import ensure_dataset
from .data.prepare import PreparedData, load_prepared
from .evaluate import PRIMARY_METRIC, Evaluator, is_better
from .loop import Progress, train_until_budget
from .schedule import LearningRate
from .preemption import StopSignals, to_child_processes
from .pretrained import SourceError, SourceRun, find_source, load_weights
from .rundir import (METRICS_FILE, OUTPUTS_DIR, read_records, read_result, remove_stale_temporaries, truncate_records)
from .runtime import Runtime, resolve_runtime
from .sinks import FanOut

log = logging.getLogger(__name__)


def main(cfg: Any, run_dir: Path, run_name: str) -> dict | None:
    """Train one config in `run_dir`, resuming from its checkpoint if any; the result (None in the
    SLURM tasks other than rank 0)."""
    started_at = time.time()
    done = read_result(run_dir)
    if done is not None:
        log.info("run already complete: %s", run_dir / "result.json")
        print(json.dumps(done.get("final", {})))
        return done
    check_resumable(run_dir)
    from .distributed import join_slurm, slurm_task, spawn

    runtime = resolve_runtime(cfg)
    data = ensure_dataset(cfg.task)
    source = find_source(cfg.init_from) if cfg.init_from else None
    if source:
        check_shared_vocabulary(source, data)
    # Records, result.json and W&B show the precision and workers the run really used.
    run = Run({**to_container(cfg), **runtime.settings()}, runtime, run_dir, run_name, data, source, started_at)
    task = slurm_task()
    if task:
        log.info("training data-parallel as SLURM task %d of %d", task[0], task[1])
        return join_slurm(train, runtime.device, run)
    if runtime.world_size == 1:
        return train(0, 1, runtime.device, run)
    log.info("training data-parallel in %d processes", runtime.world_size)
    with StopSignals(forward=to_child_processes) as signals:
        try:
            spawn(train, runtime.world_size, runtime.device, run_dir / "train.log", run)
        except Exception:
            if not signals.requested():
                raise
            signals.stop(f"{ckpt.checkpoint_path(run_dir)} (rank 0 wrote it)")  # the workers stopped first
    result = read_result(run_dir)
    if result is None:
        raise RuntimeError(f"the data-parallel processes ended without {run_dir / 'result.json'}; "
                           f"see {run_dir / 'train.log'}")
    return result


@dataclass
class Run:
    """What every process of one run needs (picklable, for data-parallel workers)."""

    config: dict  # the resolved config
    runtime: Runtime  # resolved once, in the process that launched the run
    run_dir: Path
    run_name: str
    data: PreparedData
    source: SourceRun | None
    started_at: float


def train(rank: int, world_size: int, device: str, run: Run) -> dict | None:
    """One process's part of a run; rank 0 also evaluates, writes and returns the result."""
    with StopSignals() as signals:
        return _train(rank, world_size, device, run, signals)


def _train(rank: int, world_size: int, device: str, run: Run, signals: StopSignals) -> dict | None:
    cfg, run_dir, data, source = typed_config(run.config), run.run_dir, run.data, run.source
    lead = rank == 0
    state = restore(run_dir)
    progress = Progress(**state["progress"]) if state else Progress.fresh(cfg.budget)
    if lead:
        remove_stale_temporaries(run_dir)
        truncate_records(run_dir / METRICS_FILE, progress.records)
    sinks = open_sinks(cfg, run_dir, run.run_name, "finetune" if source else "train") if lead else FanOut([])
    try:
        engine = start_engine(cfg, data, run.runtime.for_world(world_size), rank, state, source)
        clock, stop_requested = process_clock(device, world_size, signals, state)
        evaluator = Evaluator(engine, data, cfg.task.eval, outputs_dir=run_dir / OUTPUTS_DIR)
        emit = record_emitter(sinks, clock, progress, run_constants(cfg, source, world_size),
                              lambda: engine.learning_rate)
        metric, _ = PRIMARY_METRIC[cfg.task.kind]
        checkpoints = Checkpoints(cfg, run_dir, engine, clock, progress, enabled=lead)

        def validate() -> dict | None:
            if not lead:
                return None  # rank 0 scores the model; the others wait at the next update
            metrics = evaluator.evaluate("valid", clock)
            emit("valid", metrics)
            faults.reached("validation")
            progress.note_validation(metrics, metrics[metric],
                                     best=is_better(cfg.task.kind, metrics[metric], progress.best_metric))
            return metrics

        def stop_if_requested() -> None:
            if signals.requested():
                signals.stop(checkpoints.describe())

        checkpoints.save_best()  # a resume of a run killed between last.pt and its best.pt
        learning_rate = LearningRate.for_run(cfg.optim, cfg.budget, resumed=bool(state))
        if not train_until_budget(engine, clock, progress, cfg.budget, emit, validate, checkpoints.save, metric,
                                  stop_requested, learning_rate):
            signals.stop(checkpoints.describe())  # every process, also one the signal did not reach
        if not lead:
            return None
        checkpoints.save()  # training is over: a kill during the final evaluation does not retrain
        final = final_evaluation(evaluator, clock, emit, validate, checkpoints.save, progress, stop_if_requested)
        result = build_result(cfg, run, engine, clock, progress, final, world_size, evaluator.saved)
        summary_keys = ("params", "train_seconds", "updates", "flops", "final_metric", f"best_valid_{metric}")
        return publish(sinks, run_dir, result, final_summary(result, summary_keys))
    finally:
        sinks.close()


def start_engine(cfg: Any, data: PreparedData, runtime: Runtime, rank: int, state: dict | None,
                 source: SourceRun | None) -> Any:
    """The engine with the resumed state, else the source's weights (SourceError if they do not fit)."""
    from .engine import build_engine

    engine = build_engine(cfg, data, runtime, rank=rank)
    if state:
        engine.load_state_dict(state["engine"])
    elif source:
        try:
            engine.load_pretrained(load_weights(source), str(source.run_dir))
        except ValueError as err:
            raise SourceError(str(err)) from err
        log.info("fine-tuning from %s", source.checkpoint)
    return engine


def process_clock(device: str, world_size: int, signals: StopSignals,
                  state: dict | None) -> tuple[TrainingClock, Callable[[], bool]]:
    """This process's clock and stop check; data-parallel processes share rank 0's clock and stop
    together when a signal reached any of them."""
    agree, stop_requested = None, signals.requested
    if world_size > 1:
        from .distributed import any_process, rank0_reading

        agree, stop_requested = rank0_reading(device), any_process(signals.requested, device)
    clock = TrainingClock(sync=cuda_sync if device == "cuda" else None, state=state and state["clock"], agree=agree)
    return clock, stop_requested


class Checkpoints:
    """The run's last.pt and best.pt (written by rank 0 only: `enabled`). best.pt follows the last.pt
    whose validation it is the best of; after a kill between the two the resume writes it (`save_best`)."""

    def __init__(self, cfg: Any, run_dir: Path, engine: Any, clock: TrainingClock, progress: Progress, *,
                 enabled: bool) -> None:
        self.cfg, self.run_dir, self.engine, self.clock, self.progress = cfg, run_dir, engine, clock, progress
        self.enabled = enabled
        # the update whose best.pt is surely written (unknown when the resumed last.pt is the best)
        best = progress.best_updates
        self._best_written = best if best != progress.updates else None

    def save(self) -> None:
        if self.enabled:
            with self.clock.timed("checkpoint"):
                ckpt.save_checkpoint(ckpt.checkpoint_path(self.run_dir), {
                    "engine": self.engine.state_dict(), "clock": self.clock.state_dict(),
                    "progress": self.progress.state_dict(), "config": to_container(self.cfg)})
            self.save_best()

    def save_best(self) -> None:
        """best.pt, if the model as it is now is the best and best.pt does not hold it yet."""
        p = self.progress
        if self.enabled and p.best_updates == p.updates and self._best_written != p.updates:
            with self.clock.timed("checkpoint"):
                ckpt.save_checkpoint(ckpt.checkpoint_path(self.run_dir, ckpt.BEST), {
                    "engine": {"model": self.engine.model.state_dict()}, "metrics": p.best_valid,
                    "updates": p.updates, "config": to_container(self.cfg)})
            self._best_written = p.updates

    def describe(self) -> str:
        return f"{ckpt.checkpoint_path(self.run_dir)} at {self.clock.train_seconds:.1f} training seconds"


def check_resumable(run_dir: Path) -> None:
    """Before anything is built: CorruptFile unless an earlier attempt's checkpoint and metrics log
    are whole (a torn last log line is fine: the resume drops it)."""
    last = ckpt.checkpoint_path(run_dir)
    if last.exists():
        ckpt.check_checkpoint(last)
    read_records(run_dir / METRICS_FILE)


def restore(run_dir: Path) -> dict | None:
    path = ckpt.checkpoint_path(run_dir)
    if not path.exists():
        return None
    state = ckpt.load_checkpoint(path)
    log.info("resuming from %s at %.1f training seconds", path, state["clock"]["train_seconds"])
    return state


def check_shared_vocabulary(source: SourceRun, data: PreparedData) -> None:
    """Raises SourceError when the fine-tuning data was not encoded with its source's dictionary."""
    try:
        pretraining = load_prepared(source.data_dir)
    except ValueError:
        log.warning("cannot read %s to compare dictionaries; assuming %s matches it", source.data_dir, data.data_dir)
        return
    if pretraining.dictionary_sha1 != data.dictionary_sha1:
        raise SourceError(f"{data.data_dir} was not encoded with the dictionary of {source.data_dir}, which "
                          f"init_from={source.run_dir} was trained on; prepare it with --vocab-from {source.data_dir}")


def run_constants(cfg: Any, source: SourceRun | None, world_size: int) -> dict:
    """Fields every record of this run carries: the effective batch and the pretraining source."""
    plan = batch_plan(cfg.optim, world_size)
    constants = {"batch_sequences": plan.sequences, "batch_tokens": plan.tokens, "world_size": world_size}
    if source:
        constants["source_run_id"] = source.run_id
    return constants


def final_evaluation(evaluator: Evaluator, clock: TrainingClock, emit, validate, save, progress: Progress,
                     stop_if_requested) -> dict:
    """The last valid point (checkpointed: a resume does not validate twice), the test set if any
    (GLUE's final figures are its dev sets') and the saved predictions."""
    stop_if_requested()
    if progress.valid_updates == progress.updates and progress.last_valid is not None:
        final = {"valid": progress.last_valid}  # done before this run was resumed
    else:
        final = {"valid": validate()}
        save()
    if "test" in evaluator.data.lines:
        stop_if_requested()
        final["test"] = evaluator.evaluate("test", clock, full=True)
        emit("test", final["test"])
    evaluator.write_predictions(clock)
    return final


def build_result(cfg: Any, run: Run, engine: Any, clock: TrainingClock, progress: Progress, final: dict,
                 world_size: int, outputs: dict) -> dict:
    """result.json: `result_basics`, the run's totals, best validation, saved outputs and placement."""
    metric, _ = PRIMARY_METRIC[cfg.task.kind]
    source = run.source
    return {**result_basics(cfg, run.run_dir, run.run_name, cfg.task, engine.parameter_count(), final, metric),
            "train_seconds": clock.train_seconds, "wall_seconds": clock.wall_seconds, "updates": progress.updates,
            "tokens": progress.tokens, "flops": progress.flops, **run_constants(cfg, source, world_size),
            "seconds_outside_budget": dict(clock.spent), f"best_valid_{metric}": progress.best_metric,
            "init_from": str(source.run_dir) if source else None, "config": to_container(cfg),
            "outputs": outputs, "placement": placement(run.started_at)}


def placement(started_at: float) -> dict:
    """Where and when the run's last attempt ran (for sweep summaries and launcher checks)."""
    return {"host": socket.gethostname(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "slurm_restart_count": os.environ.get("SLURM_RESTART_COUNT"),
            "started_at": started_at, "finished_at": time.time()}

"""What training and compression runs both write: sinks, the records' common stamp, and the common
parts of result.json and the W&B summary. Must not import fairseq or wandb at module level."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from train_large.clock import TrainingClock
from train_large.config import to_container
from train_large.console import FILE_ONLY
from train_large.loop import Progress
from train_large.rundir import METRICS_FILE, RESULT_FILE, run_id, write_result
from train_large.sinks import JsonlSink, Sink, fan_out

log = logging.getLogger(__name__)

Emit = Callable[[str, dict], None]  # emit(kind, metrics): one record to every sink


def open_sinks(cfg: Any, run_dir: Path, run_name: str, job_type: str) -> Sink:
    """metrics.jsonl, plus a W&B run in the experiment's group when `cfg.logger.wandb`."""
    def open_wandb() -> Sink:
        from train_large.wandb_sink import WandbSink

        return WandbSink(
            run_dir=run_dir, run_id=run_id(run_dir), name=run_name, group=cfg.experiment, job_type=job_type,
            project=cfg.logger.project, entity=cfg.logger.entity, mode=cfg.logger.mode,
            tags=list(cfg.logger.tags), config=to_container(cfg))

    return fan_out(JsonlSink(run_dir / METRICS_FILE), {"W&B": open_wandb} if cfg.logger.wandb else {})


def record_emitter(sinks: Sink, clock: TrainingClock, progress: Progress, constants: dict,
                   learning_rate: Callable[[], float]) -> Emit:
    """emit(kind, metrics): a record stamped with the clock, counters and learning rate, to every sink."""

    def emit(kind: str, metrics: dict) -> None:
        sinks.log({"kind": kind, "train_seconds": round(clock.train_seconds, 4),
                   "wall_seconds": round(clock.wall_seconds, 4), "updates": progress.updates, "tokens": progress.tokens,
                   "flops": progress.flops, **constants, "lr": learning_rate(), **metrics})
        progress.records += 1

    return emit


def result_basics(cfg: Any, run_dir: Path, run_name: str, task: Any, params: int, final: dict, metric: str) -> dict:
    """The fields every result.json starts with. `final_metric`: the primary metric on test, else
    on valid (`final_metric_split`); a report, never a basis for choosing (validation is)."""
    return {"run_dir": str(run_dir), "run_id": run_id(run_dir), "name": run_name, "experiment": cfg.experiment,
            "task": task.name, "kind": task.kind, "params": params, "metric": metric,
            "final_metric": final.get("test", final["valid"])[metric],
            "final_metric_split": "test" if "test" in final else "valid", "final": final}


def final_summary(result: dict, keys: tuple[str, ...]) -> dict:
    """The W&B summary: the final figures per split under final/, with the result's `keys`."""
    summary = {f"final/{split}_{key}": value for split, metrics in result["final"].items()
               for key, value in metrics.items() if isinstance(value, (int, float))}
    summary.update({key: result[key] for key in keys})
    return summary


def publish(sinks: Sink, run_dir: Path, result: dict, summary: dict, what: str = "run") -> dict:
    """The W&B summary, then result.json: a run is finished once result.json exists."""
    sinks.summary(summary)
    write_result(run_dir, result)
    log.info("%s complete: %s", what, run_dir / RESULT_FILE, extra=FILE_ONLY)  # the sweep summary counts it
    return result

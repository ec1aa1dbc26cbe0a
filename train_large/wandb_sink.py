"""The W&B sink and `resolve_mode`: the only module that imports wandb, lazily, so importing it works
where wandb is missing. Runs carry flat config keys and tags to group by (`dashboard_config`), and
the final figures and each validation metric's best (`best/valid_<metric>`) in their summary
(README, "Results and reports"). Read a run back with `wandb leet inspect`. Must not import torch."""
from __future__ import annotations

import logging
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .run_names import config_id

MODES = ("auto", "online", "offline", "disabled")
# Logged without a split prefix: the x-axes (compression records carry bytes and ratio).
TOP_LEVEL_KEYS = ("train_seconds", "wall_seconds", "updates", "tokens", "flops", "bytes", "ratio")
SPLITS = ("train", "valid", "test")
# Validation metrics whose best value goes to the summary, and whether higher is better.
BEST_OF = {"bleu": True, "accuracy": True, "ppl": False, "loss": False, "nll_loss": False}
MAX_TAG_CHARS = 64  # W&B rejects longer tags

log = logging.getLogger(__name__)


def resolve_mode(mode: str, environ: Mapping[str, str]) -> str:
    """The mode for wandb: "auto" is online iff WANDB_API_KEY is set; ValueError if not one of MODES."""
    if mode not in MODES:
        raise ValueError(f"wandb mode {mode!r} is not one of {MODES}")
    return ("online" if environ.get("WANDB_API_KEY") else "offline") if mode == "auto" else mode


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def dashboard_config(config: Mapping[str, Any], job_type: str) -> dict:
    """Flat config keys the W&B UI can group and facet by: `sweep`, `job`, `width`, `depth`, `batch`
    and `batch_unit`; a run with a source adds `source_run_id` (its W&B id), `source_run` and
    `source_dir`, and a compression run takes its model and `task` from it and adds `method`,
    `sparsity`, `bits` (32 = fp32) and the target `ratio`. Keys without a value are left out.
    """
    from .rundir import read_result, run_id

    flat: dict[str, Any] = {"sweep": config.get("experiment"), "job": job_type}
    model_config = config
    source = config.get("source") if job_type == "compress" else config.get("init_from")
    if source:
        source_dir = Path(str(source)).expanduser()
        flat.update(source_run_id=run_id(source_dir), source_run=source_dir.name, source_dir=str(source_dir))
        if job_type == "compress":
            try:
                model_config = (read_result(source_dir) or {}).get("config") or {}
            except (OSError, ValueError):  # unreadable: the flat keys are left out
                model_config = {}
            task = model_config.get("task") or {}
            flat["task"] = {"name": task.get("name"), "kind": task.get("kind")}
    model, optim = model_config.get("model") or {}, model_config.get("optim") or {}
    flat.update(width=model.get("width"), depth=model.get("depth"))
    if optim.get("batch_size"):
        flat.update(batch=optim["batch_size"], batch_unit="sequences")
    elif optim.get("max_tokens"):
        flat.update(batch=optim["max_tokens"] * (optim.get("update_freq") or 1), batch_unit="tokens")
    compression = config.get("compression") if job_type == "compress" else None
    if compression:
        flat.update(method=compression.get("method"), sparsity=compression.get("sparsity"),
                    bits=compression.get("bits") or 32, ratio=compression.get("ratio"))
    return {key: value for key, value in flat.items() if value is not None}


def dashboard_tags(flat: Mapping[str, Any]) -> list[str]:
    """`key:value` tags of `dashboard_config`'s keys and the task's name (none for sparsity 0 or 32 bits)."""
    task = flat.get("task", {}).get("name") if isinstance(flat.get("task"), Mapping) else None
    pairs = [("task", task), *((key, flat.get(key)) for key in ("sweep", "job", "width", "depth", "batch",
                                                                "method", "sparsity", "bits", "ratio")),
             ("source", flat.get("source_run"))]
    tags = [f"{key}:{value:g}" if _is_number(value) else f"{key}:{value}" for key, value in pairs
            if value is not None and value != "" and (key, value) not in (("sparsity", 0), ("bits", 32))]
    return [tag[:MAX_TAG_CHARS] for tag in tags]


class WandbSink:
    """Sends each record to a W&B run whose x-axis is `train_seconds`; step is `updates`."""

    def __init__(self, *, run_dir: Path, run_id: str, name: str, group: str, job_type: str,
                 project: str, entity: str | None, mode: str, tags: list[str], config: dict) -> None:
        import wandb

        Path(run_dir).mkdir(parents=True, exist_ok=True)
        self.mode = resolve_mode(mode, os.environ)
        # Only the curve matters: with all other probing and capture off, offline init+finish went from
        # 57-80 to 15 ms per run. init_timeout 120 s (default 90): array job bursts slow the server.
        settings = wandb.Settings(console="off", save_code=False, disable_code=True, disable_git=True,
                                  x_save_requirements=False, x_disable_stats=True, x_disable_meta=True,
                                  x_disable_machine_info=True, init_timeout=120.0, quiet=True)
        # "create_new": one process (tests, Hydra multirun) opens runs one after another, each closed
        # by its own sink. Replicas (differing only in seed) share config_id: group by it to average.
        run_config = {**config, **dashboard_config(config, job_type), "config_id": config_id(name)}
        self._run = wandb.init(
            project=project, entity=entity, id=run_id, resume="allow", name=name, group=group,
            job_type=job_type, tags=list(dict.fromkeys([*tags, *dashboard_tags(run_config)])),
            config=run_config, dir=str(run_dir), mode=self.mode, reinit="create_new", settings=settings,
        )
        for key in ("train_seconds", "bytes", "ratio"):
            self._run.define_metric(key)
        for split in SPLITS:  # a compression run's valid and test metrics are one point each, against bytes
            x_axis = "bytes" if job_type == "compress" and split != "train" else "train_seconds"
            self._run.define_metric(f"{split}/*", step_metric=x_axis)
        for key in ("wall_seconds", "updates", "tokens", "flops"):
            self._run.define_metric(key, step_metric="train_seconds")
        self._best: dict[str, float] = {}
        self._last_step = -1
        self._texts: dict[str, str] = {}

    def log(self, record: dict) -> None:
        kind = record.get("kind", "train")
        metrics: dict[str, float] = {}
        for key, value in record.items():
            if key == "kind":
                continue
            name = key if key in TOP_LEVEL_KEYS else f"{kind}/{key}"
            if _is_number(value):
                metrics[name] = value
            elif isinstance(value, str) and self._texts.get(name) != value:
                self._texts[name] = value  # e.g. the sacrebleu signature: one value per run, not a curve
                self._run.summary[name] = value
        if not metrics:
            return
        if kind == "valid":  # each validation metric's best so far, to the summary
            for key, higher in BEST_OF.items():
                value = record.get(key)
                best = self._best.get(key)
                if _is_number(value) and (best is None or (value > best if higher else value < best)):
                    self._best[key] = value
                    self._run.summary[f"best/valid_{key}"] = value
        # The step is `updates` (train and valid records of one update share a row). W&B drops a step below
        # the last, and one without a step overwrites the open row: a step going back gets a fresh row.
        updates = record.get("updates")
        step = int(updates) if _is_number(updates) else self._last_step + 1
        self._last_step = step if step >= self._last_step else self._last_step + 1
        self._run.log(metrics, step=self._last_step)

    def summary(self, values: dict) -> None:
        self._run.summary.update(dict(values))
        # What a compression achieved is known only now: a config key and a tag, to group by like width.
        achieved = {key: values[key] for key in ("ratio", "bytes", "sparsity", "bits") if _is_number(values.get(key))}
        if "ratio" in achieved:
            self._run.config.update(achieved, allow_val_change=True)
            tag = f"ratio:{achieved['ratio']:.3g}"
            if tag not in self._run.tags:
                self._run.tags = (*self._run.tags, tag)

    def close(self) -> None:
        """Finish the run and return once wandb-core has written all of its `.wandb` log. run.finish() does
        not wait for wandb-core: with both CPUs busy, 6 of 45 offline runs read right after it lacked their
        last history rows; wandb.teardown() waits for it to exit: 0 of 45, for 0.01-0.2 s per close and
        about 0.5 s at the next init. Its error is only logged."""
        if self._run is None:
            return
        import wandb

        run, self._run = self._run, None
        run.finish()
        try:
            wandb.teardown()
        except SystemExit as exit_:  # teardown calls sys.exit with wandb-core's exit status when not 0
            log.warning("W&B service exited with status %s at close; the run's log may be incomplete", exit_.code)

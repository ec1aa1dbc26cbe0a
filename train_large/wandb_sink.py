"""The W&B sink.

Owns everything that touches Weights & Biases: `WandbSink` (one more sink behind the protocol in
`train_large.sinks`) and `resolve_mode`. This is the only module that imports wandb, and it does so
lazily inside functions, so importing it costs nothing and works where wandb is missing. Must not
import fairseq or torch. What a run logged is read back through wandb's own tools
(`wandb leet inspect`), never by parsing its files here.

Dashboard conventions (README, "Results and reports"): besides the resolved config, every run carries
flat config keys the W&B UI can group and facet by (`dashboard_config`: sweep, job, width, depth,
batch, and for compression method, sparsity, bits, ratio), tags of the same (`dashboard_tags`), a
link to the run it came from (`source_run_id`, `source_run`, `source_dir`: the pretraining run of a
fine-tuning, the trained run of a compression), and in its summary the final figures and the best
value of every validation metric (`best/valid_<metric>`). Compression runs log `bytes` and `ratio`
as x-axes for their metrics.
"""
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
    """Turns the configured mode into one wandb accepts: "auto" is online iff WANDB_API_KEY is set.

    Raises:
        ValueError: if `mode` is not one of MODES.
    """
    if mode not in MODES:
        raise ValueError(f"wandb mode {mode!r} is not one of {MODES}")
    if mode == "auto":
        return "online" if environ.get("WANDB_API_KEY") else "offline"
    return mode


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _source_config(source_dir: Path) -> dict:
    """The resolved config of a finished run (a compression's source), or {} if it cannot be read."""
    from .rundir import read_result

    try:
        result = read_result(source_dir)
    except (OSError, ValueError):
        return {}
    return (result or {}).get("config") or {}


def dashboard_config(config: Mapping[str, Any], job_type: str) -> dict:
    """Flat config keys the W&B UI can group and facet by, beside the nested resolved config.

    `sweep` (the experiment), `job`, `width`, `depth`, `batch` (sequences, or tokens when batches are
    token-limited) and `batch_unit`; a fine-tuning or compression run adds its source (`source_run_id`,
    the W&B id of that run; `source_run`, its name; `source_dir`) and takes width and depth from it;
    a compression run adds `method`, `sparsity`, `bits` (32 = fp32) and the target `ratio` when one was
    asked for (the achieved ratio is added when the run ends). The task stays nested (`task.name`); a
    compression run gets its source's `task` so both kinds share that key. Keys without a value are left out.
    """
    from .rundir import run_id

    flat: dict[str, Any] = {"sweep": config.get("experiment"), "job": job_type}
    model_config = config
    source = config.get("source") if job_type == "compress" else config.get("init_from")
    if source:
        source_dir = Path(str(source)).expanduser()
        flat.update(source_run_id=run_id(source_dir), source_run=source_dir.name, source_dir=str(source_dir))
        if job_type == "compress":
            model_config = _source_config(source_dir)
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
    """`key:value` tags from a config with `dashboard_config`'s keys (and the task's name): filters in
    the W&B UI. No sparsity tag for an unpruned model and no bits tag for fp32 weights."""
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

        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.mode = resolve_mode(mode, os.environ)
        # Only the curve matters here, so everything wandb probes or captures besides it is off:
        # offline init+finish went from 57-80 ms to 15 ms per run (after the first run in a process,
        # which starts wandb-core: about 0.5-0.8 s either way), and no system-metrics sampler runs.
        settings = wandb.Settings(
            console="off",  # the job's own log already holds stdout
            save_code=False,
            disable_code=True,
            disable_git=True,
            x_save_requirements=False,
            x_disable_stats=True,
            x_disable_meta=True,  # nvidia-smi, host and git probing at init
            x_disable_machine_info=True,
            init_timeout=120.0,  # seconds (default 90); a burst of array jobs can make the server slow
            quiet=True,
        )
        # "create_new" lets tests and Hydra multirun open one run after another in one process
        # without touching other runs; each sink finishes its own run in close().
        # Replicas (runs that differ only in seed) share config_id: group by it to average them.
        flat = {**dashboard_config(config, job_type), "config_id": config_id(name),
                **({"seed": config["seed"]} if config.get("seed") is not None else {})}
        self._run = wandb.init(
            project=project, entity=entity, id=run_id, resume="allow", name=name, group=group,
            job_type=job_type, tags=list(dict.fromkeys([*tags, *dashboard_tags({**config, **flat})])),
            config={**config, **flat}, dir=str(run_dir), mode=self.mode, reinit="create_new", settings=settings,
        )
        self._run.define_metric("train_seconds")
        for key in ("bytes", "ratio"):
            self._run.define_metric(key)
        # A compression run's valid and test metrics are one point each, at its size: plotted against
        # bytes. Its fine-tuning (train/*, prune/*) and every training run's curves are against train_seconds.
        by_size = job_type == "compress"
        for split in SPLITS:
            self._run.define_metric(f"{split}/*", step_metric="bytes" if by_size and split != "train" else
                                    "train_seconds")
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
        if kind == "valid":
            self._keep_best(record)
        # The W&B step is `updates`; records at the same update (train, then valid) share one row.
        # W&B drops a step below the last one, and a log without a step merges into the open row
        # (overwriting its train_seconds), so a step that goes back gets a fresh row after the last.
        updates = record.get("updates")
        step = int(updates) if _is_number(updates) else self._last_step + 1
        self._last_step = step if step >= self._last_step else self._last_step + 1
        self._run.log(metrics, step=self._last_step)

    def _keep_best(self, record: dict) -> None:
        for key, higher in BEST_OF.items():
            value = record.get(key)
            best = self._best.get(key)
            if _is_number(value) and (best is None or (value > best if higher else value < best)):
                self._best[key] = value
                self._run.summary[f"best/valid_{key}"] = value

    def summary(self, values: dict) -> None:
        self._run.summary.update(dict(values))
        # What a compression achieved is known only now: make it a config key and a tag as well, so
        # the UI groups and filters by it like by width.
        achieved = {key: values[key] for key in ("ratio", "bytes", "sparsity", "bits") if _is_number(values.get(key))}
        if achieved and "ratio" in achieved:
            self._run.config.update(achieved, allow_val_change=True)
            tag = f"ratio:{achieved['ratio']:.3g}"
            if tag not in self._run.tags:
                self._run.tags = (*self._run.tags, tag)

    def close(self) -> None:
        """Finishes the run and returns once wandb-core has written all of it (its `.wandb` log).

        run.finish() only *publishes* the close of the run's stream to wandb-core (no reply), and
        wandb-core writes the log's buffered tail when it gets round to it: with both CPUs busy, 6 of
        45 offline runs read right after finish() lacked their last 15-65 history rows and the exit
        record. wandb.teardown() waits for wandb-core to exit, which closes every stream first: 0 of
        45 incomplete, for 0.01-0.2 s more per close and a fresh wandb-core (about 0.5 s) at the next
        init in the process. Teardown finishes every run the process holds; a process holds one sink.
        A wandb-core that exits with an error is reported, not raised: W&B never stops training.
        """
        if self._run is None:
            return
        import wandb

        run, self._run = self._run, None
        run.finish()
        try:
            wandb.teardown()
        except SystemExit as exit_:  # teardown calls sys.exit with wandb-core's exit status when not 0
            log.warning("W&B service exited with status %s at close; the run's log may be incomplete", exit_.code)

"""Run directories -> one `Run` per directory, finished or not.

A run directory is a folder holding `.hydra/`, `metrics.jsonl` or `result.json`, at any depth.
`result.json` gives a finished run's figures, `metrics.jsonl` its curve, `.hydra/config.yaml` what
an unfinished run was asked to do. A run that cannot be read is kept as `broken` with the reason,
never dropped and never raised. Must not import fairseq or torch.
"""
from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from hydra_plugins.tlc_launchers.outcomes import read_outcomes
from train_large.evaluate import PRIMARY_METRIC
from train_large.run_names import config_id
from train_large.rundir import METRICS_FILE, OUTPUTS_DIR, RESULT_FILE, read_records

COMPLETE, UNFINISHED, BROKEN = "complete", "unfinished", "broken"
# Folders a run keeps inside itself, never runs of their own.
INNER_FOLDERS = {"wandb", "checkpoints", OUTPUTS_DIR, ".hydra", ".submitit"}
RUN_MARKERS = (".hydra", METRICS_FILE, RESULT_FILE)
UNREADABLE = (ValueError, KeyError, TypeError, AttributeError, OSError, yaml.YAMLError)


@dataclass(frozen=True)
class Point:
    """One validation of a training run: where on the three x-axes, and the metric there."""

    train_seconds: float
    updates: int
    flops: float | None
    value: float


@dataclass(frozen=True)
class Compression:
    """What a compression run did to its source and what it gives."""

    method: str
    sparsity: float
    bits: int  # k when quantized, else the bits of `precision` (32 fp32, 16 bf16 or fp16)
    bytes: int  # as stored: unquantized weights at `precision`, so models of any precision compare
    fp32_bytes: int
    ratio: float  # fp32_bytes / bytes, at any precision
    source_name: str
    source_run_id: str
    source_params: int | None
    source_budget_seconds: float | None  # the source's configured training budget
    scores: dict[str, float]  # the task's metric per evaluated split (valid, test)
    recipe: str = ""  # how: one-shot or iterative pruning, QAT, and the fine-tuning seconds spent
    quantized: bool = False  # weights rounded to `bits`
    precision: str = "fp32"  # the dtype the model held its weights at (fp32 | bf16 | fp16)

    @property
    def is_baseline(self) -> bool:
        """Nothing removed or rounded: the source at `precision`, the start of every bytes curve."""
        return not self.quantized and self.sparsity == 0


@dataclass
class Run:
    run_dir: Path
    status: str  # complete | unfinished | broken
    problem: str = ""  # why a run is unfinished or broken
    job: str = "train"  # train | compress
    experiment: str = ""
    task: str = ""
    task_kind: str = ""
    metric: str = ""  # the task's primary metric: bleu, ppl or accuracy
    width: int | None = None
    depth: int | None = None
    batch: float | None = None  # sequences (batch_unit) or tokens per update
    batch_unit: str = ""
    seed: int | None = None  # the trained model's seed (a compression's: its source's)
    params: int | None = None
    budget_seconds: float | None = None  # configured budget.train_seconds
    train_seconds: float | None = None  # spent (training clock)
    updates: int | None = None
    flops: float | None = None
    best_valid: float | None = None
    final: dict[str, float] = field(default_factory=dict)  # primary metric per split at the end
    curve: list[Point] = field(default_factory=list)  # valid records, in training order
    compression: Compression | None = None
    # the saved final translations or predictions (result.json `outputs`), relative to run_dir
    outputs: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def config_id(self) -> str:
        """What every replica of this run's configuration shares: its name without the seed."""
        return config_id(self.name)

    @property
    def higher_is_better(self) -> bool:
        return PRIMARY_METRIC.get(self.task_kind, ("", True))[1]


def find_run_dirs(paths: Iterable[Path]) -> list[Path]:
    """Every run directory at or below `paths`, sorted, each once."""
    found: set[Path] = set()
    for root in paths:
        for folder, dirs, files in os.walk(root, followlinks=True):  # unreadable folders are skipped
            if any(marker in dirs or marker in files for marker in RUN_MARKERS):
                found.add(Path(folder).resolve())
            dirs[:] = [d for d in dirs if d not in INNER_FOLDERS]
    return sorted(found)


def collect(paths: Iterable[Path]) -> list[Run]:
    """One `Run` per run directory below `paths`: complete, unfinished or broken."""
    return [read_run(run_dir) for run_dir in find_run_dirs(paths)]


def read_run(run_dir: Path) -> Run:
    run = Run(run_dir=run_dir, status=UNFINISHED)
    described = False
    try:
        result = read_json(run_dir / RESULT_FILE)
        trained = describe(run, result["config"] if result is not None else read_hydra_config(run_dir), result)
        described = True
        run.curve = valid_curve(read_records(run_dir / METRICS_FILE), run.metric)
        if result is None:
            run.problem = unfinished_reason(run)
        elif result.get("status") != COMPLETE:
            run.problem = f"{RESULT_FILE} has status {result.get('status')!r}"
        else:
            read_result_figures(run, result, trained)
            run.status = COMPLETE
    except UNREADABLE as err:
        run.status, run.problem = BROKEN, broken_reason(err)
        if not described:  # labelled by the config it started with when that reads, else by its folder alone
            with contextlib.suppress(*UNREADABLE):
                describe(run, read_hydra_config(run_dir), None)
    return run


def unfinished_reason(run: Run) -> str:
    """No result yet: how far it got, and the error its sweep recorded if its last attempt failed."""
    reason = f"no {RESULT_FILE} yet" + (f" ({len(run.curve)} validations so far)" if run.curve else "")
    outcome = read_outcomes(run.run_dir.parent, since=0).get(run.name)
    if outcome and outcome.get("status") == "failed":
        reason += f"; last attempt failed: {outcome.get('error') or 'no error recorded'}"
    return reason


def broken_reason(err: Exception) -> str:
    if isinstance(err, KeyError):
        return f"missing field {err}"
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}".rstrip(": ")


def read_json(path: Path) -> dict | None:
    """A JSON object file, or None when absent.

    Raises:
        ValueError: the file is not a JSON object (a broken run, shown as such).
    """
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path.name} is not valid JSON ({err.msg}, line {err.lineno})") from err
    if not isinstance(value, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return value


def read_hydra_config(run_dir: Path) -> dict:
    """The composed config Hydra saved when the run started ({} when there is none)."""
    path = run_dir / ".hydra" / "config.yaml"
    if not path.exists():
        return {}
    config = yaml.safe_load(path.read_text()) or {}
    if not isinstance(config, dict):
        raise ValueError(f"{path} is not a mapping")
    return config


def describe(run: Run, config: dict, result: dict | None) -> dict:
    """Sets what the run is (job, experiment, task, model) from its result or its saved config, and
    returns the model's training config: the run's own, or for a compression its source's (a
    compression's own config names only its source and settings)."""
    run.job = "compress" if "compression" in (result or config) else "train"
    run.experiment = str((result or {}).get("experiment") or config.get("experiment") or run.run_dir.parent.name)
    trained = source_config(config, result) if run.job == "compress" else config
    task = trained.get("task") or {}
    run.task = str((result or {}).get("task") or task.get("name", ""))
    run.task_kind = str((result or {}).get("kind") or task.get("kind", ""))
    run.metric = PRIMARY_METRIC[run.task_kind][0] if run.task_kind in PRIMARY_METRIC else ""
    model = trained.get("model") or {}
    run.width, run.depth = as_int(model.get("width")), as_int(model.get("depth"))
    run.seed = as_int(trained.get("seed"))
    if run.job == "train":
        run.budget_seconds = as_float((config.get("budget") or {}).get("train_seconds"))
    run.batch, run.batch_unit = batch_of(result if run.job == "train" and result else {}, trained.get("optim") or {})
    return trained


def source_config(config: dict, result: dict | None) -> dict:
    """The training config of a compression run's source: from its result.json, else from the config
    Hydra saved when it started; {} when the source folder is gone or unreadable."""
    source = ((result or {}).get("source") or {}).get("run_dir") or config.get("source")
    if not source:
        return {}
    try:
        source_result = read_json(Path(str(source)) / RESULT_FILE)
        return (source_result or {}).get("config") or read_hydra_config(Path(str(source)))
    except (ValueError, OSError, yaml.YAMLError):
        return {}


def batch_of(result: dict, optim: dict) -> tuple[float | None, str]:
    """Sequences or tokens per update: as recorded, else from the optimizer settings."""
    if result.get("batch_sequences"):
        return float(result["batch_sequences"]), "sequences"
    if result.get("batch_tokens"):
        return float(result["batch_tokens"]), "tokens"
    if as_float(optim.get("batch_size")):
        return float(optim["batch_size"]), "sequences"
    tokens, freq = as_float(optim.get("max_tokens")), as_float(optim.get("update_freq")) or 1.0
    return (tokens * freq, "tokens") if tokens else (None, "")


def read_result_figures(run: Run, result: dict, trained: dict) -> None:
    run.params = as_int(result.get("params"))
    run.train_seconds = as_float(result.get("train_seconds"))
    run.updates = as_int(result.get("updates"))
    run.flops = as_float(result.get("flops"))
    run.final = {split: float(metrics[run.metric]) for split, metrics in result["final"].items()
                 if isinstance(metrics, dict) and run.metric in metrics}
    run.outputs = saved_outputs(result.get("outputs") or {})
    if run.job == "train":
        run.best_valid = as_float(result.get(f"best_valid_{run.metric}"))
        if run.best_valid is None and run.curve:
            values = [p.value for p in run.curve]
            run.best_valid = max(values) if run.higher_is_better else min(values)
        return
    source = result.get("source") or {}
    source_budget = (trained.get("budget") or {}).get("train_seconds")
    bits = int(result["bits"])
    run.compression = Compression(
        method=str(result["method"]), sparsity=float(result["sparsity"]), bits=bits,
        bytes=int(result["bytes"]), fp32_bytes=int(result["fp32_bytes"]), ratio=float(result["ratio"]),
        source_name=str(source.get("name", "")), source_run_id=str(result.get("source_run_id", "")),
        source_params=as_int(source.get("params")), source_budget_seconds=as_float(source_budget),
        scores=dict(run.final), recipe=recipe(result.get("compression") or {}, run.train_seconds or 0.0),
        # A result from before these were recorded wrote bits=32 for every unquantized model.
        quantized=bool(result.get("quantized", bits < 32)), precision=str(result.get("precision", "fp32")))


def saved_outputs(outputs: dict) -> list[str]:
    """The saved output files as paths relative to the run dir (which may have moved since):
    what follows the last `outputs/` in each recorded path (GLUE submissions are in outputs/glue/)."""
    paths = []
    for saved in outputs.values():
        if isinstance(saved, dict) and saved.get("file"):
            parts = Path(str(saved["file"])).parts
            inside = parts[len(parts) - 1 - parts[::-1].index(OUTPUTS_DIR):] if OUTPUTS_DIR in parts else parts[-1:]
            paths.append("/".join(inside))
    return paths


def recipe(settings: dict, fine_tune_seconds: float) -> str:
    """`iter5+qat, 300 s` / `one-shot` / `-`: the compression schedule and fine-tuning a result used."""
    steps = []
    if settings.get("method") in ("prune", "prune_quantize"):
        steps.append(f"iter{settings.get('steps')}" if settings.get("schedule") == "iterative" else "one-shot")
    if settings.get("qat"):
        steps.append("qat")
    return "+".join(steps or ["-"]) + (f", {fine_tune_seconds:.0f} s" if fine_tune_seconds > 0 else "")


def valid_curve(records: list[dict], metric: str) -> list[Point]:
    return [Point(float(r["train_seconds"]), int(r.get("updates", 0)), as_float(r.get("flops")), float(r[metric]))
            for r in records if r.get("kind") == "valid" and metric and isinstance(r.get(metric), (int, float))]


def as_int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def as_float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

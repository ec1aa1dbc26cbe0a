"""The runs as tables: one CSV with a row per run directory (every status), and markdown tables of
the training runs, the compressed models and the runs that are not (or no longer) readable. Where
a configuration was run with several seeds, a summary table gives each configuration once: its
seeds and mean ± sample standard deviation over them (noise.spread); the CSV stays one row per run.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from .bands import configurations
from .collect import COMPLETE, Run
from .noise import spread
from .series import by_size, finished_compression, finished_training, format_number

CSV_COLUMNS = (
    "status", "job", "experiment", "task", "name", "width", "depth", "batch", "batch_unit", "params",
    "budget_seconds", "train_seconds", "updates", "flops", "metric", "best_valid", "final_valid", "final_test",
    "method", "sparsity", "bits", "bytes", "fp32_bytes", "ratio", "recipe", "source", "problem", "run_dir",
    "outputs",
)


def csv_row(run: Run) -> dict[str, Any]:
    c = run.compression
    return {
        "status": run.status, "job": run.job, "experiment": run.experiment, "task": run.task, "name": run.name,
        "width": run.width, "depth": run.depth, "batch": run.batch, "batch_unit": run.batch_unit,
        "params": run.params, "budget_seconds": run.budget_seconds, "train_seconds": run.train_seconds,
        "updates": run.updates, "flops": run.flops, "metric": run.metric, "best_valid": run.best_valid,
        "final_valid": run.final.get("valid"), "final_test": run.final.get("test"),
        "method": c and c.method, "sparsity": c and c.sparsity, "bits": c and c.bits, "bytes": c and c.bytes,
        "fp32_bytes": c and c.fp32_bytes, "ratio": c and c.ratio, "recipe": c and c.recipe,
        "source": c and c.source_name,
        "problem": run.problem, "run_dir": str(run.run_dir),
        "outputs": " ".join(run.outputs),  # relative to run_dir: the saved translations or predictions
    }


def write_csv(runs: list[Run], path: Path) -> Path:
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for run in runs:
            writer.writerow({key: "" if value is None else value for key, value in csv_row(run).items()})
    return Path(path)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def cell(value: float | int | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return format_number(value)
    return f"{value:.{digits}g}"


def training_table(runs: list[Run]) -> str:
    """Finished training runs, grouped by sweep and task, smallest model first."""
    done = finished_training(runs)
    ordered = [r for key in dict.fromkeys((r.experiment, r.task) for r in done)
               for r in by_size(done) if (r.experiment, r.task) == key]
    rows = [[r.experiment, r.task, r.name, cell(r.width), cell(r.depth),
             f"{cell(r.batch)} {r.batch_unit[:3]}".strip(), cell(r.params), cell(r.train_seconds, 5),
             cell(r.updates), f"{r.flops:.3g}" if r.flops else "-", r.metric, cell(r.best_valid),
             cell(r.final.get("valid")), cell(r.final.get("test"))] for r in ordered]
    return markdown_table(["sweep", "task", "run", "width", "depth", "batch", "params", "train s", "updates",
                           "FLOPs", "metric", "best valid", "final valid", "final test"], rows)


def compression_table(runs: list[Run]) -> str:
    """Finished compression runs by task, smallest first; the metric on valid and (when scored) test."""
    done = sorted(finished_compression(runs), key=lambda r: (r.task, r.compression.bytes, r.name))
    rows = [[r.task, r.compression.source_name, cell(r.width), cell(r.depth), r.compression.method,
             f"{r.compression.sparsity:.3f}", str(r.compression.bits), cell(r.compression.bytes),
             f"{r.compression.ratio:.2f}", r.compression.recipe, r.metric, cell(r.final.get("valid")),
             cell(r.final.get("test")), r.name] for r in done]
    return markdown_table(["task", "source", "width", "depth", "method", "sparsity", "bits", "bytes", "ratio",
                           "recipe", "metric", "valid", "test", "run"], rows)


def problems_table(runs: list[Run]) -> str:
    """Runs without a usable result, with the reason: listed, never dropped."""
    rows = [[r.status, r.experiment, r.name, r.problem, str(r.run_dir)] for r in runs if r.status != COMPLETE]
    return markdown_table(["status", "sweep", "run", "why", "folder"], rows)


def mean_sd(values: list[float | None], n: int) -> str:
    """`27.3 ± 0.41` over the replicas' values (None: the replica lacks it), `27.3` for one, `-` for
    none; `(n=2)` after it when fewer than the configuration's `n` replicas have a value."""
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    sd = spread(present)
    text = cell(sum(present) / len(present)) + (f" ± {sd:.2g}" if sd is not None else "")
    return text + (f" (n={len(present)})" if len(present) < n else "")


def shared(values: list[float | None], n: int) -> str:
    """A value every replica shares (parameters, bytes) once; mean ± sd if they differ."""
    return cell(values[0]) if len(set(values)) == 1 else mean_sd(values, n)


def seeds(group: list[Run]) -> str:
    return ", ".join("-" if r.seed is None else str(r.seed) for r in group)


def has_replicas(configs: list[list[Run]]) -> bool:
    return any(len(group) > 1 for group in configs)


def training_replica_table(runs: list[Run]) -> str:
    """Finished training runs, one row per configuration (by sweep and task, smallest first), with
    mean ± sd over its seeds; "" when no configuration has two or more."""
    configs = configurations(finished_training(runs))
    if not has_replicas(configs):
        return ""
    configs.sort(key=lambda g: (g[0].experiment, g[0].task))  # stable: smallest first within a sweep
    rows = [[g[0].experiment, g[0].task, g[0].config_id, str(len(g)), seeds(g),
             shared([r.params for r in g], len(g)), g[0].metric, mean_sd([r.best_valid for r in g], len(g)),
             mean_sd([r.final.get("valid") for r in g], len(g)), mean_sd([r.final.get("test") for r in g], len(g))]
            for g in configs]
    return markdown_table(["sweep", "task", "configuration", "n", "seeds", "params", "metric", "best valid",
                           "final valid", "final test"], rows)


def compression_replica_table(runs: list[Run]) -> str:
    """Finished compression runs, one row per configuration (its source's seeds pooled), smallest
    first, with mean ± sd over seeds; "" when no configuration has two or more."""
    configs = configurations(finished_compression(runs))
    if not has_replicas(configs):
        return ""
    configs.sort(key=lambda g: (g[0].task, g[0].compression.bytes, g[0].config_id))
    rows = [[g[0].task, g[0].compression.method, f"{g[0].compression.sparsity:.3f}", str(g[0].compression.bits),
             shared([r.compression.bytes for r in g], len(g)), str(len(g)), seeds(g), g[0].metric,
             mean_sd([r.final.get("valid") for r in g], len(g)), mean_sd([r.final.get("test") for r in g], len(g)),
             g[0].config_id] for g in configs]
    return markdown_table(["task", "method", "sparsity", "bits", "bytes", "n", "seeds", "metric", "valid", "test",
                           "configuration"], rows)

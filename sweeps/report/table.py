"""The runs as tables and as report.md: `runs.csv` has a row per run directory (every status), the
markdown tables the training runs, the compressed models, the unreadable runs and, for
configurations with several seeds, their mean ± sd; report.md adds the figures, claims and advice.
"""
from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .collect import COMPLETE, Run
from .evidence import NOT_ENOUGH
from .evidence import mean_sd as mean_sd_text
from .noise import spread
from .series import by_size, configurations, finished_compression, finished_training, format_number

if TYPE_CHECKING:
    from .advise import Advice
    from .evidence import Verdict
    from .plotting import Drawn

CSV_COLUMNS = (
    "status", "job", "experiment", "task", "name", "width", "depth", "batch", "batch_unit", "params",
    "budget_seconds", "train_seconds", "updates", "flops", "metric", "best_valid", "final_valid", "final_test",
    "method", "sparsity", "bits", "bytes", "fp32_bytes", "ratio", "recipe", "source", "problem", "run_dir",
    "outputs",
)
# Under a claim that lacks the runs its rule needs: the command that makes all of them, in miniature.
REPRODUCE_HINT = ("`scripts/reproduce.sh toy` runs, on CPU, a miniature of every sweep the four claims need "
                  "(toy width, depth and batch sweeps in three seeds, and the width sweep compressed far "
                  "enough for claim 4), then this report on them.")


def csv_row(run: Run) -> dict[str, Any]:
    c = run.compression
    row = {key: getattr(run, key, None) for key in CSV_COLUMNS}  # compression columns are not on a Run: None
    if c:
        row.update({key: getattr(c, key) for key in ("method", "sparsity", "bits", "bytes", "fp32_bytes", "ratio",
                                                       "recipe")}, source=c.source_name)
    # outputs: relative to run_dir, the saved translations or predictions
    row.update(final_valid=run.final.get("valid"), final_test=run.final.get("test"), run_dir=str(run.run_dir),
               outputs=" ".join(run.outputs))
    return row


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
    if value is None or isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
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


def replica_columns(g: list[Run]) -> tuple[str, str]:  # n and seeds
    return str(len(g)), ", ".join("-" if r.seed is None else str(r.seed) for r in g)


def final_columns(g: list[Run]) -> list[str]:
    """Mean ± sd of the final valid and test metric over the configuration's replicas."""
    return [mean_sd([r.final.get(split) for r in g], len(g)) for split in ("valid", "test")]


def with_replicas(runs: list[Run], key: Callable[[list[Run]], tuple]) -> list[list[Run]]:
    """The runs' configurations ordered by `key` (stable: smallest first within it), or [] when none
    has two or more replicas."""
    groups = configurations(runs)
    return sorted(groups, key=key) if any(len(g) > 1 for g in groups) else []


def training_replica_table(runs: list[Run]) -> str:
    """Finished training runs, one row per configuration, by sweep and task; "" without replicas."""
    rows = [[g[0].experiment, g[0].task, g[0].config_id, *replica_columns(g), shared([r.params for r in g], len(g)),
             g[0].metric, mean_sd([r.best_valid for r in g], len(g)), *final_columns(g)]
            for g in with_replicas(finished_training(runs), lambda g: (g[0].experiment, g[0].task))]
    return markdown_table(["sweep", "task", "configuration", "n", "seeds", "params", "metric", "best valid",
                           "final valid", "final test"], rows) if rows else ""


def compression_replica_table(runs: list[Run]) -> str:
    """Finished compression runs, one row per configuration (its source's seeds pooled), smallest
    first; "" without replicas."""
    groups = with_replicas(finished_compression(runs), lambda g: (g[0].task, g[0].compression.bytes, g[0].config_id))
    rows = [[g[0].task, g[0].compression.method, f"{g[0].compression.sparsity:.3f}", str(g[0].compression.bits),
             shared([r.compression.bytes for r in g], len(g)), *replica_columns(g), g[0].metric, *final_columns(g),
             g[0].config_id] for g in groups]
    return markdown_table(["task", "method", "sparsity", "bits", "bytes", "n", "seeds", "metric", "valid", "test",
                           "configuration"], rows) if rows else ""


def relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def render(runs: list[Run], sources: list[Path], out_dir: Path, drawn: list[Drawn],
           verdicts: list[Verdict] | None, advice: list[Advice] | None) -> str:
    counts = Counter(r.status for r in runs)
    lines = ["# Sweep report", "",
             f"From {len(runs)} run directories under {', '.join(f'`{s}`' for s in sources)}: "
             + ", ".join(f"{counts[s]} {s}" for s in ("complete", "unfinished", "broken")) + ". "
             + ("Only complete runs enter the figures, claims and advice; the others are listed below. "
                if len(runs) > counts["complete"] else "")
             + "Every run is in `runs.csv`.", ""]
    if any(r.outputs for r in runs):
        lines += ["Each run's saved outputs (final test translations, dev predictions) are in `runs.csv`'s "
                  "`outputs` column, relative to its `run_dir`; a translation run's test record holds the "
                  "sacrebleu command that recomputes its BLEU (`recompute`).", ""]
    if finished_training(runs):
        lines += ["## Training runs", "", "Metrics are on the valid split unless named test; `best valid` is the "
                  "best validation during training.", "", training_table(runs), ""]
        lines += replica_section(training_replica_table(runs))
    if finished_compression(runs):
        lines += ["## Compressed models", "", compression_table(runs), ""]
        lines += replica_section(compression_replica_table(runs))
    if counts["unfinished"] or counts["broken"]:
        lines += ["## Unfinished or unreadable runs", "", problems_table(runs), ""]
    if drawn:
        lines += ["## Figures", ""]
        for figure in drawn:
            lines += [f"### {figure.title}", "", f"![{figure.title}]({relative(figure.png, out_dir)})", "",
                      f"{figure.caption}. PDF: [{figure.pdf.name}]({relative(figure.pdf, out_dir)})", ""]
    if verdicts is not None:
        lines += ["## The paper's claims", "",
                  "Each of the paper's claims, checked on these runs by the rule under it.", ""]
        for v in verdicts:
            label = f" ({v.seeds})" if v.seeds else ""
            lines += [f"### {v.number}. {v.title}: **{v.verdict}**{label}", "", f"Rule: {v.rule}", ""]
            lines += [f"- {line}" if not line.startswith("  ") else line for line in v.numbers]
            if v.verdict == NOT_ENOUGH:
                lines.append(f"- {REPRODUCE_HINT}")
            if v.runs:
                lines += ["", "Runs: " + ", ".join(f"`{name}`" for name in dict.fromkeys(v.runs))]
            lines.append("")
    if advice is not None:
        lines += ["## Advice", ""] + advice_lines(advice)
    return "\n".join(lines).rstrip() + "\n"


def replica_section(table: str) -> list[str]:
    """The per-configuration summary under a run table, when some configuration has several seeds."""
    if not table:
        return []
    return ["### Mean over seeds", "", "One row per configuration (its runs differ only in the seed): "
            "mean ± sample standard deviation over its n seeds; a value with its own `(n=k)` was missing for "
            "the other seeds.", "", table, ""]


def advice_lines(advice: list[Advice]) -> list[str]:
    if not advice:
        return ["No finished runs of the kind the budget asks about (training runs for a training budget, "
                "compression runs for a memory budget).", ""]
    lines = []
    for a in advice:
        lines += [f"### {a.task}: {a.kind} budget of {a.budget}", ""]
        if not a.best:
            lines += [a.note, ""]
            continue
        best, second = a.best, a.runner_up
        lines.append(f"- **best**: `{best.name}`, {a.metric} {best.text()}" + (f" ({best.note})" if best.note else ""))
        if second:
            lines.append(f"- runner-up: `{second.name}`, {a.metric} {second.text()}"
                         + (f" ({second.note})" if second.note else "") + f"; margin {a.margin_text()}")
        else:
            lines.append("- runner-up: none (only one candidate)")
        if a.test:
            lines.append(f"- {a.test}")
        if a.suggestion:
            lines.append(f"- {a.suggestion}")
        rows = [[str(i), f"`{c.name}`", mean_sd_text(c.values), str(len(c.values)),
                 f"{c.run.compression.bytes:,} bytes" if c.run.compression else f"{c.run.params or 0:,} params"]
                for i, c in enumerate(a.ranked, start=1)]
        header = ["rank", "configuration", f"{a.metric} (mean ± sd over seeds)", "seeds", "size"]
        lines += ["", *markdown_table(header, rows).splitlines(), ""]
    return lines

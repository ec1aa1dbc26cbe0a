"""`tlc-report`: the console entry point.

    tlc-report runs/mt_width runs/mt_depth                  # report dir with figures, tables and report.md
    tlc-report runs/roberta_width runs/prune --claims       # also checks the paper's claims
    tlc-report runs/ --advise train_seconds=3600 bytes=50e6  # best size for a 1-hour budget, best model in 50 MB

Arguments are checked first: a bad one stops with one line and exit status 2 before anything is
read. The W&B workspace spec (--wandb-workspace) is always written beside the report, so it can be
checked without a network; wandb_workspaces is imported only then. Must not import fairseq or torch.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, NoReturn

from .budget import Budget, BudgetError, parse_budget

EXIT_BAD_INPUT = 2
REPORT_FILE, CSV_FILE, TABLES_FILE, FIGURES_DIR, WORKSPACE_FILE = (
    "report.md", "runs.csv", "runs.md", "figures", "wandb_workspace.json")
WORKSPACE_NAME = "train-large-then-compress"
LOG_METRICS = {"ppl"}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2), like every other check here."""

    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see tlc-report --help)")


def fail(message: str) -> NoReturn:
    print(f"tlc-report: error: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="tlc-report", description=__doc__.split("\n\n")[1],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path,
                        help="sweep folders, run folders or any folder above them (searched at any depth)")
    parser.add_argument("--out", type=Path, default=None,
                        help="report folder (default: <the common folder of PATHS>/report)")
    parser.add_argument("--claims", action="store_true",
                        help="check the paper's four claims (Li et al. 2020) on these runs")
    parser.add_argument("--advise", nargs="+", metavar="KEY=NUMBER", default=None,
                        help="budgets: train_seconds=S or flops=F (training), bytes=B (memory); one or both")
    parser.add_argument("--wandb-workspace", metavar="ENTITY/PROJECT", default=None,
                        help="also build a W&B workspace with the paper's panels: written as wandb_workspace.json, "
                             "and saved to W&B when credentials are set")
    parser.add_argument("--no-figures", action="store_true", help="tables, claims and advice only")
    return parser


def check_args(args: argparse.Namespace) -> tuple[Budget | None, tuple[str, str] | None, Path]:
    """The parsed budget, workspace target (entity, project) and report folder; a bad one `fail`s."""
    for path in args.paths:
        if not path.is_dir():
            fail(f"{path} is not a folder; give sweep or run folders (e.g. runs/mt_width)")
    try:
        budget = parse_budget(args.advise) if args.advise is not None else None
    except BudgetError as err:
        fail(str(err))
    target = None
    if args.wandb_workspace is not None:
        entity, sep, project = args.wandb_workspace.partition("/")
        if not sep or not entity or not project or "/" in project:
            fail(f"--wandb-workspace {args.wandb_workspace!r}: expected ENTITY/PROJECT, e.g. "
                 "my-team/train-large-then-compress")
        target = entity, project
    out = args.out if args.out is not None else Path(os.path.commonpath([p.resolve() for p in args.paths])) / "report"
    if out.exists() and not out.is_dir():
        fail(f"--out {out} exists and is not a folder")
    return budget, target, out


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(report(args, *check_args(args)))


def report(args: argparse.Namespace, budget: Budget | None, target: tuple[str, str] | None, out: Path) -> int:
    """Writes the report folder and prints where it is; returns the exit status."""
    # Imported here, after the arguments are checked: reading runs pulls in the training side's
    # metric table (and sacrebleu with it), about half a second a bad argument need not wait for.
    from .advise import advise, summary_line
    from .claims import check_all
    from .collect import BROKEN, COMPLETE, UNFINISHED, collect
    from .series import finished_compression, finished_training
    from .table import (compression_replica_table, compression_table, problems_table, render, training_replica_table,
                        training_table, write_csv)

    runs = [r for r in collect(args.paths) if not r.run_dir.is_relative_to(out.resolve())]
    if not runs:
        fail(f"no run folders (with .hydra/, metrics.jsonl or result.json) under {', '.join(map(str, args.paths))}")
    out.mkdir(parents=True, exist_ok=True)
    write_csv(runs, out / CSV_FILE)
    drawn = []
    if not args.no_figures:
        from .figures import draw_all

        drawn = draw_all(runs, out / FIGURES_DIR)
    verdicts = check_all(runs) if args.claims else None
    advice = advise(runs, budget) if budget else None
    unread = [r for r in runs if r.status != COMPLETE]
    tables = [t for t, show in ((training_table(runs), finished_training(runs)), (training_replica_table(runs), True),
                                (compression_table(runs), finished_compression(runs)),
                                (compression_replica_table(runs), True)) if show and t]
    (out / TABLES_FILE).write_text("\n\n".join(tables + ([problems_table(runs)] if unread else [])) + "\n")
    (out / REPORT_FILE).write_text(render(runs, list(args.paths), out, drawn, verdicts, advice))
    counts = Counter(r.status for r in runs)
    print("\n\n".join(tables))
    for run in unread:
        print(f"{run.status}: {run.experiment}/{run.name}: {run.problem}")
    print(f"\n{len(runs)} runs: " + ", ".join(f"{counts[s]} {s}" for s in (COMPLETE, UNFINISHED, BROKEN)))
    for v in verdicts or []:
        print(f"claim {v.number} ({v.title}): {v.verdict}" + (f" ({v.seeds})" if v.seeds else ""))
    for a in advice or []:
        print(summary_line(a))
    status = workspace(runs, target, out) if target else 0
    print(f"report: {out / REPORT_FILE}")
    print(f"table:  {out / CSV_FILE}")
    if drawn:
        print(f"figures: {drawn[0].png.parent} ({len(drawn)} PNG, each with a PDF: "
              f"{', '.join(figure.png.stem for figure in drawn)})")
    return status


def workspace(runs: list, target: tuple[str, str], out: Path) -> int:
    """Writes the workspace spec; uploads it when W&B credentials are set. 1 if the upload failed."""
    from train_large.wandb_sink import resolve_mode

    built = build_workspace(runs, *target)
    # wandb-workspaces 0.4 has no public serializer; `_to_model` is what its own `save` uses.
    spec = built._to_model().model_dump(by_alias=True, exclude_none=True, mode="json")
    (out / WORKSPACE_FILE).write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    print(f"W&B workspace spec: {out / WORKSPACE_FILE}")
    if resolve_mode("auto", os.environ) != "online":
        print("W&B workspace not uploaded: set WANDB_API_KEY and re-run to save it")
        return 0
    try:
        print(f"W&B workspace saved: {built.save().url}")
    except Exception as err:  # noqa: BLE001 - the local report is complete either way
        print(f"W&B workspace not saved ({type(err).__name__}: {err})", file=sys.stderr)
        return 1
    return 0


def build_workspace(runs: list, entity: str, project: str) -> Any:
    """The workspace (a `wandb_workspaces.workspaces.Workspace`) for the metrics these runs have; the
    x-axis groups by the flat `width` config key every run carries (train_large/wandb_sink.py)."""
    from .series import finished_compression, finished_training

    with warnings.catch_warnings():
        # wandb-workspaces 0.4.13 declares pydantic-v1-style validators: a deprecation notice per class at import.
        warnings.simplefilter("ignore", DeprecationWarning)
        import wandb_workspaces.reports.v2 as wr
        import wandb_workspaces.workspaces as ws

    training = []
    for metric in sorted({r.metric for r in finished_training(runs)}):
        for x, title in (("train_seconds", "training seconds"), ("flops", "training FLOPs")):
            training.append(wr.LinePlot(title=f"valid {metric} vs {title}, by width", x=x, y=[f"valid/{metric}"],
                                        groupby="width", log_x=x == "flops", log_y=metric in LOG_METRICS,
                                        title_x=title, title_y=f"valid {metric}"))
    compression = [wr.ScatterPlot(title=f"{metric} vs compressed bytes", x=wr.SummaryMetric("bytes"),
                                  y=wr.SummaryMetric(f"final/valid_{metric}"), log_x=True, log_y=metric in LOG_METRICS)
                   for metric in sorted({r.metric for r in finished_compression(runs)})]
    sections = [ws.Section(name="Training curves (paper: metric vs wall-clock)", panels=training, is_open=True)]
    if compression:
        sections.append(ws.Section(name="Compression (paper: metric vs bytes)", panels=compression, is_open=True))
    return ws.Workspace(entity=entity, project=project, name=WORKSPACE_NAME, sections=sections)

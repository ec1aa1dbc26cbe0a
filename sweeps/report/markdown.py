"""report.md: what was read, the tables, the figures, the claim verdicts and the advice, as one
markdown page that renders on GitHub and in any editor (figures linked relative to it).
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from .advise import Advice
from .claims import Verdict
from .collect import Run
from .evidence import mean_sd
from .figures import Drawn
from .series import finished_compression, finished_training
from .table import (compression_replica_table, compression_table, problems_table, training_replica_table,
                    training_table)
from .verdicts import NOT_ENOUGH

# Under a claim that lacks the runs its rule needs: the command that makes all of them, in miniature.
REPRODUCE_HINT = ("`scripts/reproduce.sh toy` runs, on CPU, a miniature of every sweep the four claims need "
                  "(toy width, depth and batch sweeps in three seeds, and the width sweep compressed far "
                  "enough for claim 4), then this report on them.")


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
        lines += ["", f"| rank | configuration | {a.metric} (mean ± sd over seeds) | seeds | size |",
                  "|---|---|---|---|---|"]
        for i, choice in enumerate(a.ranked, start=1):
            c = choice.run.compression
            size = f"{c.bytes:,} bytes" if c else f"{choice.run.params or 0:,} params"
            lines.append(f"| {i} | `{choice.name}` | {mean_sd(choice.values)} | "
                         f"{len(choice.values)} | {size} |")
        lines.append("")
    return lines

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
from .figures import Drawn
from .series import finished_compression, finished_training
from .table import compression_table, problems_table, training_table


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
    if finished_training(runs):
        lines += ["## Training runs", "", "Metrics are on the valid split unless named test; `best valid` is the "
                  "best validation during training.", "", training_table(runs), ""]
    if finished_compression(runs):
        lines += ["## Compressed models", "", compression_table(runs), ""]
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
            lines += [f"### {v.number}. {v.title}: **{v.verdict}**", "", f"Rule: {v.rule}", ""]
            lines += [f"- {line}" if not line.startswith("  ") else line for line in v.numbers]
            if v.runs:
                lines += ["", "Runs: " + ", ".join(f"`{name}`" for name in dict.fromkeys(v.runs))]
            lines.append("")
    if advice is not None:
        lines += ["## Advice", ""] + advice_lines(advice)
    return "\n".join(lines).rstrip() + "\n"


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
        lines.append(f"- **best**: `{best.run.experiment}/{best.run.name}`, {a.metric} {best.value:.4g}"
                     + (f" ({best.note})" if best.note else ""))
        if second:
            lines.append(f"- runner-up: `{second.run.experiment}/{second.run.name}`, {a.metric} {second.value:.4g}"
                         + (f" ({second.note})" if second.note else "") + f"; margin {a.margin:+.3g}")
        else:
            lines.append("- runner-up: none (only one candidate)")
        if a.suggestion:
            lines.append(f"- {a.suggestion}")
        lines += ["", "| rank | run | " + a.metric + " | size |", "|---|---|---|---|"]
        for i, choice in enumerate(a.ranked, start=1):
            c = choice.run.compression
            size = f"{c.bytes:,} bytes" if c else f"{choice.run.params or 0:,} params"
            lines.append(f"| {i} | `{choice.run.experiment}/{choice.run.name}` | {choice.value:.4g} | {size} |")
        lines.append("")
    return lines

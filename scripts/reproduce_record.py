#!/usr/bin/env python
"""What a committed reproduction needs beside tlc-report's report.md: the command, the machine, the
date, how long each stage took and the verdicts, as data (run.json) and as a page (README.md).
Called by scripts/reproduce.sh at its end:

    python scripts/reproduce_record.py REPORT_DIR --command "scripts/reproduce.sh toy" --started 2026-12-03T13:04:00Z \
        --load-start "1.87 2.70 2.66" --stage width=412 --stage depth=398 ... --verdicts REPORT_DIR/logs/report.log

Reads nothing of the runs themselves (report.md has them); must not import fairseq.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
from pathlib import Path

from bench.machine import cpu_model

VERDICT = re.compile(r"^claim (\d) \((.+)\): (.+)$")  # as tlc-report prints each claim's verdict


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the report folder: run.json and README.md are written there")
    parser.add_argument("--command", required=True, help="the reproduce.sh command line, as typed")
    parser.add_argument("--started", required=True, help="UTC start, ISO 8601")
    parser.add_argument("--load-start", default="", help="/proc/loadavg's first three fields at the start")
    parser.add_argument("--stage", action="append", default=[], metavar="NAME=SECONDS",
                        help="one per stage, in order")
    parser.add_argument("--pairs", default="", help="tatoeba: the source<TAB>target file")
    parser.add_argument("--verdicts", type=Path, required=True, help="tlc-report's printed output")
    return parser.parse_args(argv)


def verdicts(printed: str) -> list[dict]:
    """The claims' verdicts tlc-report printed, in order: number, title, verdict (with its seeds)."""
    found = [VERDICT.match(line) for line in printed.splitlines()]
    return [{"claim": int(m[1]), "title": m[2], "verdict": m[3]} for m in found if m]


def machine(load_start: str) -> dict:
    import torch

    return {"host": platform.node(), "cpu": cpu_model(), "cores": os.cpu_count(),
            "torch_threads_per_run": int(os.environ.get("OMP_NUM_THREADS", "0")) or None,
            "load_average_at_start": load_start, "load_average_at_end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "python": platform.python_version(), "torch": torch.__version__}


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + (" with uncommitted changes" if git("status", "--porcelain") else "")


def minutes(seconds: int) -> str:
    return f"{seconds // 60} min {seconds % 60:02d} s"


def page(record: dict) -> str:
    m, stages = record["machine"], record["stage_seconds"]
    threads = m["torch_threads_per_run"]
    pairs = f" (pairs: `{Path(record['pairs']).name}`)" if record["pairs"] else ""
    lines = [f"# `{record['command']}`, as it came out", "",
             f"- Command: `{record['command']}`{pairs}, at commit {record['commit']}",
             f"- Machine: {m['host']}, {m['cpu']}, {m['cores']} cores, {threads} torch thread{'s' * (threads != 1)} "
             f"per run, torch {m['torch']}, Python {m['python']}; load average {m['load_average_at_start']} at the "
             f"start and {m['load_average_at_end']} at the end (the machine is shared)",
             f"- Date: {record['started'][:10]}, {record['started'][11:16]} to {record['finished'][11:16]} UTC",
             f"- Total: {minutes(record['seconds'])} ("
             + ", ".join(f"{name} {minutes(seconds)}" for name, seconds in stages.items()) + ")",
             "", "| claim | verdict |", "|---|---|"]
    lines += [f"| {v['claim']}. {v['title']} | {v['verdict']} |" for v in record["verdicts"]]
    lines += ["", "`report.md` and `figures/` are tlc-report's output on these runs, unedited; `run.json` holds the "
              "above as data."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = datetime.datetime.fromisoformat(args.started.replace("Z", "+00:00"))
    finished = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    stages = {name: int(seconds) for name, seconds in (item.split("=", 1) for item in args.stage)}
    record = {"command": args.command, "pairs": args.pairs or None,
              "started": args.started, "finished": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "seconds": int((finished - started).total_seconds()), "stage_seconds": stages,
              "machine": machine(args.load_start), "commit": commit(),
              "verdicts": verdicts(args.verdicts.read_text())}
    (args.out / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    (args.out / "README.md").write_text(page(record))


if __name__ == "__main__":
    main()

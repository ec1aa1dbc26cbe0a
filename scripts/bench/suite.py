"""The suite: one or every section of how much of the wall clock goes to training, run in one
process over one workspace, printed as a table and written, with the machine it ran on, to one
JSON file (default runs/bench/bench[-quick].json); scripts/render_performance.py turns the
committed results (scripts/results/) into the README's Performance table.

A section that runs after another reuses its runs: startup the overhead pairs, device the
eval-share loop runs, eval-share the gpu section's measured rates (so gpu runs first). Must not
import torch or fairseq at import time: each section's module is imported when it runs.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Callable

from .machine import describe_machine
from .runs import Workspace
from .table import table
from .toy import SIZES

REPO = Path(__file__).resolve().parents[2]
# The CPU sections in the order `all` runs them: JSON key -> module of this package.
SECTIONS = {"overhead": "overhead", "startup": "startup", "fan_out": "fanout", "eval_share": "eval_share",
            "device": "device", "report": "report", "prepare": "prepare", "setup": "setup", "demo": "demo",
            "slurm": "slurm"}
# Sections `all` leaves out: setup needs the package index, demo takes as long as the demo, slurm
# the local SLURM cluster.
ALONE = {"setup", "demo", "slurm"}
# Command names that differ from their JSON key.
KEYS = {"fanout": "fan_out", "eval-share": "eval_share"}


def threads_count(text: str) -> int:
    count = int(text)
    if count < 1:
        raise argparse.ArgumentTypeError(f"{count} is not allowed; give a count >= 1")
    return count


def options() -> argparse.ArgumentParser:
    """The options every suite command takes (a parent parser)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--quick", action="store_true", help="each section at its smallest (a smoke run)")
    parser.add_argument("--gpu", action="store_true", help="also the gpu section, first (when CUDA is available)")
    parser.add_argument("--json", type=Path, default=None, help="output file (default runs/bench/bench[-quick].json)")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "bench" / "work",
                        help="data (generated once) and the benchmark's runs")
    parser.add_argument("--threads", type=threads_count, default=None,
                        help="torch threads of every run (OMP_NUM_THREADS); default: torch's choice. On a "
                             "shared machine 1 keeps other jobs from stalling the runs' OpenMP threads")
    return parser


def main(command: str, args: argparse.Namespace) -> None:
    """Run `command` ('all', 'gpu' or one CPU section's name) with the suite's options."""
    keys = ([key for key in SECTIONS if key not in ALONE] if command == "all" else [] if command == "gpu"
            else [KEYS.get(command, command)])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    # fairseq and torch warn on every engine built in-process (pin_memory without a GPU, deprecated
    # autocast, mask dtypes): the same lines each time, none about the figures.
    warnings.simplefilter("ignore", UserWarning)
    warnings.simplefilter("ignore", FutureWarning)
    import torch

    mode = "quick" if args.quick else "full"
    space = Workspace(args.work.resolve(), threads=args.threads)
    if args.threads:
        torch.set_num_threads(args.threads)
    report: dict = {"mode": mode, "machine": describe_machine(), "threads": torch.get_num_threads(),
                    "started": time.strftime("%Y-%m-%d %H:%M:%S"), "sections": {}}
    started = time.perf_counter()
    run_gpu(report, space, args.gpu or command == "gpu", args.quick)  # first: eval-share uses its rates
    for key in keys:
        section = importlib.import_module(f".{SECTIONS[key]}", __package__)
        timed(report, key, lambda: section.run(space, SIZES[mode], report))
    report["bench_seconds"] = round(time.perf_counter() - started, 1)
    report["machine"]["load_average_end"] = os.getloadavg()  # other jobs may come and go during the run
    print(table(report))
    out = args.json or REPO / "runs" / "bench" / ("bench-quick.json" if args.quick else "bench.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {out}")


def run_gpu(report: dict, space: Workspace, wanted: bool, quick: bool) -> None:
    """The gpu section when it is wanted and CUDA is available, else a line saying why not."""
    import torch

    if wanted and torch.cuda.is_available():
        from . import gpu

        timed(report, "gpu", lambda: gpu.run(space, quick=quick))
        return
    reason = "--gpu not given" if not wanted else "no CUDA device is visible"
    report["sections"]["gpu"] = {"skipped": f"{reason}; run `python -m scripts.bench gpu` on a GPU machine"}
    print(f"[bench] gpu: skipped ({reason})", flush=True)


def timed(report: dict, name: str, section: Callable[[], dict]) -> None:
    print(f"[bench] {name} ...", flush=True)
    start = time.perf_counter()
    report["sections"][name] = section()
    report["sections"][name]["bench_seconds"] = round(time.perf_counter() - start, 1)

"""How much of the wall clock goes to training, and what the compressed files run at: one section
at a time, or every CPU section at once. Run from the repository root:

    python -m scripts.bench all --quick        # every CPU section, small (about 2 minutes on 2 cores)
    python -m scripts.bench all --threads 1 --json scripts/results/bench_cpu.json
                                               # the CPU figures in the README (about 15 minutes on 2 cores)
    python -m scripts.bench all --gpu          # adds the gpu section (skipped, with a line, without CUDA)
    python -m scripts.bench gpu                # the gpu section only
    python -m scripts.bench report --threads 1 --json scripts/results/bench_report.json
    python -m scripts.bench int8 --threads 1 --out scripts/results/bench_int8.json

Goals are from issue 8. A figure meets its goal only when its whole 95% interval over repeats
does; one measured once is "not shown". Each section's module says what it measures and how.
"""
from __future__ import annotations

import argparse
import sys

from . import int8, suite

HELP = {  # command -> what it measures; the suite's commands, in the order `all` runs them
    "all": "every CPU section (and gpu, first, with --gpu), into one JSON file",
    "overhead": "fairseq-train / tlc-train tokens/s in pairs, goal <= 1.01",
    "startup": "command to first update, tlc-train and fairseq-train; what tlc-train imports",
    "fanout": "a Ray sweep's makespan / (sum of job times / slots), goal <= 1.05, where the rest went, Ray alone",
    "eval-share": "evaluation seconds / wall seconds, toy presets measured, paper presets estimated, goal <= 0.10",
    "device": "CPU matmul peak, toy tokens/s and MFU, the training clock's error, goal within 0.01",
    "report": "tlc-report --claims --advise over 200 synthetic runs, goal < 10 s",
    "prepare": "tlc-prepare on 1M synthetic pairs and lines: lines/s, peak memory, WMT14 and 16 GB projected",
    "setup": "./scripts/setup.sh on a fresh clone with an empty pip cache, per step (needs the package index; not in all)",
    "demo": "./scripts/demo.sh on a fresh clone: seconds after setup (goal <= 300), lines shown, git status (not in all)",
    "slurm": "a SLURM sweep on the local cluster: each job's start to its first update (not in all)",
    "gpu": "CUDA only: peaks, tokens/s and MFU at the paper's sizes, the clock against CUDA events"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="section", required=True, metavar="SECTION")
    shared = suite.options()
    for name, help_text in HELP.items():
        commands.add_parser(name, parents=[shared], help=help_text, description=help_text)
    int8.add_options(commands.add_parser("int8", help="compressed-file latency against fp32 (CPU)",
                                         description=int8.__doc__,
                                         formatter_class=argparse.RawDescriptionHelpFormatter))
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.section == "int8":
        int8.main(args)
    else:
        suite.main(args.section, args)


if __name__ == "__main__":
    main()

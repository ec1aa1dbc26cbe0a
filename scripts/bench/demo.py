"""The demo section: `./scripts/demo.sh` as a new user runs it, on a fresh clone of this repository:
its set-up timed on its own, then the demo after it (training, compression, report), the lines it
prints, and whether it leaves `git status` clean; the demo REPEATS times, each from the clone as
set-up left it (`git clean` keeps only .venv), for an interval. Takes REPEATS demos' time, so `all`
leaves it out. Must not import torch or fairseq.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .runs import Workspace, run_command
from .stats import interval
from .toy import Sizes

REPO = Path(__file__).resolve().parents[2]
GOAL_SECONDS = 300  # issue 20: the demo within 5 minutes after setup, on 2 cores
REPEATS = {"quick": 1, "full": 3}


def run(space: Workspace, sizes: Sizes, report: dict) -> dict:
    clone = space.root / "demo" / "clone"
    shutil.rmtree(clone.parent, ignore_errors=True)
    clone.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {key: value for key, value in os.environ.items()
           if key not in ("VIRTUAL_ENV", "PYTHONPATH", "TLC_RUNS_ROOT", "TLC_DATA_ROOT")}
    setup = run_command(["bash", "-c", f"cd {clone} && ./scripts/setup.sh"], env, timeout=3600)
    demos = []
    for repeat in range(REPEATS[report["mode"]]):
        if repeat:  # the clone as set-up left it: runs, data and reports of the last demo gone
            subprocess.run(["git", "clean", "-q", "-xdf", "-e", ".venv", "-e", "*.egg-info"], cwd=clone, check=True)
        demo = run_command(["bash", "-c", f"cd {clone} && ./scripts/demo.sh"], env, timeout=3600)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True,
                                check=True).stdout.splitlines()
        # the demo's own run of setup.sh finds .venv up to date: one line, not part of "after setup"
        lines = [line for _, line in demo.lines if not line.startswith("[setup]")]
        demos.append({"seconds": demo.seconds, "lines": len(lines), "git_status": status, "output": lines})
        print(f"  demo {repeat}: {demo.seconds / 60:.1f} min, {len(lines)} lines", flush=True)
    shutil.rmtree(clone.parent, ignore_errors=True)
    first = demos[0]
    return {"setup_seconds": setup.seconds, "seconds_after_setup": first["seconds"], "goal_seconds": GOAL_SECONDS,
            "after_setup": interval([d["seconds"] for d in demos]), "lines_after_setup": first["lines"],
            "git_status": first["git_status"], "output": first["output"], "repeats": demos[1:]}

"""The setup section: `./scripts/setup.sh` as a new user's first command runs it, on a fresh clone
of this repository with an empty pip cache (a throwaway PIP_CACHE_DIR), so every package is
fetched and fairseq-fixed is built from source. Seconds per step come from the arrival times of
its `[setup]` lines. Needs the package index, so `all` leaves it out. Must not import torch or
fairseq.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .runs import Workspace, run_command
from .toy import Sizes

REPO = Path(__file__).resolve().parents[2]
# A [setup] line -> the step it starts; each step lasts until the next line.
STEPS = {"installing torch": "torch, numpy and cython", "keeping torch": "numpy and cython", "reusing the torch": "venv",
         "building fairseq": "fairseq build", "installing train-large": "project and dependencies",
         "done": "done"}


def run(space: Workspace, sizes: Sizes, report: dict) -> dict:
    root = space.root / "setup"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    clone, cache = root / "clone", root / "pip-cache"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PIP_CACHE_DIR"] = str(cache)
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep)
                                  if not part.startswith(str(Path(REPO, ".venv"))))
    command = run_command(["bash", "-c", f"cd {clone} && ./scripts/setup.sh"], env, timeout=3600)
    marks = [(at, step) for at, line in command.lines if line.startswith("[setup]")
             for text, step in STEPS.items() if text in line]
    steps: dict[str, float] = {}
    for (at, step), (end, _) in zip(marks, [*marks[1:], (command.seconds, "")]):
        steps[step] = steps.get(step, 0.0) + end - at
    steps["before the first step"] = marks[0][0] if marks else command.seconds
    steps.pop("done", None)
    shutil.rmtree(root, ignore_errors=True)
    # pip's own settings still apply: a find-links folder of local wheels (this machine's torch) is one
    return {"seconds": command.seconds, "steps": steps, "pip_cache": "empty",
            "pip_find_links": os.environ.get("PIP_FIND_LINKS"),
            "output": [line for _, line in command.lines if line.startswith("[setup]")]}

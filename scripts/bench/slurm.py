"""The slurm section: the SLURM launcher's share of the fan-out, on the local cluster
(`scripts/slurm_local.sh start`). K toy runs as one `hydra/launcher=slurm` sweep; for each job,
the seconds from SLURM starting it (its StartTime) to the run's first update, which is what a job
costs before it trains (its Python, imports, config, data, model), and from the sweep command to
SLURM starting it. Not part of `all`: it needs the local cluster.

SLURM gives StartTime in whole seconds, cut down, so each start-to-first-update figure may read up
to 1 s long. Must not import torch or fairseq: the runs are subprocesses.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

from .runs import BIN, NO_EVAL, BenchError, Workspace, run_command
from .stats import interval
from .toy import TINY_JOB, Sizes, toy_setup

REPO = Path(__file__).resolve().parents[2]
# The local node has 2 CPUs and no real GPU; the preset asks for a GPU node's 8 CPUs and 32 GB.
LOCAL_NODE = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
              "hydra.launcher.timeout_min=10"]


def cluster_env(base: dict) -> dict:
    """`base` with SLURM_CONF and PATH for the running local cluster (BenchError when it is not up)."""
    env = {**base, "PATH": f"{base.get('PATH', '')}:/usr/sbin:/sbin"}
    script = REPO / "scripts" / "slurm_local.sh"
    if subprocess.run([str(script), "status"], env=env, capture_output=True).returncode != 0:
        raise BenchError("the local SLURM cluster is not running: start it with scripts/slurm_local.sh start")
    exports = subprocess.run([str(script), "env"], env=env, capture_output=True, text=True, check=True).stdout
    env.update(re.findall(r"export (\w+)=(\S+)", exports))
    return env


def slurm_times(job_id: str, env: dict) -> tuple[float, float]:
    """(SubmitTime, StartTime) of a job as epoch seconds, from scontrol (kept MinJobAge after it ends)."""
    shown = subprocess.run(["scontrol", "show", "job", "-o", job_id], env=env, capture_output=True, text=True).stdout

    def epoch(field: str) -> float:
        found = re.search(rf"\b{field}=(\S+)", shown)
        if not found:
            raise BenchError(f"scontrol shows no {field} for job {job_id} (finished longer than MinJobAge ago?)")
        return time.mktime(time.strptime(found[1], "%Y-%m-%dT%H:%M:%S"))  # the cluster's local time

    return epoch("SubmitTime"), epoch("StartTime")


def run(space: Workspace, sizes: Sizes, report: dict) -> dict:
    env = cluster_env(space.env)
    toy_setup(space)  # the data exists before the jobs start, so no job waits on its lock
    runs = space.fresh_runs()
    seeds = ",".join(str(seed) for seed in range(1, sizes.jobs + 1))
    argv = [str(BIN / "tlc-train"), "-m", *LOCAL_NODE, f"hydra.launcher.name=tlc-bench-{os.getpid()}",
            "experiment=slurm_start", f"seed={seeds}", *TINY_JOB, "budget.train_seconds=3",
            "budget.log_every_seconds=0.001", *NO_EVAL]
    sweep = run_command(argv, {**env, "TLC_RUNS_ROOT": str(runs)}, watch=runs)
    jobs = []
    for result_file in sorted(runs.rglob("result.json")):
        run_dir, result = result_file.parent, json.loads(result_file.read_text())
        first = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
        if run_dir not in sweep.first_records or first["updates"] != 1:
            raise BenchError(f"{run_dir.name}: no record after its first update to time it by")
        first_update = sweep.started_at + sweep.first_records[run_dir] - first["train_seconds"]
        submitted, started = slurm_times(str(result["placement"]["slurm_job_id"]), env)
        jobs.append({"job_id": result["placement"]["slurm_job_id"], "queued_seconds": started - submitted,
                     "command_to_start_seconds": started - sweep.started_at,
                     "start_to_first_update_seconds": first_update - started})
    if len(jobs) != sizes.jobs:
        raise BenchError(f"the SLURM sweep finished {len(jobs)} of {sizes.jobs} runs:\n{sweep.tail()}")
    return {"jobs": jobs, "sweep_seconds": sweep.seconds,
            "start_to_first_update": interval([j["start_to_first_update_seconds"] for j in jobs]),
            "command_to_first_start_seconds": min(j["command_to_start_seconds"] for j in jobs)}

"""The fan-out section: K equal toy runs on S CPU slots with hydra/launcher=gpus (Ray),
makespan / (sum of job times / S), goal <= 1.10. The sweep runs as one `tlc-train -m` command;
this module must not import torch or fairseq.
"""
from __future__ import annotations

import json

from .runs import BIN, NO_EVAL, BenchError, Workspace, run_command
from .toy import Sizes, toy_setup


def sweep(space: Workspace, jobs: int, slots: int, overrides: list[str]) -> dict:
    """A Ray sweep of `jobs` equal toy runs (seeds 1..jobs) on `slots` CPU slots.

    Returns makespan / (sum of job times / slots), the job time being each run's span in
    result.json (run.main start to end); the makespan is the sweep command's wall time, so Ray's
    start and each fresh worker's imports count against the fan-out.
    """
    runs = space.fresh_runs()
    seeds = ",".join(str(seed) for seed in range(1, jobs + 1))
    argv = [str(BIN / "tlc-train"), "-m", "hydra/launcher=gpus", "hydra.launcher.gpus_per_job=0",
            f"hydra.launcher.cpu_slots={slots}", "hydra.launcher.cpus_per_job=1", "experiment=fanout",
            f"seed={seeds}", *overrides]
    run = run_command(argv, {**space.env, "TLC_RUNS_ROOT": str(runs)})
    results = [json.loads(p.read_text()) for p in runs.rglob("result.json")]
    if len(results) != jobs:
        raise BenchError(f"the fan-out sweep finished {len(results)} of {jobs} runs:\n{run.tail()}")
    spans = [(r["placement"]["started_at"], r["placement"]["finished_at"]) for r in results]
    job_seconds = [end - start for start, end in spans]
    ideal = sum(job_seconds) / slots
    jobs_span = max(end for _, end in spans) - min(start for start, _ in spans)
    return {"jobs": jobs, "slots": slots, "makespan_seconds": run.seconds, "job_seconds": job_seconds,
            "ratio": run.seconds / ideal, "jobs_only_ratio": jobs_span / ideal, "goal": 1.10,
            # where the rest of the makespan went: before the first run started, after the last ended
            "first_start_seconds": min(start for start, _ in spans) - run.started_at,
            "after_last_seconds": run.started_at + run.seconds - max(end for _, end in spans)}


def run(space: Workspace, sizes: Sizes, report: dict) -> dict:
    toy_setup(space)  # the data exists before the jobs start, so no job waits on its lock
    tiny = ["task=toy_mt", "model.width=32", "model.depth=1", "logger=none", "num_workers=0",
            sizes.job_budget, *NO_EVAL]
    return sweep(space, sizes.jobs, sizes.slots, tiny)

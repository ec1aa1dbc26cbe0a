"""The fan-out section: K equal toy runs on S CPU slots with hydra/launcher=gpus (Ray),
makespan / (sum of job times / S), goal <= 1.05, over repeated sweeps; and where the rest of the
makespan went: before the first run, between a run and the next on its slot, after the last.
Each sweep runs as one `tlc-train -m` command; this module must not import torch or fairseq.

Then Ray alone (ray_floor.py) in the same shape, tasks that sleep as long as the jobs ran: the part
of the ratio that Ray's start, its fresh workers and its shutdown take whatever the jobs are.
"""
from __future__ import annotations

import heapq
import json
import os
import statistics
import sys
from types import SimpleNamespace

from .runs import BIN, NO_EVAL, BenchError, Workspace, run_command
from .stats import interval
from .toy import TINY_JOB, Sizes, toy_setup


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
    return makespan_shares(run.seconds, run.started_at, spans, slots)


def makespan_shares(seconds: float, started_at: float, spans: list[tuple[float, float]], slots: int) -> dict:
    """The ratio of a command that took `seconds` from `started_at` (unix) to run jobs over `spans`
    (unix start, end) on `slots`, and where the rest of its makespan went."""
    job_seconds = [end - start for start, end in spans]
    ideal = sum(job_seconds) / slots
    jobs_span = max(end for _, end in spans) - min(start for start, _ in spans)
    return {"jobs": len(spans), "slots": slots, "makespan_seconds": seconds, "job_seconds": job_seconds,
            "ratio": seconds / ideal, "jobs_only_ratio": jobs_span / ideal,
            # where the rest of the makespan went: before the first run started, between a run's end
            # and the start of the next on its slot (a fresh worker's start), after the last ended
            "first_start_seconds": min(start for start, _ in spans) - started_at,
            "job_gap_seconds": slot_gaps(spans, slots),
            "after_last_seconds": started_at + seconds - max(end for _, end in spans)}


def ray_floor(space: Workspace, jobs: int, slots: int, seconds: float) -> dict:
    """Ray alone in a fresh process: `jobs` tasks that sleep `seconds` each, with the arguments the
    `gpus` launcher gives ray.init and ray.remote for CPU slots of one CPU."""
    from hydra_plugins.tlc_launchers._ray_launch import OBJECT_STORE_BYTES, QUIET_INIT, remote_options
    from hydra_plugins.tlc_launchers.ray_resources import CPU_SLOT

    cores = os.cpu_count() or 1  # as _ray_launch.start_ray declares CPUs for cpus_per_job=1
    init = {**QUIET_INIT, "address": "local", "resources": {CPU_SLOT: slots}, "num_cpus": max(cores, slots),
            "object_store_memory": OBJECT_STORE_BYTES}
    remote = remote_options(SimpleNamespace(cpus_per_job=1, gpus_per_job=0), {CPU_SLOT: slots}, {})
    settings = {"init": init, "remote": remote, "jobs": jobs, "seconds": seconds}
    run = run_command([sys.executable, "-m", "scripts.bench.ray_floor", json.dumps(settings)], space.env)
    printed = [line for _, line in run.lines if line.startswith('{"spans"')]
    if not printed:
        raise BenchError(f"the Ray-alone sweep printed no spans:\n{run.tail()}")
    spans = [tuple(span) for span in json.loads(printed[-1])["spans"]]
    return makespan_shares(run.seconds, run.started_at, spans, slots)


def slot_gaps(spans: list[tuple[float, float]], slots: int) -> list[float]:
    """For each run after the first `slots`, its start minus the end of the run whose slot it took
    (the earliest end not yet taken)."""
    ordered = sorted(spans)
    free = sorted(end for _, end in ordered[:slots])
    gaps = []
    for start, end in ordered[slots:]:
        gaps.append(start - heapq.heappop(free))
        heapq.heappush(free, end)
    return gaps


def run(space: Workspace, sizes: Sizes, report: dict) -> dict:
    toy_setup(space)  # the data exists before the jobs start, so no job waits on its lock
    sweeps = []
    for _ in range(sizes.sweeps):
        sweeps.append(sweep(space, sizes.jobs, sizes.slots, [*TINY_JOB, sizes.job_budget, *NO_EVAL]))
        print(f"  sweep {len(sweeps)} of {sizes.sweeps}: {sweeps[-1]['ratio']:.3f}", flush=True)

    floor_seconds = statistics.fmean(seconds for s in sweeps for seconds in s["job_seconds"])
    floors = []
    for _ in range(sizes.sweeps):
        floors.append(ray_floor(space, sizes.jobs, sizes.slots, floor_seconds))
        print(f"  Ray alone {len(floors)} of {sizes.sweeps}: {floors[-1]['ratio']:.3f}", flush=True)
    return {"jobs": sizes.jobs, "slots": sizes.slots, "goal": 1.05, "sweeps": sweeps, **summary(sweeps),
            "ray_alone": {"task_seconds": floor_seconds, "sweeps": floors, **summary(floors)}}


def summary(sweeps: list[dict]) -> dict:
    """The ratio's mean and interval over `sweeps`, and the means of the makespan's breakdown."""

    def mean(key: str) -> float:
        return statistics.fmean(s[key] for s in sweeps)

    gaps = [gap for s in sweeps for gap in s["job_gap_seconds"]]
    return {"ratio": mean("ratio"), "interval": interval([s["ratio"] for s in sweeps]),
            "jobs_only_ratio": mean("jobs_only_ratio"), "first_start_seconds": mean("first_start_seconds"),
            "job_gap_seconds": statistics.fmean(gaps) if gaps else None,
            "after_last_seconds": mean("after_last_seconds")}

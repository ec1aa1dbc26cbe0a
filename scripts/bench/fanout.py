"""The fan-out section: K equal toy runs on S CPU slots with hydra/launcher=gpus (Ray),
makespan / (sum of job times / S), goal <= 1.05, over repeated sweeps; and where the rest of the
makespan went: before the first run, between a run and the next on its slot, after the last.
Each sweep runs as one `tlc-train -m` command; this module must not import torch or fairseq.
"""
from __future__ import annotations

import heapq
import json
import statistics

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
    job_seconds = [end - start for start, end in spans]
    ideal = sum(job_seconds) / slots
    jobs_span = max(end for _, end in spans) - min(start for start, _ in spans)
    gaps = slot_gaps(spans, slots)
    return {"jobs": jobs, "slots": slots, "makespan_seconds": run.seconds, "job_seconds": job_seconds,
            "ratio": run.seconds / ideal, "jobs_only_ratio": jobs_span / ideal,
            # where the rest of the makespan went: before the first run started, between a run's end
            # and the start of the next on its slot (a fresh worker's start), after the last ended
            "first_start_seconds": min(start for start, _ in spans) - run.started_at,
            "job_gap_seconds": gaps, "after_last_seconds": run.started_at + run.seconds - max(end for _, end in spans)}


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

    def mean(key: str) -> float:
        return statistics.fmean(s[key] for s in sweeps)

    ratios = [s["ratio"] for s in sweeps]
    gaps = [gap for s in sweeps for gap in s["job_gap_seconds"]]
    return {"jobs": sizes.jobs, "slots": sizes.slots, "goal": 1.05, "sweeps": sweeps,
            "ratio": mean("ratio"), "interval": interval(ratios),
            "jobs_only_ratio": mean("jobs_only_ratio"), "first_start_seconds": mean("first_start_seconds"),
            "job_gap_seconds": statistics.fmean(gaps) if gaps else None, "after_last_seconds": mean("after_last_seconds")}

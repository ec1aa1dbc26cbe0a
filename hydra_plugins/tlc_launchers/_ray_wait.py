"""Waiting for the jobs of a Ray sweep: each job's state, the state lines, and the stall report.

Each job runs as a Ray streaming generator (`_ray_launch.run_one`): it yields STARTED as soon
as its worker has begun it, then its JobReturn. So the driver learns that a job is running from
Ray itself, at no cost: no Ray state API (it needs the dashboard, which the launcher leaves off;
`ray.util.state.list_tasks` then raises ServerUnavailable on Ray 2.60), no extra actor, no
marker files. While waiting it logs one line per change of the counts and a heartbeat at most
once a minute (job_states), and, when jobs are pending and none has run for `stall_after_s`,
what one job asks for and what the cluster has (`report_stall`).
Must not import train_large.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import ray
from hydra.core.utils import JobReturn

from .job_states import PENDING, RUNNING, StallWatch, StateLines
from .outcomes import JobOutcome, failed_return

log = logging.getLogger(__name__)

STARTED = "started"  # what a job's generator yields first, from inside its worker
TICK_S = 5.0  # the longest ray.wait between two looks at the clock (heartbeat, stall report)


@dataclass(frozen=True)
class Job:
    """One submitted job of the batch."""
    index: int  # Hydra's job number in the sweep
    overrides: list[str]
    run_dir: Path
    finished_before: bool  # its result.json existed before the launch


Classify = Callable[[Job, Optional[JobReturn], Optional[BaseException]], JobOutcome]


def wait_all(gens: Sequence[Any], jobs: Sequence[Job], classify: Classify, stall: StallWatch,
             report_stall: Callable[[float], None]) -> tuple[list[JobReturn], list[JobOutcome]]:
    """Every job's JobReturn and outcome, in launch order, logging the state lines meanwhile; a job
    whose worker died gets a FAILED JobReturn.

    `gens`: the jobs' ObjectRefGenerators; `classify(job, return or None, error or None)`: its
    outcome once it is over; `report_stall(waited_s)`: says why jobs wait (see StallWatch).
    """
    states = [PENDING] * len(gens)
    returns: list[Optional[JobReturn]] = [None] * len(gens)
    outcomes: list[Optional[JobOutcome]] = [None] * len(gens)
    lines = StateLines()
    waiting = list(range(len(gens)))
    while True:
        counts = Counter(states)
        line = lines.update(counts)
        if line:
            log.info(line)
        waited = stall.due(counts[PENDING], counts[RUNNING])
        if waited is not None:
            report_stall(waited)
        if not waiting:
            return returns, outcomes  # type: ignore[return-value]
        for i in ready(gens, waiting):
            try:
                item = ray.get(next(gens[i]))
            except (ray.exceptions.RayError, StopIteration) as err:  # worker crashed or was killed
                error = err if isinstance(err, ray.exceptions.RayError) else RuntimeError("ended without a result")
                returns[i] = failed_return(jobs[i].overrides, jobs[i].run_dir, error)
                outcomes[i] = classify(jobs[i], None, error)
            else:
                if item == STARTED:
                    states[i] = RUNNING
                    continue
                returns[i] = item
                outcomes[i] = classify(jobs[i], item, None)
            states[i] = outcomes[i].status  # type: ignore[union-attr]
            waiting.remove(i)


def ready(gens: Sequence[Any], waiting: list[int]) -> list[int]:
    """The waiting jobs with something new to read: at least one, unless TICK_S passes first."""
    pending = [gens[i] for i in waiting]
    first, rest = ray.wait(pending, num_returns=1, timeout=TICK_S)
    if not first:
        return []
    more, _ = ray.wait(rest, num_returns=len(rest), timeout=0) if rest else ([], [])
    found = {id(gen) for gen in first + more}
    return [i for i in waiting if id(gens[i]) in found]


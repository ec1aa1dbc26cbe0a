"""Fault points: the moments where a kill can hurt a run, named so `scripts/fault_inject.py` can
SIGKILL it exactly there (a kill at a random time almost never lands in a millisecond-long write):

- `update`: an update has changed the model, but is not counted, logged or saved yet;
- `validation`: a validation record is in metrics.jsonl, but no checkpoint has seen it;
- `checkpoint`: a checkpoint is fully written to its temporary file, not yet renamed into place;
- `result`: the same for result.json, the run's completion marker.

With TLC_FAULT_PAUSE=<point>:<n>, the n-th arrival at <point> in this process prints
`tlc-fault: paused at <point> <n>` to stderr and sleeps; without it, `reached` is one dictionary
lookup. Must not import torch, fairseq or wandb.
"""
from __future__ import annotations

import os
import sys
import time
from collections import Counter

ENV = "TLC_FAULT_PAUSE"
POINTS = ("update", "validation", "checkpoint", "result")
PAUSE_SECONDS = 60.0  # long enough for any injector to kill; a run nobody kills carries on after it
MARKER = "tlc-fault: paused at"

# Arrivals are counted per process on purpose: the injector asks for "the n-th checkpoint write of
# this attempt", and each attempt is a fresh process.
_arrivals: Counter[str] = Counter()


def parse(spec: str) -> tuple[str, int]:
    """`checkpoint:2` -> ("checkpoint", 2); ValueError unless `<point>:<n>` with a known point and n >= 1."""
    point, _, count = spec.partition(":")
    if point not in POINTS or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{ENV}={spec!r} is not <point>:<n> with point one of {', '.join(POINTS)} and n >= 1")
    return point, int(count)


def reached(point: str) -> None:
    """Mark that the run is at `point`; pause there when the environment asks for this arrival."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    _arrivals[point] += 1
    wanted, count = parse(spec)
    if point == wanted and _arrivals[point] == count:
        print(f"{MARKER} {point} {count}", file=sys.stderr, flush=True)
        time.sleep(PAUSE_SECONDS)

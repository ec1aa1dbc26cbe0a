"""The startup section: seconds from the command to the first update (imports, config, data, model,
optimizer), tlc-train against fairseq-train on the overhead section's runs; the first update's own
time; what tlc-train imports (-X importtime) and whether it loads wandb, ray, submitit or
matplotlib. Without the overhead section in the same run, pairs of its runs of its own, as many
but of STANDALONE_UPDATES updates each: the start, not the updates, is what is timed.

Must not import torch or fairseq: the runs are subprocesses.
"""
from __future__ import annotations

import statistics
from dataclasses import replace

from .overhead import toy_pairs
from .runs import Workspace
from .stats import interval
from .toy import Sizes


def median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def interval_or_none(values: list[float | None]) -> dict | None:
    return interval(values) if any(v is not None for v in values) else None


STANDALONE_UPDATES = 8
# A record after every update, so the first follows the first update (which tells when it began)
# however fast that update is.
STANDALONE_LOG_EVERY = "budget.log_every_seconds=0.001"


def run(space: Workspace, sizes: Sizes, report: dict) -> dict:
    pairs = (report["sections"].get("overhead", {}).get("pairs")
             or toy_pairs(space, replace(sizes, pair_updates=min(sizes.pair_updates, STANDALONE_UPDATES)),
                          sizes.pairs, STANDALONE_LOG_EVERY)["pairs"])
    unprofiled = [p["tlc"] for p in pairs if "imports" not in p["tlc"]] or [p["tlc"] for p in pairs]
    tlc = [t["startup_seconds"] for t in unprofiled]
    plain = [p["fairseq"]["startup_seconds"] for p in pairs]
    first = [t["first_update_seconds"] for t in unprofiled]
    # tlc-train / fairseq-train per pair (the pair whose tlc-train ran under -X importtime left out)
    ratios = [p["tlc"]["startup_seconds"] / p["fairseq"]["startup_seconds"] for p in pairs
              if "imports" not in p["tlc"] and p["tlc"]["startup_seconds"] and p["fairseq"]["startup_seconds"]]
    return {"tlc_train_seconds": median(tlc), "fairseq_train_seconds": median(plain),
            "first_update_seconds": median(first),
            # the same over the runs, mean and 95% interval (the -X importtime run left out of tlc-train's)
            "tlc_train": interval_or_none(tlc), "fairseq_train": interval_or_none(plain),
            "first_update": interval_or_none(first), "imports": pairs[0]["tlc"]["imports"],
            "ratio": interval_or_none(ratios), "goal": 1.0}

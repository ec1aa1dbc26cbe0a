"""The toy runs the CPU sections measure, and how big each section's runs are (quick or full).
Must not import torch or fairseq at import time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .runs import Workspace

# The toy run the CPU sections measure: the toy twins' translation model at width 64.
TOY = ["task=toy_mt", "model.width=64", "model.depth=2", "logger=none", "device=cpu"]
# One job of a benchmarked sweep (fan-out, SLURM): the smallest toy model, no data-loader workers.
TINY_JOB = ["task=toy_mt", "model.width=32", "model.depth=1", "logger=none", "num_workers=0"]


@dataclass(frozen=True)
class Sizes:
    pairs: int  # overhead: tlc-train / fairseq-train pairs
    pair_updates: int  # overhead: updates per run (within the first epoch: 394 updates)
    jobs: int  # fan-out: equal runs in the sweep
    sweeps: int  # fan-out: sweeps timed (the ratio's interval is over them)
    slots: int  # fan-out: CPU slots they share
    job_budget: str  # fan-out: each run's budget
    toy_seconds: float  # eval share and clock: the toy presets' budget
    throughput_seconds: float  # device: seconds of updates timed per model
    toy_tasks: tuple[str, ...]  # eval share: toy presets measured
    toy_eval: tuple[str, ...]  # eval share: overrides of their default eval settings
    cpu_models: int  # device: how many of CPU_MODELS
    report_runs: int  # report: finished runs tlc-report reads
    report_repeats: int  # report: timed tlc-report commands
    self_tests: int  # device: repeats of the clock check's self-test (about 0.3 s each on CPU)
    prepare_lines: int  # prepare: translation pairs and masked-LM text lines of the synthetic corpora


# full: the toy presets at their sweep budget (sweeps/toy_*.yaml: 20 s) and default eval settings;
# quick: the smallest runs that still go through every step (two validations, BLEU on 50 sentences).
QUICK_EVAL = ("budget.eval_every_seconds=2", "task.eval.bleu_sentences=50", "task.eval.test_sentences=50")
# full: 10 overhead pairs, about 65 s each on 2 cores, keep the whole run near 15 minutes. On a
# machine shared at load average 3 the pairs' ratios spread from 0.72 to 1.48 and the ratio's
# interval came out +-16% wide (scripts/results/bench_cpu.json); only a quieter machine, not a few
# more pairs, brings it within the 1% the goal needs.
SIZES = {"quick": Sizes(1, 8, 2, 1, 2, "budget.max_updates=2", 3, 2, ("toy_mt",), QUICK_EVAL, 1, 20, 1, 2, 20_000),
         "full": Sizes(10, 150, 4, 3, 2, "budget.train_seconds=60", 20, 10, ("toy_mt", "toy_mlm", "toy_cls"), (), 2,
                       200, 5, 5, 1_000_000)}


def toy_setup(space: Workspace, *overrides: str) -> tuple[Any, Any]:
    """The composed toy config (TOY, then `overrides`) on the workspace's data, and that data
    (generated on first use)."""
    from train_large.cli import compose_train
    from train_large.data.datasets import ensure_dataset

    given = {o.partition("=")[0] for o in overrides}
    cfg = compose_train([f"paths.data_root={space.data}", *(o for o in TOY if o.partition("=")[0] not in given),
                         *overrides])
    return cfg, ensure_dataset(cfg.task)

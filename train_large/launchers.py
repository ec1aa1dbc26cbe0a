"""Launcher settings checked at the door: the values of `hydra/launcher=gpus` and `=slurm`.

Hydra only builds the launcher once a multirun starts, and then reports a bad value as a
multi-line error with a stack trace hint (or, for SLURM, sbatch refuses the array). Checking the
composed `hydra.launcher` node here turns each bad value into one line before anything starts.
Must not import fairseq, wandb, Ray or submitit.
"""
from __future__ import annotations

from typing import Any

# The least value each counted setting may take, by the launcher class (`_target_`'s last part).
# None values mean "the cluster's or Ray's default" and are always fine.
MINIMUMS: dict[str, dict[str, tuple[int, str]]] = {
    "GpuLauncher": {  # hydra_plugins/tlc_launchers/gpu_launcher.py
        "gpus_per_job": (0, "GPUs per job; 0 = CPU jobs"),
        "num_gpus": (0, "GPUs a Ray started here declares"),
        "cpu_slots": (1, "jobs at once without GPUs"),
        "cpus_per_job": (0, "CPU cores each job reserves"),
    },
    "SlurmLauncher": {  # hydra-submitit-launcher's SlurmQueueConf
        "timeout_min": (1, "minutes per attempt"),
        "nodes": (1, "nodes per run"),
        "tasks_per_node": (1, "processes per node"),
        "gpus_per_node": (0, "GPUs per run"),
        "cpus_per_task": (1, "CPU cores per run"),
        "mem_gb": (1, "GB of memory per node"),
        "array_parallelism": (1, "runs at once"),
        "signal_delay_s": (0, "seconds of warning before the time limit"),
        "max_num_timeout": (0, "requeues after a timeout"),
    },
}


def launcher_problems(launcher: Any) -> list[str]:
    """One line per `hydra.launcher` value below its minimum; [] for launchers not listed."""
    target = str(launcher.get("_target_", "")) if launcher is not None else ""
    minimums = MINIMUMS.get(target.rpartition(".")[2], {})
    problems = []
    for key, (least, meaning) in minimums.items():
        value = launcher.get(key)
        if isinstance(value, int) and value < least:
            problems.append(f"hydra.launcher.{key}={value} must be >= {least} ({meaning})")
    return problems

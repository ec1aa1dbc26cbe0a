"""Launcher settings checked at the door: the values of `hydra/launcher=gpus` and `=slurm`.

Hydra only builds the launcher once a multirun starts, and then reports a bad value as a
multi-line error with a stack trace hint (or, for SLURM, sbatch refuses the array). Checking the
composed `hydra.launcher` node here turns each bad value into one line before anything starts.
For SLURM it also asks `sinfo` whether any node of the partition can hold one run
(`slurm_partition`): otherwise sbatch accepts the array and it pends forever.
Must not import fairseq, wandb, Ray or submitit.
"""
from __future__ import annotations

from typing import Any, Callable

from .slurm_partition import Node, partition_problems, read_nodes

# The least value each counted setting may take, by the launcher class (`_target_`'s last part).
# None values mean "the cluster's or Ray's default" and are always fine.
MINIMUMS: dict[str, dict[str, tuple[int, str]]] = {
    "GpuLauncher": {  # hydra_plugins/tlc_launchers/gpu_launcher.py
        "gpus_per_job": (0, "GPUs per job; 0 = CPU jobs"),
        "num_gpus": (0, "GPUs a Ray started here declares"),
        "cpu_slots": (1, "jobs at once without GPUs"),
        "cpus_per_job": (0, "CPU cores each job reserves"),
        "stall_after_s": (0, "seconds with jobs pending and none running before saying why; 0 = never"),
    },
    "SlurmLauncher": {  # hydra_plugins/tlc_launchers/slurm_launcher.py (hydra-submitit-launcher's SlurmQueueConf)
        "timeout_min": (1, "minutes per attempt"),
        "nodes": (1, "nodes per run"),
        "tasks_per_node": (1, "processes per node"),
        "gpus_per_node": (0, "GPUs per run"),
        "cpus_per_task": (1, "CPU cores per run"),
        "mem_gb": (1, "GB of memory per node"),
        "array_parallelism": (1, "runs at once"),
        "signal_delay_s": (0, "seconds of warning before the time limit"),
        "max_num_timeout": (0, "requeues after a timeout"),
        "poll_s": (1, "seconds between squeue calls"),
        "heartbeat_s": (1, "seconds between state lines"),
    },
}


def launcher_problems(launcher: Any, slurm_nodes: Callable[[], list[Node] | None] = read_nodes) -> list[str]:
    """One line per `hydra.launcher` value below its minimum, or else, for SLURM, per setting no
    node of the partition can give; [] for launchers not listed.

    `slurm_nodes()`: the cluster's nodes (`sinfo`), None where it cannot say.
    """
    target = str(launcher.get("_target_", "")) if launcher is not None else ""
    launcher_class = target.rpartition(".")[2]
    problems = []
    for key, (least, meaning) in MINIMUMS.get(launcher_class, {}).items():
        value = launcher.get(key)
        if isinstance(value, (int, float)) and value < least:
            problems.append(f"hydra.launcher.{key}={value} must be >= {least} ({meaning})")
    if launcher_class == "SlurmLauncher" and not problems:
        problems = partition_problems(launcher, slurm_nodes())
    return problems

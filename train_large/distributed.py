"""Data-parallel runs: one process per GPU (or per CPU slot, for tests).

Two ways in. On one machine, the process that `tlc-train` started spawns `world_size` workers.
Under SLURM with several tasks (`hydra.launcher.tasks_per_node`), srun has already started one
process per task: each joins from SLURM's variables (rank SLURM_PROCID of
SLURM_STEP_NUM_TASKS, rendezvous on the job's first node), across nodes too. Either way every
process joins one torch.distributed process group (NCCL on CUDA, gloo on CPU), and fairseq's
trainer shards the data and averages gradients across them. Rank 0 alone writes records,
checkpoints and result.json; the other ranks only train. Must not import fairseq or wandb.
"""
from __future__ import annotations

import datetime
import logging
import os
import socket
import subprocess
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from .console import console_filter

# Rank 0 validates and checkpoints while the other ranks wait at their next gradient
# all-reduce; a long BLEU decode must not look like a dead peer.
PEER_TIMEOUT = datetime.timedelta(hours=3)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def spawn(worker: Callable[..., Any], world_size: int, device: str, log_file: Path, *args: Any) -> None:
    """Run `worker(rank, world_size, device, *args)` in `world_size` fresh processes; wait for all.

    Raises:
        torch.multiprocessing.ProcessRaisedException: a worker failed (its traceback is in it).
    """
    mp.spawn(_join, args=(worker, world_size, device, free_port(), log_file, args), nprocs=world_size, join=True)


def _join(rank: int, worker: Callable[..., Any], world_size: int, device: str, port: int, log_file: Path,
          args: tuple) -> None:
    _log_to(log_file, rank)
    if device == "cuda":
        torch.cuda.set_device(rank)
    dist.init_process_group("nccl" if device == "cuda" else "gloo", init_method=f"tcp://127.0.0.1:{port}",
                            rank=rank, world_size=world_size, timeout=PEER_TIMEOUT)
    try:
        worker(rank, world_size, device, *args)
        # Gloo aborts a rank ("terminate called without an active exception") whose peer tore the
        # group down while its own background work was still in flight: leave together. Not after
        # a failure, where the peer may never arrive.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _log_to(log_file: Path, rank: int) -> None:
    """A spawned process starts without Hydra's logging: rank 0 appends to the run's log file."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    formatter = logging.Formatter(f"[%(asctime)s][rank {rank}][%(name)s][%(levelname)s] - %(message)s")
    terminal = logging.StreamHandler()
    terminal.addFilter(console_filter())  # the terminal gets what Hydra's job logging lets through
    handlers: list[logging.Handler] = [terminal]
    if rank == 0:
        handlers.append(logging.FileHandler(log_file))
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)


def rank0_reading(device: str) -> Callable[[float], float]:
    """A clock `agree` function: every process takes rank 0's training seconds."""

    def agree(seconds: float) -> float:
        value = torch.tensor([seconds], dtype=torch.float64, device="cuda" if device == "cuda" else "cpu")
        dist.broadcast(value, src=0)
        return float(value.item())

    return agree


def slurm_task() -> tuple[int, int, int] | None:
    """(rank, world size, local rank) when srun runs this run as one process per task, else None."""
    tasks = int(os.environ.get("SLURM_STEP_NUM_TASKS", "1") or 1)
    if tasks <= 1 or "SLURM_PROCID" not in os.environ:
        return None
    return int(os.environ["SLURM_PROCID"]), tasks, int(os.environ.get("SLURM_LOCALID", "0"))


def slurm_rendezvous() -> str:
    """The same address for every task of the job: its first node, a port derived from the job id."""
    nodes = subprocess.run(["scontrol", "show", "hostnames", os.environ["SLURM_JOB_NODELIST"]],
                           capture_output=True, text=True, check=True).stdout.split()
    return f"tcp://{nodes[0]}:{20000 + int(os.environ['SLURM_JOB_ID']) % 20000}"


def join_slurm(worker: Callable[..., Any], device: str, *args: Any) -> Any:
    """Run `worker(rank, world_size, device, *args)` as this SLURM task's rank; return its value."""
    rank, world_size, local_rank = slurm_task()  # type: ignore[misc]
    if device == "cuda":  # one GPU per task, or all of the node's GPUs visible to each task
        torch.cuda.set_device(local_rank if torch.cuda.device_count() > local_rank else 0)
    dist.init_process_group("nccl" if device == "cuda" else "gloo", init_method=slurm_rendezvous(),
                            rank=rank, world_size=world_size, timeout=PEER_TIMEOUT)
    try:
        value = worker(rank, world_size, device, *args)
        dist.barrier()  # leave together, as in _join
        return value
    finally:
        dist.destroy_process_group()

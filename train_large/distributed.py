"""Data-parallel runs: one process per GPU (or CPU slot, for tests) in one torch.distributed group,
spawned here on one machine or started by srun under SLURM (across nodes too). Rank 0 alone
writes records, checkpoints and result.json. Must not import fairseq or wandb."""
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

# The other ranks wait at their next all-reduce while rank 0 validates: a long BLEU decode is no dead peer.
PEER_TIMEOUT = datetime.timedelta(hours=3)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def spawn(worker: Callable[..., Any], world_size: int, device: str, log_file: Path, *args: Any) -> None:
    """Run `worker(rank, world_size, device, *args)` in `world_size` fresh processes and wait; a failed
    worker raises torch.multiprocessing.ProcessRaisedException."""
    mp.spawn(_join, args=(worker, world_size, device, free_port(), log_file, args), nprocs=world_size, join=True)


def _join(rank: int, worker: Callable[..., Any], world_size: int, device: str, port: int, log_file: Path,
          args: tuple) -> None:
    _log_to(log_file, rank)
    if device == "cuda":
        torch.cuda.set_device(rank)
    _in_process_group(f"tcp://127.0.0.1:{port}", rank, world_size, device, worker, args)


def _in_process_group(init_method: str, rank: int, world_size: int, device: str, worker: Callable[..., Any],
                      args: tuple) -> Any:
    dist.init_process_group("nccl" if device == "cuda" else "gloo", init_method=init_method,
                            rank=rank, world_size=world_size, timeout=PEER_TIMEOUT)
    try:
        value = worker(rank, world_size, device, *args)
        # Gloo aborts a rank ("terminate called without an active exception") whose peer tore the group
        # down with its work in flight: leave together. Not after a failure: the peer may never arrive.
        dist.barrier()
        return value
    finally:
        dist.destroy_process_group()


def _log_to(log_file: Path, rank: int) -> None:
    """A spawned process starts without Hydra's logging: rank 0 appends to the run's log file."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    formatter = logging.Formatter(f"[%(asctime)s][rank {rank}][%(name)s][%(levelname)s] - %(message)s")
    terminal = logging.StreamHandler()
    terminal.addFilter(console_filter())  # the terminal gets what Hydra's job logging lets through
    for handler in [terminal, *([logging.FileHandler(log_file)] if rank == 0 else [])]:
        handler.setFormatter(formatter)
        root.addHandler(handler)


def rank0_reading(device: str) -> Callable[[float], float]:
    """A clock `agree` function: every process takes rank 0's training seconds."""

    def agree(seconds: float) -> float:
        value = torch.tensor([seconds], dtype=torch.float64, device="cuda" if device == "cuda" else "cpu")
        dist.broadcast(value, src=0)
        return float(value.item())

    return agree


def any_process(requested: Callable[[], bool], device: str) -> Callable[[], bool]:
    """A stop check true in every data-parallel process when true in any (an all-reduce: every
    process calls it once per update)."""

    def agreed() -> bool:
        flag = torch.tensor([1 if requested() else 0], dtype=torch.int32, device="cuda" if device == "cuda" else "cpu")
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    return agreed


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
    return _in_process_group(slurm_rendezvous(), rank, world_size, device, worker, args)

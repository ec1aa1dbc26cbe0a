"""Data-parallel runs on one node: one process per GPU (or per CPU slot, for tests).

The process that `tlc-train` started spawns `world_size` workers, each joins one
torch.distributed process group (NCCL on CUDA, gloo on CPU), and fairseq's trainer then shards
the data and averages gradients across them. Rank 0 alone writes records, checkpoints and
result.json; the other ranks only train. Must not import fairseq or wandb.
"""
from __future__ import annotations

import datetime
import logging
import socket
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

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
    finally:
        dist.destroy_process_group()


def _log_to(log_file: Path, rank: int) -> None:
    """A spawned process starts without Hydra's logging: rank 0 appends to the run's log file."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    formatter = logging.Formatter(f"[%(asctime)s][rank {rank}][%(name)s][%(levelname)s] - %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
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

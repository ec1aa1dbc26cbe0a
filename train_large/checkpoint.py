"""Checkpoints: atomic save, trusted load.

A checkpoint holds the engine state (weights, optimizer, schedule, data position), the training
clock, the number of records already in metrics.jsonl and the resolved config. It is written to
a temporary name and renamed, so a kill never leaves a half-written file that looks complete.
Must not import fairseq or wandb.
"""
from __future__ import annotations

import io
from pathlib import Path

import torch

from .rundir import CHECKPOINT_DIR, atomic_write_bytes

LAST = "last.pt"
BEST = "best.pt"


def checkpoint_path(run_dir: Path, name: str = LAST) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / name


def best_or_last(run_dir: Path) -> Path | None:
    """The run's best checkpoint, else its last one, else None (no validation has finished yet)."""
    return next((path for path in (checkpoint_path(run_dir, BEST), checkpoint_path(run_dir)) if path.is_file()),
                None)


def save_checkpoint(path: Path, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint this harness wrote.

    torch >= 2.6 defaults to weights_only=True, which refuses the plain-Python state inside ours
    (iterator and clock dicts, numpy scalars from fairseq's optimizer). These files are our own,
    written by `save_checkpoint`, so they are loaded in full here, explicitly and only here.

    Raises:
        ValueError: the file is truncated or not a checkpoint; the message names the file.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a damaged file
        raise ValueError(f"checkpoint {path} is unreadable ({type(err).__name__}: {err}); "
                         f"delete it to restart this run from scratch") from err
    if not isinstance(state, dict) or "engine" not in state:
        raise ValueError(f"checkpoint {path} was not written by tlc-train; delete it or pick another run dir")
    return state

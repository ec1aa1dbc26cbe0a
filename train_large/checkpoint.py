"""Checkpoints: atomic save, safe load. Must not import fairseq or wandb.

Every file is loaded with `weights_only=True`, ours included: a marker inside a file cannot make
it safe to unpickle, since `torch.load` has run the pickle before the marker can be read. So we
save tensors and plain values only, and read the marker (`HARNESS_KEY`) after a safe load."""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import torch

from .rundir import CHECKPOINT_DIR, CorruptFile, atomic_write_bytes

LAST = "last.pt"
BEST = "best.pt"
HARNESS_KEY = "written_by"
HARNESS = "train-large-then-compress"


class UnsafeCheckpoint(CorruptFile):
    """A file that would run code, or import arbitrary objects, if it were unpickled."""


def checkpoint_path(run_dir: Path, name: str = LAST) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / name


def best_or_last(run_dir: Path) -> Path | None:
    """The run's best checkpoint, else its last one, else None (no validation has finished yet)."""
    return next((path for path in (checkpoint_path(run_dir, BEST), checkpoint_path(run_dir)) if path.is_file()),
                None)


def save_checkpoint(path: Path, state: dict) -> None:
    """Write `state` (with the harness marker) atomically; TypeError if it holds an object only full
    unpickling could restore (a harness bug)."""
    buffer = io.BytesIO()
    torch.save({**state, HARNESS_KEY: HARNESS}, buffer)
    buffer.seek(0)
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(buffer)
    if unsafe:
        raise TypeError(f"refusing to write {path}: it would hold {', '.join(unsafe)}, which a safe load "
                        "(weights_only=True) rejects; store tensors and plain values only")
    atomic_write_bytes(path, buffer.getvalue(), fault_point="checkpoint")


def check_checkpoint(path: Path) -> None:
    """CorruptFile unless `path` is whole (a truncated archive lacks its directory, at the end),
    UnsafeCheckpoint if it would run code; its tensors are not read."""
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except (RuntimeError, OSError, ValueError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        raise _damaged(path, err) from err
    if unsafe:
        raise _unsafe(path, ", ".join(unsafe))


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint of `save_checkpoint` without running code from it. Raises UnsafeCheckpoint
    or CorruptFile (truncated, not a checkpoint, or not written by this harness)."""
    state = _safe_load(path)
    if not isinstance(state, dict) or state.get(HARNESS_KEY) != HARNESS:
        raise CorruptFile(f"{path} was not written by this harness (no {HARNESS_KEY}={HARNESS} marker); "
                          "give a run directory that tlc-train trained, or delete the file")
    return state


def read_saved_config(path: Path) -> dict | None:
    """The resolved config a checkpoint was saved with (tensors memory-mapped, never read); raises as
    `load_checkpoint`."""
    state = _safe_load(path, mmap=True)
    config = state.get("config") if isinstance(state, dict) else None
    return config if isinstance(config, dict) else None


def _safe_load(path: Path, mmap: bool | None = None) -> object:
    """Raises UnsafeCheckpoint or CorruptFile, one line naming the file and what to do."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:  # what weights_only raises for a global it does not allow
        try:  # the globals its pickle would import, read from its opcodes (nothing is run)
            names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:  # noqa: BLE001 - only for the message; the load has already been refused
            names = []
        raise _unsafe(path, ", ".join(names) or _first_line(err)) from err
    except Exception as err:  # noqa: BLE001 - torch raises many types for a damaged file
        raise _damaged(path, err) from err


def _damaged(path: Path, err: BaseException) -> CorruptFile:
    return CorruptFile(f"checkpoint {path} is damaged or truncated ({type(err).__name__}: {_first_line(err)}); "
                       f"restore it, or delete it (without {LAST} a run restarts from its start)")


def _unsafe(path: Path, detail: str) -> UnsafeCheckpoint:
    return UnsafeCheckpoint(f"refusing to load {path}: unpickling it could run code ({detail}); tlc-train "
                            "loads tensors and plain values only, so this file was not written by it; "
                            "delete it, or give a run directory that tlc-train trained")


def _first_line(err: BaseException) -> str:
    """The first sentence of an error: torch's go on for a paragraph."""
    text = str(err).strip()
    return text.splitlines()[0].split(". ")[0][:200] if text else type(err).__name__

"""Run directories: identity, atomic writes, the metrics log (the source of truth) and result.json,
written last. A damaged file is a `CorruptFile` error, except a torn last log line (what a kill
mid-write leaves), which the resume repairs. Must not import fairseq or wandb."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from . import faults

METRICS_FILE = "metrics.jsonl"
RESULT_FILE = "result.json"
CHECKPOINT_DIR = "checkpoints"
OUTPUTS_DIR = "outputs"  # saved translations and predictions (train_large.outputs)
TEMPORARY_SUFFIX = ".tmp"

log = logging.getLogger(__name__)


class CorruptFile(ValueError):
    """A run file is damaged; the message is one line naming it and what to do."""


def atomic_write_bytes(path: Path, data: bytes, fault_point: str | None = None) -> None:
    """Write `data` to `path` so a crash leaves either the old file or the new one, never half.
    fault_point: the `train_large.faults` point between the finished temporary file and its rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if fault_point:
            faults.reached(fault_point)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any, fault_point: str | None = None) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode(), fault_point)


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporary files killed writers left (each as large as the model, for a checkpoint).
    Only while no other process writes the run directory: at the run's start, on rank 0."""
    run_dir = Path(run_dir)
    stale = [path for folder in (run_dir, run_dir / CHECKPOINT_DIR, run_dir / OUTPUTS_DIR) if folder.is_dir()
             for path in folder.glob(f".*{TEMPORARY_SUFFIX}") if path.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        log.info("removed %d temporary file(s) an interrupted write left in %s", len(stale), run_dir)
    return stale


def runs_root_problems(runs_root: str) -> list[str]:
    """`paths.runs_root` must be, or be creatable inside, a folder this process may write (checked
    without creating anything: a refused command leaves no folder behind)."""
    path = Path(runs_root).absolute()
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return []
    why = "is not a folder" if not existing.is_dir() else "is not writable"
    return [f"paths.runs_root={runs_root} cannot hold run directories: {existing} {why}; "
            "set paths.runs_root (or TLC_RUNS_ROOT) to a writable folder"]


def run_id(run_dir: Path) -> str:
    """A short id that is the same every time for the same run directory (W&B run id)."""
    return hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:16]


def read_result(run_dir: Path) -> dict | None:
    """The finished run's result, or None; CorruptFile when result.json is not a JSON object."""
    path = Path(run_dir) / RESULT_FILE
    if not path.exists():
        return None
    # result.json is renamed into place whole: damage came from outside, and its checkpoint is still there
    what_to_do = "delete it and run the command that made this run again (training redoes only its final evaluation)"
    try:
        result = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        reason = err.msg if isinstance(err, json.JSONDecodeError) else "not UTF-8 text"
        raise CorruptFile(f"{path} is not valid JSON ({reason}); {what_to_do}") from err
    if not isinstance(result, dict):
        raise CorruptFile(f"{path} holds a JSON {type(result).__name__}, not a result; {what_to_do}")
    return result if result.get("status") == "complete" else None


def write_result(run_dir: Path, result: dict) -> None:
    atomic_write_json(Path(run_dir) / RESULT_FILE, {**result, "status": "complete"}, fault_point="result")


def read_records(path: Path) -> list[dict]:
    """A metrics log's complete records, without a torn last line; CorruptFile for an earlier bad line."""
    return _parse_records(Path(path))[0]


def _parse_records(path: Path) -> tuple[list[dict], int | None]:
    """(complete records, byte offset of a torn last line or None)."""
    data = path.read_bytes() if path.exists() else b""
    records: list[dict] = []
    start = 0
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                if start + len(line) == len(data):  # no newline after it: the write was cut short
                    return records, start
                raise CorruptFile(f"{path}:{number} is not a JSON record ({err}); the log is damaged: "
                                  "restore it, or delete the run directory to train this run again") from err
        start += len(line) + 1
    return records, None


def truncate_records(path: Path, keep: int) -> list[dict]:
    """Keep the first `keep` records (those the checkpoint has seen; the resumed run writes the rest
    again). CorruptFile when the log is damaged or holds fewer."""
    path = Path(path)
    records, torn_at = _parse_records(path)
    if torn_at is not None:
        log.warning("%s: dropped a torn last line (%d bytes) left by an interrupted write", path,
                    path.stat().st_size - torn_at)
    if len(records) < keep:
        raise CorruptFile(f"{path} holds {len(records)} records but the checkpoint was saved after {keep}: "
                          "records were lost; restore the log, or delete the run directory to train this "
                          "run again")
    if len(records) > keep or torn_at is not None:
        write_records(path, records[:keep])
    return records[:keep]


def write_records(path: Path, records: Iterable[dict]) -> None:
    atomic_write_bytes(Path(path), "".join(json.dumps(r) + "\n" for r in records).encode())

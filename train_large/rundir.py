"""Run directories: identity, atomic writes, the metrics log and the completion marker.

A run directory holds `metrics.jsonl` (one JSON record per line, the source of truth),
`checkpoints/`, `outputs/` (the final translations or predictions) and, written last and
atomically, `result.json`. A file found damaged is never used as if it were valid: a torn last
line of the log (what a kill mid-write leaves) is repaired on resume, anything else is a
`CorruptFile` error naming the file and what to do.
Must not import fairseq or wandb.
"""
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

    fault_point: the `train_large.faults` point this write is (checkpoint, result), between the
    finished temporary file and the rename that publishes it.
    """
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
    """Delete the temporary files a killed writer left in a run directory (a kill skips the
    cleanup in `atomic_write_bytes`, and each left-behind checkpoint is as large as the model).

    Only for a run directory that no other process is writing: the run's own start, on rank 0.
    """
    run_dir = Path(run_dir)
    stale = [path for folder in (run_dir, run_dir / CHECKPOINT_DIR, run_dir / OUTPUTS_DIR) if folder.is_dir()
             for path in folder.glob(f".*{TEMPORARY_SUFFIX}") if path.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        log.info("removed %d temporary file(s) an interrupted write left in %s", len(stale), run_dir)
    return stale


def run_id(run_dir: Path) -> str:
    """A short id that is the same every time for the same run directory (W&B run id)."""
    digest = hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()
    return digest[:16]


def read_result(run_dir: Path) -> dict | None:
    """The finished run's result, or None when the run has not completed.

    Raises:
        CorruptFile: result.json exists but is not a JSON object (never treated as complete).
    """
    path = Path(run_dir) / RESULT_FILE
    if not path.exists():
        return None
    # result.json is renamed into place whole, so damage here came from outside the harness
    # (a disk error, a hand edit, a partial copy); the checkpoint it followed is still there.
    what_to_do = "delete it and run the command that made this run again (training redoes only its final evaluation)"
    try:
        result = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        reason = err.msg if isinstance(err, json.JSONDecodeError) else "not UTF-8 text"
        raise CorruptFile(f"{path} is not valid JSON ({reason}); {what_to_do}") from err
    if not isinstance(result, dict):
        raise CorruptFile(f"{path} holds a JSON {type(result).__name__}, not a result; {what_to_do}")
    return result if result.get("status") == "complete" else None


def write_result(run_dir: Path, result: dict) -> Path:
    path = Path(run_dir) / RESULT_FILE
    atomic_write_json(path, {**result, "status": "complete"}, fault_point="result")
    return path


def read_records(path: Path) -> list[dict]:
    """All complete records of a metrics log; a torn trailing line (a kill mid-write, or a line
    being written right now) is left out.

    Raises:
        CorruptFile: a line before the last is not a JSON record (the message names it).
    """
    return _parse_records(Path(path))[0]


def _parse_records(path: Path) -> tuple[list[dict], int | None]:
    """(complete records, byte offset of a torn last line or None)."""
    if not path.exists():
        return [], None
    data = path.read_bytes()
    records: list[dict] = []
    start, number = 0, 0
    while start < len(data):
        end = data.find(b"\n", start)
        line = data[start:] if end < 0 else data[start:end]
        number += 1
        if line.strip():
            try:
                records.append(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                if end < 0:  # no newline after it: the write was cut short
                    return records, start
                raise CorruptFile(f"{path}:{number} is not a JSON record ({err}); the log is damaged: "
                                  "restore it, or delete the run directory to train this run again") from err
        if end < 0:
            break
        start = end + 1
    return records, None


def truncate_records(path: Path, keep: int) -> list[dict]:
    """Keep the first `keep` records of a metrics log (those a checkpoint has seen), drop the rest.

    Records written after the last checkpoint are regenerated by the resumed run; dropping them
    is what keeps the log free of duplicates. A torn last line is dropped with them (logged).

    Raises:
        CorruptFile: the log is damaged, or holds fewer records than the checkpoint has seen.
    """
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

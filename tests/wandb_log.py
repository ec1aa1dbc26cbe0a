"""What an offline W&B run recorded, read back through wandb's own tool, `wandb leet inspect --json`.

The tests' view of W&B: each `.wandb` log under `run_dir/wandb/` is printed by the installed wandb
(one JSON object a record) and folded into an `OfflineRun`. Nothing here parses W&B's binary format.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


def log_records(path: Path) -> list[dict]:
    """Every record of one `.wandb` log, in the order written, each `{"type": ..., <type>: {...}}`.

    A torn tail (a log still being written, or cut) ends the list without the partial record, so a
    finished run's log ends with its `exit` record.

    Raises:
        subprocess.CalledProcessError: if wandb cannot read the log.
    """
    done = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(path)],
                          capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@dataclass
class OfflineRun:
    """What an offline run recorded: its identity, config, history rows and final summary."""

    id: str = ""
    name: str = ""
    group: str = ""
    job_type: str = ""
    project: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    step_metrics: dict[str, str] = field(default_factory=dict)  # define_metric: metric or glob -> its x-axis


def read_offline_run(run_dir: Path) -> OfflineRun:
    """Every offline run under `run_dir/wandb/`, oldest first, as one run.

    A resumed run leaves one `offline-run-<time>-<id>` folder per process, so the history is their
    concatenation and identity comes from the first.

    Raises:
        FileNotFoundError: if there is no offline run under `run_dir/wandb/`.
    """
    paths = sorted(Path(run_dir, "wandb").glob("offline-run-*/run-*.wandb"))
    if not paths:
        raise FileNotFoundError(f"no offline W&B run under {Path(run_dir, 'wandb')}")
    run = OfflineRun()
    for record in (record for path in paths for record in log_records(path)):
        kind, body = record["type"], record.get(record["type"], {})
        if kind == "run" and not run.id:
            run.id, run.name, run.group = (body.get(key, "") for key in ("run_id", "display_name", "run_group"))
            run.job_type, run.project, run.tags = body.get("job_type", ""), body.get("project", ""), body.get("tags", [])
            run.config.update(body.get("config", {}).get("update", {}))
        elif kind == "run":
            run.tags = body.get("tags", [])  # a later run record carries the tags set since
        elif kind == "metric":
            run.step_metrics[body.get("name") or body.get("glob_name")] = body.get("step_metric", "")
        elif kind == "config":
            run.config.update(body.get("update", {}))
        elif kind == "history":
            run.history.append(body.get("item", {}))
        elif kind == "summary":
            run.summary.update(body.get("update", {}))
    run.config.pop("_wandb", None)
    return run


def read_offline_history(run_dir: Path) -> list[dict]:
    """The history rows of the offline run under `run_dir/wandb/`, in logging order."""
    return read_offline_run(run_dir).history

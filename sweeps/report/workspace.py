"""A saved W&B workspace with the paper's panels, built with `wandb-workspaces`:

- per training metric, the valid curve against training seconds (and against FLOPs), one line per
  width (the flat `width` config key every run carries, see train_large/wandb_sink.py);
- per compression metric, the final metric against compressed bytes (summary keys), log bytes.

The spec is always written next to the report (`wandb_workspace.json`), so it can be checked
without a network; it is uploaded only when W&B credentials are set. wandb and wandb_workspaces
are imported inside the functions: a report without --wandb-workspace never loads them.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .collect import Run

WORKSPACE_NAME = "train-large-then-compress"
LOG_METRICS = {"ppl"}


class WorkspaceError(ValueError):
    """A malformed --wandb-workspace argument; the message is the one line shown to the user."""


def parse_target(text: str) -> tuple[str, str]:
    """`entity/project` -> (entity, project).

    Raises:
        WorkspaceError: not two non-empty names separated by one slash.
    """
    entity, sep, project = text.partition("/")
    if not sep or not entity or not project or "/" in project:
        raise WorkspaceError(f"--wandb-workspace {text!r}: expected ENTITY/PROJECT, e.g. "
                             "my-team/train-large-then-compress")
    return entity, project


def build(runs: list[Run], entity: str, project: str, name: str = WORKSPACE_NAME) -> Any:
    """The workspace (a `wandb_workspaces.workspaces.Workspace`) for the metrics these runs have."""
    from .series import finished_compression, finished_training

    with warnings.catch_warnings():
        # wandb-workspaces 0.4.13 declares pydantic-v1-style validators: a deprecation notice per class at import.
        warnings.simplefilter("ignore", DeprecationWarning)
        import wandb_workspaces.reports.v2 as wr
        import wandb_workspaces.workspaces as ws

    training = []
    for metric in sorted({r.metric for r in finished_training(runs)}):
        for x, title in (("train_seconds", "training seconds"), ("flops", "training FLOPs")):
            training.append(wr.LinePlot(title=f"valid {metric} vs {title}, by width", x=x, y=[f"valid/{metric}"],
                                        groupby="width", log_x=x == "flops", log_y=metric in LOG_METRICS,
                                        title_x=title, title_y=f"valid {metric}"))
    compression = []
    for metric in sorted({r.metric for r in finished_compression(runs)}):
        compression.append(wr.ScatterPlot(title=f"{metric} vs compressed bytes", x=wr.SummaryMetric("bytes"),
                                          y=wr.SummaryMetric(f"final/valid_{metric}"), log_x=True,
                                          log_y=metric in LOG_METRICS))
    sections = [ws.Section(name="Training curves (paper: metric vs wall-clock)", panels=training, is_open=True)]
    if compression:
        sections.append(ws.Section(name="Compression (paper: metric vs bytes)", panels=compression, is_open=True))
    return ws.Workspace(entity=entity, project=project, name=name, sections=sections)


def spec(workspace: Any) -> dict:
    """The workspace as the JSON W&B stores (the same document `save()` uploads)."""
    # wandb-workspaces 0.4 has no public serializer; `_to_model` is what its own `save` uses.
    return workspace._to_model().model_dump(by_alias=True, exclude_none=True, mode="json")


def write(workspace: Any, path: Path) -> Path:
    Path(path).write_text(json.dumps(spec(workspace), indent=2, sort_keys=True) + "\n")
    return Path(path)


def upload(workspace: Any) -> str:
    """Saves the workspace to W&B and returns its URL (needs credentials and a network)."""
    saved = workspace.save()
    return str(saved.url)

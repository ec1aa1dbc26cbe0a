"""A run another starts from (a fine-tuning's `init_from`, a compression's `source`), checked before
anything is built: a whole checkpoint that loads without running code. Each refusal is one line
naming the setting and what to do. Must not import fairseq or wandb."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from train_large import checkpoint as ckpt
from train_large.rundir import CorruptFile


class SourceError(ValueError):
    """A bad source run (`init_from`, `source`); the message is one line naming it and what to do."""


@dataclass(frozen=True)
class SourceRun:
    key: str  # the setting that named it: init_from or source
    run_dir: Path
    run_id: str
    checkpoint: Path  # best.pt, else last.pt
    config: dict  # the run's resolved config
    result: Optional[dict] = None  # its result.json, when it has finished

    @property
    def data_dir(self) -> Path:
        return Path(self.config["task"]["data_dir"])


def run_directory(key: str, value: str, wanted: str) -> Path:
    """The run directory `key=value` names, resolved; SourceError (asking for `wanted`) if absent."""
    run_dir = Path(str(value)).expanduser().resolve()
    if not run_dir.is_dir():
        raise SourceError(f"{key}={value} does not exist; give {wanted} (runs/<experiment>/<run name>)")
    return run_dir


def whole_checkpoint(key: str, value: str, run_dir: Path, if_missing: str) -> Path:
    """The run's best checkpoint, else its last, checked whole and safe; SourceError (ending with
    `if_missing`) when there is none or it is damaged or unsafe."""
    checkpoint = ckpt.best_or_last(run_dir)
    if checkpoint is None:
        raise SourceError(f"{key}={value} has no checkpoint ({ckpt.CHECKPOINT_DIR}/{ckpt.BEST} or "
                          f"{ckpt.LAST}); {if_missing}")
    try:
        ckpt.check_checkpoint(checkpoint)
    except CorruptFile as err:
        raise SourceError(f"{key}={value}: {err}") from err
    return checkpoint


def load_weights(source: SourceRun) -> dict:
    """The model weights of the source's checkpoint; SourceError when it is unreadable."""
    try:
        return ckpt.load_checkpoint(source.checkpoint)["engine"]["model"]
    except CorruptFile as err:
        raise SourceError(f"{source.key}={source.run_dir}: {err}") from err

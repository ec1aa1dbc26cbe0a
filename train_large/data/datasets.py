"""Datasets a run can use: a prepared directory, or a toy one generated on first use.

`ensure_dataset` is called before any model is built. A toy task's data is generated once per
data root under a file lock, so concurrent jobs neither race nor regenerate it; a real task's
missing data stops the run with one line saying how to prepare it. Must not import fairseq
directly (preparation reaches it through `train_large.engine.binarize`).
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from filelock import FileLock

from .prepare import PreparedData, load_prepared, prepare_translation
from .toy_mt import write_toy_corpus

log = logging.getLogger(__name__)

_GENERATORS = {"toy_mt": write_toy_corpus}


class DataMissing(ValueError):
    """The task's data directory is absent or incomplete; the message says how to prepare it."""


def is_prepared(data_dir: Path) -> bool:
    return (Path(data_dir) / "prepared.json").exists()


def missing_data(task: Any) -> list[str]:
    """One line if the task needs prepared data that is not there (toy tasks generate theirs)."""
    data_dir = Path(task.data_dir).expanduser().resolve()
    if task.generated or is_prepared(data_dir):
        return []
    hint = f"; prepare it with: {task.prepare_hint}" if task.prepare_hint else ""
    return [f"task.data_dir={data_dir} is not a prepared dataset (no prepared.json){hint}"]


def ensure_dataset(task: Any) -> PreparedData:
    """The prepared dataset for a task config, generating toy data first when needed.

    Raises:
        DataMissing: a non-generated task whose data_dir is not prepared.
    """
    data_dir = Path(task.data_dir).expanduser().resolve()
    if not task.generated:
        problems = missing_data(task)
        if problems:
            raise DataMissing(problems[0])
        return load_prepared(data_dir)
    if not is_prepared(data_dir):
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(data_dir) + ".lock"):
            if not is_prepared(data_dir):  # another job may have finished it while we waited
                generate_dataset(task, data_dir)
    return load_prepared(data_dir)


def generate_dataset(task: Any, data_dir: Path) -> None:
    """Generate a toy corpus as raw text, then prepare it exactly as real text is prepared."""
    if task.name not in _GENERATORS:
        raise DataMissing(f"task.name={task.name!r} has generated=true but no generator; "
                          f"generated tasks: {', '.join(sorted(_GENERATORS))}")
    log.info("generating %s data in %s (once per data root)", task.name, data_dir)
    raw_dir = data_dir / "source"
    if raw_dir.exists():
        shutil.rmtree(raw_dir)  # a half-written earlier attempt
    _GENERATORS[task.name](raw_dir, source_lang=task.source_lang, target_lang=task.target_lang)
    prepare_translation(raw_dir, data_dir, source_lang=task.source_lang, target_lang=task.target_lang,
                        vocab_size=task.vocab_size)

"""Datasets a run can use: a prepared directory, or a toy one generated on first use.

`ensure_dataset` runs before any model is built. Toy data (toy_mt, toy_mlm, and toy_cls, which
first makes sure its `vocab_from` toy_mlm corpus exists, so the two share one dictionary) is
generated once per data root under a file lock, so concurrent jobs neither race nor regenerate
it; a real task's missing data stops the run with one line saying how to prepare it. Must not
import fairseq directly.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from filelock import FileLock

from .prepare import PreparedData, load_prepared, prepare_translation
from .prepare_glue import prepare_glue
from .prepare_mlm import prepare_mlm_corpus
from .toy_mt import write_toy_corpus
from .toy_text import write_toy_cls, write_toy_mlm_corpus

log = logging.getLogger(__name__)


class DataMissing(ValueError):
    """The task's data directory is absent or incomplete; the message says how to prepare it."""


def is_prepared(data_dir: Path) -> bool:
    return (Path(data_dir) / "prepared.json").exists()


def missing_data(task: Any) -> list[str]:
    """One line per missing input: the task's prepared data (toy tasks generate theirs), and the
    pretraining corpus a classification task whose data is missing must be encoded with."""
    data_dir = Path(task.data_dir).expanduser().resolve()
    if task.generated or is_prepared(data_dir):
        return []
    hint = f"; prepare it with: {task.prepare_hint}" if task.prepare_hint else ""
    problems = [f"task.data_dir={data_dir} is not a prepared dataset (no prepared.json){hint}"]
    vocab_from = _vocab_from(task) if getattr(task, "kind", "") == "classification" else None
    if vocab_from is not None and not is_prepared(vocab_from):
        problems.append(f"task.vocab_from={vocab_from} is not a prepared pretraining corpus (no "
                        f"prepared.json); prepare it first with: tlc-prepare mlm "
                        f"--raw-dir RAW --out {vocab_from}")
    return problems


def ensure_dataset(task: Any) -> PreparedData:
    """The prepared dataset for a task config, generating toy data first when needed. DataMissing when
    a non-generated task's data_dir is not prepared, or for toy data an earlier version of its
    generator wrote (refused, never silently reused)."""
    data_dir = Path(task.data_dir).expanduser().resolve()
    if task.generated:
        _generate_once(task, data_dir)
    elif problems := missing_data(task):
        raise DataMissing(problems[0])
    return load_prepared(data_dir)


def _generate_once(task: Any, data_dir: Path) -> None:
    """Generate under a lock beside `data_dir`, unless it is (or meanwhile becomes) prepared."""
    if not is_prepared(data_dir):
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(data_dir) + ".lock"):
            if not is_prepared(data_dir):  # another job may have finished it while we waited
                generate_dataset(task, data_dir)
    found, current = _generator_version(data_dir), _GENERATOR_VERSIONS.get(task.name, 1)
    if found != current:
        raise DataMissing(f"{data_dir} holds {task.name} data from an earlier version of its generator "
                          f"(version {found}, now {current}); delete it and any toy data made from it to "
                          f"generate it afresh, or point paths.data_root at a new directory")


def generate_dataset(task: Any, data_dir: Path) -> None:
    """Generate a toy corpus as raw text, then prepare it exactly as real text is prepared."""
    if task.name not in _GENERATORS:
        raise DataMissing(f"task.name={task.name!r} has generated=true but no generator; "
                          f"generated tasks: {', '.join(sorted(_GENERATORS))}")
    log.info("generating %s data in %s (once per data root)", task.name, data_dir)
    raw_dir = data_dir / "source"
    if raw_dir.exists():
        shutil.rmtree(raw_dir)  # a half-written earlier attempt
    # The marker goes first: prepared.json, written last, then vouches for it.
    data_dir.mkdir(parents=True, exist_ok=True)
    version = {"generator": task.name, "version": _GENERATOR_VERSIONS.get(task.name, 1)}
    (data_dir / _VERSION_FILE).write_text(json.dumps(version) + "\n", encoding="utf-8")
    _GENERATORS[task.name](task, raw_dir, data_dir)


def _generator_version(data_dir: Path) -> int:
    """The version of the generator that wrote a toy dataset; 1 for data from before the marker."""
    try:
        return int(json.loads((data_dir / _VERSION_FILE).read_text(encoding="utf-8"))["version"])
    except FileNotFoundError:
        return 1
    except (ValueError, KeyError, TypeError):
        raise DataMissing(f"{data_dir / _VERSION_FILE} is not a generator marker; delete {data_dir} "
                          f"to generate it afresh") from None


def _vocab_from(task: Any) -> Path | None:
    vocab_from = getattr(task, "vocab_from", None)
    return Path(vocab_from).expanduser().resolve() if vocab_from else None


def _toy_mt(task: Any, raw_dir: Path, data_dir: Path) -> None:
    write_toy_corpus(raw_dir, source_lang=task.source_lang, target_lang=task.target_lang)
    prepare_translation(raw_dir, data_dir, source_lang=task.source_lang, target_lang=task.target_lang,
                        vocab_size=task.vocab_size)


def _toy_mlm(task: Any, raw_dir: Path, data_dir: Path) -> None:
    write_toy_mlm_corpus(raw_dir)
    prepare_mlm_corpus(raw_dir, data_dir, vocab_size=task.vocab_size)


def _toy_cls(task: Any, raw_dir: Path, data_dir: Path) -> None:
    vocab_from = _vocab_from(task)
    if vocab_from is None:
        raise DataMissing("task.vocab_from is not set; toy_cls needs the toy masked-LM corpus "
                          "whose vocabulary encodes it (task.vocab_from=<data_root>/toy_mlm)")
    # The toy pretraining corpus, generated here if no toy_mlm run has made it yet. Its
    # vocab_size is this task's: the toy_cls and toy_mlm presets must agree on it.
    _generate_once(SimpleNamespace(name="toy_mlm", vocab_size=task.vocab_size), vocab_from)
    # The classifier is scored on sentences the pretraining never saw in its valid/test text.
    held_out = [line for split in ("valid", "test")
                for line in (vocab_from / "raw" / f"{split}.txt").read_text(encoding="utf-8").split("\n")]
    write_toy_cls(raw_dir, exclude=held_out)
    prepare_glue("sst2", raw_dir, data_dir, vocab_from=vocab_from)


_GENERATORS: dict[str, Callable[[Any, Path, Path], None]] = {
    "toy_mt": _toy_mt, "toy_mlm": _toy_mlm, "toy_cls": _toy_cls}
# Bumped when what a generator writes changes, so a data root it wrote before is refused instead of
# silently reused. 2: toy_mlm documents keep to one topic, and toy_cls is labelled by topic.
_GENERATOR_VERSIONS = {"toy_mt": 1, "toy_mlm": 2, "toy_cls": 2}
_VERSION_FILE = "generator.json"

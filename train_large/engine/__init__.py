"""The engine: the only package that imports fairseq (training in `core`, binarization in `binarize`)."""
from __future__ import annotations

import logging
import sys
import types
from contextlib import contextmanager
from typing import Iterator, NoReturn

# fairseq's import logs an install hint for tensorboardX, which text tasks never use.
logging.getLogger("fairseq.tasks.text_to_speech").setLevel(logging.WARNING)

# Optional packages fairseq imports at import time for features the engine never turns on:
# wandb for its own progress bar's W&B mode (0.6 s of the 4 s import on 2 CPU cores).
UNUSED_BY_FAIRSEQ = ("wandb",)
# Modules fairseq imports unconditionally but calls only where the engine never goes, and what it
# takes from them: scikit-learn's metrics (0.7 s of imports) serve sentence_prediction's
# report_mcc and report_acc_and_f1 and the audio_classification task; scipy.stats (0.6 s) serves
# its report_pearson_and_spearman. fairseq_args.task_flags sets no --report option. They get
# stand-ins whose functions raise if ever called.
UNCALLED_BY_FAIRSEQ = {"sklearn": ("metrics",), "sklearn.metrics": ("f1_score", "matthews_corrcoef", "roc_curve"),
                       "scipy.stats": ("pearsonr", "spearmanr")}


class UncalledError(RuntimeError):
    """fairseq called into a package that `fairseq_import` replaced by a stand-in."""


def _stand_in(module: str, names: tuple[str, ...]) -> types.ModuleType:
    stand_in = types.ModuleType(module, f"train_large.engine's stand-in for {module}: see UNCALLED_BY_FAIRSEQ")
    for name in names:
        def refuse(*args: object, _name: str = f"{module}.{name}", **kwargs: object) -> NoReturn:
            raise UncalledError(f"fairseq called {_name}, which train_large.engine imports fairseq without "
                                "(UNCALLED_BY_FAIRSEQ); a fairseq option the engine does not set must have been set")
        setattr(stand_in, name, refuse)
    return stand_in


@contextmanager
def fairseq_import() -> Iterator[None]:
    """Import fairseq with the not yet imported packages of UNUSED_BY_FAIRSEQ marked absent (it
    falls back to None for them) and those of UNCALLED_BY_FAIRSEQ replaced by stand-ins, then
    forgotten, so a later `import wandb`, `import sklearn` or `import scipy.stats` loads the real one."""
    hidden = [name for name in UNUSED_BY_FAIRSEQ if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    stand_ins = {} if any(name in sys.modules for name in UNCALLED_BY_FAIRSEQ) else {
        name: _stand_in(name, names) for name, names in UNCALLED_BY_FAIRSEQ.items()}
    for name, stand_in in stand_ins.items():
        package, _, child = name.rpartition(".")
        sys.modules[name] = stand_in
        if package in stand_ins:  # a real parent (scipy) is left untouched: the import finds the child first
            setattr(stand_ins[package], child, stand_in)
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]


def build_engine(*args, **kwargs):
    """`train_large.engine.core.build_engine`, imported lazily: fairseq is slow to import."""
    from .core import build_engine as _build

    return _build(*args, **kwargs)

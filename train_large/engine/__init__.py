"""The engine: the only package that imports fairseq (training in `core`, binarization in `binarize`)."""
from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from typing import Iterator

# fairseq's import logs an install hint for tensorboardX, which text tasks never use.
logging.getLogger("fairseq.tasks.text_to_speech").setLevel(logging.WARNING)

# Optional packages fairseq imports at import time for features the engine never turns on:
# wandb for its own progress bar's W&B mode (0.6 s of the 4 s import on 2 CPU cores).
UNUSED_BY_FAIRSEQ = ("wandb",)


@contextmanager
def fairseq_import() -> Iterator[None]:
    """Import fairseq with the not yet imported packages of UNUSED_BY_FAIRSEQ marked absent (it
    falls back to None for them), then forgotten, so a later `import wandb` loads the real one."""
    hidden = [name for name in UNUSED_BY_FAIRSEQ if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def build_engine(*args, **kwargs):
    """`train_large.engine.core.build_engine`, imported lazily: fairseq is slow to import."""
    from .core import build_engine as _build

    return _build(*args, **kwargs)

"""The engine: the only package that imports fairseq (training in `core`, binarization in `binarize`)."""
from __future__ import annotations

import logging

# fairseq's import logs an install hint for tensorboardX, which text tasks never use.
logging.getLogger("fairseq.tasks.text_to_speech").setLevel(logging.WARNING)


def build_engine(*args, **kwargs):
    """See `train_large.engine.core.build_engine`; imported lazily because fairseq is slow to import."""
    from .core import build_engine as _build

    return _build(*args, **kwargs)

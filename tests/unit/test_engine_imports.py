"""`train_large.engine.fairseq_import`: fairseq's optional imports of packages the engine never
uses are blocked while fairseq imports, and nothing of that outlives the import."""
from __future__ import annotations

import importlib
import sys

import pytest

import train_large.engine as engine

UNUSED = "colorsys"  # a standard-library module nothing here imports: it stands in for wandb


def test_unused_package_is_blocked_during_the_import_then_loads_normally(monkeypatch):
    monkeypatch.delitem(sys.modules, UNUSED, raising=False)
    monkeypatch.setattr(engine, "UNUSED_BY_FAIRSEQ", (UNUSED, "json"))
    import json

    with engine.fairseq_import():
        with pytest.raises(ImportError):
            importlib.import_module(UNUSED)
        assert importlib.import_module("json") is json  # already imported: left alone
    assert UNUSED not in sys.modules
    assert importlib.import_module(UNUSED).hsv_to_rgb(0, 0, 1) == (1, 1, 1)

"""`train_large.engine.fairseq_import`: fairseq's optional imports of packages the engine never
uses are blocked while fairseq imports, those it never calls are stand-ins that raise if called,
and nothing of that outlives the import."""
from __future__ import annotations

import importlib
import subprocess
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


def test_uncalled_modules_are_stand_ins_during_the_import_and_forgotten_after(monkeypatch):
    monkeypatch.setattr(engine, "UNCALLED_BY_FAIRSEQ", {"tlc_absent": ("metrics",),
                                                        "tlc_absent.metrics": ("score",)})
    with engine.fairseq_import():
        from tlc_absent import metrics
        from tlc_absent.metrics import score

        assert metrics.score is score
        with pytest.raises(engine.UncalledError, match=r"fairseq called tlc_absent.metrics.score"):
            score([1], [1])
    assert "tlc_absent" not in sys.modules and "tlc_absent.metrics" not in sys.modules


SKLEARN_AFTER_THE_ENGINE = """
import sys
from train_large.engine import core
from fairseq.criterions import sentence_prediction
from fairseq.tasks import audio_classification
print("sklearn" in sys.modules, "scipy.stats" in sys.modules, sentence_prediction.f1_score.__module__,
      sentence_prediction.pearsonr.__module__, audio_classification.sklearn_metrics.__name__)
import sklearn.metrics
import scipy.stats
print(sklearn.metrics.f1_score([0, 1], [0, 1]), round(scipy.stats.pearsonr([0, 1, 2], [0, 1, 2])[0], 6))
"""


def test_fairseq_loads_without_scikit_learn_or_scipy_stats_and_they_still_import_after():
    from tests.conftest import REPO

    proc = subprocess.run([sys.executable, "-c", SKLEARN_AFTER_THE_ENGINE], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "False", "train_large.engine", "train_large.engine", "sklearn.metrics",
                                   "1.0", "1.0"]


def test_the_engine_never_sets_the_options_that_would_call_scikit_learn_or_scipy():
    from tests.conftest import compose_train
    from train_large.engine.fairseq_args import task_flags

    for task in ("toy_cls", "sst2", "mnli"):
        flags = task_flags(compose_train([f"task={task}", "paths.data_root=/d"]), num_classes=2)
        assert flags[flags.index("--criterion") + 1] == "sentence_prediction"
        assert not [flag for flag in flags if flag.startswith("--report")]

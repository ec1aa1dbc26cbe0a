"""Every toy twin of a paper sweep runs end to end (one swept value each, a few updates), the
fine-tuning twin over the pretraining twin's finished runs through source_sweep."""
from __future__ import annotations

import pytest

from tests.conftest import tlc_train
from train_large.rundir import read_result

pytestmark = pytest.mark.e2e

QUICK = ["budget.max_updates=2", "budget.train_seconds=600", "logger=none", "num_workers=0"]
TWINS = [  # twin, the one value it runs with (a command-line value replaces the swept list)
    ("toy_mt_width", ["model.width=32", "task.eval.bleu_sentences=10", "task.eval.test_sentences=10"]),
    ("toy_mt_depth", ["model.depth=1", "task.eval.bleu_sentences=10", "task.eval.test_sentences=10"]),
    ("toy_roberta_depth", ["model.depth=1"]),
    ("toy_roberta_width", ["model.width=32"]),
    ("toy_batch_size", ["optim.batch_size=32"]),
]


def test_every_toy_twin_runs(tmp_path):
    for twin, value in TWINS:
        proc = tlc_train(tmp_path, "-m", f"+sweep={twin}", *value, *QUICK)
        assert proc.returncode == 0, (twin, proc.stderr[-2000:])
        (run_dir,) = [p for p in (tmp_path / "runs" / twin).iterdir() if (p / ".hydra").is_dir()]
        assert read_result(run_dir)["updates"] == 2, twin
    proc = tlc_train(tmp_path, "-m", "+sweep=toy_finetune", f"source_sweep={tmp_path / 'runs' / 'toy_roberta_width'}",
                     *QUICK)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run_dir,) = [p for p in (tmp_path / "runs" / "toy_finetune").iterdir() if (p / ".hydra").is_dir()]
    result = read_result(run_dir)
    assert result["config"]["model"]["width"] == 32 and result["init_from"].endswith("width=32")

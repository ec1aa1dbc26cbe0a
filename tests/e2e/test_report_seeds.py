"""A toy width sweep in two seeds, trained by the real tlc-train and read by the real tlc-report: each
width is one configuration drawn as a mean with a band, tabled with its n, and claim 1 states its
effect with an interval over the seeds."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import compose_train, subprocess_env, tlc_train
from train_large.data.datasets import ensure_dataset
from train_large.run_names import config_id

pytestmark = pytest.mark.e2e

TLC_REPORT = str(Path(sys.executable).parent / "tlc-report")
SWEEP = ["-m", "experiment=seeds", "model.width=24,32", "seed=1,2", "model.depth=1", "budget.train_seconds=3",
         "budget.eval_every_seconds=1.5", "task.eval.bleu_sentences=10", "task.eval.test_sentences=10",
         "task.eval.beam=1", "task.eval.test_beam=1", "logger=none", "num_workers=0"]


def test_a_two_seed_sweep_reports_bands_replica_counts_and_an_interval(tmp_path):
    ensure_dataset(compose_train([f"paths.data_root={tmp_path / 'data'}"]).task)
    trained = tlc_train(tmp_path, *SWEEP, timeout=600)
    sweep_dir = tmp_path / "runs" / "seeds"
    assert trained.returncode == 0, trained.stderr[-3000:]
    names = [p.parent.name for p in sweep_dir.glob("*/result.json")]
    by_config = Counter(config_id(name) for name in names)
    assert len(names) == 4 and sorted(by_config.values()) == [2, 2]  # two widths, two replicas each

    out = tmp_path / "report"
    proc = subprocess.run([TLC_REPORT, str(sweep_dir), "--claims", "--out", str(out)], env=subprocess_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    report = (out / "report.md").read_text()
    assert "min to max over 2 seeds" in report  # the curve figures' caption names the band and n
    assert (out / "figures" / "seeds_toy_mt_bleu_vs_train_seconds.png").is_file()
    table = report[report.index("Mean over seeds"):]
    assert "width=24" in table and "width=32" in table and "(n=2)" not in table.split("\n")[0]
    claim = report[report.index("### 1."):report.index("### 2.")]
    assert "95% interval" in claim and "n=2" in claim
    assert "claim 1 (" in proc.stdout and "(2 seeds)" in proc.stdout

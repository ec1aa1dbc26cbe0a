"""`scripts/pretrain_vs_scratch.py` runs its three tlc-train jobs per seed and reports them: the
table on stdout and the JSON. A few updates each: the gap itself is tested in test_roberta_toy."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, subprocess_env

pytestmark = pytest.mark.e2e

FEW = ["budget.max_updates=3", "budget.train_seconds=600"]


def test_the_comparison_runs_every_job_and_writes_its_table_and_json(tmp_path):
    out = tmp_path / "pvs.json"
    command = [sys.executable, str(REPO / "scripts" / "pretrain_vs_scratch.py"), "--seeds", "4", "--width", "32",
               "--workdir", str(tmp_path / "work"), "--json", str(out), "--pretrain", *FEW, "--finetune", *FEW]
    proc = subprocess.run(command, env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]

    report = json.loads(out.read_text())
    (row,) = report["runs"]
    assert row["seed"] == 4 and row["mlm_valid_ppl"] > 1
    for init in ("pretrained", "scratch"):
        assert set(row[init]) == {"valid", "test"} and all(0 <= acc <= 1 for acc in row[init].values())
    assert report["mean_gap"] == report["min_gap"] == pytest.approx(row["pretrained"]["valid"] - row["scratch"]["valid"])
    header, line = proc.stdout.splitlines()[:2]
    assert header.split()[:3] == ["seed", "mlm", "ppl"] and line.split()[0] == "4"
    runs = {path.parent.parent.name for path in (tmp_path / "work" / "runs").glob("*/*/result.json")}
    assert runs == {"mlm_seed4", "pretrained_seed4", "scratch_seed4"}
    sources = {json.loads(path.read_text())["init_from"]
               for path in (tmp_path / "work" / "runs").glob("*_seed4/*/result.json")}
    assert len(sources - {None}) == 1  # the pretrained fine-tune names its source; the rest none


def test_a_bad_fine_tuning_override_is_one_line_before_any_job_runs(tmp_path):
    command = [sys.executable, str(REPO / "scripts" / "pretrain_vs_scratch.py"), "--workdir", str(tmp_path / "work"),
               "--json", str(tmp_path / "pvs.json"), "--finetune", "model.widht=3"]
    proc = subprocess.run(command, env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("pretrain_vs_scratch: error: --finetune: model.widht is not a setting; did you mean "
                                  "model.width?") and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "work").exists() and not (tmp_path / "pvs.json").exists()

"""Real text through the whole path: Tatoeba En-Fr -> prepare -> tlc-train -> BLEU on the untouched
references, recomputed by the sacrebleu CLI from the saved translations.

Uses ../shared/data, which users do not have: skips cleanly when it is absent.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, subprocess_env
from train_large.rundir import read_records

pytestmark = pytest.mark.e2e

TATOEBA = SHARED_DATA / "tatoeba-en-fr-18k.tsv"
BIN = Path(sys.executable).parent


@pytest.mark.skipif(not TATOEBA.exists(), reason=f"{TATOEBA} is absent (shared data lives outside the repo)")
def test_prepared_real_text_trains_and_scores_bleu(tmp_path):
    data_dir = tmp_path / "tatoeba"
    prepare = subprocess.run([str(BIN / "tlc-prepare"), "translation", "--tsv", str(TATOEBA),
                              "--valid", "300", "--test", "300", "--raw-dir", str(tmp_path / "raw"),
                              "--out", str(data_dir), "--src", "en", "--tgt", "fr", "--vocab-size", "2000"],
                             cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True)
    assert prepare.returncode == 0, prepare.stderr[-2000:]
    train = subprocess.run([str(BIN / "tlc-train"), "task=translation", f"task.data_dir={data_dir}",
                            "experiment=tatoeba", "model.width=64", "model.depth=1", "optim=toy",
                            "budget.max_updates=30", "task.eval.bleu_sentences=50", "logger=none"],
                           env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert train.returncode == 0, train.stderr[-3000:]
    (result_path,) = (tmp_path / "runs" / "tatoeba").glob("*/result.json")
    result = json.loads(result_path.read_text())
    assert result["updates"] == 30 and result["final"]["test"]["bleu_sentences"] == 300
    test = [r for r in read_records(result_path.parent / "metrics.jsonl") if r["kind"] == "test"][0]
    assert test["sacrebleu_signature"].startswith("nrefs:1") and test["ppl"] < 2000
    # the final BLEU is against the test references as split from the TSV, recomputable from the files
    assert test["references"] == "untouched" and test["references_file"] == str(data_dir / "untouched" / "test.fr")
    assert (data_dir / "untouched" / "test.fr").read_bytes() == (tmp_path / "raw" / "test.fr").read_bytes()
    printed = subprocess.run([str(BIN / "sacrebleu"), test["references_file"], "-i", test["hypotheses_file"],
                              "-m", "bleu", "-b", "-w", "4", "--tokenize", "13a"],
                             capture_output=True, text=True, check=True)
    assert printed.stdout.strip() == f"{test['bleu']:.4f}" and test["bleu"] == result["final"]["test"]["bleu"]

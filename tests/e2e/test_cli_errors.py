"""Bad input through the real CLI: exit 2, one line on stderr naming the setting, no traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import subprocess_env

pytestmark = pytest.mark.e2e

TLC_TRAIN = str(Path(sys.executable).parent / "tlc-train")

CASES = [
    (["model.width=130", "model.heads=4"], "model.width=130 is not divisible by model.heads=4"),
    (["budget.train_seconds=0"], "budget.train_seconds=0.0 must be > 0"),
    (["task=wmt15"], "task=wmt15 is not a known task; choose one of:"),
    (["precision=fp16", "device=cpu"], "precision=fp16 needs a CUDA device"),
    (["task=wmt14_en_fr"], "prepare_wmt14_en_fr.sh"),
]


@pytest.mark.parametrize("overrides,expected", CASES, ids=[c[0][0] for c in CASES])
def test_bad_input_exits_2_with_one_line(tmp_path, overrides, expected):
    proc = subprocess.run([TLC_TRAIN, *overrides, "logger=none"], env=subprocess_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "data" / "toy_mt").exists()  # nothing heavy started


SWEEP_AND_TYPO_CASES = [
    (["model.widht=64"], "model.widht is not a setting; did you mean model.width?"),
    (["model.width=abc"], "model.width: Value 'abc' of type 'str' could not be converted to Integer"),
    (["-m", "model.width=64,130", "model.heads=4"], "model.width=130 is not divisible by model.heads=4"),
]


@pytest.mark.parametrize("overrides,expected", SWEEP_AND_TYPO_CASES, ids=["typo", "type", "sweep"])
def test_typos_types_and_bad_sweep_values_fail_before_any_job(tmp_path, overrides, expected):
    proc = subprocess.run([TLC_TRAIN, *overrides, "logger=none"], env=subprocess_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert not (tmp_path / "runs").exists()  # not even the valid first job of the sweep ran

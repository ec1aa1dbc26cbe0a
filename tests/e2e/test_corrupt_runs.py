"""The real CLIs meet damaged and planted files: each stops with one line naming the file and what to
do (exit status 2, no traceback) before any data or model is built, and a planted pickle payload
given as `init_from` or as a compress source never runs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import subprocess_env, tlc_train
from tests.unit.test_checkpoint_safety import plant_payload
from tests.unit.test_corrupt_files import truncated_checkpoint
from train_large.run_names import run_name

pytestmark = pytest.mark.e2e

TLC_COMPRESS = str(Path(sys.executable).parent / "tlc-compress")
RUN = ["experiment=corrupt", "model.width=32", "model.depth=1", "logger=none"]


def one_error_line(proc: subprocess.CompletedProcess, program: str) -> str:
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith(f"{program}: error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    return errors[0]


@pytest.mark.parametrize("damaged", ["checkpoints/last.pt", "result.json"])
def test_a_damaged_run_file_stops_tlc_train_with_one_line(tmp_path, damaged):
    run_dir = tmp_path / "runs" / "corrupt" / run_name(RUN)
    if damaged == "result.json":
        run_dir.mkdir(parents=True)
        (run_dir / "result.json").write_text('{"status": "complete", "final": {"bl')
    else:
        truncated_checkpoint(run_dir / damaged)
    line = one_error_line(tlc_train(tmp_path, *RUN), "tlc-train")
    assert str(run_dir / damaged) in line and "delete it" in line
    assert not (tmp_path / "data").exists()  # stopped before the toy data was generated


def test_a_planted_payload_as_init_from_or_compress_source_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    source = tmp_path / "runs" / "pretrain" / "width=32"
    plant_payload(source / "checkpoints" / "best.pt", marker)
    config = {"task": {"name": "toy_mt", "kind": "masked_lm", "data_dir": str(tmp_path / "data"), "generated": True},
              "model": {"arch": "roberta", "width": 32, "depth": 1, "heads": 1, "ffn": 128, "norm": "pre",
                        "max_positions": 512}}
    (source / "result.json").write_text(json.dumps({"status": "complete", "config": config}))

    line = one_error_line(tlc_train(tmp_path, "task=toy_cls", f"init_from={source}", "logger=none"), "tlc-train")
    assert f"init_from={source}: refusing to load {source / 'checkpoints' / 'best.pt'}" in line
    compress = subprocess.run([TLC_COMPRESS, f"source={source}", "compression=prune", "compression.sparsity=0.5",
                               "logger=none"], env=subprocess_env(tmp_path), capture_output=True, text=True,
                              timeout=300)
    line = one_error_line(compress, "tlc-compress")
    assert f"refusing to load {source / 'checkpoints' / 'best.pt'}" in line
    assert not marker.exists()

"""Toy data is generated once per data root, even when several jobs start at the same moment."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e

SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
from tests.conftest import compose_train
from train_large.data.datasets import ensure_dataset
data = ensure_dataset(compose_train([f"paths.data_root={sys.argv[1]}"]).task)
print("LINES", data.lines["train"])
"""


def test_concurrent_jobs_generate_toy_data_once(tmp_path):
    root = tmp_path / "data"
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(root)], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert sum(out.count("generating toy_mt data") for out in outputs) == 1
    assert all("LINES 40000" in out for out in outputs)
    assert (root / "toy_mt" / "prepared.json").exists()


def test_generated_toy_data_is_deterministic(tmp_path):
    from tests.conftest import compose_train
    from train_large.data.datasets import ensure_dataset

    first = ensure_dataset(compose_train([f"paths.data_root={tmp_path / 'a'}"]).task)
    second = ensure_dataset(compose_train([f"paths.data_root={tmp_path / 'b'}"]).task)
    for name in ("bin/dict.fr.txt", "bin/valid.en-fr.fr.bin", "bin/train.en-fr.en.bin", "raw/test.fr"):
        assert (first.data_dir / name).read_bytes() == (second.data_dir / name).read_bytes(), name

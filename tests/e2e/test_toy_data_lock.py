"""Toy data generation is deterministic. That it happens once per data root when several jobs start at
the same moment is tested with eight real jobs in tests/e2e/test_concurrent_jobs.py."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_generated_toy_data_is_deterministic(tmp_path):
    from tests.conftest import compose_train
    from train_large.data.datasets import ensure_dataset

    first = ensure_dataset(compose_train([f"paths.data_root={tmp_path / 'a'}"]).task)
    second = ensure_dataset(compose_train([f"paths.data_root={tmp_path / 'b'}"]).task)
    for name in ("bin/dict.fr.txt", "bin/valid.en-fr.fr.bin", "bin/train.en-fr.en.bin", "raw/test.fr"):
        assert (first.data_dir / name).read_bytes() == (second.data_dir / name).read_bytes(), name

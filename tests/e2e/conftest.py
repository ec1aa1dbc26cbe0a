"""Fixtures shared by the end-to-end tests: one generated toy dataset for the whole session."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import compose_train
from train_large.data.datasets import ensure_dataset


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory) -> Path:
    """A root whose data/ holds the toy translation data, generated once (as a data root is in real
    use); each test keeps its runs apart by its own `experiment=`."""
    root = tmp_path_factory.mktemp("toy")
    ensure_dataset(compose_train([f"paths.data_root={root / 'data'}"]).task)
    return root

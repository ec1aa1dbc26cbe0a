"""Checkpoint loading never runs code from the file: a planted pickle payload is refused by name and
never executes, whether it is a run's own checkpoint, an `init_from` source or a compress source.
The harness recognises its own files by the marker it writes, not by their path."""
from __future__ import annotations

import argparse
import json
import pathlib
from pathlib import Path

import pytest
import torch

from compress.checkpoint import load_compressed
from compress.source import SourceError as CompressSourceError
from compress.source import find_source as find_compress_source
from train_large.checkpoint import (HARNESS, HARNESS_KEY, UnsafeCheckpoint, check_checkpoint, load_checkpoint,
                                    save_checkpoint)
from train_large.pretrained import SourceError, find_source
from train_large.rundir import CorruptFile


class Payload:
    """Unpickling this calls Path.touch(marker): the stand-in for any code a pickle can run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def plant_payload(path: Path, marker: Path, *, with_marker: bool = True) -> Path:
    """A checkpoint-shaped file whose unpickling would create `marker`; it even carries the harness
    marker, as a forger would copy it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"engine": {"model": {"w": torch.zeros(2)}, "hook": Payload(marker)}}
    if with_marker:
        state[HARNESS_KEY] = HARNESS
    torch.save(state, path)
    return path


def test_the_payload_really_runs_when_fully_unpickled(tmp_path):
    """The fixture is live: torch.load(weights_only=False) would have run it."""
    marker = tmp_path / "ran"
    torch.load(plant_payload(tmp_path / "p.pt", marker), weights_only=False)
    assert marker.exists()


def test_a_planted_payload_is_refused_and_never_runs_even_with_the_marker(tmp_path):
    marker = tmp_path / "ran"
    path = plant_payload(tmp_path / "checkpoints" / "last.pt", marker)
    for load in (load_checkpoint, check_checkpoint):
        with pytest.raises(UnsafeCheckpoint) as refused:
            load(path)
        message = str(refused.value)
        assert str(path) in message and "pathlib" in message and "\n" not in message
    assert not marker.exists()


def test_a_payload_as_init_from_or_compress_source_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"
    run_dir = tmp_path / "runs" / "pretrain"
    plant_payload(run_dir / "checkpoints" / "best.pt", marker)
    config = {"task": {"name": "toy_mlm", "kind": "masked_lm", "data_dir": str(tmp_path / "data")}, "model": {}}
    (run_dir / "result.json").write_text(json.dumps({"status": "complete", "config": config}))
    with pytest.raises(SourceError, match=r"init_from=.*refusing to load .*best\.pt"):
        find_source(str(run_dir))
    with pytest.raises(CompressSourceError, match=r"source=.*refusing to load .*best\.pt"):
        find_compress_source(str(run_dir))
    with pytest.raises(ValueError, match="refusing to load"):
        load_compressed(plant_payload(tmp_path / "compressed.pt", marker))
    assert not marker.exists()


def test_own_checkpoints_carry_the_marker_and_load_safely(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"engine": {"model": {"w": torch.ones(3)}, "iterator": {"epoch": 2}}, "clock": {}})
    assert check_checkpoint(path) is None
    state = torch.load(path, weights_only=True)  # nothing beyond tensors and plain values
    assert state[HARNESS_KEY] == HARNESS and torch.equal(load_checkpoint(path)["engine"]["model"]["w"], torch.ones(3))


def test_a_safe_file_without_the_marker_is_not_taken_for_a_harness_checkpoint(tmp_path):
    path = tmp_path / "best.pt"
    torch.save({"engine": {"model": {"w": torch.ones(1)}}}, path)  # the right shape, another writer
    with pytest.raises(CorruptFile, match=f"was not written by this harness .*{HARNESS_KEY}"):
        load_checkpoint(path)


def test_the_harness_refuses_to_write_what_it_could_not_load_safely(tmp_path):
    path = tmp_path / "last.pt"
    with pytest.raises(TypeError, match="argparse.Namespace"):
        save_checkpoint(path, {"engine": {"args": argparse.Namespace(arch="transformer")}})
    assert not path.exists() and list(tmp_path.iterdir()) == []

"""last.pt and best.pt stay consistent through a kill between their writes: best.pt never holds
weights from a validation that metrics.jsonl does not hold (train_large.run.Checkpoints)."""
from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import FakeTime
from train_large import checkpoint as ckpt
from train_large.clock import TrainingClock
from train_large.loop import Progress
from train_large.run import Checkpoints


class TinyEngine:
    def __init__(self, value: float) -> None:
        self.model = torch.nn.Linear(2, 2)
        torch.nn.init.constant_(self.model.weight, value)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict()}


CFG = OmegaConf.create({"task": {"kind": "translation"}})


def checkpoints(run_dir, engine, progress) -> Checkpoints:
    return Checkpoints(CFG, run_dir, engine, TrainingClock(now=FakeTime()), progress, enabled=True)


def test_a_best_validation_writes_last_then_best(tmp_path):
    progress = Progress(updates=4)
    progress.note_validation({"bleu": 5.0}, 5.0, best=True)
    checkpoints(tmp_path, TinyEngine(1.0), progress).save()
    best = ckpt.load_checkpoint(ckpt.checkpoint_path(tmp_path, ckpt.BEST))
    assert best["updates"] == 4 and best["metrics"] == {"bleu": 5.0}
    assert ckpt.load_checkpoint(ckpt.checkpoint_path(tmp_path))["progress"]["best_updates"] == 4


def test_a_kill_between_last_and_best_is_completed_by_the_resume(tmp_path, monkeypatch):
    old = Progress(updates=2)
    old.note_validation({"bleu": 3.0}, 3.0, best=True)
    checkpoints(tmp_path, TinyEngine(0.0), old).save()  # an earlier best, at update 2

    progress = Progress(updates=4)
    progress.note_validation({"bleu": 5.0}, 5.0, best=True)
    real_save = ckpt.save_checkpoint

    def killed_before_best(path, state):
        if path.name == ckpt.BEST:
            raise KeyboardInterrupt("killed")  # the process dies between the two writes
        real_save(path, state)

    monkeypatch.setattr(ckpt, "save_checkpoint", killed_before_best)
    with pytest.raises(KeyboardInterrupt):
        checkpoints(tmp_path, TinyEngine(1.0), progress).save()
    monkeypatch.setattr(ckpt, "save_checkpoint", real_save)
    assert ckpt.load_checkpoint(ckpt.checkpoint_path(tmp_path, ckpt.BEST))["updates"] == 2  # stale

    state = ckpt.load_checkpoint(ckpt.checkpoint_path(tmp_path))  # the resume
    resumed = TinyEngine(float("nan"))
    resumed.model.load_state_dict(state["engine"]["model"])
    checkpoints(tmp_path, resumed, Progress(**state["progress"])).save_best()
    best = ckpt.load_checkpoint(ckpt.checkpoint_path(tmp_path, ckpt.BEST))
    assert best["updates"] == 4 and best["metrics"] == {"bleu": 5.0}
    assert torch.equal(best["engine"]["model"]["weight"], torch.ones(2, 2))


def test_a_resume_after_a_later_checkpoint_leaves_best_alone(tmp_path):
    progress = Progress(updates=2)
    progress.note_validation({"bleu": 3.0}, 3.0, best=True)
    checkpoints(tmp_path, TinyEngine(0.0), progress).save()
    progress.updates = 6  # a periodic checkpoint later on: best.pt is already written
    checkpoints(tmp_path, TinyEngine(1.0), progress).save()
    best_path = ckpt.checkpoint_path(tmp_path, ckpt.BEST)
    before = best_path.read_bytes()
    state = ckpt.load_checkpoint(ckpt.checkpoint_path(tmp_path))
    checkpoints(tmp_path, TinyEngine(1.0), Progress(**state["progress"])).save_best()
    assert best_path.read_bytes() == before

"""W&B absent or failing never stops training: the failure is one warning, metrics.jsonl stays whole.

The real `WandbSink` runs against a `wandb` module whose `init` (or its run's `log`) is replaced,
and once against the real `wandb.init` in online mode without an API key; nothing reaches the
network. The JSONL sink is the source of truth: its failure must still stop the run.
"""
from __future__ import annotations

import logging

import pytest
import wandb

from tests.conftest import compose_train
from tests.memory_sink import MemorySink
from train_large.rundir import read_records
from train_large.sinks import JsonlSink, fan_out
from train_large.wandb_sink import WandbSink

RECORDS = [{"kind": "train", "train_seconds": float(i), "wall_seconds": i + 0.5, "updates": i, "tokens": 100 * i,
            "loss": 5.0 - i} for i in range(1, 6)]


@pytest.fixture(autouse=True)
def no_wandb_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """No API key anywhere W&B looks (environment, netrc, settings), and W&B's files under tmp_path."""
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT", "WANDB_RUN_ID",
                 "WANDB_RESUME", "WANDB_DIR"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NETRC", str(home / ".netrc"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(home / "wandb"))


def open_wandb(run_dir, mode="offline"):
    return lambda: WandbSink(run_dir=run_dir, run_id="guardtest", name="guard", group="unit", job_type="train",
                             project="tlc-test", entity=None, mode=mode, tags=[], config={})


def wandb_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "W&B" in r.getMessage()]


def log_all(sinks) -> None:
    for record in RECORDS:
        sinks.log(record)
    sinks.summary({"final/valid_loss": 1.0})
    sinks.close()


def refuse_init(*args, **kwargs):
    raise RuntimeError("wandb-core did not start")


def test_wandb_init_raising_leaves_local_records_and_one_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(wandb, "init", refuse_init)
    sinks = fan_out(JsonlSink(tmp_path / "metrics.jsonl"), {"W&B": open_wandb(tmp_path)})
    log_all(sinks)
    assert len(sinks.sinks) == 1  # only the JSONL sink is left
    assert read_records(tmp_path / "metrics.jsonl") == RECORDS
    (warning,) = wandb_warnings(caplog)
    assert warning.startswith("W&B unavailable (RuntimeError: wandb-core did not start)")


class BrokenRun:
    """A W&B run whose every call after init fails, as when wandb-core dies mid-run."""

    def __init__(self) -> None:
        self.log_calls = 0
        self.summary: dict = {}

    def define_metric(self, *args, **kwargs) -> None:
        pass

    def log(self, metrics, step=None) -> None:
        self.log_calls += 1
        raise ConnectionResetError("wandb-core went away")

    def finish(self) -> None:
        raise ConnectionResetError("wandb-core went away")


def test_a_log_call_raising_is_reported_once_not_per_step(tmp_path, monkeypatch, caplog):
    run = BrokenRun()
    monkeypatch.setattr(wandb, "init", lambda *args, **kwargs: run)
    sinks = fan_out(JsonlSink(tmp_path / "metrics.jsonl"), {"W&B": open_wandb(tmp_path)})
    log_all(sinks)
    assert run.log_calls == 1  # off after its first failure: no retry per step, no finish()
    assert read_records(tmp_path / "metrics.jsonl") == RECORDS
    (warning,) = wandb_warnings(caplog)
    assert "W&B sink failed in log (ConnectionResetError: wandb-core went away)" in warning


def test_online_mode_without_an_api_key_falls_back_to_local_records(tmp_path, caplog):
    sinks = fan_out(JsonlSink(tmp_path / "metrics.jsonl"), {"W&B": open_wandb(tmp_path, mode="online")})
    log_all(sinks)
    assert read_records(tmp_path / "metrics.jsonl") == RECORDS
    (warning,) = wandb_warnings(caplog)
    assert warning.startswith("W&B unavailable (UsageError:") and "API key" in warning


def test_no_api_key_in_auto_mode_writes_an_offline_run(tmp_path, caplog):
    sinks = fan_out(JsonlSink(tmp_path / "metrics.jsonl"), {"W&B": open_wandb(tmp_path, mode="auto")})
    assert len(sinks.sinks) == 2 and sinks.sinks[1].inner.mode == "offline"
    log_all(sinks)
    assert wandb_warnings(caplog) == []
    assert list((tmp_path / "wandb").glob("offline-run-*"))


def test_wandb_core_exiting_with_an_error_at_close_is_one_warning(tmp_path, monkeypatch, caplog):
    real_teardown = wandb.teardown

    def teardown_then_exit(exit_code=None):
        real_teardown(exit_code)
        raise SystemExit(1)  # what wandb.teardown does when wandb-core exits with status 1

    monkeypatch.setattr(wandb, "teardown", teardown_then_exit)
    sinks = fan_out(JsonlSink(tmp_path / "metrics.jsonl"), {"W&B": open_wandb(tmp_path, mode="offline")})
    log_all(sinks)
    assert read_records(tmp_path / "metrics.jsonl") == RECORDS
    (warning,) = wandb_warnings(caplog)
    assert "W&B service exited with status 1 at close" in warning


class FailingTruth(MemorySink):
    def log(self, record: dict) -> None:
        raise OSError(28, "No space left on device")


def test_a_failing_metrics_log_stops_the_run(tmp_path):
    memory = MemorySink()
    sinks = fan_out(FailingTruth(), {"other": lambda: memory})
    with pytest.raises(OSError, match="No space left"):
        sinks.log(RECORDS[0])


def test_the_training_and_compression_runs_open_wandb_behind_the_guard(tmp_path, monkeypatch, caplog):
    from compress.cli import compose_compress
    from train_large.core.run_records import open_sinks

    monkeypatch.setattr(wandb, "init", refuse_init)
    train = open_sinks(compose_train([f"paths.runs_root={tmp_path}"]), tmp_path / "train", "train", "train")
    compress = open_sinks(compose_compress([f"source={tmp_path}"]), tmp_path / "compress", "compress", "compress")
    for sinks in (train, compress):
        assert [type(s).__name__ for s in sinks.sinks] == ["JsonlSink"]
        log_all(sinks)
    assert read_records(tmp_path / "train" / "metrics.jsonl") == RECORDS
    assert read_records(tmp_path / "compress" / "metrics.jsonl") == RECORDS
    assert len(wandb_warnings(caplog)) == 2  # one per run

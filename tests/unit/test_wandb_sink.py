"""The W&B sink, offline only: what it writes is read back through `wandb leet inspect` as the oracle.

Every test runs with WANDB_API_KEY unset and mode "offline", so nothing can reach the network.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.report_runs import rising, write_training_run
from tests.wandb_log import log_records, read_offline_history, read_offline_run
from train_large.rundir import run_id as run_id_of
from train_large.wandb_sink import WandbSink, resolve_mode

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def offline_wandb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT", "WANDB_RUN_ID",
                 "WANDB_RESUME", "WANDB_DIR", "WANDB_RUN_GROUP", "WANDB_JOB_TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))


def open_sink(run_dir: Path, run_id: str) -> WandbSink:
    return WandbSink(run_dir=run_dir, run_id=run_id, name=f"name-{run_id}", group="width64",
                     job_type="train", project="tlc-test", entity=None, mode="offline",
                     tags=["unit"], config={"model": {"width": 64}, "budget": {"train_seconds": 5}})


def train_record(updates: int, train_seconds: float, loss: float) -> dict:
    return {"kind": "train", "train_seconds": train_seconds, "wall_seconds": train_seconds + 1.5,
            "updates": updates, "tokens": updates * 1000, "loss": loss, "ppl": 2 ** loss}


def valid_record(updates: int, train_seconds: float, bleu: float) -> dict:
    return {"kind": "valid", "train_seconds": train_seconds, "wall_seconds": train_seconds + 2.0,
            "updates": updates, "tokens": updates * 1000, "loss": 2.0, "bleu": bleu,
            "eval_seconds": 0.3, "sacrebleu_signature": "nrefs:1|case:mixed|tok:13a|version:2.6.0"}


@pytest.mark.parametrize(("mode", "environ", "expected"), [
    ("auto", {"WANDB_API_KEY": "k" * 40}, "online"),
    ("auto", {}, "offline"),
    ("auto", {"WANDB_API_KEY": ""}, "offline"),
    ("online", {}, "online"),
    ("offline", {"WANDB_API_KEY": "k" * 40}, "offline"),
    ("disabled", {"WANDB_API_KEY": "k" * 40}, "disabled"),
])
def test_resolve_mode_goes_online_only_with_a_key(mode: str, environ: dict, expected: str) -> None:
    assert resolve_mode(mode, environ) == expected


def test_resolve_mode_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="dryrun"):
        resolve_mode("dryrun", {})


def test_offline_run_holds_the_curve_against_train_seconds(tmp_path: Path) -> None:
    sink = open_sink(tmp_path / "run", "abc123")
    try:
        sink.log(train_record(100, 1.0, 4.0))
        sink.log(valid_record(100, 1.0, 3.5))
        sink.log(train_record(200, 2.25, 3.0))
        sink.log(valid_record(200, 2.25, 9.75))
        sink.log(train_record(300, 3.5, 2.5))
        sink.summary({"test/bleu": 10.5, "size_bytes": 123456})
    finally:
        sink.close()

    run = read_offline_run(tmp_path / "run")
    assert (run.id, run.name, run.group, run.job_type, run.project) == (
        "abc123", "name-abc123", "width64", "train", "tlc-test")
    assert run.tags == ["unit", "job:train", "width:64"]
    assert run.config == {"model": {"width": 64}, "budget": {"train_seconds": 5}, "job": "train", "width": 64,
                          "config_id": "name-abc123"}

    history = run.history
    assert [(row["train_seconds"], row["valid/bleu"]) for row in history if "valid/bleu" in row] == [
        (1.0, 3.5), (2.25, 9.75)]
    assert [(row["_step"], row["train/loss"]) for row in history] == [(100, 4.0), (200, 3.0), (300, 2.5)]
    assert [row["tokens"] for row in history] == [100_000, 200_000, 300_000]
    assert all(not key.endswith("kind") and "sacrebleu_signature" not in key for row in history for key in row)
    assert run.summary["valid/sacrebleu_signature"] == "nrefs:1|case:mixed|tok:13a|version:2.6.0"
    assert run.summary["test/bleu"] == 10.5
    assert run.summary["size_bytes"] == 123456


def test_a_training_run_carries_flat_keys_tags_and_its_best_metrics(tmp_path: Path) -> None:
    config = {"experiment": "mt_width", "task": {"name": "toy_mt", "kind": "translation"}, "seed": 2,
              "model": {"width": 128, "depth": 2}, "optim": {"batch_size": None, "max_tokens": 2048, "update_freq": 2}}
    sink = WandbSink(run_dir=tmp_path / "run", run_id="flat1", name="width=128,seed=2", group="mt_width",
                     job_type="train",
                     project="tlc-test", entity=None, mode="offline", tags=["mine"], config=config)
    try:
        for updates, bleu, ppl in ((100, 5.0, 30.0), (200, 12.5, 9.0), (300, 11.0, 9.5)):
            sink.log({**valid_record(updates, updates / 100, bleu), "ppl": ppl, "flops": updates * 3e7})
        sink.summary({"final/valid_bleu": 11.0, "best_valid_bleu": 12.5})
    finally:
        sink.close()

    run = read_offline_run(tmp_path / "run")
    assert {key: run.config[key] for key in ("sweep", "job", "width", "depth", "batch", "batch_unit")} == {
        "sweep": "mt_width", "job": "train", "width": 128, "depth": 2, "batch": 4096, "batch_unit": "tokens"}
    assert run.config["task"] == {"name": "toy_mt", "kind": "translation"}  # the resolved config stays whole
    assert (run.config["config_id"], run.config["seed"]) == ("width=128", 2)  # replicas share config_id
    assert run.tags == ["mine", "task:toy_mt", "sweep:mt_width", "job:train", "width:128", "depth:2", "batch:4096"]
    assert (run.summary["best/valid_bleu"], run.summary["best/valid_ppl"]) == (12.5, 9.0)
    assert run.summary["valid/bleu"] == 11.0 and run.summary["final/valid_bleu"] == 11.0
    assert run.step_metrics["valid/*"] == "train_seconds" and run.step_metrics["flops"] == "train_seconds"
    assert [row["flops"] for row in run.history] == [3e9, 6e9, 9e9]  # an x-axis of its own, like tokens


def test_a_compression_run_links_its_source_and_is_plotted_against_bytes(tmp_path: Path) -> None:
    source = write_training_run(tmp_path / "runs", "demo", "width=64", rising(30, 10), width=64, depth=3)
    config = {"experiment": "pruned", "source": str(source),
              "compression": {"method": "prune", "sparsity": 0.5, "bits": None, "ratio": None}}
    sink = WandbSink(run_dir=tmp_path / "run", run_id="comp1", name="sparsity=0.5", group="pruned",
                     job_type="compress", project="tlc-test", entity=None, mode="offline", tags=[], config=config)
    try:
        sink.log({"kind": "prune", "train_seconds": 1.0, "wall_seconds": 1.0, "updates": 10, "tokens": 100,
                  "round": 1, "loss": 2.0})
        sink.log({**valid_record(10, 1.0, 21.5), "bytes": 250_000, "ratio": 2.5, "sparsity": 0.5, "bits": 32})
        sink.summary({"bytes": 250_000, "ratio": 2.5, "sparsity": 0.5, "bits": 32, "final/valid_bleu": 21.5})
    finally:
        sink.close()

    run = read_offline_run(tmp_path / "run")
    assert run.job_type == "compress"
    assert (run.config["source_run_id"], run.config["source_run"], run.config["source_dir"]) == (
        run_id_of(source), "width=64", str(source))
    assert (run.config["width"], run.config["depth"], run.config["task"]["name"]) == (64, 3, "toy_mt")
    assert (run.config["method"], run.config["sparsity"], run.config["bits"]) == ("prune", 0.5, 32)
    assert run.config["ratio"] == 2.5  # achieved, added when the run ended
    assert {"task:toy_mt", "sweep:pruned", "job:compress", "width:64", "method:prune", "sparsity:0.5",
            "source:width=64", "ratio:2.5"} <= set(run.tags)
    assert not any(tag.startswith("bits:") for tag in run.tags)  # fp32 weights: no bits tag
    assert run.step_metrics["valid/*"] == "bytes" and run.step_metrics["train/*"] == "train_seconds"
    (row,) = [row for row in run.history if "valid/bleu" in row]
    assert (row["bytes"], row["ratio"], row["valid/bleu"]) == (250_000, 2.5, 21.5)
    assert run.summary["best/valid_bleu"] == 21.5


def test_record_with_lower_step_gets_its_own_row(tmp_path: Path) -> None:
    sink = open_sink(tmp_path / "run", "lowstep")
    try:
        sink.log(train_record(200, 2.0, 3.0))
        sink.log(valid_record(150, 2.5, 7.0))
    finally:
        sink.close()

    history = read_offline_history(tmp_path / "run")
    assert [(row["train_seconds"], row.get("valid/bleu")) for row in history] == [(2.0, None), (2.5, 7.0)]
    assert [(row["_step"], row["updates"]) for row in history] == [(200, 200), (201, 150)]


def test_two_sinks_in_one_process_write_their_own_runs(tmp_path: Path) -> None:
    for run_id, bleu in (("first1", 11.0), ("second2", 22.0)):
        sink = open_sink(tmp_path / run_id, run_id)
        try:
            sink.log(valid_record(10, 0.5, bleu))
        finally:
            sink.close()

    for run_id, bleu in (("first1", 11.0), ("second2", 22.0)):
        run = read_offline_run(tmp_path / run_id)
        assert run.id == run_id
        assert [row["valid/bleu"] for row in run.history] == [bleu]


def test_closing_twice_is_harmless(tmp_path: Path) -> None:
    sink = open_sink(tmp_path / "run", "twice")
    sink.log(train_record(1, 0.1, 5.0))
    sink.close()
    sink.close()
    assert len(read_offline_history(tmp_path / "run")) == 1


def test_close_returns_with_the_whole_log_on_disk(tmp_path: Path) -> None:
    sink = open_sink(tmp_path / "run", "ondisk")
    for updates in range(1, 401):  # more than one 32 KiB block
        sink.log(train_record(updates, updates / 10, 1.0 / updates))
    sink.close()
    # A copy taken as close returns: wandb-core gets no time to finish writing while the reader starts.
    (path,) = (tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb")
    snapshot = tmp_path / "at-close.wandb"
    snapshot.write_bytes(path.read_bytes())
    records = log_records(snapshot)
    assert records[-1]["type"] == "exit"  # the last record wandb-core writes for a finished run
    assert [r["history"]["item"]["updates"] for r in records if r["type"] == "history"] == list(range(1, 401))


def test_importing_the_module_does_not_import_wandb() -> None:
    code = "import sys, train_large.wandb_sink; assert 'wandb' not in sys.modules, 'wandb imported'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_sync_script_parses() -> None:
    subprocess.run(["bash", "-n", str(REPO / "scripts" / "sync_wandb.sh")], check=True)


def test_sync_script_refuses_without_credentials(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "NETRC")}
    env["HOME"] = str(tmp_path)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # where the wandb CLI lives
    done = subprocess.run(["bash", str(REPO / "scripts" / "sync_wandb.sh"), str(tmp_path / "runs")],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "WANDB_API_KEY" in done.stderr

"""A single run is composed once: the pre-flight's composition is handed to the job (`Command.main`,
`jobs.run_composed`), and the job sees what `@hydra.main` would have given it: the same config, the
same run directory and the same `.hydra/` record."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import hydra
import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl

from train_large.cli import TRAIN
from train_large.core.shell import CONF_DIR, Command


@pytest.fixture
def compositions(monkeypatch):
    """How many times Hydra composed a config (the count of its config loader's calls)."""
    calls = []
    compose = ConfigLoaderImpl.load_configuration

    def counted(self, *args, **kwargs):
        calls.append(kwargs.get("overrides"))
        return compose(self, *args, **kwargs)

    monkeypatch.setattr(ConfigLoaderImpl, "load_configuration", counted)
    return calls


def recording_command(seen: list) -> Command:
    def run(cfg, run_dir: Path, run_name: str) -> dict:
        seen.append((cfg, run_dir))
        return {"metric": "bleu", "best_valid_bleu": 1.5}

    return dataclasses.replace(TRAIN, run=run, composed={})


def overrides(tmp_path: Path) -> list[str]:
    return ["task=toy_mt", "model.width=16", "logger=none", f"paths.runs_root={tmp_path / 'runs'}",
            f"paths.data_root={tmp_path / 'data'}"]


def test_a_single_run_is_composed_once_and_run_as_hydra_main_would(tmp_path, monkeypatch, compositions):
    fast, slow = [], []
    command = recording_command(fast)

    def not_called() -> None:
        raise AssertionError("a single run of plain overrides went through @hydra.main")

    monkeypatch.setattr(sys, "argv", ["tlc-train", *overrides(tmp_path)])
    command.main(not_called)
    assert len(compositions) == 1
    (cfg, run_dir), = fast
    assert run_dir.parent == tmp_path / "runs" / "default" and run_dir.name == "width=16,task=toy_mt"
    record = {name: (run_dir / ".hydra" / name).read_text() for name in ("config.yaml", "hydra.yaml", "overrides.yaml")}

    # the same job through @hydra.main (`--config-name` keeps it off the single-run path)
    hydra_command = recording_command(slow)

    @hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
    def hydra_main(job_cfg) -> float | None:
        return hydra_command.run_job(job_cfg)

    monkeypatch.setattr(sys, "argv", ["tlc-train", "--config-name", "train", *overrides(tmp_path)])
    del compositions[:]
    hydra_command.main(hydra_main)
    assert len(compositions) == 3  # the pre-flight's, Hydra's for the run mode and for the run
    (hydra_cfg, hydra_run_dir), = slow
    assert hydra_run_dir == run_dir and hydra_cfg == cfg
    assert record == {name: (run_dir / ".hydra" / name).read_text() for name in record}


def test_a_bad_single_run_is_refused_before_any_job(tmp_path, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(sys, "argv", ["tlc-train", *overrides(tmp_path), "model.width=-4"])
    with pytest.raises(SystemExit) as stop:
        recording_command(seen).main(lambda: None)
    assert stop.value.code == 2 and seen == []
    assert capsys.readouterr().err == "tlc-train: error: model.width=-4 must be > 0\n"

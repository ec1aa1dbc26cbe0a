"""Run names hold what changes the experiment, and a run named the earlier way is still found."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig

from compress.config import register_configs
from train_large.cli import CONF_DIR
from train_large.run_names import run_name
from train_large.rundir import read_result, write_result

# One job of scripts/demo_compress.sh, as Hydra hands it to the resolver (source_sweep expanded
# and quoted by train_large.source_sweep).
DEMO_COMPRESSION = ["experiment=demo_compress", "evaluation.test=false", "compression=prune",
                    "compression.sparsity=0.5", "source='/work/runs/demo/width=32'"]
EARLIER = "compression=prune,sparsity=0.5,test=False,source=width=32"  # what the demo made before
NOW = "compression=prune,sparsity=0.5,source=width=32"


def test_demo_runs_are_named_by_what_they_sweep():
    assert run_name(["+sweep=demo", "model.width=32"]) == "width=32"
    assert run_name(DEMO_COMPRESSION) == NOW


def test_settings_that_change_nothing_trained_or_compressed_do_not_name_a_run():
    assert run_name(["model.width=64", "device=cpu", "logger=none", "paths.runs_root=/x", "compile=true"]) == "width=64"
    assert run_name([*DEMO_COMPRESSION, "evaluation.test=true"]) == run_name(DEMO_COMPRESSION)
    assert run_name(["evaluation.test=false"]) == "default"


def test_a_run_named_the_earlier_way_keeps_its_directory(tmp_path):
    assert run_name(DEMO_COMPRESSION, str(tmp_path)) == NOW  # neither exists: the new name
    (tmp_path / EARLIER).mkdir()
    assert run_name(DEMO_COMPRESSION, str(tmp_path)) == EARLIER
    (tmp_path / NOW).mkdir()  # both: the new name wins, as it does for every run started since
    assert run_name(DEMO_COMPRESSION, str(tmp_path)) == NOW


@pytest.mark.parametrize("multirun", [False, True])
def test_a_finished_run_under_the_earlier_name_is_skipped_not_redone(tmp_path, multirun):
    finished = tmp_path / "demo_compress" / EARLIER
    write_result(finished, {"final": {"valid": {"bleu": 41.28}}})
    run_dir = resolved_run_dir([*DEMO_COMPRESSION, f"paths.runs_root={tmp_path}"], multirun)
    assert run_dir == finished  # the folder every job reads `result.json` from to decide it is done
    assert read_result(run_dir)["final"]["valid"]["bleu"] == 41.28
    assert not (tmp_path / "demo_compress" / NOW).exists()


def resolved_run_dir(overrides: list[str], multirun: bool) -> Path:
    """The run directory Hydra gives a tlc-compress job with these overrides (conf/compress.yaml)."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="compress", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    try:
        if multirun:
            return Path(cfg.hydra.sweep.dir) / cfg.hydra.sweep.subdir
        return Path(cfg.hydra.run.dir)
    finally:
        HydraConfig.instance().cfg = None

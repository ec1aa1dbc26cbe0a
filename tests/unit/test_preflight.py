"""Pre-flight expands a command line into its jobs and reports each problem once, in one line."""
from __future__ import annotations

from tests.conftest import compose_train
from train_large.config import check
from train_large.preflight import MAX_JOBS_CHECKED, job_overrides, preflight


def run_preflight(argv):
    return preflight(argv, compose_train, lambda cfg, overrides: check(cfg, cuda_available=False))


def test_a_plain_run_is_one_job_without_hydra_overrides():
    assert job_overrides(["model.width=64", "hydra.run.dir=/x"]) == [["model.width=64"]]


def test_a_sweep_expands_to_every_combination():
    jobs = job_overrides(["-m", "model.width=64,128", "model.depth=1,2", "seed=3"])
    assert len(jobs) == 4
    assert ["seed=3", "model.width=128", "model.depth=2"] in jobs


def test_a_huge_sweep_checks_each_value_once():
    jobs = job_overrides(["-m", "seed=range(0,100)", "model.width=64,128"])
    assert len(jobs) == 102 and len(jobs) > MAX_JOBS_CHECKED


def test_misspelt_key_suggests_the_real_one():
    assert run_preflight(["model.widht=64"]) == [
        "model.widht is not a setting; did you mean model.width? (model has: activation_dropout, arch, "
        "attention_dropout, decoder_depth, depth, dropout, ffn, heads, max_positions, norm, share_embeddings, "
            "width)"]


def test_misspelt_top_level_key_is_named():
    (line,) = run_preflight(["sed=3"])
    assert line.startswith("sed is not a setting; did you mean seed?")


def test_bad_value_in_one_sweep_job_is_found_up_front():
    assert run_preflight(["-m", "model.width=64,130,256", "model.heads=4"]) == [
        "model.width=130 is not divisible by model.heads=4; choose heads that divide the width (default: width/64)"]


def test_good_sweep_passes():
    assert run_preflight(["-m", "model.width=64,128", "budget.train_seconds=10"]) == []


def test_missing_real_data_is_one_line_with_the_prepare_command(tmp_path):
    from train_large.data.datasets import missing_data

    (line,) = missing_data(compose_train(["task=wmt14_en_fr", f"paths.data_root={tmp_path}"]).task)
    assert line.startswith(f"task.data_dir={tmp_path}/wmt14_en_fr is not a prepared dataset")
    assert line.endswith(f"prepare it with: TLC_DATA_ROOT={tmp_path} ./scripts/prepare_wmt14_en_fr.sh")
    assert missing_data(compose_train([f"paths.data_root={tmp_path}"]).task) == []  # toy data is generated

"""source_sweep=<dir> expands to one job per finished run, naming the ones it skips."""
from __future__ import annotations

import json

import pytest

from train_large.preflight import job_overrides
from train_large.source_sweep import SourceSweepError, expand, quote_run_dirs


def make_run(sweep_dir, name, *, finished):
    run_dir = sweep_dir / name
    (run_dir / ".hydra").mkdir(parents=True)
    if finished:
        (run_dir / "result.json").write_text(json.dumps({"status": "complete"}))
    return run_dir


def test_finished_runs_become_a_quoted_sweep_and_unfinished_ones_are_named(tmp_path):
    done_a = make_run(tmp_path, "depth=2,width=64", finished=True)
    done_b = make_run(tmp_path, "depth=2,width=128", finished=True)
    running = make_run(tmp_path, "depth=2,width=256", finished=False)
    (tmp_path / ".submitit").mkdir()
    argv, notes = expand(["-m", "+sweep=toy_finetune", f"source_sweep={tmp_path}"], "init_from")
    assert notes == [f"source_sweep: 2 finished run(s) in {tmp_path}",
                     f"source_sweep: skipping unfinished run {running}"]
    jobs = job_overrides(argv)
    assert [job[-1] for job in jobs] == [f"init_from='{done_b}'", f"init_from='{done_a}'"]


@pytest.mark.parametrize("argv, message", [
    (["source_sweep=/nowhere"], "add -m (multirun)"),
    (["-m", "source_sweep=/nowhere"], "does not exist"),
])
def test_bad_source_sweeps_are_one_line(argv, message):
    with pytest.raises(SourceSweepError) as err:
        expand(argv, "init_from")
    assert message in str(err.value)


def test_a_sweep_with_nothing_finished_says_so(tmp_path):
    make_run(tmp_path, "width=64", finished=False)
    with pytest.raises(SourceSweepError, match="has no finished runs .1 unfinished."):
        expand(["-m", f"source_sweep={tmp_path}"], "init_from")


def test_a_run_dir_given_as_is_is_quoted_for_hydra(tmp_path):
    run_dir = make_run(tmp_path, "depth=2,width=64", finished=True)
    argv = quote_run_dirs(["task=mnli", f"init_from={run_dir}", "init_from=a,b", f"source='{run_dir}'"])
    assert argv == ["task=mnli", f"init_from='{run_dir}'", "init_from=a,b", f"source='{run_dir}'"]
    assert job_overrides(argv[:2]) == [["task=mnli", f"init_from='{run_dir}'"]]

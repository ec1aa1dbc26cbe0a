"""Eight `tlc-train` jobs started at once against one fresh data root, one of them with a W&B that fails.

The toy data must be generated exactly once, by whichever job takes the lock first; the others wait
for it and never read a half-prepared dataset (prepared.json is written last, under the lock). All
eight finish. One job runs with `wandb.init` raising (a sitecustomize shim on its PYTHONPATH, as a
broken wandb install or a wandb-core that cannot start would): it still completes with whole local
records, and says so in one warning. The smallest toy task, model and budget keep this to about a
minute on 2 cores, most of it the eight processes importing torch and fairseq.
"""
from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import TLC_TRAIN, kinds, subprocess_env
from train_large.rundir import read_records, read_result

pytestmark = pytest.mark.e2e

JOBS = 8
# num_workers=0: no data loader process per job (measured 7.7 instead of 9.4 CPU seconds a job)
TINY = ["task=toy_mlm", "model.width=32", "model.depth=1", "budget.train_seconds=5", "budget.max_updates=1",
        "num_workers=0", "experiment=concurrent"]
WANDB_SEED = 1  # the job whose wandb.init raises
SHIM = '''"""Makes wandb.init raise, as a broken wandb install would (a test fixture, on PYTHONPATH)."""
import wandb


def _refuse(*args, **kwargs):
    raise RuntimeError("wandb-core could not start (test shim)")


wandb.init = _refuse
'''
GENERATING = "generating toy_mlm data"
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


@pytest.fixture(scope="module")
def jobs(tmp_path_factory) -> tuple[Path, dict[int, subprocess.CompletedProcess]]:
    """The data root (fresh: no toy data yet) and each job's finished process, by seed."""
    root = tmp_path_factory.mktemp("concurrent")
    shim = root / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SHIM)
    started = {}
    for seed in range(1, JOBS + 1):
        env = subprocess_env(root)
        env["OMP_NUM_THREADS"] = "1"  # eight jobs share the cores; one thread each avoids oversubscription
        logger = "logger=none"
        if seed == WANDB_SEED:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH")]))
            logger = "logger=wandb"
        started[seed] = subprocess.Popen([TLC_TRAIN, *TINY, f"seed={seed}", logger], cwd=root, env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finished = {}
    for seed, proc in started.items():
        out, err = proc.communicate(timeout=600)
        finished[seed] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return root, finished


def run_dir(root: Path, seed: int) -> Path:
    (path,) = [p for p in (root / "runs" / "concurrent").iterdir() if f"seed={seed}," in p.name]
    return path


def stamped(log: str, needle: str) -> list[datetime]:
    """When each line of a run's log that contains `needle` was written."""
    return [datetime.strptime(STAMP.match(line).group(1), "%Y-%m-%d %H:%M:%S,%f")
            for line in log.splitlines() if needle in line and STAMP.match(line)]


def test_all_eight_jobs_finish(jobs):
    root, finished = jobs
    for seed, proc in finished.items():
        assert proc.returncode == 0, f"seed={seed}: {proc.stderr[-3000:]}"
        result = read_result(run_dir(root, seed))
        assert result is not None and result["updates"] == 1 and result["config"]["seed"] == seed
        assert [r["kind"] for r in read_records(run_dir(root, seed) / "metrics.jsonl")] == ["train", "valid", "test"]


def test_toy_data_is_generated_once_and_read_only_when_complete(jobs):
    root, finished = jobs
    logs = {seed: (run_dir(root, seed) / "train.log").read_text() for seed in finished}
    generators = [seed for seed, log in logs.items() if GENERATING in log]
    assert len(generators) == 1 and logs[generators[0]].count(GENERATING) == 1
    assert (root / "data" / "toy_mlm" / "prepared.json").is_file()
    (prepared,) = stamped(logs[generators[0]], f"prepared {root / 'data' / 'toy_mlm'} in")
    for seed, log in logs.items():
        loaded = stamped(log, "loaded")  # fairseq opening the binarized splits
        assert loaded and min(loaded) >= prepared, f"seed={seed} read the data before it was prepared"


def test_a_failing_wandb_is_one_warning_and_the_run_completes(jobs):
    root, finished = jobs
    proc, path = finished[WANDB_SEED], run_dir(root, WANDB_SEED)
    log = (path / "train.log").read_text()
    warnings = [line for line in log.splitlines() if "W&B" in line]
    assert len(warnings) == 1, warnings
    assert "W&B unavailable (RuntimeError: wandb-core could not start (test shim)); local records only" in warnings[0]
    assert "Traceback" not in proc.stdout + proc.stderr + log
    assert not (path / "wandb").exists()
    records = read_records(path / "metrics.jsonl")
    other = read_records(run_dir(root, WANDB_SEED + 1) / "metrics.jsonl")
    assert [sorted(r) for r in records] == [sorted(r) for r in other]  # the same records as a run without W&B
    assert len(kinds(records, "valid")) == 1 and read_result(path)["status"] == "complete"

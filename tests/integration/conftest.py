"""Fixtures for the launcher integration tests: the local SLURM cluster, one toy dataset shared by
every sweep, and a runner for the real `tlc-train -m` CLI.

`slurm_env` starts scripts/slurm_local.sh (idempotent) and stops it at the end only if this
session started it. Without slurmctld, or without root, SLURM tests are skipped, unless
TLC_REQUIRE_SLURM is set (CI), in which case they fail.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import compose_train, subprocess_env

REPO = Path(__file__).resolve().parents[2]
SLURM_SCRIPT = REPO / "scripts" / "slurm_local.sh"
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
TLC_TRAIN = str(Path(sys.executable).parent / "tlc-train")
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY",
            "BOOT_FAIL", "DEADLINE", "GONE"}
# The smallest run that still validates and tests: one layer, one validation (at the end), greedy
# BLEU on 10 sentences; about 15 s of wall time per job on one core here. On CPU even on a GPU
# machine: the launchers' GPUs here are fake (declared to Ray, or SLURM gres), not the host's.
TINY_RUN = ["task=toy_mt", "model.depth=1", "budget.train_seconds=4", "budget.eval_every_seconds=4",
            "task.eval.bleu_sentences=10", "task.eval.beam=1", "task.eval.test_beam=1", "logger=none",
            "num_workers=0", "device=cpu"]


def _unavailable(reason: str) -> None:
    if os.environ.get("TLC_REQUIRE_SLURM"):
        pytest.fail(f"TLC_REQUIRE_SLURM is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_env() -> dict:
    """Environment (PATH with sbin, SLURM_CONF) for talking to the local cluster; starts it if needed."""
    if shutil.which("slurmctld", path=SBIN_PATH) is None:
        _unavailable("slurmctld is not installed (`scripts/slurm_local.sh start` as root installs "
                     "slurm-wlm + munge and starts a local cluster)")
    if os.geteuid() != 0:
        _unavailable("scripts/slurm_local.sh needs root (munged and slurmd run as root)")
    env = dict(os.environ, PATH=SBIN_PATH)
    was_running = subprocess.run([str(SLURM_SCRIPT), "status"], env=env, capture_output=True).returncode == 0
    t0 = time.monotonic()
    started = subprocess.run([str(SLURM_SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=600)
    if started.returncode != 0:
        pytest.fail(f"scripts/slurm_local.sh start failed ({started.returncode}):\n"
                    f"{started.stdout}\n{started.stderr}")
    print(f"\nslurm_local.sh start: {time.monotonic() - t0:.1f} s (already running: {was_running})")
    out = subprocess.run([str(SLURM_SCRIPT), "env"], env=env, capture_output=True, text=True, check=True).stdout
    match = re.search(r"export SLURM_CONF=(\S+)", out)
    assert match, f"unexpected `slurm_local.sh env` output: {out!r}"
    env["SLURM_CONF"] = match.group(1)
    yield env
    if not was_running:
        subprocess.run([str(SLURM_SCRIPT), "stop"], env=env, capture_output=True, timeout=120)


def run_cmd(args: list[str], env: dict) -> str:
    res = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, f"{' '.join(args)} failed ({res.returncode}): {res.stderr}"
    return res.stdout


def job_state(env: dict, job_id: str) -> tuple[str, dict]:
    """(JobState, all fields) from `scontrol show job`; 'GONE' once the record was purged."""
    res = subprocess.run(["scontrol", "show", "job", "-o", job_id], env=env, capture_output=True,
                         text=True, timeout=30)
    if res.returncode != 0:
        if "Invalid job id" in res.stderr:
            return "GONE", {}
        raise AssertionError(f"scontrol show job {job_id}: {res.stderr}")
    fields = dict(kv.split("=", 1) for kv in res.stdout.split() if "=" in kv)
    return fields.get("JobState", "UNKNOWN"), fields


def poll(predicate: Callable, timeout: float, what: str, interval: float = 0.25):
    """The first truthy value of `predicate()` within `timeout` seconds.

    Raises:
        AssertionError: it stayed falsy that long (the message names `what`).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def jobs(slurm_env):
    """Job ids submitted by a test; whatever is left is cancelled afterwards."""
    ids: list[str] = []
    yield ids
    if ids:
        subprocess.run(["scancel", *ids], env=slurm_env, capture_output=True, timeout=30)


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory) -> Path:
    """A root whose data/ holds the toy translation data, generated once (~15 s) for every sweep."""
    from train_large.data.datasets import ensure_dataset

    root = tmp_path_factory.mktemp("launchers")
    ensure_dataset(compose_train([f"paths.data_root={root / 'data'}"]).task)
    return root


def tlc_train(root: Path, *args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """`tlc-train *args` with data and runs under `root`; `env` adds variables (SLURM_CONF, PATH)."""
    full_env = subprocess_env(root)
    full_env.update(env or {})
    return subprocess.run([TLC_TRAIN, *args], env=full_env, cwd=root, capture_output=True, text=True,
                          timeout=timeout)


def results(root: Path, experiment: str) -> dict[Path, dict]:
    """result.json of every finished run of an experiment, by run directory."""
    return {p.parent: json.loads(p.read_text()) for p in sorted((root / "runs" / experiment).glob("*/result.json"))}


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of (start, end) intervals that overlap at one instant."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, step in events:  # at a tie, an end (-1) sorts before a start: touching is not overlapping
        running += step
        peak = max(peak, running)
    return peak

"""Integration tests against a real single-node SLURM cluster (scripts/slurm_local.sh): plain
sbatch jobs, before any launcher is involved.

The `slurm_env` fixture (tests/integration/conftest.py) starts the cluster. Without slurmctld
installed the tests are skipped, unless TLC_REQUIRE_SLURM is set, in which case they fail.
Install + start: `sudo scripts/slurm_local.sh start`.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.integration.conftest import FINISHED, job_state, poll, run_cmd

pytestmark = pytest.mark.integration


def _sbatch(env: dict, workdir: Path, wrap: str, *extra: str) -> str:
    out = run_cmd(["sbatch", "--parsable", "-D", str(workdir), "-o", str(workdir / "slurm-%j.out"),
                   "-t", "5", *extra, "--wrap", wrap], env)
    return out.strip().split(";")[0]


def test_gpu_jobs_run_concurrently_with_distinct_cuda_visible_devices(slurm_env, jobs, tmp_path):
    node = run_cmd(["scontrol", "show", "node", "-o"], slurm_env)
    gpus = re.search(r"Gres=gpu:(\d+)", node)
    assert gpus and int(gpus.group(1)) >= 2, f"the local cluster needs >= 2 fake GPUs (TLC_SLURM_GPUS): {node}"
    # Each job records its devices, then waits (up to 30 s) until both jobs have started, which
    # proves they overlapped, and records how many had started.
    wrap = ('echo "${CUDA_VISIBLE_DEVICES-unset}" > cvd.$SLURM_JOB_ID; touch started.$SLURM_JOB_ID; '
            'n=0; while [ "$(ls started.* | wc -l)" -lt 2 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done; '
            'ls started.* | wc -l > peers.$SLURM_JOB_ID; sleep 1')
    for _ in range(2):
        jobs.append(_sbatch(slurm_env, tmp_path, wrap, "--gres=gpu:1", "-c", "1"))

    seen_both_running = False

    def both_done():
        nonlocal seen_both_running
        states = [job_state(slurm_env, j)[0] for j in jobs]
        seen_both_running |= all(s == "RUNNING" for s in states)
        return all(s in FINISHED for s in states) and states

    states = poll(both_done, 45, f"jobs {jobs} to finish")
    assert all(s in ("COMPLETED", "GONE") for s in states), states
    cvd = {j: (tmp_path / f"cvd.{j}").read_text().strip() for j in jobs}
    peers = {j: (tmp_path / f"peers.{j}").read_text().strip() for j in jobs}
    assert all(re.fullmatch(r"\d+", v) for v in cvd.values()), f"each job must see exactly one GPU: {cvd}"
    assert len(set(cvd.values())) == 2, f"the two jobs got the same GPU: {cvd}"
    assert set(peers.values()) == {"2"} and seen_both_running, f"jobs did not run concurrently: {peers}"


def test_scontrol_requeue_reruns_a_running_job(slurm_env, jobs, tmp_path):
    starts = tmp_path / "starts.txt"
    wrap = 'echo "start restart=${SLURM_RESTART_COUNT-unset}" >> starts.txt; sleep 300'
    job = _sbatch(slurm_env, tmp_path, wrap, "--requeue")
    jobs.append(job)

    def lines():
        return starts.read_text().splitlines() if starts.exists() else []

    poll(lambda: len(lines()) >= 1 and job_state(slurm_env, job)[0] == "RUNNING", 30, "the first start")
    t0 = time.monotonic()
    run_cmd(["scontrol", "requeue", job], slurm_env)
    poll(lambda: len(lines()) >= 2, 45, "the requeued job to start again")
    state, fields = poll(lambda: (lambda sf: sf[0] == "RUNNING" and sf)(job_state(slurm_env, job)), 15,
                          "RUNNING after requeue")
    print(f"\nrequeue -> rerun: {time.monotonic() - t0:.1f} s")
    assert lines() == ["start restart=unset", "start restart=1"]
    assert fields.get("Restarts") == "1", fields

    run_cmd(["scancel", job], slurm_env)
    poll(lambda: job_state(slurm_env, job)[0] in FINISHED, 30, "the job to be cancelled")
    assert len(lines()) == 2  # not restarted once more

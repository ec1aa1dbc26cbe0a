"""What a user sees of a SLURM sweep on the local cluster: a request no node can hold is refused
before submission, a refused sbatch is one line, and a waiting sweep shows SLURM's reason for
pending and then its jobs' ends.
"""
from __future__ import annotations

import subprocess

import pytest

from tests.conftest import subprocess_env
from tests.integration.conftest import TINY_RUN, TLC_TRAIN, poll, run_cmd, tlc_train
from tests.integration.test_slurm_sweep import LOCAL_NODE, cluster_env, job_name  # noqa: F401 - job_name is a fixture

pytestmark = pytest.mark.integration


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "error:" in line]


def test_more_cpus_than_any_node_has_is_refused_before_submission(slurm_env, job_name, toy_root):
    proc = tlc_train(toy_root, "-m", *LOCAL_NODE, "hydra.launcher.cpus_per_task=64", f"hydra.launcher.name={job_name}",
                     "experiment=slurm_too_big", *TINY_RUN, env=cluster_env(slurm_env), timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = error_lines(proc.stderr)
    node = run_cmd(["sinfo", "-h", "-N", "-o", "%N"], slurm_env).split()[0]
    assert line.startswith("tlc-train: error: hydra.launcher.cpus_per_task=64 asks for 64 CPUs per node")
    assert f"(node {node}); set hydra.launcher.cpus_per_task<=" in line
    assert proc.stdout == ""  # nothing launched, no sweep summary
    assert run_cmd(["squeue", "-h", "--name", job_name, "-t", "all"], slurm_env).strip() == ""


def test_a_refused_sbatch_is_one_line_with_slurms_message(slurm_env, job_name, toy_root):
    proc = tlc_train(toy_root, "-m", *LOCAL_NODE, "hydra.launcher.constraint=no_such_feature",
                     f"hydra.launcher.name={job_name}", "experiment=slurm_refused", *TINY_RUN,
                     env=cluster_env(slurm_env), timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert error_lines(proc.stderr) == [
        "tlc-train: error: sbatch refused the sweep: sbatch: error: Batch job submission failed: "
        "Invalid feature specification"]
    assert "Traceback" not in proc.stderr
    assert not [line for line in proc.stdout.splitlines() if line.startswith("sweep ")]  # no empty sweep summary


def test_a_held_job_shows_its_reason_until_released_and_then_finishes(slurm_env, job_name, toy_root):
    args = ["-m", *LOCAL_NODE, f"hydra.launcher.name={job_name}", "hydra.launcher.poll_s=1",
            "+hydra.launcher.additional_parameters.hold=true", "experiment=slurm_held", "model.width=32",
            *TINY_RUN, "budget.train_seconds=1"]
    env = subprocess_env(toy_root)
    env.update(cluster_env(slurm_env))
    sweep = subprocess.Popen([TLC_TRAIN, *args], env=env, cwd=toy_root, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)

    def held_job() -> str | None:
        listed = run_cmd(["squeue", "-h", "--name", job_name, "-o", "%i|%r"], slurm_env).split()
        return next((line.partition("|")[0] for line in listed if line.endswith("|JobHeldUser")), None)

    try:
        job_id = poll(held_job, 60, "the held job")
        run_cmd(["scontrol", "release", job_id], slurm_env)
        output, _ = sweep.communicate(timeout=150)
    finally:
        sweep.kill()
    assert sweep.returncode == 0, output[-4000:]
    lines = output.splitlines()
    held = next(i for i, line in enumerate(lines) if ": 1 pending (JobHeldUser)" in line)
    done = next(i for i, line in enumerate(lines) if ": 1 finished" in line)
    assert held < done
    assert any("keeps no job accounting" in line for line in lines)  # the local cluster has no slurmdbd
    assert not any("Bypassing sacct error" in line for line in lines)

"""`hydra/launcher=gpus` (hydra_plugins/tlc_launchers) on a Ray started by the sweep itself: fake
GPUs give one device per job and cap concurrency, a failing job is reported without stopping
the others, a job no node can hold is refused before anything runs, and the jobs' states are
printed while the sweep waits. Tiny toy runs through the real `tlc-train -m`; the runs'
result.json is the oracle.
"""
from __future__ import annotations

import os
import re

import pytest

from tests.integration.conftest import TINY_RUN, most_at_once, results, tlc_train

pytestmark = pytest.mark.integration

GPUS = ["hydra/launcher=gpus"]
# The CPU-slot tests declare no GPUs: on a GPU machine Ray would otherwise find the host's and run
# the jobs on them, one per GPU, instead of on the slots under test.
CPU_SLOTS = [*GPUS, "hydra.launcher.num_gpus=0"]


def test_fake_gpus_give_each_job_one_device_and_cap_concurrency(toy_root):
    proc = tlc_train(toy_root, "-m", *GPUS, "hydra.launcher.num_gpus=2", "experiment=ray_gpus",
                     "model.width=24,32,40,48", *TINY_RUN)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "4 jobs: 4 finished, 0 failed, 0 skipped" in output

    done = results(toy_root, "ray_gpus")
    assert sorted(r["config"]["model"]["width"] for r in done.values()) == [24, 32, 40, 48]
    placements = [r["placement"] for r in done.values()]
    assert all(p["cuda_visible_devices"] in ("0", "1") for p in placements), placements
    # started_at/finished_at lie inside the time each job held its GPU, so overlaps here never
    # overstate how many held one at once; 2 proves the fan-out, more would break the cap.
    assert most_at_once([(p["started_at"], p["finished_at"]) for p in placements]) == 2, placements


def test_failed_job_is_summarised_and_does_not_stop_the_others(toy_root, tmp_path):
    broken = tmp_path / "broken_toy_mt"  # "prepared", but its prepared.json is garbage: fails at run time
    broken.mkdir()
    (broken / "prepared.json").write_text("{not json")
    good = toy_root / "data" / "toy_mt"
    args = ["-m", *CPU_SLOTS, "hydra.launcher.cpu_slots=2", "experiment=ray_fail", "model.width=24",
            f"task.data_dir={good},{broken}", *TINY_RUN]

    proc = tlc_train(toy_root, *args)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-4000:]  # Hydra re-raises the failure once every job has run
    assert "2 jobs: 1 finished, 1 failed, 0 skipped" in output, output[-4000:]
    failed = [line for line in output.splitlines() if line.strip().startswith("failed ")]
    assert len(failed) >= 1 and "PrepareError" in failed[0] and "prepared.json is unreadable" in failed[0], failed
    (finished,) = results(toy_root, "ray_fail").values()
    assert finished["status"] == "complete" and finished["config"]["task"]["data_dir"] == str(good)

    again = tlc_train(toy_root, *args)
    output = again.stdout + again.stderr
    assert again.returncode == 1, output[-4000:]
    assert "2 jobs: 0 finished, 1 failed, 1 skipped" in output, output[-4000:]


def test_job_no_node_can_hold_is_refused_in_one_line_before_any_run(toy_root):
    too_many = max(64, 2 * (os.cpu_count() or 1))  # a Ray started here never gives one job more than the cores
    proc = tlc_train(toy_root, "-m", *CPU_SLOTS, f"hydra.launcher.cpus_per_job={too_many}", "experiment=ray_too_big",
                     "model.width=24,32", *TINY_RUN, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-4000:]
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert errors == [f"tlc-train: error: hydra.launcher.cpus_per_job={too_many} asks for {too_many} CPUs per job "
                      f"but the largest node of the Ray cluster has {os.cpu_count()} CPUs (GPUs: 0)"], output[-4000:]
    assert "Traceback" not in output
    sweep_dir = toy_root / "runs" / "ray_too_big"
    assert not [p for p in sweep_dir.glob("*") if p.is_dir()], list(sweep_dir.glob("*"))


def test_state_lines_follow_the_jobs_from_pending_to_finished(toy_root):
    proc = tlc_train(toy_root, "-m", *CPU_SLOTS, "hydra.launcher.cpu_slots=1", "experiment=ray_states",
                     "model.width=24,32", *TINY_RUN)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    states = re.findall(r"\b(2 jobs: [a-z0-9, ]+) \(\d+ (?:s|min)", output)  # "2 jobs: 1 running, 1 finished (12 s)"
    assert states[0] == "2 jobs: 2 pending" and states[-1] == "2 jobs: 2 finished", states
    assert any("1 running" in line for line in states[1:-1]), states
    assert len(states) == len(set(states)), states  # one line per change (no heartbeat in a 30 s sweep)
    assert "2 jobs: 2 finished, 0 failed, 0 skipped, 0 running elsewhere" in output

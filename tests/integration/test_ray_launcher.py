"""`hydra/launcher=gpus` (hydra_plugins/tlc_launchers) on a Ray started by the sweep itself: fake
GPUs give one device per job and cap concurrency, and a failing job is reported without stopping
the others. Tiny toy runs through the real `tlc-train -m`; the runs' result.json is the oracle.
"""
from __future__ import annotations

import pytest

from tests.integration.conftest import TINY_RUN, most_at_once, results, tlc_train

pytestmark = pytest.mark.integration

GPUS = ["hydra/launcher=gpus"]


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
    args = ["-m", *GPUS, "hydra.launcher.cpu_slots=2", "experiment=ray_fail", "model.width=24",
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

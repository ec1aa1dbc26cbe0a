"""A Ray sweep whose job no node can hold is refused up front, naming the setting and the largest
node; a sweep waiting with none of its jobs running says what one job asks for and what is free.
Fake `ray.nodes()` resources, no Ray started."""
from __future__ import annotations

import pytest

from hydra_plugins.tlc_launchers.ray_resources import (
    GIB, job_request, request_settings, stall_line, unfit_line,
)

LAPTOP = {"CPU": 2.0, "memory": 8 * GIB, "cpu_slot": 1.0, "node:10.0.0.1": 1.0}
GPU_BOX = {"CPU": 16.0, "GPU": 4.0, "memory": 64 * GIB, "node:10.0.0.2": 1.0}


def refusal(options: dict, nodes: list[dict], remote: dict | None = None, cpus_per_job: int = 1,
            gpus_per_job: int = 1) -> str | None:
    settings = request_settings(remote or {}, cpus_per_job, gpus_per_job)
    return unfit_line(job_request(options), settings, nodes)


def test_cpus_per_job_beyond_the_only_node_is_refused():
    line = refusal({"num_cpus": 4, "num_gpus": 0, "resources": {"cpu_slot": 1}}, [LAPTOP], cpus_per_job=4,
                   gpus_per_job=0)
    assert line == ("hydra.launcher.cpus_per_job=4 asks for 4 CPUs per job but the largest node of the Ray "
                    "cluster has 2 CPUs (GPUs: 0)")


@pytest.mark.parametrize("options,remote,cpus,gpus,expected", [
    ({"num_cpus": 1, "num_gpus": 8}, {}, 1, 8,
     "hydra.launcher.gpus_per_job=8 asks for 8 GPUs per job but the largest node of the Ray cluster has "
     "4 GPUs (CPUs: 16)"),
    ({"num_cpus": 1, "num_gpus": 1, "memory": 100 * GIB}, {"memory": 100 * GIB}, 1, 1,
     f"hydra.launcher.ray.remote.memory={100 * GIB} asks for 100.0 GiB of memory per job but the largest "
     "node of the Ray cluster has 64.0 GiB of memory (CPUs: 16, GPUs: 4)"),
    ({"num_cpus": 1, "resources": {"TPU": 1}}, {"resources": {"TPU": 1}}, 1, 0,
     "hydra.launcher.ray.remote.resources.TPU=1 asks for 1 TPU per job but the largest node"),
    ({"num_cpus": 32}, {"num_cpus": 32}, 1, 0, "hydra.launcher.ray.remote.num_cpus=32 asks for 32 CPUs"),
])
def test_request_no_node_holds_names_its_setting_and_the_largest_node(options, remote, cpus, gpus, expected):
    assert refusal(options, [LAPTOP, GPU_BOX], remote, cpus, gpus).startswith(expected)


def test_request_that_fits_one_node_passes_even_if_the_cluster_total_is_what_matters_to_ray():
    assert refusal({"num_cpus": 16, "num_gpus": 4}, [LAPTOP, GPU_BOX], gpus_per_job=4) is None
    assert refusal({"num_cpus": 0, "num_gpus": 0}, [LAPTOP]) is None  # asks for nothing


def test_gpus_split_over_nodes_do_not_make_one_job_fit():
    # 8 GPUs in the cluster, but on two nodes: Ray would wait forever for a job of 8.
    line = refusal({"num_cpus": 1, "num_gpus": 8}, [GPU_BOX, dict(GPU_BOX)], gpus_per_job=8)
    assert line is not None and "has 4 GPUs" in line


def test_resources_on_different_nodes_are_refused_together():
    # CPUs enough on the GPU box, a cpu_slot only on the laptop: no node has both.
    line = refusal({"num_cpus": 4, "num_gpus": 0, "resources": {"cpu_slot": 1}}, [LAPTOP, GPU_BOX],
                   cpus_per_job=4, gpus_per_job=0)
    assert line == ("hydra.launcher.cpus_per_job=4 and a CPU-only job (one cpu_slot each) ask for 4 CPUs, "
                    "1 cpu_slot per job but no node of the Ray cluster has all of them "
                    "(nodes: 2 CPUs, 1 cpu_slot; 16 CPUs, 0 cpu_slot)")


def test_cluster_without_alive_nodes_is_refused():
    assert refusal({"num_cpus": 1}, []) == "one job asks for 1 CPU but the Ray cluster has no alive node"


def test_stall_line_says_what_is_free_and_whether_a_node_still_fits():
    request = {"CPU": 1.0, "GPU": 1.0}
    settings = request_settings({}, 1, 1)
    busy = stall_line(request, 61.4, {"CPU": 12.0}, GPU_BOX, [GPU_BOX], settings)
    assert busy == ("no job has started for 61 s: one job asks for 1 CPU, 1 GPU; the Ray cluster has "
                    "12 of 16 CPUs, 0 of 4 GPUs free (other work may hold them)")
    gone = stall_line(request, 120, LAPTOP, LAPTOP, [LAPTOP], settings)  # the GPU node left
    assert gone.endswith(". Now hydra.launcher.gpus_per_job=1 asks for 1 GPU per job but the largest node "
                         "of the Ray cluster has 0 GPUs (CPUs: 2)")

"""A SLURM sweep that cannot run is stopped before it waits: a request no node of the partition can
hold is refused from `sinfo`'s answer, and a refused `sbatch` is one line with SLURM's message,
exit status 2, and no sweep summary after it. Fake `sinfo`/`sbatch` scripts stand in for a cluster."""
from __future__ import annotations

import copy
import functools
import os
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from hydra_plugins.tlc_launchers import _slurm_launch
from hydra_plugins.tlc_launchers.slurm_launcher import SlurmLauncher
from tests.conftest import compose_train
from train_large.cli import TRAIN as train_cli
from train_large import jobs
from train_large.launchers import launcher_problems
from train_large.launchers import Node, gpu_count, mem_mb, parse_sinfo, read_nodes

SINFO = "vm|2|22899|gpu:2|debug*\nbig|64|515000|gpu:a100:8(S:0-1)|gpu\ncpu1|32|128000|(null)|cpu\n"


def fake_command(tmp_path: Path, monkeypatch, name: str, stdout: str = "", stderr: str = "", status: int = 0) -> None:
    """Put a `name` script first on PATH that prints `stdout`/`stderr` and exits with `status`."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.out").write_text(stdout)
    (folder / f"{name}.err").write_text(stderr)
    script = folder / name
    script.write_text(f'#!/bin/sh\ncat "{folder}/{name}.out"\ncat "{folder}/{name}.err" >&2\nexit {status}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


@functools.lru_cache(maxsize=1)
def preset():
    return compose_train(["hydra/launcher=slurm"], with_hydra=True).hydra.launcher


def slurm_launcher(*overrides: str):
    """The composed `hydra.launcher` node with `key=value` overrides (composing each takes 0.3 s);
    its interpolations (`${hydra.sweep.dir}`) stay unresolved, as pre-flight sees them."""
    launcher = copy.deepcopy(preset())
    for override in overrides:
        key, _, value = override.partition("=")
        OmegaConf.update(launcher, key.removeprefix("hydra.launcher."), yaml.safe_load(value))
    return launcher


def test_sinfo_lines_give_each_nodes_cpus_memory_and_gpus():
    assert parse_sinfo(SINFO)[:2] == [Node("vm", 2, 22899, 2, "debug", True), Node("big", 64, 515000, 8, "gpu", False)]
    assert [gpu_count(g) for g in ("gpu:2", "gpu:a100:4(S:0,1),mps:100", "(null)", "gpu")] == [2, 4, 0, 1]
    assert [mem_mb(m) for m in ("4000", "4G", "512M", "1T", "lots")] == [4000, 4096, 512, 1024 ** 2, None]


def test_the_presets_cpus_on_a_small_node_are_refused_in_one_line_naming_the_largest_node():
    problems = launcher_problems(slurm_launcher("hydra.launcher.mem_gb=1"), lambda: parse_sinfo(SINFO))
    assert problems == ["hydra.launcher.cpus_per_task=8 asks for 8 CPUs per node but the largest node of partition "
                        "debug has 2 CPUs (node vm); set hydra.launcher.cpus_per_task<=2"]


@pytest.mark.parametrize("overrides,expected", [
    (["partition=gpu", "cpus_per_task=8", "tasks_per_node=16"],
     "hydra.launcher.cpus_per_task=8 asks for 128 CPUs per node (8 x tasks_per_node=16) but the largest node of "
     "partition gpu has 64 CPUs (node big); set hydra.launcher.cpus_per_task<=4"),
    (["cpus_per_task=1", "mem_gb=64"],
     "hydra.launcher.mem_gb=64 asks for 64 GB per node but the largest node of partition debug has 22 GB (node vm); "
     "set hydra.launcher.mem_gb<=22"),
    (["cpus_per_task=2", "mem_gb=null", "mem_per_cpu=16G"],
     "hydra.launcher.mem_per_cpu=16G asks for 32768 MB per node (16G x 2 CPUs) but the largest node of partition "
     "debug has 22899 MB (node vm); set hydra.launcher.mem_per_cpu<=11449M"),
    (["partition=gpu", "gpus_per_node=null", "gres=gpu:16"],
     "hydra.launcher.gres=gpu:16 asks for 16 GPUs per node but the largest node of partition gpu has 8 GPUs "
     "(node big); set hydra.launcher.gres=gpu:8"),
    (["partition=cpu"],
     "hydra.launcher.gpus_per_node=1 asks for 1 GPU per node but no node of partition cpu has any; "
     "set hydra.launcher.gpus_per_node=null"),
    (["partition=nope"],
     "hydra.launcher.partition=nope: nope is not a partition of this cluster; choose one of: cpu, debug, gpu"),
    (["partition=gpu", "nodes=2"],
     "hydra.launcher.nodes=2 asks for 2 nodes but partition gpu has 1; set hydra.launcher.nodes<=1"),
])
def test_each_request_no_node_can_hold_names_its_setting(overrides, expected):
    launcher = slurm_launcher(*(f"hydra.launcher.{o}" for o in overrides))
    assert launcher_problems(launcher, lambda: parse_sinfo(SINFO)) == [expected]


def test_a_request_that_fits_or_a_cluster_that_cannot_say_is_not_refused():
    fits = slurm_launcher("hydra.launcher.partition=gpu")  # the preset: 8 CPUs, 32 GB, 1 GPU
    assert launcher_problems(fits, lambda: parse_sinfo(SINFO)) == []
    assert launcher_problems(slurm_launcher(), lambda: None) == []


def test_sinfo_is_read_from_path_and_a_failing_or_missing_one_checks_nothing(tmp_path, monkeypatch):
    fake_command(tmp_path, monkeypatch, "sinfo", stdout=SINFO)
    assert [node.name for node in read_nodes()] == ["vm", "big", "cpu1"]
    fake_command(tmp_path, monkeypatch, "sinfo", stderr="sinfo: fatal: Could not establish a configuration source\n",
                 status=1)
    assert read_nodes() is None
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert read_nodes() is None


def test_tlc_train_refuses_the_request_before_hydra_starts(tmp_path, monkeypatch):
    fake_command(tmp_path, monkeypatch, "sinfo", stdout=SINFO)
    argv = ["-m", "hydra/launcher=slurm", "hydra.launcher.cpus_per_task=64", "hydra.launcher.mem_gb=1", "--cfg", "job"]
    _, _, problems = train_cli.command_line_problems(argv)
    assert problems == ["hydra.launcher.cpus_per_task=64 asks for 64 CPUs per node but the largest node of partition "
                        "debug has 2 CPUs (node vm); set hydra.launcher.cpus_per_task<=2"]


def launcher_for(sweep_dir: Path) -> SlurmLauncher:
    """The SLURM launcher as Hydra builds it from the preset, set up for a sweep into `sweep_dir`."""
    settings = OmegaConf.to_container(slurm_launcher("hydra.launcher.name=test"), resolve=False)
    settings.pop("_target_")
    settings["submitit_folder"] = str(sweep_dir / ".submitit" / "%j")
    launcher = SlurmLauncher(**settings)
    launcher.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)}}})
    return launcher


def test_a_refused_sbatch_is_one_line_with_slurms_message_and_exit_status_2(tmp_path, monkeypatch, capsys):
    fake_command(tmp_path, monkeypatch, "sbatch", status=1,
                 stderr="sbatch: error: invalid partition specified: nope\n"
                        "sbatch: error: Batch job submission failed: Invalid partition name specified\n")
    fake_command(tmp_path, monkeypatch, "srun")  # submitit looks for srun first; a machine without SLURM has none
    monkeypatch.setattr(sys, "argv", ["/venv/bin/tlc-train", "-m"])
    with pytest.raises(SystemExit) as stop:
        _slurm_launch.launch(launcher_for(tmp_path / "sweep"), [["model.width=32"]], 0)
    assert stop.value.code == 2
    assert capsys.readouterr().err == ("tlc-train: error: sbatch refused the sweep: "
                                       "sbatch: error: invalid partition specified: nope\n")


def test_without_a_slurm_config_sbatchs_fatal_line_is_the_one_shown():
    error = _slurm_launch.subprocess.CalledProcessError(1, ["sbatch"], stderr=(
        "sbatch: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host\n"
        "sbatch: error: fetch_config: DNS SRV lookup failed\n"
        "sbatch: fatal: Could not establish a configuration source\n"))
    wrapped = RuntimeError("sbatch failed")
    wrapped.__cause__ = error
    assert _slurm_launch.sbatch_message(wrapped) == "sbatch: fatal: Could not establish a configuration source"


@pytest.mark.parametrize("status,summary", [(2, False), (1, True)])
def test_a_refused_sweep_prints_no_summary_but_a_failed_one_does(tmp_path, capsys, status, summary):
    def hydra_main():
        raise SystemExit(status)

    with pytest.raises(SystemExit):
        jobs.launch(["-m", "hydra/launcher=slurm"], hydra_main, lambda: tmp_path)
    out = capsys.readouterr()
    assert bool(out.out + out.err) == summary

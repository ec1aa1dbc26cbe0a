"""`hydra/launcher=gpus`: a sweep fanned out over the GPUs of this machine (or of a Ray cluster),
one job per `gpus_per_job` GPUs, or over CPU slots where there are no GPUs. The typed config and the
launcher class only (see __init__); the preset is conf/hydra/launcher/gpus.yaml.
"""
# No `from __future__ import annotations`: Hydra's plugin scan runs this module before it is in
# sys.modules, and dataclasses then cannot resolve string annotations.
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra_plugins.hydra_ray_launcher.ray_launcher import RayLauncher
from omegaconf import DictConfig


@dataclass
class RayOptions:
    init: Dict[str, Any] = field(default_factory=dict)  # extra ray.init(**init) arguments
    remote: Dict[str, Any] = field(default_factory=dict)  # ray.remote(**remote) options; win over the computed ones


@dataclass
class GpuLauncherConf:
    _target_: str = "hydra_plugins.tlc_launchers.gpu_launcher.GpuLauncher"
    address: Optional[str] = None  # Ray cluster to join (host:port); null = $RAY_ADDRESS, else start Ray here
    gpus_per_job: int = 1  # GPUs each job gets (k > 1: the job trains data-parallel on k GPUs)
    num_gpus: Optional[int] = None  # GPUs a Ray started here declares; null = Ray detects them
    cpu_slots: int = 1  # concurrent jobs when there are no GPUs (a Ray started here)
    cpus_per_job: int = 1  # CPUs each job reserves (also its OMP_NUM_THREADS)
    stall_after_s: int = 60  # seconds with jobs pending and none running before saying what they wait for; 0 = never
    ray: RayOptions = field(default_factory=RayOptions)


ConfigStore.instance().store(group="hydra/launcher", name="gpus_schema", node=GpuLauncherConf,
                             provider="tlc_launchers")


class GpuLauncher(RayLauncher):
    """hydra-ray-launcher's RayLauncher with placement checked against the cluster's nodes, a fresh
    process per job, state lines while it waits and a summary of every job's outcome (`_ray_launch`)."""

    def __init__(self, address: Optional[str], gpus_per_job: int, num_gpus: Optional[int], cpu_slots: int,
                 cpus_per_job: int, stall_after_s: int, ray: DictConfig) -> None:
        super().__init__(ray=ray)
        if (gpus_per_job < 0 or cpu_slots < 1 or cpus_per_job < 0 or stall_after_s < 0
                or (num_gpus is not None and num_gpus < 0)):
            raise ValueError(f"hydra.launcher: gpus_per_job={gpus_per_job}, cpus_per_job={cpus_per_job}, "
                             f"stall_after_s={stall_after_s} and num_gpus={num_gpus} must be >= 0, "
                             f"cpu_slots={cpu_slots} must be >= 1")
        self.address = address
        self.gpus_per_job = gpus_per_job
        self.num_gpus = num_gpus
        self.cpu_slots = cpu_slots
        self.cpus_per_job = cpus_per_job
        self.stall_after_s = stall_after_s

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from . import _ray_launch

        return _ray_launch.launch(self, job_overrides, initial_job_idx)

"""`hydra/launcher=slurm`: hydra-submitit-launcher's SLURM launcher, with the waiting made visible.

While the sweep's job array waits, the terminal shows one line per change of its jobs' states
(`2 jobs: 1 pending (Resources), 1 running`) and a heartbeat when nothing changes, from `squeue`
rather than submitit's sacct polling, which warns on every call where the cluster keeps no
accounting. A refused `sbatch` stops the command with sbatch's own message (exit status 2).

This module holds the typed config and the launcher class only, because Hydra imports it on
every start to discover plugins; submitit is imported by `_slurm_launch` when a sweep is launched.
The preset with values and comments is conf/hydra/launcher/slurm.yaml.
"""
# No `from __future__ import annotations`: Hydra's plugin scan runs this module before it is in
# sys.modules, and dataclasses then cannot resolve string annotations.
from dataclasses import dataclass
from typing import Any, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as SubmititSlurmLauncher


@dataclass
class TlcSlurmQueueConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.tlc_launchers.slurm_launcher.SlurmLauncher"
    poll_s: float = 5.0  # seconds between two `squeue` calls while the sweep waits
    heartbeat_s: float = 60.0  # most seconds between two state lines while nothing changes


ConfigStore.instance().store(group="hydra/launcher", name="slurm_schema", node=TlcSlurmQueueConf,
                             provider="tlc_launchers")


class SlurmLauncher(SubmititSlurmLauncher):
    """Submits like hydra-submitit-launcher's SlurmLauncher and returns the same JobReturns, but
    waits by polling `squeue` and reporting the jobs' states (see `_slurm_launch.launch`).

    The class keeps the base's name: train_large/launchers.py looks up the minimum of each
    setting by the name of `_target_`'s class.
    """

    def __init__(self, poll_s: float, heartbeat_s: float, **params: Any) -> None:
        # Only submitit's own parameters go to the base: it hands every one of them to sbatch.
        super().__init__(**params)
        if poll_s <= 0 or heartbeat_s <= 0:
            raise ValueError(f"hydra.launcher: poll_s={poll_s} and heartbeat_s={heartbeat_s} must be > 0")
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from . import _slurm_launch

        return _slurm_launch.launch(self, job_overrides, initial_job_idx)

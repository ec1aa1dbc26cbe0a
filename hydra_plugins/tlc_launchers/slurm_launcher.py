"""`hydra/launcher=slurm`: hydra-submitit-launcher's SLURM launcher, with the waiting made visible:
one line per change of the jobs' states (`2 jobs: 1 pending (Resources), 1 running`) and a heartbeat,
from `squeue` (see `_slurm_launch`). The typed config and the launcher class only (see __init__);
the preset is conf/hydra/launcher/slurm.yaml.
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
    """The base's submitting and JobReturns, with `_slurm_launch`'s wait. It keeps the base's name:
    train_large/launchers.py looks up each setting's minimum by the name of `_target_`'s class."""

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

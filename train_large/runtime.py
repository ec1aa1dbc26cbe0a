"""Where and how a run computes, resolved once on its machine: `device=auto`, `precision=auto`,
`num_workers=null` and `world_size=null` become what this machine has (train_large.config holds the
rules; this module asks torch), in a frozen `Runtime`; nothing downstream asks torch again."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Optional

import torch
from omegaconf import DictConfig, OmegaConf

from .config import resolve_device, resolve_num_workers, resolve_precision, resolve_world_size


@dataclass(frozen=True)
class Runtime:
    device: str  # cuda or cpu
    precision: str  # fp32, bf16 or fp16
    num_workers: int  # data-loading worker processes per training process
    world_size: int = 1  # data-parallel training processes

    def settings(self) -> dict:
        """The resolved values of the config keys a run records as it really used them."""
        return {"precision": self.precision, "num_workers": self.num_workers}

    def for_world(self, world_size: int) -> "Runtime":
        """The same runtime in a process group of `world_size` (a SLURM job's tasks)."""
        return dataclasses.replace(self, world_size=world_size)


def resolve_runtime(cfg: Any, device: Optional[str] = None) -> Runtime:
    """`cfg`'s runtime on this machine (`device`: instead of `cfg.device`); resolved values stay."""
    device = resolve_device(device or cfg.device, torch.cuda.is_available())
    cuda = device == "cuda"
    gpus = torch.cuda.device_count() if cuda else 0
    return Runtime(device, resolve_precision(cfg.precision, device, cuda and torch.cuda.is_bf16_supported()),
                   resolve_num_workers(cfg.num_workers, device, os.cpu_count() or 1, gpus),
                   resolve_world_size(cfg, device, gpus))


def with_runtime(cfg: Any, runtime: Runtime) -> DictConfig:
    """`cfg` with the runtime's resolved values in place of `auto` and `null`."""
    return OmegaConf.merge(cfg, runtime.settings())  # type: ignore[return-value]

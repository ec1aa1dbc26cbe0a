"""The settings a run resolves on the machine it runs on: `precision=auto` and `num_workers=null`
become what this device supports (train_large.config holds the rules; this module asks torch)."""
from __future__ import annotations

import os
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from .config import resolve_num_workers, resolve_precision


def runtime_settings(cfg: Any, device: str, gpus: int) -> dict:
    """{'precision', 'num_workers'} for `cfg` on `device`, shared by `gpus` processes of this node."""
    cuda = device == "cuda"
    return {"precision": resolve_precision(cfg.precision, device, cuda and torch.cuda.is_bf16_supported()),
            "num_workers": resolve_num_workers(cfg.num_workers, device, os.cpu_count() or 1, gpus if cuda else 0)}


def resolve_runtime(cfg: Any, device: str, gpus: int) -> DictConfig:
    """`cfg` with its runtime settings resolved (already-resolved values stay as they are)."""
    return OmegaConf.merge(cfg, runtime_settings(cfg, device, gpus))  # type: ignore[return-value]

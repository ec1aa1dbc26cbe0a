"""A module tree rebuilt from a state dict alone (names, values, `nn.Linear`/`nn.Embedding`, ties;
no forward), so a target ratio is checked before any data is loaded or engine built. fairseq's
one-element `version` and `_float_tensor` buffers are left out by name; anything else unknown
counts as a weight, which can only overestimate the size.
Pure torch: must not import Hydra, fairseq, wandb or train_large.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

BUFFER_NAMES = frozenset({"version", "_float_tensor"})  # fairseq's one-element bookkeeping buffers
EMBEDDING_NAMES = frozenset({"embed_tokens", "embed_positions"})


def skeleton(state: Mapping[str, torch.Tensor], dtype: torch.dtype | None = None) -> nn.Module:
    """A module tree whose parameters are the state dict's weights, cast to `dtype` when given (the
    precision the compression run holds them at: what its bytes count)."""
    root = nn.Module()
    shared: dict[tuple, nn.Parameter] = {}
    for name, tensor in state.items():
        *path, param_name = name.split(".")
        if param_name in BUFFER_NAMES or not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            continue
        module = root
        for depth, part in enumerate(path):
            if part not in module._modules:
                leaf = depth == len(path) - 1 and param_name == "weight" and tensor.dim() == 2
                kind = (nn.Embedding if part in EMBEDDING_NAMES else nn.Linear) if leaf else nn.Module
                child = kind.__new__(kind)  # without `kind`'s own __init__: no weights of its own
                nn.Module.__init__(child)
                module.add_module(part, child)
            module = module._modules[part]
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.stride())
        if key not in shared:
            shared[key] = nn.Parameter(tensor.detach().to(dtype or tensor.dtype), requires_grad=False)
        module.register_parameter(param_name, shared[key])
    return root

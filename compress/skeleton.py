"""A module tree rebuilt from a state dict alone, for size accounting before any model is built.

`tlc-compress` checks that a target ratio is reachable before it loads data or builds the
engine. Byte counts and target selection need only each weight's name, shape, values, the
type of module holding it (`nn.Linear` or `nn.Embedding`) and which names share one tensor,
and a state dict holds all of that: `skeleton(state)` rebuilds such a tree, so
`select_targets` and `plan_for_ratio` see the same weights as on the real model. The weights
keep the checkpoint's dtype (a bf16 run saves a bf16 model), unless `dtype` names the one the
compression run will hold them at, which is what its bytes count.

The skeleton is for counting, not for running: its modules have no forward. Tensors that
share storage (tied embeddings) become one Parameter. Buffers cannot be told apart from
parameters in a state dict, so the bookkeeping buffers fairseq adds (`version`,
`_float_tensor`, both of one element) are left out by name; anything else unknown counts as a
weight, which can only make the predicted size larger. Pure torch: must not import Hydra,
fairseq, wandb or train_large.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

BUFFER_NAMES = frozenset({"version", "_float_tensor"})  # fairseq's one-element bookkeeping buffers
EMBEDDING_NAMES = frozenset({"embed_tokens", "embed_positions"})


def _storage_key(tensor: torch.Tensor) -> tuple:
    return (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.stride())


def _child(parent: nn.Module, name: str, leaf_type: type[nn.Module] | None) -> nn.Module:
    if name not in parent._modules:
        module = leaf_type.__new__(leaf_type) if leaf_type else nn.Module.__new__(nn.Module)
        nn.Module.__init__(module)
        parent.add_module(name, module)
    return parent._modules[name]


def _leaf_type(module_name: str, param_name: str, tensor: torch.Tensor) -> type[nn.Module] | None:
    if param_name != "weight" or tensor.dim() != 2:
        return None
    return nn.Embedding if module_name in EMBEDDING_NAMES else nn.Linear


def skeleton(state: Mapping[str, torch.Tensor], dtype: torch.dtype | None = None) -> nn.Module:
    """A module tree whose parameters are the state dict's weights, tied tensors shared; cast to
    `dtype` when given (None: each keeps its own)."""
    root = nn.Module()
    shared: dict[tuple, nn.Parameter] = {}
    for name, tensor in state.items():
        *path, param_name = name.split(".")
        if param_name in BUFFER_NAMES or not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            continue
        module = root
        for depth, part in enumerate(path):
            leaf = depth == len(path) - 1
            module = _child(module, part, _leaf_type(part, param_name, tensor) if leaf else None)
        key = _storage_key(tensor)
        if key not in shared:
            shared[key] = nn.Parameter(tensor.detach().to(dtype or tensor.dtype), requires_grad=False)
        module.register_parameter(param_name, shared[key])
    return root

"""Which weights a compression method touches, chosen by module type and name (never by fairseq
class, so fairseq models, RoBERTa and `torch.nn.Transformer` follow the same rules):

- attention: `*_proj` Linears under a module named `*attn*`/`*attention*` or of an `*Attention`
  class, and `nn.MultiheadAttention`'s packed `in_proj_weight`;
- ffn: Linears named `fc1`/`fc2` (fairseq) or `linear1`/`linear2` (torch);
- embeddings: `nn.Embedding` weights, learned positions included;
- output: weights under `output_projection`, `lm_head` or `classification_heads`.

Never biases or tensors of fewer than two dimensions. A tied tensor is one target, named after
its first selected place, its other places kept as `aliases` so that masks and parametrisations
go onto every module that reads it. Pure torch: must not import Hydra, fairseq, wandb or train_large.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

FFN_NAMES = frozenset({"fc1", "fc2", "linear1", "linear2"})
OUTPUT_NAMES = frozenset({"output_projection", "lm_head", "classification_heads"})
PACKED_ATTENTION_WEIGHTS = frozenset({"in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"})


@dataclass(frozen=True, eq=False)
class Target:
    """One weight tensor to compress. `module.<param_name>` is the weight as computed with (masked,
    fake-quantized); `parameter` the trainable tensor behind it (`weight_orig` under pruning)."""

    name: str  # qualified name, e.g. "encoder.layers.0.fc1.weight"
    module: nn.Module
    param_name: str  # attribute on `module`: "weight" or "in_proj_weight"
    kind: str  # attention | ffn | embedding | output
    aliases: tuple[tuple[str, nn.Module, str], ...] = ()  # (name, module, param_name) of tied places

    @property
    def places(self) -> tuple[tuple[nn.Module, str], ...]:
        return ((self.module, self.param_name), *((m, p) for _, m, p in self.aliases))

    @property
    def parameter(self) -> nn.Parameter:
        return stored_parameter(self.module, self.param_name)

    @property
    def weight(self) -> torch.Tensor:
        return effective_weight(self.module, self.param_name)

    def numel(self) -> int:
        return self.parameter.numel()


def is_pruned(module: nn.Module, name: str) -> bool:
    """Whether `torch.nn.utils.prune` has reparametrised `module.<name>`."""
    return f"{name}_orig" in module._parameters and f"{name}_mask" in module._buffers


def stored_parameter(module: nn.Module, name: str) -> nn.Parameter:
    """The Parameter that holds `module.<name>`'s values, through pruning or parametrisation."""
    if is_pruned(module, name):
        return module._parameters[f"{name}_orig"]
    if parametrize.is_parametrized(module, name):
        return module.parametrizations[name].original
    return module._parameters[name]


def effective_weight(module: nn.Module, name: str) -> torch.Tensor:
    """`module.<name>` as the next forward will see it (the pruning hook may not have run yet)."""
    if is_pruned(module, name):
        return module._parameters[f"{name}_orig"] * module._buffers[f"{name}_mask"]
    return getattr(module, name)


def weight_places(model: nn.Module) -> dict[int, list[tuple[str, nn.Module, str]]]:
    """id(stored Parameter) -> every (qualified name, module, attribute) that reads it, in module
    registration order. A pruned `weight_orig` is named `weight`, a parametrised tensor by its own name."""
    places: dict[int, list[tuple[str, nn.Module, str]]] = {}
    for module_name, module in model.named_modules(remove_duplicate=False):
        if isinstance(module, parametrize.ParametrizationList):
            continue  # reached through the module that owns the parametrisation
        owned = [(name, param) for name, param in module._parameters.items() if param is not None]
        if parametrize.is_parametrized(module):
            owned += [(name, plist.original) for name, plist in module.parametrizations.items()]
        for name, param in owned:
            if name.endswith("_orig") and is_pruned(module, name[: -len("_orig")]):
                name = name[: -len("_orig")]
            places.setdefault(id(param), []).append((f"{module_name}.{name}" if module_name else name, module, name))
    return places


def _is_attention(name: str, module: nn.Module) -> bool:
    last = name.rsplit(".", 1)[-1].lower()
    return "attn" in last or "attention" in last or "Attention" in type(module).__name__


def _kind(qualified: str, module: nn.Module, param_name: str, modules: dict[str, nn.Module]) -> str | None:
    if stored_parameter(module, param_name).dim() < 2 or "bias" in param_name:
        return None
    module_name = qualified.rpartition(".")[0]
    parent_name = module_name.rpartition(".")[0]
    parts = module_name.split(".")
    if OUTPUT_NAMES.intersection(parts):
        return "output"
    if isinstance(module, nn.Embedding) and param_name == "weight":
        return "embedding"
    if isinstance(module, nn.Linear) and param_name == "weight":
        if parts[-1] in FFN_NAMES:
            return "ffn"
        if parts[-1].endswith("_proj") and module_name and _is_attention(parent_name, modules[parent_name]):
            return "attention"
    if param_name in PACKED_ATTENTION_WEIGHTS and _is_attention(module_name, module):
        return "attention"
    return None


def select_targets(model: nn.Module, *, attention: bool = True, ffn: bool = True,
                   embeddings: bool = False, output: bool = False) -> list[Target]:
    """The weights to compress, in module registration order. Raises ValueError when none match."""
    wanted = {"attention": attention, "ffn": ffn, "embedding": embeddings, "output": output}
    modules = dict(model.named_modules(remove_duplicate=False))
    targets = []
    for found in weight_places(model).values():
        chosen = [(place, kind) for place in found if (kind := _kind(*place, modules)) and wanted[kind]]
        if not chosen:
            continue
        (name, module, param_name), kind = chosen[0]
        distinct: dict[tuple[int, str], tuple[str, nn.Module, str]] = {}
        for place in found:  # a module shared under two names is one place
            distinct.setdefault((id(place[1]), place[2]), place)
        del distinct[(id(module), param_name)]
        targets.append(Target(name, module, param_name, kind, tuple(distinct.values())))
    if not targets:
        kinds = ", ".join(kind for kind, on in wanted.items() if on) or "none"
        raise ValueError(f"no weights to compress in {type(model).__name__} for kinds [{kinds}] "
                         f"(attention *_proj, ffn fc1/fc2, embeddings, output heads)")
    return targets


def check_targets(model: nn.Module, targets: list[Target]) -> None:
    """Raises ValueError when a target is not part of `model` (e.g. selected on a copy)."""
    modules = {id(m) for m in model.modules()}
    for target in targets:
        if id(target.module) not in modules:
            raise ValueError(f"target {target.name} is not part of this model; "
                             f"select the targets on the model being compressed")

"""k-bit weight quantization: post-training, quantization-aware training, and torch's int8 path.

Symmetric uniform quantization: a weight w is stored as an integer code
c = clamp(round(w / scale), -q, q) with q = 2^(k-1) - 1, and read back as c * scale, where
scale = max|w| / q over the tensor (granularity "tensor") or over each output row, dim 0
("channel"). Zero stays exactly zero, so pruning survives quantization. `quantize_weights` is
the accounting path (its codes and scales are what `footprint.model_bytes` counts);
`int8_dynamic` is the deployment path (torch's own int8 kernels, for measuring CPU latency).
Pure torch: must not import fairseq, wandb or train_large.engine.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize

from .targets import Target, check_targets, is_pruned

GRANULARITIES = ("tensor", "channel")
MIN_BITS, MAX_BITS = 2, 16


@dataclass(frozen=True)
class QuantizedTensor:
    codes: torch.Tensor  # integer levels in [-(2^(bits-1)-1), 2^(bits-1)-1]; int8 if bits <= 8, else int16
    scale: torch.Tensor  # float32: shape () per tensor, (rows,) per channel; 0 for an all-zero row
    bits: int
    granularity: str  # tensor | channel

    def dequantize(self) -> torch.Tensor:
        scale = self.scale if self.granularity == "tensor" else self.scale.view(-1, *[1] * (self.codes.dim() - 1))
        return self.codes.float() * scale


def check_quantization(bits: int, granularity: str) -> None:
    """Raises ValueError (one line) for bits outside 2..16 or an unknown granularity."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"compression.bits must be an integer in {MIN_BITS}..{MAX_BITS} "
                         f"(1 bit leaves no symmetric level but zero), got {bits!r}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"compression.granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")


def _scale(weight: torch.Tensor, levels: int, granularity: str) -> torch.Tensor:
    amax = weight.abs().amax() if granularity == "tensor" else weight.abs().flatten(1).amax(dim=1)
    return (amax / levels).float()


def quantize_tensor(weight: torch.Tensor, bits: int, granularity: str = "channel") -> QuantizedTensor:
    """Codes and scales of `weight` (per output row when granularity is "channel")."""
    check_quantization(bits, granularity)
    levels = 2 ** (bits - 1) - 1
    with torch.no_grad():
        weight = weight.detach().float()
        scale = _scale(weight, levels, granularity)
        safe = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero row: codes 0, no NaN
        if granularity == "channel":
            safe = safe.view(-1, *[1] * (weight.dim() - 1))
        codes = torch.round(weight / safe).clamp_(-levels, levels)
    return QuantizedTensor(codes.to(torch.int8 if bits <= 8 else torch.int16), scale, bits, granularity)


def fake_quantize(weight: torch.Tensor, bits: int, granularity: str = "channel") -> torch.Tensor:
    """quantize-then-dequantize, with a straight-through gradient (d out / d weight = 1)."""
    with torch.no_grad():
        deployed = quantize_tensor(weight, bits, granularity).dequantize().to(weight.dtype)
    return weight + (deployed - weight).detach()


def quantize_weights(model: nn.Module, targets: Sequence[Target], bits: int,
                     granularity: str = "channel") -> dict[str, QuantizedTensor]:
    """Quantize each target and write the dequantized values back, so `model` evaluates as deployed.

    Returns the codes and scales by target name (what `footprint.model_bytes` counts). Running
    it twice gives the same codes.

    Raises:
        ValueError: bits outside 2..16, unknown granularity, or targets not in `model`.
    """
    check_quantization(bits, granularity)
    check_targets(model, list(targets))
    quantized = {}
    for target in targets:
        q = quantize_tensor(target.weight, bits, granularity)
        with torch.no_grad():
            target.parameter.copy_(q.dequantize().to(target.parameter.dtype))
        for module, name in target.places:
            if is_pruned(module, name):  # refresh the masked view the pruning hook would compute
                setattr(module, name, module._parameters[f"{name}_orig"] * module._buffers[f"{name}_mask"])
        quantized[target.name] = q
    return quantized


class FakeQuant(nn.Module):
    """Parametrisation: the weight is used as deployed, gradients pass straight through (STE)."""

    def __init__(self, bits: int, granularity: str = "channel") -> None:
        super().__init__()
        check_quantization(bits, granularity)
        self.bits, self.granularity = bits, granularity

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return fake_quantize(weight, self.bits, self.granularity)


class InputFakeQuant(nn.Module):
    """Per-tensor fake quantization of a Linear's input, scaled by a running max-abs observer.

    The observer is an exponential moving average of each training batch's max|x| (the rule of
    torch's MovingAverageMinMaxObserver): a running maximum would let one outlier batch set the
    scale for good. In eval mode the scale is frozen.
    """

    def __init__(self, bits: int, momentum: float = 0.01) -> None:
        super().__init__()
        check_quantization(bits, "tensor")
        self.bits, self.momentum = bits, momentum  # momentum: weight of the newest batch
        self.register_buffer("amax", torch.zeros(()))
        self.register_buffer("observed", torch.zeros((), dtype=torch.bool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                batch = x.detach().abs().amax().float()
                self.amax.copy_(torch.where(self.observed, torch.lerp(self.amax, batch, self.momentum), batch))
                self.observed.fill_(True)
        levels = 2 ** (self.bits - 1) - 1
        with torch.no_grad():
            scale = torch.where(self.amax > 0, self.amax / levels, torch.ones_like(self.amax))
            deployed = (torch.round(x / scale).clamp_(-levels, levels) * scale).to(x.dtype)
        return x + (deployed - x).detach()


def _quantize_input(module: nn.Module, args: tuple) -> tuple:
    return (module.input_fake_quant(args[0]), *args[1:])


def attach_fake_quant(model: nn.Module, targets: Sequence[Target], bits: int, granularity: str = "channel",
                      *, activations: bool = False, activation_bits: int = 8) -> None:
    """Quantization-aware training: every targeted weight is fake-quantized in each forward.

    `activations` also fake-quantizes the inputs of targeted `nn.Linear`s (per tensor, at
    `activation_bits`). `detach_fake_quant` removes all of it and leaves the quantized values.

    Raises:
        ValueError: bad bits or granularity, targets not in `model`, or a target still under a
            pruning mask (make the pruning permanent first: the mask would not see the scale).
    """
    check_quantization(bits, granularity)
    check_targets(model, list(targets))
    for target in targets:
        if any(is_pruned(module, name) for module, name in target.places):
            raise ValueError(f"{target.name} still has a pruning mask; call compress.prune.make_permanent "
                             f"before attaching fake quantization")
    for target in targets:
        for module, name in target.places:
            parametrize.register_parametrization(module, name, FakeQuant(bits, granularity))
            if activations and isinstance(module, nn.Linear) and not hasattr(module, "input_fake_quant"):
                module.input_fake_quant = InputFakeQuant(activation_bits)
                module.input_fake_quant.hook = module.register_forward_pre_hook(_quantize_input)


def detach_fake_quant(model: nn.Module) -> int:
    """Remove fake quantization, baking the quantized weights into plain Parameters; returns how many.

    Tied tensors keep one shared Parameter.
    """
    parametrized = [(module, name) for module in model.modules() if parametrize.is_parametrized(module)
                    for name, plist in module.parametrizations.items()
                    if any(isinstance(p, FakeQuant) for p in plist)]
    with torch.no_grad():
        baked = [(module.parametrizations[name].original, getattr(module, name).detach().clone())
                 for module, name in parametrized]
    for module, name in parametrized:
        parametrize.remove_parametrizations(module, name, leave_parametrized=False)
    with torch.no_grad():
        for original, value in baked:
            original.copy_(value)
    for module in model.modules():
        if isinstance(getattr(module, "input_fake_quant", None), InputFakeQuant):
            module.input_fake_quant.hook.remove()
            del module.input_fake_quant
    return len(parametrized)


def int8_dynamic(model: nn.Module) -> nn.Module:
    """A copy of `model` whose `nn.Linear`s run torch's int8 kernels (dynamic activation scales).

    Deployment path for measuring CPU latency and serialized size, not the accounting path:
    torch picks its own scales (per tensor, qint8) and skips Linears it cannot swap (e.g. the
    `out_proj` of `nn.MultiheadAttention`). `torch.ao.quantization` warns that it is deprecated
    in favour of torchao; it is still the int8 CPU path that ships with torch, so the warning is
    silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)

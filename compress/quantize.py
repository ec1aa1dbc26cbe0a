"""k-bit weight quantization: post-training and quantization-aware training.

Symmetric uniform: w is stored as c = clamp(round(w / scale), -q, q), q = 2^(k-1) - 1, read
back as c * scale, with scale = max|w| / q per tensor or per output row (dim 0, "channel"). Zero
stays zero, so pruning survives. Every path (weights, QAT, activations) rounds with torch's
`fake_quantize_per_channel_affine`. `quantize_weights` gives the codes `footprint` counts.
Pure torch: must not import Hydra, fairseq, wandb or train_large.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from .prune import refresh_masks
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
        return (_groups(self.codes.float(), self.granularity) * self.scale.reshape(-1, 1)).view(self.codes.shape)


def check_quantization(bits: int, granularity: str) -> None:
    """Raises ValueError (one line) for bits outside 2..16 or an unknown granularity."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"compression.bits must be an integer in {MIN_BITS}..{MAX_BITS} "
                         f"(1 bit leaves no symmetric level but zero), got {bits!r}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"compression.granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")


def _groups(weight: torch.Tensor, granularity: str) -> torch.Tensor:
    """`weight` as (groups, n): one row per output channel, or a single row for the tensor."""
    return weight.flatten(1) if granularity == "channel" else weight.reshape(1, -1)


def _round_trip(groups: torch.Tensor, amax: torch.Tensor, bits: int) -> torch.Tensor:
    """Each row of `groups` (fp32) quantized at scale amax[row] / q and read back, by torch's
    kernel. It rounds x * (1 / scale) half to even; the round(x / scale) it replaced differed at
    near-ties: 1 weight in 1e6 at 8 bits, 1.5e-4 at 16, none at 6 or fewer."""
    levels = 2 ** (bits - 1) - 1
    scale = amax.float() / levels
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero row: codes 0, no NaN
    zero_point = torch.zeros_like(scale, dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(groups, scale, zero_point, 0, -levels, levels)


def quantize_tensor(weight: torch.Tensor, bits: int, granularity: str = "channel") -> QuantizedTensor:
    """Codes and scales of `weight` (per output row when granularity is "channel")."""
    check_quantization(bits, granularity)
    with torch.no_grad():
        groups = _groups(weight.detach().float(), granularity)
        amax = groups.abs().amax(dim=1)
        scale = amax / (2 ** (bits - 1) - 1)
        # exact: the kernel's values are integer codes times the scale (1 for an all-zero row)
        codes = torch.round(_round_trip(groups, amax, bits) / torch.where(amax > 0, scale, 1.0).unsqueeze(1))
    return QuantizedTensor(codes.view(weight.shape).to(torch.int8 if bits <= 8 else torch.int16),
                           scale if granularity == "channel" else scale.reshape(()), bits, granularity)


def quantize_weights(model: nn.Module, targets: Sequence[Target], bits: int,
                     granularity: str = "channel") -> dict[str, QuantizedTensor]:
    """Quantize each target and write the dequantized values back, so `model` evaluates as deployed;
    returns the codes and scales by target name (idempotent). Raises ValueError for bad bits or
    granularity (`quantize_tensor`), or targets not in `model`."""
    check_targets(model, list(targets))
    quantized = {}
    for target in targets:
        q = quantize_tensor(target.weight, bits, granularity)
        with torch.no_grad():
            target.parameter.copy_(q.dequantize().to(target.parameter.dtype))
        refresh_masks(target.places)
        quantized[target.name] = q
    return quantized


class FakeQuant(nn.Module):
    """Parametrisation: the weight is used as deployed, gradients pass straight through (STE)."""

    def __init__(self, bits: int, granularity: str = "channel") -> None:
        super().__init__()
        check_quantization(bits, granularity)
        self.bits, self.granularity = bits, granularity

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        # At fp32 whatever the weight's dtype: QAT trains on the values `quantize_tensor`'s fp32
        # codes and scales deploy (in bf16 the kernel would scale at bf16). Its backward passes
        # the gradient wherever the code is in range: everywhere, with scale = max|w| / q.
        groups = _groups(weight.float(), self.granularity)
        return _round_trip(groups, groups.detach().abs().amax(dim=1), self.bits).view(weight.shape).to(weight.dtype)


class InputFakeQuant(nn.Module):
    """Per-tensor fake quantization of a Linear's input. The scale follows an exponential moving
    average of each training batch's max|x| (as torch's MovingAverageMinMaxObserver): a running
    maximum would let one outlier batch set it for good. Frozen in eval mode."""

    def __init__(self, bits: int, momentum: float = 0.01) -> None:
        super().__init__()
        check_quantization(bits, "tensor")
        self.bits, self.momentum = bits, momentum  # momentum: weight of the newest batch
        self.register_buffer("amax", torch.zeros(()))
        self.register_buffer("observed", torch.zeros((), dtype=torch.bool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            if self.training:
                batch = x.detach().abs().amax().float()
                self.amax.copy_(torch.where(self.observed, torch.lerp(self.amax, batch, self.momentum), batch))
                self.observed.fill_(True)
            # at fp32 as for weights: in bf16, x / scale would be rounded to bf16 before the code
            deployed = _round_trip(x.detach().float().reshape(1, -1), self.amax.reshape(1), self.bits)
        # Straight through everywhere, inputs beyond amax included: torch's own backward would
        # zero their gradient, which the QAT runs so far were not trained with.
        return x + (deployed.view(x.shape).to(x.dtype) - x).detach()


def _quantize_input(module: nn.Module, args: tuple) -> tuple:
    return (module.input_fake_quant(args[0]), *args[1:])


def attach_fake_quant(model: nn.Module, targets: Sequence[Target], bits: int, granularity: str = "channel",
                      *, activations: bool = False, activation_bits: int = 8) -> None:
    """Quantization-aware training: every targeted weight (and with `activations`, the input of
    every targeted `nn.Linear`, per tensor) is fake-quantized in each forward. Raises ValueError
    for targets not in `model`, ones still under a pruning mask, or bad bits or granularity (`FakeQuant`)."""
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
    """Bake the fake-quantized weights into plain Parameters (tied ones stay shared); returns how many."""
    parametrized = [(module, name) for module in model.modules() if parametrize.is_parametrized(module)
                    for name, plist in module.parametrizations.items()
                    if any(isinstance(p, FakeQuant) for p in plist)]
    with torch.no_grad():
        baked = [(module.parametrizations[name].original, getattr(module, name).clone())
                 for module, name in parametrized]
        for module, name in parametrized:  # leave_parametrized=True would untie tied tensors
            parametrize.remove_parametrizations(module, name, leave_parametrized=False)
        for original, value in baked:
            original.copy_(value)
    for module in model.modules():
        if isinstance(getattr(module, "input_fake_quant", None), InputFakeQuant):
            module.input_fake_quant.hook.remove()
            del module.input_fake_quant
    return len(parametrized)


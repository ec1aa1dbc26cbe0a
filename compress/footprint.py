"""The bytes a deployed model needs, and the compression settings that reach a size ratio.

Only parameters count, each tied tensor once, a pruned one as its effective weight. Each tensor
takes the cheapest layout: dense, ceil(numel * bits / 8); bitmask, ceil(numel / 8) + the nonzeros
packed; csr, the nonzeros packed + a uint16 (int32 past 65,536 columns) column index per nonzero
+ (rows + 1) int32 row pointers, rows being dim 0 (a 1-d tensor is one row). Quantized tensors
add 4 bytes per fp32 scale. Unquantized weights count at the dtype the model holds them at; the
ratio's baseline is always fp32 (`fp32_bytes`), so an untouched bf16 model is 2x.
Pure torch: must not import Hydra, fairseq, wandb or train_large.
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .quantize import MAX_BITS, MIN_BITS, QuantizedTensor, check_quantization
from .skeleton import skeleton
from .targets import Target, check_targets, effective_weight, weight_places

FP32_BYTES = 4  # per parameter in the ratio's baseline
SCALE_BYTES = 4  # fp32 scale per channel or per tensor
ROW_POINTER_BYTES = 4  # int32
METHODS = ("prune", "quantize", "prune_quantize")
# prune_quantize tries these (bits, highest sparsity) in order; see plan_for_ratio.
PRUNE_QUANTIZE_STAGES = ((8, 0.9), (4, 1.0))
PRECISION_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


@dataclass(frozen=True)
class TensorBytes:
    name: str
    numel: int
    nonzeros: int
    bits: int  # bits per stored value: k when quantized, else the dtype's
    dense_bytes: int
    sparse_bytes: int | None  # cheapest sparse layout; None when sparse formats are off
    format: str  # dense | bitmask | csr
    bytes: int


@dataclass(frozen=True)
class Footprint:
    rows: list[TensorBytes]
    fp32_bytes: int  # 4 bytes x every parameter, tied ones once: the baseline of `ratio`
    bytes: int
    precision: str = "fp32"  # `precision=` name(s) of the weights' dtype(s), '+'-joined: bf16+fp32

    @property
    def ratio(self) -> float:
        return self.fp32_bytes / self.bytes

    def to_dict(self) -> dict:
        return {"fp32_bytes": self.fp32_bytes, "size_bytes": self.bytes, "ratio": self.ratio,
                "precision": self.precision, "tensors": [asdict(row) for row in self.rows]}


@dataclass(frozen=True)
class Plan:
    sparsity: float  # 0.0 when not pruning
    bits: int | None  # None when weights keep their dtype
    predicted_bytes: int
    predicted_ratio: float


def index_bytes(columns: int) -> int:
    """Width of one CSR column index: uint16 when it can address every column, else int32."""
    return 2 if columns <= 2**16 else 4


def grid(shape: Sequence[int]) -> tuple[int, int]:
    """(rows, columns) as CSR stores a tensor: dim 0 by the other dimensions flattened."""
    rows = shape[0] if len(shape) >= 2 else 1
    return rows, (math.prod(shape) // rows if rows else 0)


def tensor_bytes(name: str, shape: Sequence[int], nonzeros: int, bits: int, scales: int = 0,
                 sparse_format: bool = True) -> TensorBytes:
    """Bytes of one tensor stored with `bits` per value and `scales` fp32 scales."""
    numel = math.prod(shape)
    rows, columns = grid(shape)
    extra = SCALE_BYTES * scales
    dense = math.ceil(numel * bits / 8) + extra
    if not sparse_format:
        return TensorBytes(name, numel, nonzeros, bits, dense, None, "dense", dense)
    values = math.ceil(nonzeros * bits / 8) + extra
    bitmask = math.ceil(numel / 8) + values
    csr = values + nonzeros * index_bytes(columns) + (rows + 1) * ROW_POINTER_BYTES
    sparse, layout = (bitmask, "bitmask") if bitmask <= csr else (csr, "csr")
    chosen, layout = (dense, "dense") if dense <= sparse else (sparse, layout)
    return TensorBytes(name, numel, nonzeros, bits, dense, sparse, layout, chosen)


def _rows(model: nn.Module, quantized: dict[str, QuantizedTensor] | None,
          sparse_format: bool) -> list[tuple[int, TensorBytes]]:
    places = weight_places(model)
    by_name = {name: key for key, found in places.items() for name, _, _ in found}
    unknown = sorted(set(quantized or {}) - set(by_name))
    if unknown:
        raise ValueError(f"quantized tensors not in this model: {', '.join(unknown[:3])}")
    codes = {by_name[name]: q for name, q in (quantized or {}).items()}
    rows = []
    with torch.no_grad():
        for key, [(name, module, attribute), *_] in places.items():
            value, q = effective_weight(module, attribute), codes.get(key)
            stored = ((int(torch.count_nonzero(value)), value.element_size() * 8, 0) if q is None
                      else (int(torch.count_nonzero(q.codes)), q.bits, q.scale.numel()))  # nonzeros, bits, scales
            rows.append((key, tensor_bytes(name, value.shape, *stored, sparse_format)))
    return rows


def model_bytes(model: nn.Module, *, quantized: dict[str, QuantizedTensor] | None = None,
                sparse_format: bool = True) -> Footprint:
    """Deployed size of `model`; `quantized`: codes and scales by weight name (any name of a tied
    tensor), as `quantize_weights` returns them. `sparse_format=False` stores every tensor dense."""
    rows = [row for _, row in _rows(model, quantized, sparse_format)]
    dtypes = {PRECISION_NAMES.get(p.dtype, str(p.dtype).removeprefix("torch.")) for p in model.parameters()}
    return Footprint(rows, FP32_BYTES * sum(row.numel for row in rows), sum(row.bytes for row in rows),
                     "+".join(sorted(dtypes)))


def state_bytes(state: Mapping[str, torch.Tensor]) -> int:
    """Bytes of a state dict's weights stored dense at their own dtype, each tied tensor once."""
    return model_bytes(skeleton(state), sparse_format=False).bytes


def _target_bytes(targets: list[Target], zeros: int | None, bits: int | None, granularity: str,
                  sparse_format: bool, current: dict[int, TensorBytes]) -> int:
    """Predicted bytes of the targets with `zeros` pruned in all (None: as they are) at `bits`.
    With pruning, min(all dense, all bitmask): an upper bound however global pruning spreads its
    zeros, as bitmask bytes are linear in nonzeros (up to the packing slack counted here)."""
    shapes = [tuple(t.parameter.shape) for t in targets]
    bit_widths = [bits or t.parameter.element_size() * 8 for t in targets]
    scales = [0 if bits is None else (1 if granularity == "tensor" else shape[0]) for shape in shapes]
    counted = sum(tensor_bytes(t.name, shape, current[id(t.parameter)].nonzeros, b, s,
                               sparse_format and zeros is None).bytes
                  for t, shape, b, s in zip(targets, shapes, bit_widths, scales))
    if zeros is None or not sparse_format:
        return counted
    width = max(bit_widths)  # mixed dtypes: bound every value by the widest
    nonzeros = sum(math.prod(shape) for shape in shapes) - zeros
    slack = 0 if width % 8 == 0 else 7 * len(targets)  # each tensor pads its packed values to a byte
    bitmask = (sum(math.ceil(math.prod(shape) / 8) for shape in shapes) + (nonzeros * width + slack) // 8
               + SCALE_BYTES * sum(scales))
    return min(counted, bitmask)


def plan_for_ratio(model: nn.Module, targets: Sequence[Target], ratio: float, method: str, *,
                   granularity: str = "channel", sparse_format: bool = True) -> Plan:
    """The least compression that reaches `ratio` = fp32 bytes / bytes, as `model_bytes` counts.

    quantize: the largest bits in 16..2. prune: the smallest sparsity (bisection). prune_quantize:
    8 bits (near lossless) with the smallest sparsity up to 0.9 (the end of the paper's sweep),
    else 4 bits below sparsity 1; without the 0.9 cap, 4 bits would never be chosen. The
    predicted ratio is a lower bound after global pruning (layer-wise rounding may leave one
    more weight per tensor). Raises ValueError for a bad ratio or method, or one out of reach.
    """
    if method not in METHODS:
        raise ValueError(f"compression.method must be one of {', '.join(METHODS)}, got {method!r}")
    if not ratio > 0:
        raise ValueError(f"compression.ratio must be > 0 (fp32 bytes / compressed bytes), got {ratio}")
    check_quantization(MAX_BITS, granularity)  # only the granularity is in question
    targets = list(targets)
    check_targets(model, targets)
    rows = dict(_rows(model, None, sparse_format))
    fp32_bytes = FP32_BYTES * sum(row.numel for row in rows.values())
    targeted = {id(t.parameter) for t in targets}
    fixed = sum(row.bytes for key, row in rows.items() if key not in targeted)
    numel = sum(t.numel() for t in targets)

    def predict(zeros: int | None, bits: int | None) -> int:
        return fixed + _target_bytes(targets, zeros, bits, granularity, sparse_format, rows)

    if method == "quantize":
        for bits in range(MAX_BITS, MIN_BITS - 1, -1):
            size = predict(None, bits)
            if fp32_bytes / size >= ratio:
                return Plan(0.0, bits, size, fp32_bytes / size)
        best = fp32_bytes / predict(None, MIN_BITS)
    else:
        for bits, sparsity in ((None, 1.0),) if method == "prune" else PRUNE_QUANTIZE_STAGES:
            most = min(round(sparsity * numel), numel - 1)
            # the fewest zeros that reach `ratio`, by bisection: predicted bytes never grow with zeros
            zeros = bisect.bisect_left(range(most + 1), True, key=lambda k, b=bits: fp32_bytes / predict(k, b) >= ratio)
            if zeros <= most:
                size = predict(zeros, bits)
                return Plan(zeros / numel, bits, size, fp32_bytes / size)
        best = fp32_bytes / predict(most, bits)
    raise ValueError(f"compression.ratio={ratio} is out of reach for {method} on this model: predicted at most "
                     f"{best:.3f}x ({fixed:,} bytes of untargeted weights stay)")

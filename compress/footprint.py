"""The bytes a deployed model needs, and the compression settings that reach a size ratio.

Only parameters count (each tied tensor once, a pruned one as its effective weight, never as
`weight_orig` plus a mask); buffers such as prune masks and sinusoidal tables are not stored.
Each tensor takes the cheapest of three layouts:

- dense: ceil(numel * bits / 8) bytes (k-bit codes packed; unquantized at their dtype's size);
- bitmask: ceil(numel / 8) bytes of mask + the nonzero values packed;
- csr: the nonzero values packed + one column index per nonzero (uint16 when a row has at most
  65,536 columns, else int32) + (rows + 1) int32 row pointers. Rows are dim 0; the other
  dimensions are flattened into columns; a 1-d tensor is one row.

Quantized tensors add their fp32 scales (4 bytes per channel or per tensor) in every layout.
With fp32 values the bitmask costs 1/32 of dense, so pruning half the weights stores
1/2 + 1/32 of them, not 1/2 (with bf16 values, 1/16).

An unquantized tensor counts at the dtype the model holds it at, the one it was evaluated at: 16
bits in a bf16 or fp16 model, 32 in an fp32 one. The ratio's baseline is always the model at
fp32 (`fp32_bytes`), whatever its precision, so models of any precision compare on one scale:
an untouched bf16 model is 2x. Pure torch: must not import Hydra, fairseq, wandb or train_large.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
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
# dtype -> its name in train_large's `precision=`
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
    precision: str = "fp32"  # the dtype the model holds its weights at (unquantized ones are stored at it)

    @property
    def ratio(self) -> float:
        return self.fp32_bytes / self.bytes

    def to_dict(self) -> dict:
        return {"fp32_bytes": self.fp32_bytes, "size_bytes": self.bytes, "ratio": self.ratio,
                "precision": self.precision, "tensors": [asdict(row) for row in self.rows]}


@dataclass(frozen=True)
class Plan:
    method: str
    sparsity: float  # 0.0 when not pruning
    bits: int | None  # None when weights keep their dtype
    predicted_bytes: int
    predicted_ratio: float


def precision_name(dtypes: Iterable[torch.dtype]) -> str:
    """`bf16`: the dtypes as `precision=` names them; several joined by '+' (`bf16+fp32`)."""
    return "+".join(sorted({PRECISION_NAMES.get(dtype, str(dtype).removeprefix("torch.")) for dtype in dtypes}))


def index_bytes(columns: int) -> int:
    """Width of one CSR column index: uint16 when it can address every column, else int32."""
    return 2 if columns <= 2**16 else 4


def grid(shape: Sequence[int]) -> tuple[int, int]:
    """(rows, columns) as CSR stores a tensor: rows are dim 0, the other dimensions flattened into
    columns; a 1-d tensor is one row."""
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
    """Deployed size of `model`, per tensor and in total.

    `quantized` maps a weight's name (any name of a tied tensor) to its codes and scales, as
    `quantize.quantize_weights` returns them; other tensors count at their dtype's size (2 bytes
    in bf16 and fp16). `sparse_format=False` stores every tensor dense.

    Raises:
        ValueError: a name in `quantized` is not a parameter of `model`.
    """
    rows = [row for _, row in _rows(model, quantized, sparse_format)]
    return Footprint(rows, FP32_BYTES * sum(row.numel for row in rows), sum(row.bytes for row in rows),
                     precision_name(p.dtype for p in model.parameters()))


def state_bytes(state: Mapping[str, torch.Tensor]) -> int:
    """Bytes of a state dict's weights stored dense at their own dtype, each tied tensor once: a
    source checkpoint as it ships (an untouched model's `model_bytes`, unless it is sparse)."""
    return model_bytes(skeleton(state), sparse_format=False).bytes


def _target_bytes(targets: list[Target], zeros: int | None, bits: int | None, granularity: str,
                  sparse_format: bool, current: dict[int, TensorBytes]) -> int:
    """Predicted bytes of the targets with `zeros` pruned in all (None: as they are) at `bits`.

    With pruning, the prediction is min(all dense, all bitmask), an upper bound on the real
    footprint however global pruning spreads its zeros (bitmask bytes are linear in nonzeros,
    up to the packing slack counted here, and each tensor then takes its cheapest layout).
    """
    shapes = [tuple(t.parameter.shape) for t in targets]
    bit_widths = [bits or t.parameter.element_size() * 8 for t in targets]
    scales = [0 if bits is None else (1 if granularity == "tensor" else shape[0]) for shape in shapes]
    if zeros is None:
        return sum(tensor_bytes(t.name, shape, current[id(t.parameter)].nonzeros, b, s, sparse_format).bytes
                   for t, shape, b, s in zip(targets, shapes, bit_widths, scales))
    dense = sum(tensor_bytes(t.name, shape, 0, b, s, False).bytes
                for t, shape, b, s in zip(targets, shapes, bit_widths, scales))
    if not sparse_format:
        return dense
    width = max(bit_widths)  # mixed dtypes: bound every value by the widest
    nonzeros = sum(math.prod(shape) for shape in shapes) - zeros
    slack = 0 if width % 8 == 0 else 7 * len(targets)  # each tensor pads its packed values to a byte
    bitmask = (sum(math.ceil(math.prod(shape) / 8) for shape in shapes) + (nonzeros * width + slack) // 8
               + SCALE_BYTES * sum(scales))
    return min(dense, bitmask)


def _smallest_zeros(predict, most: int, fp32_bytes: int, ratio: float) -> int | None:
    """The fewest pruned weights (up to `most`) whose predicted ratio reaches `ratio`, or None.

    Bisection: predicted bytes never grow with the number of zeros.
    """
    if fp32_bytes / predict(most) < ratio:
        return None
    low, high = 0, most
    while low < high:
        middle = (low + high) // 2
        if fp32_bytes / predict(middle) >= ratio:
            high = middle
        else:
            low = middle + 1
    return low


def plan_for_ratio(model: nn.Module, targets: Sequence[Target], ratio: float, method: str, *,
                   granularity: str = "channel", sparse_format: bool = True) -> Plan:
    """Sparsity and/or bits that compress `model` to at least `ratio` = fp32 bytes / bytes.

    Weights left unquantized count at the dtype `model` holds them at, as `model_bytes` counts
    them: in a bf16 model they start at 2x.

    quantize: the largest bits in 16..2 (the least compression) whose ratio reaches `ratio`.
    prune: the smallest sparsity that reaches it, by bisection on the byte formula.
    prune_quantize: 8 bits (near lossless for Transformers) with the smallest sparsity up to 0.9
    (the end of the paper's pruning sweep) that reaches it; else 4 bits, the lowest the plan
    goes, with the smallest sparsity below 1. Without the 0.9 cap, 8 bits at a sparsity near 1
    would reach as far as 4 bits does, and 4 bits would never be chosen.
    The predicted ratio is a lower bound on what `model_bytes` reports after global pruning to
    the planned sparsity and/or quantizing at the planned bits (layer-wise rounding may leave
    up to one more weight per tensor).

    Raises:
        ValueError: bad ratio or method, or `ratio` is out of reach; the message gives the most
            this method reaches on this model (untargeted weights bound it).
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

    return _first_plan(method, ratio, predict, numel, fp32_bytes, fixed)


def _first_plan(method: str, ratio: float, predict: Callable[[int | None, int | None], int], numel: int,
                fp32_bytes: int, fixed: int) -> Plan:
    """The first of `method`'s settings, in `plan_for_ratio`'s order, predicted to reach `ratio`;
    ValueError when none does."""
    if method == "quantize":
        for bits in range(MAX_BITS, MIN_BITS - 1, -1):
            size = predict(None, bits)
            if fp32_bytes / size >= ratio:
                return Plan(method, 0.0, bits, size, fp32_bytes / size)
        best = fp32_bytes / predict(None, MIN_BITS)
    else:
        for bits, sparsity in ((None, 1.0),) if method == "prune" else PRUNE_QUANTIZE_STAGES:
            most = min(round(sparsity * numel), numel - 1)
            zeros = _smallest_zeros(lambda k, bits=bits: predict(k, bits), most, fp32_bytes, ratio)
            if zeros is not None:
                size = predict(zeros, bits)
                return Plan(method, zeros / numel, bits, size, fp32_bytes / size)
        best = fp32_bytes / predict(most, bits)
    raise ValueError(f"compression.ratio={ratio} is out of reach for {method} on this model: predicted at most "
                     f"{best:.3f}x ({fixed:,} bytes of untargeted weights stay)")

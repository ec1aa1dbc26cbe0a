"""Bit-packing and the three storage layouts of a tensor, byte for byte as `footprint` counts them.

A k-bit stream is little-endian at the bit level: value i is bits i*k .. i*k+k-1, bit j is bit
j % 8 of byte j // 8, the last byte zero-padded. Signed codes are k-bit two's complement, so an
8-bit stream is the int8 codes themselves and a 1-bit stream is a plain bitmask. Parts: dense
`values`; bitmask `mask` + the nonzeros' `values` (row-major); csr `values` + `columns` (int16
holding uint16, or int32) + `row_pointers` (int32); plus `scale` (float32) when quantized.
Pure torch: must not import Hydra, fairseq, wandb or train_large.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .footprint import grid, index_bytes

LAYOUTS = ("dense", "bitmask", "csr")
# Values per packing step: a multiple of 8, so each step ends on a byte boundary and steps
# concatenate; the bit matrix of one step is then 1 MiB x bits (int32), whatever the model.
CHUNK = 1 << 18


def _to_bits(ints: torch.Tensor, width: int) -> torch.Tensor:
    """The low `width` bits of each int32, least significant first, as one flat 0/1 stream."""
    return ((ints[:, None] >> torch.arange(width, dtype=torch.int32)) & 1).reshape(-1)


def _from_bits(stream: torch.Tensor, width: int) -> torch.Tensor:
    """`_to_bits` inverted: each run of `width` bits, least significant first, as an int32."""
    return (stream.view(-1, width) << torch.arange(width, dtype=torch.int32)).sum(1, dtype=torch.int32)


def pack_bits(values: torch.Tensor, bits: int) -> torch.Tensor:
    """The low `bits` bits of each integer in `values` (flattened), as ceil(n * bits / 8) uint8."""
    flat = values.detach().reshape(-1).cpu()
    if bits == 8:  # byte-aligned already: the two's complement bytes themselves
        return flat.to(torch.int16).bitwise_and(0xFF).to(torch.uint8)
    flat = flat.to(torch.int32)
    pieces = []
    for start in range(0, flat.numel(), CHUNK):
        stream = _to_bits(flat[start:start + CHUNK], bits)
        stream = F.pad(stream, (0, -stream.numel() % 8))
        pieces.append(_from_bits(stream, 8).to(torch.uint8))
    return torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.uint8)


def unpack_bits(data: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    """`count` unsigned `bits`-bit integers (int32) from a stream `pack_bits` wrote."""
    if data.dtype != torch.uint8 or data.numel() != math.ceil(count * bits / 8):
        raise ValueError(f"a {bits}-bit stream of {count} values is {math.ceil(count * bits / 8)} bytes of uint8, "
                         f"got {data.numel()} of {data.dtype}")
    data = data.reshape(-1).to(torch.int32)
    if bits == 8:
        return data
    pieces = []
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        first = start * bits // 8  # exact: every step starts on a byte boundary
        pieces.append(_from_bits(_to_bits(data[first:first + math.ceil(n * bits / 8)], 8)[: n * bits], bits))
    return torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.int32)


pack_codes = pack_bits  # signed codes, as `bits`-bit two's complement


def unpack_codes(data: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    """Signed codes (int8 up to 8 bits, else int16, as `quantize.quantize_tensor` makes them)."""
    raw = unpack_bits(data, bits, count)
    signed = torch.where(raw >= 1 << (bits - 1), raw - (1 << bits), raw)
    return signed.to(torch.int8 if bits <= 8 else torch.int16)


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")


def encode(value: torch.Tensor, layout: str, bits: int | None = None,
           scale: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The stored parts of `value` in `layout`: k-bit codes when `bits` is given (with their
    `scale`), else values at `value`'s own dtype. Raises ValueError for an unknown layout."""
    _check_layout(layout)
    value = value.detach().cpu()
    keep = value.reshape(-1) != 0
    stored = value if layout == "dense" else value.reshape(-1)[keep]
    parts = {"values": pack_codes(stored, bits) if bits else stored.contiguous()}
    if layout == "bitmask":
        parts["mask"] = pack_bits(keep, 1)
    elif layout == "csr":
        rows, columns = grid(value.shape)
        kept = keep.view(rows, columns)
        found = kept.nonzero()[:, 1]  # row-major, the order of the stored values
        parts["columns"] = found.to(torch.int16 if index_bytes(columns) == 2 else torch.int32)
        parts["row_pointers"] = F.pad(kept.sum(1, dtype=torch.int64).cumsum(0), (1, 0)).to(torch.int32)
    if bits:
        parts["scale"] = scale.detach().cpu().float().contiguous()
    return parts


def decode(parts: dict[str, torch.Tensor], layout: str, shape: list[int], bits: int | None = None) -> torch.Tensor:
    """The tensor `encode` stored: codes (int8/int16) when `bits` is given, else values. Raises
    ValueError for an unknown layout, or parts that do not fit `shape` (a damaged file)."""
    _check_layout(layout)
    numel = math.prod(shape)
    if layout == "dense":
        return (unpack_codes(parts["values"], bits, numel) if bits else parts["values"]).view(shape)
    if layout == "bitmask":
        where = unpack_bits(parts["mask"], 1, numel).bool()
        count = int(where.sum())
    else:
        rows, columns = grid(shape)
        pointers = parts["row_pointers"].long()
        if pointers.numel() != rows + 1:
            raise ValueError(f"csr of {rows} rows needs {rows + 1} row pointers, got {pointers.numel()}")
        column = parts["columns"].long()
        if parts["columns"].dtype == torch.int16:  # uint16 indices, stored in int16's bits
            column &= 0xFFFF
        row = torch.repeat_interleave(torch.arange(rows), pointers.diff())
        where = row * columns + column
        count = where.numel()
    values = unpack_codes(parts["values"], bits, count) if bits else parts["values"]
    if values.numel() != count:
        raise ValueError(f"{layout} holds {count} nonzeros but {values.numel()} values")
    out = torch.zeros(numel, dtype=values.dtype)
    out[where] = values
    return out.view(shape)

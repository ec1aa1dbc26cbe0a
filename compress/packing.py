"""Bit-packing and the three storage layouts of a tensor, exactly as `footprint` counts them.

A k-bit code stream is little-endian at the bit level: value i occupies bits i*k .. i*k+k-1 of
the stream, bit j of the stream is bit j % 8 of byte j // 8, and the last byte is padded with
zeros. Signed codes are stored in k-bit two's complement, so an 8-bit stream is byte for byte
the int8 codes (what int8 kernels read) and a 1-bit stream is a plain bitmask.

`encode` turns one tensor (k-bit codes, or values at their own dtype) into the parts of the
layout `footprint.tensor_bytes` chose for it; `decode` inverts it. The parts' bytes add up to
the footprint's count for that tensor, no more:

- dense: `values` (codes packed, or the tensor itself);
- bitmask: `mask` (1 bit per element, packed) + `values` (the nonzeros, packed, row-major);
- csr: `values` + `columns` (int16 holding uint16 when the rows have at most 65,536 columns,
  else int32) + `row_pointers` (int32, rows + 1); rows are dim 0, a 1-d tensor is one row;
- and `scale` (float32) for a quantized tensor, in every layout.

Pure torch: must not import Hydra, fairseq, wandb or train_large.
"""
from __future__ import annotations

import math

import torch

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
    """The low `bits` bits of each integer in `values` (flattened), as a uint8 stream of
    ceil(n * bits / 8) bytes."""
    flat = values.detach().reshape(-1).cpu()
    if bits == 8:  # byte-aligned already: the two's complement bytes themselves
        return flat.to(torch.int16).bitwise_and(0xFF).to(torch.uint8)
    flat = flat.to(torch.int32)
    pieces = []
    for start in range(0, flat.numel(), CHUNK):
        stream = _to_bits(flat[start:start + CHUNK], bits)
        stream = torch.nn.functional.pad(stream, (0, -stream.numel() % 8))
        pieces.append(_from_bits(stream, 8).to(torch.uint8))
    return torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.uint8)


def unpack_bits(data: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    """`count` unsigned `bits`-bit integers (int32) from a stream `pack_bits` wrote.

    Raises:
        ValueError: the stream is not ceil(count * bits / 8) bytes.
    """
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


def pack_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Signed codes in [-(2^(bits-1)-1), 2^(bits-1)-1] as a `bits`-bit two's complement stream."""
    return pack_bits(codes, bits)


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
    `scale`), else values at `value`'s own dtype.

    Raises:
        ValueError: unknown layout.
    """
    _check_layout(layout)
    value = value.detach().cpu()
    flat = value.reshape(-1)
    parts: dict[str, torch.Tensor] = {}
    if layout == "dense":
        parts["values"] = pack_codes(flat, bits) if bits else value.contiguous()
    else:
        keep = flat != 0
        nonzeros = flat[keep]
        parts["values"] = pack_codes(nonzeros, bits) if bits else nonzeros.contiguous()
        if layout == "bitmask":
            parts["mask"] = pack_bits(keep, 1)
        else:
            rows, columns = grid(value.shape)
            kept = keep.view(rows, columns)
            found = kept.nonzero()[:, 1]  # row-major, the order of `nonzeros`
            parts["columns"] = found.to(torch.int16 if index_bytes(columns) == 2 else torch.int32)
            counts = kept.sum(1, dtype=torch.int64)
            parts["row_pointers"] = torch.cat([torch.zeros(1, dtype=torch.int64), counts.cumsum(0)]).to(torch.int32)
    if bits:
        parts["scale"] = scale.detach().cpu().float().contiguous()
    return parts


def decode(parts: dict[str, torch.Tensor], layout: str, shape: list[int], bits: int | None = None) -> torch.Tensor:
    """The tensor `encode` stored: codes (int8/int16) when `bits` is given, else values at the
    dtype they were stored at.

    Raises:
        ValueError: unknown layout, or parts that do not fit `shape` (a damaged file).
    """
    _check_layout(layout)
    numel = math.prod(shape)
    if layout == "dense":
        if bits:
            return unpack_codes(parts["values"], bits, numel).view(shape)
        return parts["values"].view(shape)
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


def stored_bytes(parts: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in parts.values())

"""The compressed checkpoint: the file a deployment of the compressed model ships.

`checkpoints/compressed.safetensors` (format "tlc-compressed/2") stores each parameter in the
layout `footprint.model_bytes` counted for it (see `compress.packing`), each tied tensor once with
all its names, plus the non-parameter buffers, QAT's activation scales and, as one JSON string in
the safetensors metadata, each tensor's layout and the config that rebuilds the model. So the
file is the reported `bytes` plus that header and those buffers, and nothing in it is unpickled.
Format "tlc-compressed/1" (`compressed.pt`, torch.save, dense) is still read, `weights_only`, so
older runs reload. Pure torch: must not import fairseq, wandb or train_large.
"""
from __future__ import annotations

import json
import pickle
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import torch
from safetensors import safe_open
from safetensors.torch import save as save_safetensors
from torch import nn

from .footprint import Footprint
from .packing import decode, encode
from .quantize import InputFakeQuant, QuantizedTensor, _quantize_input

FORMAT = "tlc-compressed/2"
FILE = "compressed.safetensors"
LEGACY_FORMAT = "tlc-compressed/1"
LEGACY_FILE = "compressed.pt"
METADATA_KEY = "tlc"  # the safetensors metadata entry holding the JSON header
# The file is the reported `bytes` plus its JSON header and the buffers: within 2% of `bytes` plus
# this. Measured: 0.35-0.45 kB of header per stored tensor plus ~1.4 kB of config, 15-19 kB on the
# e2e toy (43 tensors), 30 kB on the bench toy (100); a model with more tensors than 64 KiB holds
# has bytes enough that 2% covers the rest.
HEADER_ALLOWANCE_BYTES = 64 * 1024
ACTIVATION_QUANT = ("input_fake_quant.amax", "input_fake_quant.observed")  # rebuilt from activation_scales


def activation_scales(model: nn.Module) -> dict[str, float]:
    """max|input| each activation-quantized Linear learned during QAT, by module name. Only
    observed ones: fairseq's attention may read a Linear's weight without calling it, and an
    unobserved scale would quantize to integer steps."""
    return {name: float(module.input_fake_quant.amax) for name, module in model.named_modules()
            if isinstance(getattr(module, "input_fake_quant", None), InputFakeQuant)
            and bool(module.input_fake_quant.observed)}


def attach_activation_quant(model: nn.Module, scales: dict[str, float], bits: int) -> None:
    """Fake-quantize the inputs of the named Linears with fixed scales (no observing: eval only)."""
    modules = dict(model.named_modules())
    for name, amax in scales.items():
        module = modules[name]
        quant = InputFakeQuant(bits)
        quant.amax.fill_(amax)
        quant.observed.fill_(True)
        module.input_fake_quant = quant.eval()
        quant.hook = module.register_forward_pre_hook(_quantize_input)


def pack_compressed(model: nn.Module, footprint: Footprint, quantized: dict[str, QuantizedTensor], *,
                    activations: dict[str, float] | None = None, activation_bits: int = 8,
                    info: dict | None = None) -> bytes:
    """The file of a compressed model, as bytes: each tensor in the layout `footprint` (its
    `model_bytes`) chose, exactly its count; `info` (config, compression settings) in the header.

    Raises:
        ValueError: a tensor is not a plain parameter of `model` (pruning or fake quant still on).
        RuntimeError: a tensor's stored bytes differ from its count (a bug).
    """
    params = dict(model.named_parameters(remove_duplicate=False))
    names: dict[int, list[str]] = defaultdict(list)
    for name, param in params.items():
        names[id(param)].append(name)
    missing = sorted(({row.name for row in footprint.rows} | set(quantized)) - set(params))
    if missing:
        raise ValueError(f"{missing[0]} is not a plain parameter of this model; make pruning permanent and "
                         "detach fake quantization before packing")
    codes = {id(params[name]): q for name, q in quantized.items()}
    tensors: dict[str, torch.Tensor] = {}
    layout: dict[str, dict] = {}
    for row in footprint.rows:
        param = params[row.name]
        q = codes.get(id(param))
        parts = encode(q.codes, row.format, q.bits, q.scale) if q else encode(param, row.format)
        size = sum(part.numel() * part.element_size() for part in parts.values())
        if size != row.bytes:
            raise RuntimeError(f"{row.name}: {size} bytes stored as {row.format}, {row.bytes} counted")
        tensors.update({f"{row.name}:{part}": value for part, value in parts.items()})
        layout[row.name] = {"names": names[id(param)], "shape": list(param.shape),
                            "dtype": str(param.dtype).removeprefix("torch."), "format": row.format,
                            "bits": q.bits if q else None, "granularity": q.granularity if q else None}
    stored = {name for entry in layout.values() for name in entry["names"]}
    state = model.state_dict()
    buffers = [name for name in state if name not in stored and not name.endswith(ACTIVATION_QUANT)]
    tensors.update({name: state[name].detach().cpu().clone() for name in buffers})  # clone: none shares storage
    header = {"format": FORMAT, "layout": layout, "buffers": buffers, "activation_scales": dict(activations or {}),
              "activation_bits": activation_bits, **(info or {})}
    return save_safetensors(tensors, metadata={METADATA_KEY: json.dumps(header, separators=(",", ":"))})


def _decoded(state: dict) -> Iterator[tuple[dict, torch.Tensor | QuantizedTensor]]:
    """(layout entry, dense tensor, or codes and scales when k-bit) of each parameter a format-2
    checkpoint stores. Raises ValueError when its parts do not fit its shape (a damaged file)."""
    grouped: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
    for key, value in state["tensors"].items():
        owner, _, part = key.rpartition(":")
        grouped[owner][part] = value
    for name, entry in state["layout"].items():
        parts, bits = grouped[name], entry["bits"]
        value = decode(parts, entry["format"], entry["shape"], bits)
        yield entry, QuantizedTensor(value, parts["scale"], bits, entry["granularity"]) if bits else value


def quantized_tensors(state: dict) -> dict[str, QuantizedTensor]:
    """The k-bit weights of a format-2 checkpoint as dense codes and scales, under every name."""
    return {alias: q for entry, q in _decoded(state) if entry["bits"] for alias in entry["names"]}


def unpacked_weights(state: dict) -> dict[str, torch.Tensor]:
    """The state dict a format-2 checkpoint stores, dense, dequantized at each weight's dtype."""
    weights = {name: state["tensors"][name] for name in state["buffers"]}
    for entry, value in _decoded(state):
        if entry["bits"]:
            value = value.dequantize().to(getattr(torch, entry["dtype"]))
        weights.update(dict.fromkeys(entry["names"], value))
    return weights


def restore_compressed(model: nn.Module, state: dict) -> None:
    """Load a checkpoint `load_compressed` read into a model of its architecture, with its
    activation quantization if any. Raises ValueError if it is not one or does not fit `model`."""
    if state.get("format") == FORMAT:
        weights = unpacked_weights(state)
    elif state.get("format") == LEGACY_FORMAT:
        weights = dict(state["weights"])
        for entry in state["quantized"].values():
            value = QuantizedTensor(entry["codes"], entry["scale"], entry["bits"], entry["granularity"]).dequantize()
            weights.update(dict.fromkeys(entry["names"], value))
    else:
        raise ValueError(f"not a compressed checkpoint (format {state.get('format')!r}, expected {FORMAT!r})")
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise ValueError(f"compressed checkpoint does not fit this model: {str(err).splitlines()[0]}") from err
    if state["activation_scales"]:
        attach_activation_quant(model, state["activation_scales"], state["activation_bits"])


def load_compressed(path: Path) -> dict:
    """A format-2 checkpoint as {"tensors": ..., **header}, or a format-1 one as it was saved.
    Raises ValueError (one line naming it) if it is damaged, unsafe or not a compressed checkpoint."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            legacy = handle.read(2) == b"PK"  # torch.save writes a zip archive; safetensors starts with a length
    except OSError as err:
        raise _damaged(path, err) from err
    if legacy:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:  # a global weights_only does not allow: never unpickled
            raise ValueError(f"refusing to load {path}: unpickling it could run code; a compressed checkpoint "
                             "holds tensors and plain values only") from err
        except Exception as err:  # noqa: BLE001 - torch raises many types for a damaged file
            raise _damaged(path, err) from err
        if not isinstance(state, dict) or state.get("format") != LEGACY_FORMAT:
            raise ValueError(f"{path} is not a compressed checkpoint (no format={LEGACY_FORMAT!r})")
        return state
    try:
        with safe_open(path, framework="pt") as handle:
            header = json.loads((handle.metadata() or {}).get(METADATA_KEY, "{}"))
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as err:  # noqa: BLE001 - safetensors and the OS raise many types for a damaged file
        raise _damaged(path, err) from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a compressed checkpoint (no format={FORMAT!r} in its header)")
    return {**header, "tensors": tensors}


def _damaged(path: Path, err: Exception) -> ValueError:
    return ValueError(f"compressed checkpoint {path} is damaged or truncated ({type(err).__name__}); "
                      "run its tlc-compress command again after deleting its result.json")

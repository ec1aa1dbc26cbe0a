"""The compressed checkpoint: what a deployment of the compressed model would ship.

`checkpoints/compressed.pt` holds the model's weights with pruning made permanent (zeros in
plain tensors), each quantized weight as its integer codes and fp32 scales instead of floats
(one entry per tied tensor, with every name it appears under), the input scales of activation
quantization when QAT learned them, and the config that rebuilds the model around them. It
holds tensors and plain Python values only, so it loads with `weights_only=True`.
`restore_compressed` puts it back into a freshly built model of the same architecture, which
then computes exactly what the compressed model computed when it was evaluated.
Pure torch: must not import fairseq, wandb or train_large.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from .quantize import InputFakeQuant, QuantizedTensor, _quantize_input
from .targets import Target

FORMAT = "tlc-compressed/1"
FILE = "compressed.pt"


def activation_scales(model: nn.Module) -> dict[str, float]:
    """max|input| each activation-quantized Linear learned during QAT, by module name.

    Only Linears whose input was observed count: a parent may read a Linear's weight without
    calling it (fairseq's attention outside incremental decoding), and an unobserved scale
    would quantize to integer steps.
    """
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


def compressed_state(model: nn.Module, targets: Sequence[Target], quantized: dict[str, QuantizedTensor],
                     *, activations: dict[str, float] | None = None, activation_bits: int = 8,
                     info: dict | None = None) -> dict:
    """The checkpoint of a compressed model (pruning already permanent, fake quant detached).

    `info` (config, compression settings, metrics) is stored alongside as plain values.
    """
    weights = {name: value for name, value in model.state_dict().items()
               if not name.endswith("input_fake_quant.amax") and not name.endswith("input_fake_quant.observed")}
    codes = {}
    for target in targets:
        q = quantized.get(target.name)
        if q is None:
            continue
        names = [target.name, *(alias for alias, _, _ in target.aliases)]
        for name in names:
            weights.pop(name, None)
        codes[target.name] = {"codes": q.codes, "scale": q.scale, "bits": q.bits, "granularity": q.granularity,
                              "names": names}
    return {"format": FORMAT, "weights": weights, "quantized": codes, "activation_scales": dict(activations or {}),
            "activation_bits": activation_bits, **(info or {})}


def restore_compressed(model: nn.Module, state: dict) -> None:
    """Load a compressed checkpoint's weights (codes dequantized) into a model of its architecture.

    Raises:
        ValueError: not a compressed checkpoint, or it does not fit `model`.
    """
    if state.get("format") != FORMAT:
        raise ValueError(f"not a compressed checkpoint (format {state.get('format')!r}, expected {FORMAT!r})")
    weights = dict(state["weights"])
    for entry in state["quantized"].values():
        value = QuantizedTensor(entry["codes"], entry["scale"], entry["bits"], entry["granularity"]).dequantize()
        for name in entry["names"]:
            weights[name] = value
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise ValueError(f"compressed checkpoint does not fit this model: {str(err).splitlines()[0]}") from err
    if state["activation_scales"]:
        attach_activation_quant(model, state["activation_scales"], state["activation_bits"])


def load_compressed(path: Path) -> dict:
    """Read a compressed checkpoint (tensors and plain values only, so weights_only=True: nothing
    stored in the file is ever run).

    Raises:
        ValueError: the file is damaged, would need code to unpickle, or is not a compressed
            checkpoint (one line naming it).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # a global weights_only does not allow: never unpickled
        raise ValueError(f"refusing to load {path}: unpickling it could run code; a compressed checkpoint "
                         "holds tensors and plain values only") from err
    except Exception as err:  # noqa: BLE001 - torch raises many types for a damaged file
        raise ValueError(f"compressed checkpoint {path} is damaged or truncated ({type(err).__name__}); "
                         "run its tlc-compress command again after deleting its result.json") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a compressed checkpoint (no format={FORMAT!r})")
    return state

"""The int8 section: CPU latency of what ships, the model rebuilt from a packed compressed file,
against its fp32 source on the same batches.

The compressed model is restored from the file (`compress.checkpoint.load_compressed` and
`restore_compressed`). Where the file holds 8-bit codes for the weight of an `nn.Linear`, that
Linear runs torch's int8 kernel (`torch.ao.nn.quantized.dynamic.Linear`: its qint8 weight is
built from the file's codes and scales, per channel or per tensor as stored, never re-quantized
from fp32 weights; activations are quantized per batch on the fly, not with QAT's learned input
scales). There is no fast kernel for the rest, which runs the dequantized weights as dense fp32:
codes of other widths (torch has no CPU kernel below 8 bits), unquantized weights, weights that
are not a plain `nn.Linear`'s (`nn.MultiheadAttention` reads its packed `in_proj_weight` and its
`out_proj` as tensors), and unstructured sparsity: a bitmask or CSR tensor is expanded to dense
and its zeros are multiplied like any weight. Each case in the JSON says which ran where.

Two sources of files:
- default: a toy encoder-decoder laid out as fairseq's (`models.ToyTranslationModel`), compressed here
  by the package's own functions for each `--case` (attention and FFN weights, as
  `tlc-compress` targets them) and packed by `pack_compressed` into a temporary file;
- `--run DIR`: the file a `tlc-compress` run of a translation model wrote, against its source run's
  best checkpoint (both rebuilt through the training engine; `models.from_run`).

Latency is the median over `--repeats` of one forward pass of one batch, fp32 and compressed
alternating so that drift in the machine's speed hits both; `speedup` is the median of the paired
ratios (fp32 pass / the compressed pass right after it). Inputs are built before timing.

    python -m scripts.bench int8 --threads 1 --out scripts/results/bench_int8.json
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from compress.checkpoint import FILE, load_compressed, pack_compressed, quantized_tensors, restore_compressed
from compress.footprint import model_bytes
from compress.prune import make_permanent, prune_magnitude
from compress.quantize import QuantizedTensor, quantize_weights
from compress.targets import select_targets

from .machine import describe_cpu
from .models import TOY, from_run, toy_model

DEFAULT_CASES = ("quantize:8", "prune_quantize:8:0.5", "quantize:4", "prune:0.5")


def int8_linear(linear: nn.Linear, q: QuantizedTensor) -> nn.Module:
    """torch's dynamic int8 Linear holding exactly the file's codes and scales.

    The qint8 weight is made with `torch.quantize_per_channel`/`_per_tensor` from codes x scale
    at the same scales, which gives back the codes exactly (checked): public API, no fp32 weight.
    """
    with warnings.catch_warnings():  # torch.ao is deprecated for torchao; still torch's int8 CPU path
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    # A row of zero codes has scale 0 in the file, which qint8 cannot hold; any scale gives 0.
    scale = torch.where(q.scale > 0, q.scale, torch.ones_like(q.scale))
    codes = q.codes.to(torch.int8)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        if q.granularity == "channel":
            weight = torch.quantize_per_channel(codes.float() * scale[:, None], scale.double(),
                                                torch.zeros(scale.numel(), dtype=torch.long), 0, torch.qint8)
        else:
            weight = torch.quantize_per_tensor(codes.float() * scale, float(scale), 0, torch.qint8)
    if not torch.equal(weight.int_repr(), codes):
        raise RuntimeError("the int8 weight does not hold the file's codes")
    module = DynamicLinear(linear.in_features, linear.out_features, bias_=linear.bias is not None, dtype=torch.qint8)
    module.set_weight_bias(weight, None if linear.bias is None else linear.bias.detach().float())
    return module


def use_int8_kernels(model: nn.Module, quantized: dict[str, QuantizedTensor]) -> list[str]:
    """Swap every plain `nn.Linear` whose weight the file holds as 8-bit codes; returns their names.

    `quantized` is keyed by parameter name relative to `model`.
    """
    swapped = []
    for name, module in list(model.named_modules()):
        q = quantized.get(f"{name}.weight")
        if type(module) is nn.Linear and q is not None and q.bits == 8:
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, int8_linear(module, q))
            swapped.append(name)
    return swapped


def kernels(state: dict, quantized: dict[str, QuantizedTensor], swapped: list[str]) -> dict:
    """Which weights ran on which kernel, in counts and one plain sentence."""
    weights = {id(q): q for q in quantized.values()}  # a tied weight once, whatever its names
    on_int8 = {id(quantized[f"{name}.weight"]) for name in swapped}
    other_widths = [q for q in weights.values() if q.bits != 8]
    not_linear = [key for key, q in weights.items() if q.bits == 8 and key not in on_int8]
    # Matrices only: an all-zero bias stored sparse changes no kernel.
    sparse = [name for name, entry in state["layout"].items() if entry["format"] != "dense" and len(entry["shape"]) > 1]
    said = [f"int8 kernel on {len(swapped)} Linear(s), from the file's codes and scales" if swapped
            else "no int8 kernel"]
    if other_widths:
        widths = "/".join(str(bits) for bits in sorted({q.bits for q in other_widths}))
        said.append(f"{len(other_widths)} weight(s) of {widths}-bit codes dequantized to dense fp32 "
                    "(torch has no CPU kernel for them)")
    if not_linear:
        said.append(f"{len(not_linear)} 8-bit weight(s) dequantized to dense fp32 (not a plain nn.Linear: "
                    "its module reads the weight as a tensor)")
    if sparse:
        said.append(f"{len(sparse)} sparse tensor(s) (bitmask/CSR) expanded to dense: no sparse kernel, "
                    "their zeros are multiplied like any weight")
    if not quantized:
        said.append("no quantized weight: every weight runs dense fp32")
    return {"int8_linears": len(swapped), "quantized_weights": len(weights), "dequantized_8bit": len(not_linear),
            "dequantized_other_widths": len(other_widths), "sparse_tensors": len(sparse), "kernel": "; ".join(said)}


def compress_toy(model: nn.Module, method: str, bits: int | None, sparsity: float, granularity: str,
                 folder: Path) -> Path:
    """Compress a copy of `model` as `tlc-compress` does (attention and FFN weights) and pack it."""
    model = copy.deepcopy(model)
    targets = select_targets(model)
    if method in ("prune", "prune_quantize"):
        prune_magnitude(model, targets, sparsity)
        make_permanent(model)
    quantized = quantize_weights(model, targets, bits, granularity) if bits else {}
    footprint = model_bytes(model, quantized=quantized or None)
    path = folder / f"{method}-{bits}-{sparsity}.safetensors"
    path.write_bytes(pack_compressed(model, footprint, quantized, info={"config": {"model": TOY},
                                                                         "compression": {"bytes": footprint.bytes}}))
    return path


def with_int8_kernels(model: nn.Module, root: nn.Module, state: dict) -> tuple[nn.Module, dict]:
    """(a dequantized twin of `model`, kernel counts), then `root`'s 8-bit Linears swapped for int8
    kernels in place. `root` is the module inside `model` that the file's names are relative to."""
    twin = copy.deepcopy(model)
    quantized = quantized_tensors(state)
    return twin, kernels(state, quantized, use_int8_kernels(root, quantized))



def run_models(run_dir: Path) -> tuple[nn.Module, nn.Module, nn.Module, dict, dict]:
    """(fp32 source, compressed, its dequantized twin, kernel counts, figures) of a tlc-compress run."""
    result = json.loads((run_dir / "result.json").read_text())
    source = from_run(Path(result["source"]["run_dir"]))
    compressed = from_run(run_dir)
    twin, counts = with_int8_kernels(compressed, compressed.model, load_compressed(run_dir / "checkpoints" / FILE))
    figures = {key: result.get(key) for key in ("method", "bits", "sparsity", "granularity", "bytes", "file_bytes")}
    return source, compressed, twin, counts, figures


def seconds_per_batch(model: nn.Module, inputs: tuple) -> float:
    start = time.perf_counter()
    model(*inputs)
    return time.perf_counter() - start


def time_pair(fp32: nn.Module, compressed: nn.Module, inputs: tuple, repeats: int, warmup: int) -> dict:
    times: dict[str, list[float]] = {"fp32": [], "compressed": []}
    with torch.inference_mode():
        for _ in range(warmup):
            seconds_per_batch(fp32, inputs), seconds_per_batch(compressed, inputs)
        for _ in range(repeats):
            times["fp32"].append(seconds_per_batch(fp32, inputs))
            times["compressed"].append(seconds_per_batch(compressed, inputs))
    median_ms = {name: 1000 * statistics.median(values) for name, values in times.items()}
    # The spread says how far a shared machine's noise reaches: a median ratio inside it is no effect.
    quartiles_ms = {name: [1000 * q for q in statistics.quantiles(values, n=4)[::2]] for name, values in times.items()}
    # Each fp32 pass and the compressed pass right after it share the machine's state of the moment:
    # the median of their ratios drifts less than the ratio of the two medians.
    pairs = [fp32 / compressed for fp32, compressed in zip(times["fp32"], times["compressed"])]
    return {"median_ms_per_batch": median_ms, "quartiles_ms_per_batch": quartiles_ms,
            "speedup": statistics.median(pairs), "speedup_of_medians": median_ms["fp32"] / median_ms["compressed"]}


def relative_error(output: torch.Tensor, reference: torch.Tensor) -> float:
    return float((output - reference).abs().max() / reference.abs().max())


def measure(fp32: nn.Module, compressed: nn.Module, dequantized: nn.Module, args: argparse.Namespace) -> dict:
    inputs = fp32.example_inputs(args.batch)
    with torch.inference_mode():
        reference, shipped, twin = fp32(*inputs), compressed(*inputs), dequantized(*inputs)
    return {**time_pair(fp32, compressed, inputs, args.repeats, args.warmup),
            "max_abs_logit_error_relative": {"vs_fp32_source": relative_error(shipped, reference),
                                             "vs_dequantized_file": relative_error(shipped, twin)}}



def parse_case(text: str) -> tuple[str, int | None, float]:
    """(method, bits, sparsity) of "quantize:BITS", "prune_quantize:BITS[:SPARSITY]" or "prune[:SPARSITY]"."""
    method, *rest = text.split(":")
    if method == "prune":
        return method, None, float(rest[0]) if rest else 0.5
    bits = int(rest[0])
    return method, bits, float(rest[1]) if len(rest) > 1 else (0.5 if method == "prune_quantize" else 0.0)



def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, default=None, help="a tlc-compress run dir (translation): time its "
                        f"checkpoints/{FILE} against its source; default: the toy, compressed here per --case")
    parser.add_argument("--case", action="append", default=None, help="toy only: method:bits[:sparsity], "
                        f"repeatable; default: {' '.join(DEFAULT_CASES)}")
    parser.add_argument("--granularity", default="channel", choices=("channel", "tensor"), help="toy only: scales")
    parser.add_argument("--batch", type=int, default=64, help="sentences per batch")
    parser.add_argument("--repeats", type=int, default=50, help="timed forward passes per model")
    parser.add_argument("--warmup", type=int, default=3, help="untimed passes per model first")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=Path("bench_int8.json"))


def toy_cases(args: argparse.Namespace) -> list[dict]:
    """Each --case: the toy compressed, packed to a temporary file, restored from it and timed."""
    fp32, cases = toy_model(), []
    with tempfile.TemporaryDirectory() as folder:
        for text in args.case or DEFAULT_CASES:
            method, bits, sparsity = parse_case(text)
            path = compress_toy(fp32, method, bits, sparsity, args.granularity, Path(folder))
            state = load_compressed(path)
            compressed = toy_model()
            restore_compressed(compressed, state)
            dequantized, counts = with_int8_kernels(compressed, compressed, state)
            cases.append({"case": text, "method": method, "bits": bits, "sparsity": sparsity,
                          "granularity": args.granularity if bits else None, "bytes": state["compression"]["bytes"],
                          "file_bytes": path.stat().st_size, **counts, **measure(fp32, compressed, dequantized, args)})
    return cases


def print_cases(result: dict) -> None:
    print(f"{'case':24}{'file bytes':>12}{'fp32 ms':>10}{'packed ms':>11}{'speedup':>9}  kernel")
    for case in result["cases"]:
        ms = case["median_ms_per_batch"]
        print(f"{case['case'][-24:]:24}{case['file_bytes']:>12,}{ms['fp32']:>10.2f}{ms['compressed']:>11.2f}"
              f"{case['speedup']:>8.2f}x  {case['kernel']}")
    machine = result["machine"]
    print(f"{machine['threads']} thread(s), batch {result['batch']}, {result['repeats']} repeats, "
          f"{machine['cpu_model']}")


def main(args: argparse.Namespace) -> None:
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    if args.run is not None:
        source, compressed, dequantized, counts, figures = run_models(args.run.resolve())
        cases = [{"case": str(args.run), **figures, **counts, **measure(source, compressed, dequantized, args)}]
        model_name = f"tlc-compress run {args.run}"
    else:
        cases, model_name = toy_cases(args), TOY
    result = {"model": model_name, "batch": args.batch, "repeats": args.repeats, "warmup": args.warmup,
              "machine": describe_cpu(threads), "fp32_bytes": None if args.run else model_bytes(toy_model()).bytes,
              "cases": cases}
    print_cases(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")

#!/usr/bin/env python
"""CPU inference, fp32 against int8 weights: bytes and latency of the same model.

int8 is torch's dynamic quantization (`compress.quantize.int8_dynamic`: qint8 weights per
tensor, activations scaled on the fly, real int8 matmul kernels) applied to every `nn.Linear`
torch can swap. Bytes are counted two ways: the accounting footprint (`compress.footprint`,
8-bit codes plus a scale for the same Linears; everything else fp32) and the size of the
serialized state_dict (what a deployment would load, torch's packing overheads included).
Latency is the median over `--repeats` of one forward pass of one batch, fp32 and int8
alternating so that drift in the machine's speed hits both; inputs are built before timing.

By default the model is a toy encoder-decoder (`torch.nn.Transformer`, width 128, 2 + 2
layers, vocabulary 1000; untied output projection), so the script runs standalone in seconds.
`--model-factory module:function` benchmarks another model instead: the function takes no
arguments and returns an `nn.Module` with a method `example_inputs(batch: int) -> tuple` of
the tensors its forward takes.

    python scripts/bench_int8.py --repeats 30 --out bench_int8.json
"""
from __future__ import annotations

import argparse
import importlib
import io
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from compress.footprint import model_bytes  # noqa: E402
from compress.quantize import int8_dynamic, quantize_tensor  # noqa: E402


class ToyTranslationModel(nn.Module):
    def __init__(self, vocab: int = 1000, width: int = 128, layers: int = 2, heads: int = 4,
                 ffn: int = 512, length: int = 32) -> None:
        super().__init__()
        self.vocab, self.length = vocab, length  # length: tokens per source and target sentence
        self.embed_tokens = nn.Embedding(vocab, width)
        self.transformer = nn.Transformer(width, heads, layers, layers, ffn, dropout=0.0, batch_first=True)
        self.output_projection = nn.Linear(width, vocab, bias=False)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.output_projection(self.transformer(self.embed_tokens(source), self.embed_tokens(target)))

    def example_inputs(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(0)
        return tuple(torch.randint(0, self.vocab, (batch, self.length), generator=generator) for _ in range(2))


def build_model(factory: str | None) -> nn.Module:
    if factory is None:
        torch.manual_seed(0)
        return ToyTranslationModel()
    module_name, _, function = factory.partition(":")
    return getattr(importlib.import_module(module_name), function)()


def serialized_bytes(model: nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def int8_accounting_bytes(model: nn.Module, int8: nn.Module) -> int:
    """Footprint with 8-bit per-tensor codes for exactly the Linears torch swapped."""
    swapped = {name for name, module in int8.named_modules()
               if type(module).__module__.startswith("torch.ao.nn.quantized.dynamic")}
    modules = dict(model.named_modules())
    quantized = {f"{name}.weight": quantize_tensor(modules[name].weight, 8, "tensor") for name in swapped}
    return model_bytes(model, quantized=quantized).bytes


def seconds_per_batch(model: nn.Module, inputs: tuple) -> float:
    start = time.perf_counter()
    model(*inputs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-factory", default=None, help="module:function returning an nn.Module "
                        "with example_inputs(batch); default: the built-in toy encoder-decoder")
    parser.add_argument("--batch", type=int, default=16, help="sentences per batch")
    parser.add_argument("--repeats", type=int, default=30, help="timed forward passes per variant")
    parser.add_argument("--warmup", type=int, default=3, help="untimed passes per variant first")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    parser.add_argument("--out", type=Path, default=Path("bench_int8.json"))
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    # nn.Transformer's fused inference fast path reads `linear1.weight` as a tensor, which a
    # swapped int8 Linear no longer has; off for both variants, so they run the same graph
    # (fairseq models never take that path either).
    torch.backends.mha.set_fastpath_enabled(False)
    fp32 = build_model(args.model_factory).eval()
    int8 = int8_dynamic(fp32)
    inputs = fp32.example_inputs(args.batch)
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    with torch.inference_mode():
        reference, approximate = fp32(*inputs), int8(*inputs)
        for _ in range(args.warmup):
            seconds_per_batch(fp32, inputs), seconds_per_batch(int8, inputs)
        for _ in range(args.repeats):
            times["fp32"].append(seconds_per_batch(fp32, inputs))
            times["int8"].append(seconds_per_batch(int8, inputs))
    median_ms = {name: 1000 * statistics.median(values) for name, values in times.items()}
    result = {
        "model": args.model_factory or "toy nn.Transformer d128 2+2 layers vocab 1000",
        "batch": args.batch, "repeats": args.repeats, "threads": args.threads,
        "torch": torch.__version__, "quantized_engine": torch.backends.quantized.engine,
        "footprint_bytes": {"fp32": model_bytes(fp32).bytes, "int8": int8_accounting_bytes(fp32, int8)},
        "state_dict_bytes": {"fp32": serialized_bytes(fp32), "int8": serialized_bytes(int8)},
        "median_ms_per_batch": median_ms,
        "max_abs_logit_error_relative": float((approximate - reference).abs().max() / reference.abs().max()),
    }
    print(f"{'':26}{'fp32':>12}{'int8':>12}{'fp32/int8':>11}")
    for key, unit, digits in (("footprint_bytes", "B", 0), ("state_dict_bytes", "B", 0),
                              ("median_ms_per_batch", "ms", 2)):
        row = result[key]
        label = f"{key} ({unit})"
        print(f"{label:26}{row['fp32']:>12,.{digits}f}{row['int8']:>12,.{digits}f}{row['fp32'] / row['int8']:>10.2f}x")
    print(f"max |logit error| / max |logit| = {result['max_abs_logit_error_relative']:.4f}; "
          f"{args.threads} threads, engine {result['quantized_engine']}, batch {args.batch}, {args.repeats} repeats")
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

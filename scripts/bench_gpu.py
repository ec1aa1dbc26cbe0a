"""The GPU sections of `scripts/bench.py` (`--gpu`, when CUDA is available).

- peak: this GPU's bf16 (and fp16) matrix-multiply FLOP/s, measured on large square products;
- models: training tokens/s and MFU (model FLOPs/s over the measured bf16 peak) of RoBERTa
  24 x 1024, RoBERTa 12 x 1536 and the WMT big Transformer (6 + 6 x 1024), each in bf16 and fp16,
  through the real engine on the toy data (bench_device.GPU_MODELS);
- clock: the big Transformer trained through the real loop, clock (a device sync around every
  update), evaluator and checkpoints; the clock's total against an outer timer minus evaluation
  and checkpoint time (goal: within 1%), and that run's eval share.

A model that fails (out of memory, say) is reported with its error and the others still run.
"""
from __future__ import annotations

import torch

from bench_device import GPU_MODELS, loop_run, matmul_peak, release, throughput

from train_large.cli import compose_train
from train_large.data.datasets import ensure_dataset

PRECISIONS = ("bf16", "fp16")
PEAK_SIZES = (4096, 8192, 16384)  # 16384^2 bf16: 0.5 GiB per matrix, about 9 TFLOP per product
CLOCK_MODEL = "wmt_big_6x1024"


def gpu_config(space, overrides: list[str], precision: str, *extra: str):
    cfg = compose_train([f"paths.data_root={space.data}", "logger=none", "device=cuda", f"precision={precision}",
                         *overrides, *extra])
    return cfg, ensure_dataset(cfg.task)


def gpu_sections(space, *, quick: bool) -> dict:
    seconds = 5.0 if quick else 20.0
    peak = matmul_peak("cuda", torch.bfloat16, PEAK_SIZES)
    fp16_peak = matmul_peak("cuda", torch.float16, PEAK_SIZES)
    print(f"  bf16 peak {peak['flops_per_second'] / 1e12:.0f} TFLOP/s, fp16 {fp16_peak['flops_per_second'] / 1e12:.0f}",
          flush=True)
    models: dict[str, dict] = {}
    for name, overrides in GPU_MODELS.items():
        for precision in PRECISIONS:
            key = f"{name}_{precision}"
            try:
                cfg, data = gpu_config(space, overrides, precision)
                models[key] = throughput(cfg, data, "cuda", seconds=seconds, warmup=5,
                                         peak=peak["flops_per_second"])
                print(f"  {key}: {models[key]['tokens_per_second']:,.0f} tok/s, MFU {models[key]['mfu']:.1%}",
                      flush=True)
            except Exception as err:  # noqa: BLE001 - one model's failure must not hide the others' figures
                models[key] = {"error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"}
                print(f"  {key}: {models[key]['error']}", flush=True)
            release("cuda")  # here, not in the except block: its traceback still holds the engine
    clock = clock_check(space, quick)
    rates = {name: models[f"{name}_bf16"]["flops_per_second"] for name in GPU_MODELS
             if "flops_per_second" in models.get(f"{name}_bf16", {})}
    return {"device": torch.cuda.get_device_name(0), "peak": peak, "fp16_peak": fp16_peak, "models": models,
            "clock": clock, "clock_error": clock.get("clock_error"), "clock_goal": 0.01,
            "train_flops_per_second": rates}


def clock_check(space, quick: bool) -> dict:
    """The big Transformer in bf16 for a short budget at the default eval and checkpoint cadence."""
    budget = 20 if quick else 60
    try:
        cfg, data = gpu_config(space, GPU_MODELS[CLOCK_MODEL], "bf16", f"budget.train_seconds={budget}")
        run = loop_run(cfg, data, "cuda", space.fresh_runs())
    except Exception as err:  # noqa: BLE001 - reported in the table instead of ending the benchmark
        return {"error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"}
    print(f"  clock: {run['clock_error']:+.2%} of {run['train_seconds']:.0f} training seconds; eval share "
          f"{run['eval_share']:.1%}", flush=True)
    return {"model": CLOCK_MODEL, "precision": "bf16", **run}

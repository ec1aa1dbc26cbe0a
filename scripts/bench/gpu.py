"""The gpu section (`gpu`, or `--gpu` with any other section; skipped, with a line, without CUDA).

- peak: this GPU's bf16 (and fp16) matrix-multiply FLOP/s, measured on large square products;
- models: training tokens/s and MFU (model FLOPs/s over the measured bf16 peak) of RoBERTa
  24 x 1024, RoBERTa 12 x 1536 and the WMT big Transformer (6 + 6 x 1024), each in bf16 eager and
  with `compile=true`, and RoBERTa 24 x 1024 also in fp16, through the real engine on the toy data
  (measure.GPU_MODELS, VARIANTS), with the default data-loader workers;
- clock: the big Transformer trained through the real loop, clock (a device sync around every
  update), evaluator and checkpoints; the clock against CUDA events around each of its updates
  (goal: within 1%), and that run's eval share. Then the check's self-test: the same comparison
  on synthetic updates with the clock's synchronisation off must fail.

A model that fails (out of memory, say) is reported with its error and the others still run.
"""
from __future__ import annotations

from typing import Any

import torch

from train_large.cli import compose_train
from .clock_check import self_test
from train_large.data.datasets import ensure_dataset

from .measure import GPU_MODELS, loop_run, matmul_peak, release, throughput
from .runs import Workspace

# (model, precision, compile): the default precision eager and compiled for every model, and fp16
# for the largest RoBERTa.
VARIANTS = (("roberta_24x1024", "bf16", False), ("roberta_24x1024", "bf16", True), ("roberta_24x1024", "fp16", True),
            ("roberta_12x1536", "bf16", False), ("roberta_12x1536", "bf16", True),
            ("wmt_big_6x1024", "bf16", False), ("wmt_big_6x1024", "bf16", True))
PEAK_SIZES = (4096, 8192, 16384)  # 16384^2 bf16: 0.5 GiB per matrix, about 9 TFLOP per product
CLOCK_MODEL = "wmt_big_6x1024"


def error_line(err: Exception) -> str:
    """A failure as the table shows it: its type and the first line of its message."""
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def gpu_config(space: Workspace, overrides: list[str], precision: str, *extra: str) -> tuple[Any, Any]:
    cfg = compose_train([f"paths.data_root={space.data}", "logger=none", "device=cuda", f"precision={precision}",
                         *overrides, *extra])
    return cfg, ensure_dataset(cfg.task)


def run(space: Workspace, *, quick: bool) -> dict:
    seconds = 5.0 if quick else 12.0
    peak = matmul_peak("cuda", torch.bfloat16, PEAK_SIZES)
    fp16_peak = matmul_peak("cuda", torch.float16, PEAK_SIZES)
    print(f"  bf16 peak {peak['flops_per_second'] / 1e12:.0f} TFLOP/s, fp16 {fp16_peak['flops_per_second'] / 1e12:.0f}",
          flush=True)
    models: dict[str, dict] = {}
    for name, precision, compiled in VARIANTS:
        key = f"{name}_{precision}" + ("_compiled" if compiled else "")
        try:
            cfg, data = gpu_config(space, GPU_MODELS[name], precision, f"compile={compiled}")
            # Compiled: the warm-up also takes the recompiles for the epoch's last, smaller batch
            # and for padded batches, so the timed updates run the cached kernels.
            models[key] = throughput(cfg, data, "cuda", seconds=seconds, warmup=5,
                                     peak=peak["flops_per_second"])
            print(f"  {key}: {models[key]['tokens_per_second']:,.0f} tok/s, MFU {models[key]['mfu']:.1%} "
                  f"(warm-up {models[key]['warmup_seconds']:.0f} s)", flush=True)
        except Exception as err:  # noqa: BLE001 - one model's failure must not hide the others' figures
            models[key] = {"error": error_line(err)}
            print(f"  {key}: {models[key]['error']}", flush=True)
        release("cuda")  # here, not in the except block: its traceback still holds the engine
    clock = clock_check(space, quick)
    clock_self_test = check_self_test()
    rates = {}  # the fastest bf16 rate of each model, for the paper presets' eval-share estimate
    for name in GPU_MODELS:
        measured = [models.get(f"{name}_bf16{suffix}", {}).get("flops_per_second") for suffix in ("", "_compiled")]
        if any(measured):
            rates[name] = max(rate for rate in measured if rate)
    return {"device": torch.cuda.get_device_name(0), "peak": peak, "fp16_peak": fp16_peak, "models": models,
            "clock": clock, "clock_error": clock.get("clock_error"), "clock_goal": 0.01,
            "clock_check": clock.get("clock_check", {"error": clock.get("error")}), "clock_self_test": clock_self_test,
            "train_flops_per_second": rates}


def clock_check(space: Workspace, quick: bool) -> dict:
    """The big Transformer in bf16 for a short budget at the default eval and checkpoint cadence."""
    budget = 20 if quick else 40
    try:
        cfg, data = gpu_config(space, GPU_MODELS[CLOCK_MODEL], "bf16", f"budget.train_seconds={budget}")
        run = loop_run(cfg, data, "cuda", space.fresh_runs())
    except Exception as err:  # noqa: BLE001 - reported in the table instead of ending the benchmark
        return {"error": error_line(err)}
    print(f"  clock vs CUDA events: {run['clock_error']:+.2%} over {run['updates']} updates, "
          f"{run['train_seconds']:.0f} training seconds; eval share {run['eval_share']:.1%}", flush=True)
    return {"model": CLOCK_MODEL, "precision": "bf16", **run}


def check_self_test() -> dict:
    """The clock check on synthetic updates, with the clock's synchronisation on and then off."""
    try:
        test = self_test("cuda")
    except Exception as err:  # noqa: BLE001 - reported in the table instead of ending the benchmark
        return {"error": error_line(err)}
    print(f"  clock check self-test: synchronised {test['correct']['error']:+.2%}, {test['fault']} "
          f"{test['faulty']['error']:+.1%}: {'caught' if test['caught'] else 'MISSED'}", flush=True)
    return test

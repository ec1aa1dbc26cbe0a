"""What the device, gpu and eval-share sections measure in-process: a device's matrix-multiply
peak, an engine's training throughput and MFU, and one timed training loop (the clock check, eval
share).

Each runs on the device its config names: on CPU with toy models in fp32, and in the gpu section on
CUDA at the paper's sizes in bf16 and fp16. MFU is the model's training FLOPs per second (the
estimate of train_large.flops that every record carries) over the peak measured here, so it
holds the engine to what this device really does, not to a datasheet.
"""
from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Any, Callable

import torch
from omegaconf import OmegaConf

from train_large.checkpoint import save_checkpoint
from train_large.clock import TrainingClock, cuda_sync
from .clock_check import AuditedClock, independent_timer
from train_large.config import to_container
from train_large.evaluate import PRIMARY_METRIC, Evaluator
from train_large.loop import Progress, train_until_budget
from train_large.sinks import JsonlSink

# The paper's largest models, as `tlc-train` overrides on the toy data (a GPU machine may have no
# network; the toy vocabularies, about 650 entries, make the output layers smaller than the real
# ones, and the FLOPs count what is really computed). RoBERTa at the roberta optim preset's 2048
# sequences of 128 tokens per update, 256 per forward (eight forwards per update); the big
# Transformer at 16384 tokens per forward.
GPU_MODELS = {
    "roberta_24x1024": ["task=toy_mlm", "model.depth=24", "model.width=1024", "optim.batch_size=2048",
                        "optim.device_batch_size=256"],
    "roberta_12x1536": ["task=toy_mlm", "model.depth=12", "model.width=1536", "optim.batch_size=2048",
                        "optim.device_batch_size=256"],
    "wmt_big_6x1024": ["task=toy_mt", "model.depth=6", "model.width=1024", "optim.max_tokens=16384"],
}
CPU_MODELS = {
    "toy_mt_2x64": ["task=toy_mt", "model.depth=2", "model.width=64"],
    "toy_mlm_2x64": ["task=toy_mlm", "model.depth=2", "model.width=64"],
}


def device_sync(device: str) -> Callable[[], None]:
    return cuda_sync if device == "cuda" else (lambda: None)


def matmul_peak(device: str, dtype: torch.dtype, sizes: tuple[int, ...], seconds: float = 1.0) -> dict:
    """The best FLOP/s of n x n matrix products (2 n^3 FLOPs each) over `sizes`, each timed for
    about `seconds` after one warm-up product."""
    sync = device_sync(device)
    by_size = {}
    for n in sizes:
        a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
        out = torch.empty_like(a)
        torch.matmul(a, b, out=out)  # warm-up: library handles, kernel choice, workspace
        sync()
        start = time.perf_counter()
        torch.matmul(a, b, out=out)  # one product's time sizes the timed run
        sync()
        repeats = max(3, int(seconds / max(time.perf_counter() - start, 1e-6)))
        start = time.perf_counter()
        for _ in range(repeats):
            torch.matmul(a, b, out=out)
        sync()
        by_size[n] = 2.0 * n**3 * repeats / (time.perf_counter() - start)
        del a, b, out
    return {"flops_per_second": max(by_size.values()), "dtype": str(dtype).removeprefix("torch."),
            "by_size": by_size}


def build(cfg: Any, data: Any, device: str) -> tuple[Any, float]:
    """(engine, seconds to build it), fairseq's import excluded (done once, before)."""
    from train_large.engine import build_engine
    from train_large.runtime import resolve_runtime

    start = time.perf_counter()
    engine = build_engine(cfg, data, resolve_runtime(cfg, device).for_world(1))
    device_sync(device)()
    return engine, time.perf_counter() - start


def release(device: str) -> None:
    """Free one engine's memory, and its compiled graphs, before the next is built."""
    # Every model's layers share fairseq's layer code, and dynamo counts recompiles per code object:
    # without a reset, the models measured later would pass the recompile limit and run eagerly.
    torch._dynamo.reset()
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


def throughput(cfg: Any, data: Any, device: str, *, seconds: float, warmup: int = 3,
               peak: float | None = None) -> dict:
    """Training tokens/s and model FLOP/s of the engine over at least `seconds` of updates
    after `warmup` updates; MFU when the device's measured `peak` FLOP/s is given."""
    sync = device_sync(device)
    engine, build_seconds = build(cfg, data, device)
    start = time.perf_counter()
    engine.train_step()
    sync()
    first = time.perf_counter() - start
    for _ in range(warmup - 1):
        engine.train_step()
    sync()
    warmup_seconds = time.perf_counter() - start
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    sync()
    tokens = flops = updates = 0
    start = time.perf_counter()
    while updates < 3 or time.perf_counter() - start < seconds:
        step = engine.train_step()
        tokens, flops, updates = tokens + step.tokens, flops + step.flops, updates + 1
    sync()
    elapsed = time.perf_counter() - start
    figures = {"tokens_per_second": tokens / elapsed, "flops_per_second": flops / elapsed,
               "mfu": flops / elapsed / peak if peak else None, "updates": updates,
               "tokens_per_update": tokens / updates, "params": engine.parameter_count(),
               "vocab": data.vocab_size, "precision": cfg.precision, "build_seconds": build_seconds,
               "first_update_seconds": first, "warmup_seconds": warmup_seconds, "compiled": bool(cfg.compile)}
    if device == "cuda":
        figures["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    del engine
    release(device)
    return figures


def loop_run(cfg: Any, data: Any, device: str, work: Path) -> dict:
    """One training run through the real loop, clock, evaluator and checkpoints, at the config's
    budget and eval settings, with an outer wall timer around it.

    clock_check: the training clock against every update timed independently (CUDA events on a
    GPU, a second host timer on CPU; scripts.bench.clock_check), and clock_error its signed error,
    goal within 1%. untimed_share: (outer loop seconds - evaluation and checkpoint seconds -
    training-clock seconds) / training-clock seconds, the loop's own time between updates; it
    cannot see a clock that misses update time, which then lands in evaluation. eval_share:
    evaluation seconds over the whole run's, final evaluation included, as a tlc-train run's wall
    time has it.
    """
    cfg = OmegaConf.create(to_container(cfg))  # resolved once, as train_large.run does: an interpolated
    #   value (budget.log_every_seconds = train_seconds / 100) costs ~0.5 ms per read otherwise
    engine, _ = build(cfg, data, device)
    clock = AuditedClock(TrainingClock(sync=cuda_sync if device == "cuda" else None), independent_timer(device))
    progress = Progress.fresh(cfg.budget)
    evaluator = Evaluator(engine, data, cfg.task.eval)
    work.mkdir(parents=True, exist_ok=True)
    sink = JsonlSink(work / "metrics.jsonl")  # the real sink: its writes are part of the loop's cost
    emit, emitted = emitter(sink, clock, progress)

    def validate() -> None:
        emit("valid", evaluator.evaluate("valid", clock))

    def save() -> None:
        with clock.timed("checkpoint"):
            save_checkpoint(work / "last.pt", {"engine": engine.state_dict(), "clock": clock.state_dict(),
                                               "progress": progress.state_dict()})

    start = time.perf_counter()
    train_until_budget(engine, clock, progress, cfg.budget, emit, validate, save, PRIMARY_METRIC[cfg.task.kind][0])
    loop_seconds = time.perf_counter() - start
    outside = sum(clock.spent.values())
    check = clock.check()
    validate()
    if "test" in data.lines:
        emit("test", evaluator.evaluate("test", clock, full=True))
    total = time.perf_counter() - start
    sink.close()
    figures = {"train_seconds": clock.train_seconds, "loop_seconds": loop_seconds, "outside_seconds": outside,
               "clock_check": check, "clock_error": check["error"],
               "untimed_share": (loop_seconds - outside - clock.train_seconds) / clock.train_seconds,
               "total_seconds": total, "updates": progress.updates, "records": emitted, **shares(clock.spent, total)}
    del engine, evaluator
    release(device)
    return figures


def emitter(sink: JsonlSink, clock: AuditedClock, progress: Progress) -> tuple[Callable[[str, dict], None],
                                                                              dict[str, int]]:
    """(emit, the count of records emitted by kind): emit writes one record as tlc-train's loop does."""
    emitted: dict[str, int] = {}

    def emit(kind: str, metrics: dict) -> None:
        sink.log({"kind": kind, "train_seconds": clock.train_seconds, "wall_seconds": clock.wall_seconds,
                  "updates": progress.updates, "tokens": progress.tokens, **metrics})
        progress.records += 1
        emitted[kind] = emitted.get(kind, 0) + 1

    return emit, emitted


def shares(spent: dict[str, float], total: float) -> dict:
    """A loop run's seconds outside training by kind, and the evaluation's and checkpoints' shares
    of its `total` wall seconds."""
    return {"spent": dict(spent), "eval_share": (spent.get("eval", 0.0) + spent.get("bleu", 0.0)) / total,
            "checkpoint_share": spent.get("checkpoint", 0.0) / total}

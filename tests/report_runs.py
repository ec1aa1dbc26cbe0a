"""Synthetic run directories with known curves, in the formats tlc-train and tlc-compress write
(`metrics.jsonl`, `result.json` through train_large.rundir, `.hydra/config.yaml`), for the
report tests. Every number a test asserts comes from the arguments here.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import yaml

from train_large.rundir import METRICS_FILE, run_id, write_records, write_result

TIMES = [5.0 * i for i in range(1, 13)]  # validation every 5 training seconds up to 60
METRIC = {"translation": "bleu", "masked_lm": "ppl", "classification": "accuracy"}


def params_of(width: int, depth: int) -> int:
    """A Transformer-like count: embeddings (1000 words) plus 12 width^2 per layer."""
    return 1000 * width + 12 * depth * width * width


def rising(cap: float, tau: float) -> list[float]:
    """BLEU or accuracy approaching `cap` with time constant `tau` seconds, at TIMES."""
    return [cap * (1 - math.exp(-t / tau)) for t in TIMES]


def falling(floor: float, tau: float, start: float = 1000.0) -> list[float]:
    """Perplexity falling from `start` towards `floor`, at TIMES."""
    return [floor + (start - floor) * math.exp(-t / tau) for t in TIMES]


def config(experiment: str, task: str, kind: str, width: int, depth: int, batch: int, budget: float,
           seed: int | None = None) -> dict:
    sequences = kind != "translation"
    seeded = {"seed": seed} if seed is not None else {}  # unseeded runs keep the config they always had
    return {**seeded, "experiment": experiment, "task": {"name": task, "kind": kind},
            "model": {"width": width, "depth": depth, "decoder_depth": depth},
            "optim": {"batch_size": batch if sequences else None, "max_tokens": None if sequences else batch,
                      "update_freq": 1},
            "budget": {"train_seconds": budget}, "logger": {"wandb": False, "tags": []}}


def write_hydra(run_dir: Path, cfg: dict) -> None:
    (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    (run_dir / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))


def training_records(values: list[float], metric: str, width: int, params: int, batch_key: str,
                     batch: int, times: list[float] | None = None) -> list[dict]:
    records = []
    for i, (t, value) in enumerate(zip(times or TIMES, values), start=1):
        updates = int(t * 4000 / width)  # wider models take fewer updates per second
        common = {"train_seconds": t, "wall_seconds": t * 1.2, "updates": updates, "tokens": updates * 2000,
                  "flops": 6.0 * params * updates * 2000, batch_key: batch, "world_size": 1}
        records.append({"kind": "train", **common, "loss": 3.0 / i, "nll_loss": 2.5 / i, "ppl": 2 ** (2.5 / i)})
        records.append({"kind": "valid", **common, "loss": 2.0 / i, metric: value, "eval_seconds": 0.1})
    return records


def write_training_run(root: Path, experiment: str, name: str, values: list[float], *, width: int, depth: int = 2,
                       batch: int = 2048, task: str = "toy_mt", kind: str = "translation",
                       test: float | None = None, seed: int | None = None, times: list[float] | None = None,
                       budget: float | None = None) -> Path:
    """A finished training run whose valid curve is `values` at `times` (default TIMES; its final
    validation the last), configured for `budget` training seconds (default TIMES[-1]) and, when
    given, `seed` (a replica: name it `...,seed=N` as a sweep over seeds would)."""
    run_dir = root / experiment / name
    metric = METRIC[kind]
    batch_key = "batch_tokens" if kind == "translation" else "batch_sequences"
    cfg = config(experiment, task, kind, width, depth, batch, TIMES[-1] if budget is None else budget, seed)
    write_hydra(run_dir, cfg)
    records = training_records(values, metric, width, params_of(width, depth), batch_key, batch, times)
    last = records[-1]
    final = {"valid": {"loss": last["loss"], metric: values[-1]}}
    if test is not None:
        final["test"] = {"loss": last["loss"], metric: test}
        records.append({"kind": "test", **{k: last[k] for k in ("train_seconds", "wall_seconds", "updates",
                                                                    "tokens", "flops")}, metric: test})
    write_records(run_dir / METRICS_FILE, records)
    best = max(values) if metric != "ppl" else min(values)
    write_result(run_dir, {
        "run_dir": str(run_dir), "run_id": run_id(run_dir), "name": name, "experiment": experiment, "task": task,
        "kind": kind, "params": params_of(width, depth), "train_seconds": last["train_seconds"],
        "wall_seconds": last["wall_seconds"], "updates": last["updates"], "tokens": last["tokens"],
        "flops": last["flops"], batch_key: batch, "world_size": 1, "seconds_outside_budget": {"eval": 1.0},
        "metric": metric, f"best_valid_{metric}": best, "final_metric": (test if test is not None else values[-1]),
        "init_from": None, "final": final, "config": cfg})
    return run_dir


def write_compress_run(root: Path, source: Path, *, method: str, bits: int = 32, sparsity: float = 0.0,
                       bytes_: int, valid: float, experiment: str = "compress", test: float | None = None) -> Path:
    """A finished compression of `source` (a run written by write_training_run) to `bytes_` bytes,
    scored `valid` (and `test` when given) on the source's metric.
    As tlc-compress writes it: its config names the source and the settings, not the model."""
    source_result = json.loads((source / "result.json").read_text())
    name = f"compression={method},bits={bits},sparsity={sparsity},source={source.name}"
    run_dir = root / experiment / name
    settings = {"method": method, "bits": bits, "sparsity": sparsity, "schedule": "one_shot", "steps": 5,
                "qat": False, "ratio": None, "finetune_seconds": 0.0}
    cfg = {"experiment": experiment, "source": str(source), "compression": settings,
           "evaluation": {"test": False, "bleu_sentences": None}, "logger": {"wandb": False, "tags": []}}
    write_hydra(run_dir, cfg)
    metric = source_result["metric"]
    fp32 = 4 * source_result["params"]
    figures = {"method": method, "bytes": bytes_, "fp32_bytes": fp32, "ratio": fp32 / bytes_, "sparsity": sparsity,
               "target_sparsity": sparsity, "bits": bits, "granularity": "channel", "remaining_params": 0,
               "target_ratio": None, "predicted_ratio": None}
    write_records(run_dir / METRICS_FILE, [{"kind": "valid", "train_seconds": 0.0, "wall_seconds": 1.0,
                                            "updates": 0, "tokens": 0, "flops": 0.0, metric: valid, **figures}])
    write_result(run_dir, {
        "run_dir": str(run_dir), "run_id": run_id(run_dir), "name": name, "experiment": experiment,
        "task": source_result["task"], "kind": source_result["kind"], "params": source_result["params"], **figures,
        "metric": metric, "final_metric": valid if test is None else test,
        "final": {"valid": {metric: valid}, **({"test": {metric: test}} if test is not None else {})},
        "source_run_id": source_result["run_id"],
        "source": {"run_dir": str(source), "run_id": source_result["run_id"], "checkpoint": str(source / "best.pt"),
                   "name": source.name, "final_metric": source_result["final_metric"],
                   "params": source_result["params"]},
        "train_seconds": 0.0, "wall_seconds": 1.0, "updates": 0, "seconds_outside_budget": {},
        "tensors": [], "compression": settings, "config": cfg})
    return run_dir


def write_unfinished_run(root: Path, experiment: str, name: str, values: list[float], *, width: int) -> Path:
    """A run killed after len(values) validations: records and config, no result.json."""
    run_dir = root / experiment / name
    write_hydra(run_dir, config(experiment, "toy_mt", "translation", width, 2, 2048, TIMES[-1]))
    records = training_records(values, "bleu", width, params_of(width, 2), "batch_tokens", 2048)
    write_records(run_dir / METRICS_FILE, records)
    return run_dir


def write_broken_run(root: Path, experiment: str, name: str, *, width: int) -> Path:
    """A run whose result.json is not JSON (a disk filled mid-write by something that was not atomic)."""
    run_dir = write_unfinished_run(root, experiment, name, rising(20, 10), width=width)
    (run_dir / "result.json").write_text('{"status": "complete", "final": ')
    return run_dir


def width_sweep(root: Path, caps: tuple[float, ...], *, experiment: str = "mt_width",
                widths: tuple[int, ...] = (32, 64, 128), depth: int = 2, tau: float = 10.0) -> list[Path]:
    """Translation runs at `widths` whose BLEU rises to `caps` (same time constant)."""
    return [write_training_run(root, experiment, f"width={w}", rising(cap, tau), width=w, depth=depth)
            for w, cap in zip(widths, caps)]


def depth_sweep(root: Path, caps: tuple[float, ...], *, depths: tuple[int, ...] = (2, 4, 8), width: int = 64,
                tau: float = 10.0) -> list[Path]:
    return [write_training_run(root, "mt_depth", f"depth={d}", rising(cap, tau), width=width, depth=d)
            for d, cap in zip(depths, caps)]


def mlm_runs(root: Path, batch_floors: tuple[float, ...], size_floors: tuple[float | None, ...],
             experiment: str | None = None) -> None:
    """toy_mlm perplexity: a batch sweep (width 64, batch 16/32/64) and a width sweep (batch 16,
    widths 32/64/128), falling to the given floors. Width 64 at batch 16 is in both, so the width
    sweep's middle floor is the batch sweep's first. Sweeps `batch_size` and `roberta_width`, or
    both in `experiment`."""
    for batch, floor in zip((16, 32, 64), batch_floors):
        write_training_run(root, experiment or "batch_size", f"batch_size={batch}", falling(floor, 10), width=64,
                           batch=batch, task="toy_mlm", kind="masked_lm")
    for width, floor in zip((32, 128), (size_floors[0], size_floors[2])):
        write_training_run(root, experiment or "roberta_width", f"width={width}", falling(floor, 10), width=width,
                           batch=16, task="toy_mlm", kind="masked_lm")


def compressions(root: Path, small: Path, large: Path, large_smallest_bleu: float = 30.0,
                 large_smallest_bytes: int | None = None) -> None:
    """Quantized and pruned models of two sources. The small one: 20 BLEU fp32, 19.5 at 8 bits,
    15 at 4 bits; the large one 40, 39.5, 38, and its most compressed (prune 0.9 + 4 bits) at
    `large_smallest_bleu` and `large_smallest_bytes` (default: under the small model's fp32 size)."""
    fp32 = {run: 4 * json.loads((run / "result.json").read_text())["params"] for run in (small, large)}
    for run, scores in ((small, (20.0, 19.5, 15.0)), (large, (40.0, 39.5, 38.0))):
        for bits, score in zip((32, 8, 4), scores):
            write_compress_run(root, run, method="quantize", bits=bits, bytes_=fp32[run] * bits // 32, valid=score)
    write_compress_run(root, large, method="prune_quantize", bits=4, sparsity=0.9,
                       bytes_=large_smallest_bytes or fp32[small] // 2, valid=large_smallest_bleu)


def replicas_of(root: Path, experiment: str, base: str, curves: dict[int, list[float]], *, width: int,
                times: dict[int, list[float]] | None = None, **run) -> list[Path]:
    """The replicas of one configuration, as `tlc-train -m ... seed=1,2,3` names them
    (`<base>,seed=<n>`): one run per seed in `curves`, each with its own curve and, from `times`,
    its own validation times (default TIMES)."""
    return [write_training_run(root, experiment, f"{base},seed={seed}", values, width=width, seed=seed,
                               times=(times or {}).get(seed), **run) for seed, values in curves.items()]


def seeded_width_sweep(root: Path, caps: dict[int, tuple[float, ...]], *, experiment: str = "mt_width",
                       tau: float = 10.0) -> dict[int, list[Path]]:
    """A translation width sweep with replicas: per width, seeds 1, 2, ... whose BLEU rises to the
    given caps (same time constant), named `width=W,seed=N`."""
    return {width: replicas_of(root, experiment, f"width={width}",
                               {seed: rising(cap, tau) for seed, cap in enumerate(seed_caps, start=1)}, width=width)
            for width, seed_caps in caps.items()}

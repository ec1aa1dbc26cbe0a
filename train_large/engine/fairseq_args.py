"""Our typed config -> the flags `fairseq-train` would get, which fairseq's own parser completes
(the overhead benchmark relies on that). Pure: must not import fairseq."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from train_large.config import batch_plan

_SCHEDULER_FLAGS = {
    "inverse_sqrt": lambda o, b: ["--lr-scheduler", "inverse_sqrt", "--warmup-updates", str(o.warmup_updates),
                                  "--warmup-init-lr", "1e-07"],
    "fixed": lambda o, b: ["--lr-scheduler", "fixed", "--warmup-updates", str(o.warmup_updates)],
    # The loop sets the rate before each update; fairseq only re-applies it (Engine.set_learning_rate).
    "budget": lambda o, b: ["--lr-scheduler", "fixed", "--warmup-updates", "0"],
    "polynomial_decay": lambda o, b: ["--lr-scheduler", "polynomial_decay",
                                      "--warmup-updates", str(o.warmup_updates),
                                      "--total-num-update", str(b.max_updates)],
}
# fairseq's Dictionary's <s> and </s>: RoBERTa's input starts with <s> and joins a pair with </s>.
_BOS, _EOS = 0, 2


def model_flags(model: Any) -> list[str]:
    """The encoder's shape for every arch, and the decoder's too for a translation model."""
    flags = ["--arch", model.arch, "--dropout", str(model.dropout), "--attention-dropout", str(model.attention_dropout),
             "--activation-dropout", str(model.activation_dropout)]
    sides = [("encoder", model.depth)]
    if model.arch != "roberta":
        sides.append(("decoder", model.decoder_depth))
    for side, depth in sides:
        flags += [f"--{side}-embed-dim", str(model.width), f"--{side}-ffn-embed-dim", str(model.ffn),
                  f"--{side}-layers", str(depth), f"--{side}-attention-heads", str(model.heads)]
        if model.norm == "pre":
            flags.append(f"--{side}-normalize-before")
    if model.arch == "roberta":
        flags += ["--max-positions", str(model.max_positions)]
    elif model.share_embeddings:
        flags.append("--share-all-embeddings")
    return flags


def optim_flags(optim: Any, budget: Any, world_size: int = 1) -> list[str]:
    plan = batch_plan(optim, world_size)
    flags = ["--optimizer", "adam", "--adam-betas", f"({optim.betas[0]}, {optim.betas[1]})",
             "--weight-decay", str(optim.weight_decay), "--lr", str(optim.lr),
             "--clip-norm", str(optim.clip_norm), "--update-freq", str(plan.update_freq)]
    flags += _SCHEDULER_FLAGS[optim.schedule](optim, budget)
    for flag, value in (("--max-tokens", plan.max_tokens), ("--batch-size", plan.device_batch_size),
                        ("--max-update", budget.max_updates)):
        if value is not None:
            flags += [flag, str(value)]
    return flags


def runtime_flags(cfg: Any, device: str) -> list[str]:
    if cfg.precision not in ("fp32", "fp16", "bf16") or cfg.num_workers is None:
        raise ValueError(f"precision={cfg.precision}, num_workers={cfg.num_workers}: resolve them for the "
                         "device first (train_large.runtime.with_runtime)")
    flags = ["--seed", str(cfg.seed), "--num-workers", str(cfg.num_workers),
             "--max-tokens-valid", str(cfg.task.eval.max_tokens),
             "--skip-invalid-size-inputs-valid-test", "--log-format", "simple"]
    if device == "cpu":
        flags.append("--cpu")
    if cfg.precision != "fp32":
        flags.append(f"--{cfg.precision}")
    return flags


def task_flags(cfg: Any, num_classes: int = 0) -> list[str]:
    """The fairseq task and criterion for our task kind."""
    task = cfg.task
    if task.kind == "masked_lm":
        # Break mode `none`: blocks of exactly tokens_per_sample, never beyond the learned positions.
        return ["--task", "masked_lm", "--criterion", "masked_lm",
                "--tokens-per-sample", str(task.tokens_per_sample), "--mask-prob", str(task.mask_prob),
                "--sample-break-mode", "none"]
    if task.kind == "classification":
        return ["--task", "sentence_prediction", "--criterion", "sentence_prediction",
                "--num-classes", str(num_classes), "--init-token", str(_BOS),
                "--separator-token", str(_EOS), "--max-positions", str(cfg.model.max_positions),
                "--shorten-method", "truncate"]
    return ["--task", "translation", "--source-lang", task.source_lang, "--target-lang", task.target_lang,
            "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", str(cfg.optim.label_smoothing)]


def distributed_flags(world_size: int, rank: int, device: str) -> list[str]:
    """One data-parallel process of `world_size`; the process group already exists. CPU (tests) uses
    gloo and fairseq's legacy DDP, because PyTorch's DDP wants device ids."""
    if world_size <= 1:
        return []
    cuda = device == "cuda"
    return ["--distributed-world-size", str(world_size), "--distributed-rank", str(rank),
            "--distributed-backend", "nccl" if cuda else "gloo",
            "--ddp-backend", "pytorch_ddp" if cuda else "legacy_ddp", "--device-id", str(rank if cuda else 0)]


def train_argv(cfg: Any, data_bin: Path, device: str, *, num_classes: int = 0, world_size: int = 1,
               rank: int = 0) -> list[str]:
    """The fairseq-train argv (without the program name) of one of our runs.
    `num_classes`: the prepared classification data's label count (classification only)."""
    return [str(data_bin), *task_flags(cfg, num_classes), *model_flags(cfg.model),
            *optim_flags(cfg.optim, cfg.budget, world_size), *runtime_flags(cfg, device),
            *distributed_flags(world_size, rank, device)]

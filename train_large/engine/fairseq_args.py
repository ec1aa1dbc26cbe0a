"""Our typed config -> fairseq's command-line flags, for each task kind.

fairseq's own parser then fills in every default and converts to its dataclass config, so the
engine gets exactly what `fairseq-train` would get from the same flags (the overhead benchmark
relies on that). Pure: no fairseq import, so it is unit-tested without building anything.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from train_large.config import batch_plan

_SCHEDULER_FLAGS = {
    "inverse_sqrt": lambda o, b: ["--lr-scheduler", "inverse_sqrt", "--warmup-updates", str(o.warmup_updates),
                                  "--warmup-init-lr", "1e-07"],
    "fixed": lambda o, b: ["--lr-scheduler", "fixed", "--warmup-updates", str(o.warmup_updates)],
    # The loop sets the rate before each update (train_large.schedule); fairseq's fixed schedule
    # without warmup then only re-applies it after the update (Engine.set_learning_rate).
    "budget": lambda o, b: ["--lr-scheduler", "fixed", "--warmup-updates", "0"],
    "polynomial_decay": lambda o, b: ["--lr-scheduler", "polynomial_decay",
                                      "--warmup-updates", str(o.warmup_updates),
                                      "--total-num-update", str(b.max_updates)],
}
# fairseq's Dictionary puts <s> at 0 and </s> at 2: RoBERTa's classification input starts with
# <s> and joins a sentence pair with </s>.
_BOS, _EOS = 0, 2


def model_flags(model: Any) -> list[str]:
    if model.arch == "roberta":
        return _encoder_flags(model)
    flags = ["--arch", model.arch,
             "--encoder-embed-dim", str(model.width), "--decoder-embed-dim", str(model.width),
             "--encoder-ffn-embed-dim", str(model.ffn), "--decoder-ffn-embed-dim", str(model.ffn),
             "--encoder-layers", str(model.depth), "--decoder-layers", str(model.decoder_depth),
             "--encoder-attention-heads", str(model.heads), "--decoder-attention-heads", str(model.heads),
             *_dropout_flags(model)]
    if model.share_embeddings:
        flags.append("--share-all-embeddings")
    if model.norm == "pre":
        flags += ["--encoder-normalize-before", "--decoder-normalize-before"]
    return flags


def _encoder_flags(model: Any) -> list[str]:
    flags = ["--arch", "roberta", "--encoder-embed-dim", str(model.width),
             "--encoder-ffn-embed-dim", str(model.ffn), "--encoder-layers", str(model.depth),
             "--encoder-attention-heads", str(model.heads), "--max-positions", str(model.max_positions),
             *_dropout_flags(model)]
    if model.norm == "pre":
        flags.append("--encoder-normalize-before")
    return flags


def _dropout_flags(model: Any) -> list[str]:
    return ["--dropout", str(model.dropout), "--attention-dropout", str(model.attention_dropout),
            "--activation-dropout", str(model.activation_dropout)]


def optim_flags(optim: Any, budget: Any, world_size: int = 1) -> list[str]:
    plan = batch_plan(optim, world_size)
    flags = ["--optimizer", "adam", "--adam-betas", f"({optim.betas[0]}, {optim.betas[1]})",
             "--weight-decay", str(optim.weight_decay), "--lr", str(optim.lr),
             "--clip-norm", str(optim.clip_norm), "--update-freq", str(plan.update_freq)]
    flags += _SCHEDULER_FLAGS[optim.schedule](optim, budget)
    if plan.max_tokens is not None:
        flags += ["--max-tokens", str(plan.max_tokens)]
    if plan.device_batch_size is not None:
        flags += ["--batch-size", str(plan.device_batch_size)]
    if budget.max_updates is not None:
        flags += ["--max-update", str(budget.max_updates)]
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
    if cfg.precision == "fp16":
        flags.append("--fp16")
    elif cfg.precision == "bf16":
        flags.append("--bf16")
    return flags


def task_flags(cfg: Any, num_classes: int = 0) -> list[str]:
    """The fairseq task and criterion for our task kind."""
    task = cfg.task
    if task.kind == "masked_lm":
        # Break mode `none`: contiguous blocks of exactly tokens_per_sample tokens, so no sample
        # can exceed the learned positions, whatever the corpus's line lengths.
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
    """One data-parallel process of `world_size` on this node; the process group already exists.

    On CUDA: NCCL and PyTorch's DDP, one GPU per process. On CPU (for tests): gloo and fairseq's
    legacy DDP, which all-reduces gradients itself (PyTorch's DDP wants device ids on CPU).
    """
    if world_size <= 1:
        return []
    cuda = device == "cuda"
    return ["--distributed-world-size", str(world_size), "--distributed-rank", str(rank),
            "--distributed-backend", "nccl" if cuda else "gloo",
            "--ddp-backend", "pytorch_ddp" if cuda else "legacy_ddp", "--device-id", str(rank if cuda else 0)]


def train_argv(cfg: Any, data_bin: Path, device: str, *, num_classes: int = 0, world_size: int = 1,
               rank: int = 0) -> list[str]:
    """The fairseq-train argv (without the program name) equivalent to one of our runs.

    `num_classes`: the prepared classification data's label count (classification only).
    `world_size`, `rank`: this process's place among data-parallel processes.
    """
    return [str(data_bin), *task_flags(cfg, num_classes), *model_flags(cfg.model),
            *optim_flags(cfg.optim, cfg.budget, world_size), *runtime_flags(cfg, device),
            *distributed_flags(world_size, rank, device)]

"""Our typed config -> fairseq's command-line flags.

fairseq's own parser then fills in every default and converts to its dataclass config, so the
engine gets exactly what `fairseq-train` would get from the same flags (the overhead benchmark
relies on that). Pure: no fairseq import, so it is unit-tested without building anything.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

_SCHEDULER_FLAGS = {
    "inverse_sqrt": lambda o, b: ["--lr-scheduler", "inverse_sqrt", "--warmup-updates", str(o.warmup_updates),
                                  "--warmup-init-lr", "1e-07"],
    "fixed": lambda o, b: ["--lr-scheduler", "fixed", "--warmup-updates", str(o.warmup_updates)],
    "polynomial_decay": lambda o, b: ["--lr-scheduler", "polynomial_decay",
                                      "--warmup-updates", str(o.warmup_updates),
                                      "--total-num-update", str(b.max_updates)],
}


def model_flags(model: Any) -> list[str]:
    flags = ["--arch", model.arch,
             "--encoder-embed-dim", str(model.width), "--decoder-embed-dim", str(model.width),
             "--encoder-ffn-embed-dim", str(model.ffn), "--decoder-ffn-embed-dim", str(model.ffn),
             "--encoder-layers", str(model.depth), "--decoder-layers", str(model.decoder_depth),
             "--encoder-attention-heads", str(model.heads), "--decoder-attention-heads", str(model.heads),
             "--dropout", str(model.dropout), "--attention-dropout", str(model.attention_dropout),
             "--activation-dropout", str(model.activation_dropout)]
    if model.share_embeddings:
        flags.append("--share-all-embeddings")
    if model.norm == "pre":
        flags += ["--encoder-normalize-before", "--decoder-normalize-before"]
    return flags


def optim_flags(optim: Any, budget: Any) -> list[str]:
    flags = ["--optimizer", "adam", "--adam-betas", f"({optim.betas[0]}, {optim.betas[1]})",
             "--weight-decay", str(optim.weight_decay), "--lr", str(optim.lr),
             "--clip-norm", str(optim.clip_norm), "--update-freq", str(optim.update_freq),
             "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", str(optim.label_smoothing)]
    flags += _SCHEDULER_FLAGS[optim.schedule](optim, budget)
    if optim.max_tokens is not None:
        flags += ["--max-tokens", str(optim.max_tokens)]
    if optim.batch_size is not None:
        flags += ["--batch-size", str(optim.batch_size)]
    if budget.max_updates is not None:
        flags += ["--max-update", str(budget.max_updates)]
    return flags


def runtime_flags(cfg: Any, device: str) -> list[str]:
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


def translation_argv(cfg: Any, data_bin: Path, device: str) -> list[str]:
    """The fairseq-train argv (without the program name) equivalent to one of our runs."""
    task = ["--task", "translation", "--source-lang", cfg.task.source_lang,
            "--target-lang", cfg.task.target_lang]
    return [str(data_bin), *task, *model_flags(cfg.model), *optim_flags(cfg.optim, cfg.budget),
            *runtime_flags(cfg, device)]

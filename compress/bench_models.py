"""Model factories for `scripts/bench_int8.py --model-factory`: trained runs as benchmark models.

    TLC_BENCH_RUN=runs/demo/<run> python scripts/bench_int8.py --model-factory compress.bench_models:toy_from_checkpoint

`toy_from_checkpoint` rebuilds the translation model of a finished `tlc-train` run (its best
checkpoint) or of a `tlc-compress` run (its compressed checkpoint) through the training engine,
and wraps it so the benchmark can call it: a teacher-forced forward pass of a batch of
sentences, logits out. Must not import fairseq: the engine builds the model.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .checkpoint import FILE, LEGACY_FILE

ENV = "TLC_BENCH_RUN"  # the run directory to benchmark
SENTENCE_TOKENS = 32  # source and target tokens per sentence in the benchmark batch
FIRST_WORD = 4  # fairseq dictionaries start with <s>, <pad>, </s>, <unk>


class TranslationForward(nn.Module):
    """A fairseq encoder-decoder as `forward(source, lengths, previous) -> logits`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.eval()
        self.vocab = model.encoder.embed_tokens.num_embeddings
        # fairseq's attention hands q/k/v/out_proj weights straight to F.multi_head_attention_forward
        # outside incremental decoding; an int8 Linear has no weight tensor to hand over. Its
        # module-by-module path calls each projection instead: both variants run that path.
        for module in self.model.modules():
            if hasattr(module, "skip_embed_dim_check"):
                module.skip_embed_dim_check = True

    def forward(self, source: torch.Tensor, lengths: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        return self.model(source, lengths, previous)[0]

    def example_inputs(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(0)
        source, previous = (torch.randint(FIRST_WORD, self.vocab, (batch, SENTENCE_TOKENS), generator=generator)
                            for _ in range(2))
        return source, torch.full((batch,), SENTENCE_TOKENS), previous


def toy_from_checkpoint() -> nn.Module:
    """The model of the run named by $TLC_BENCH_RUN, on CPU.

    Raises:
        KeyError: TLC_BENCH_RUN is not set.
    """
    run_dir = Path(os.environ[ENV]).expanduser().resolve()
    if any((run_dir / "checkpoints" / name).is_file() for name in (FILE, LEGACY_FILE)):  # a compression run
        from .pipeline import reload

        engine, _, _ = reload(run_dir)
        return TranslationForward(engine.model)
    from omegaconf import OmegaConf

    from train_large.data.datasets import ensure_dataset
    from train_large.engine import build_engine

    from .source import engine_config, find_source, load_weights

    source = find_source(str(run_dir))
    cfg = engine_config(source, OmegaConf.create({"seed": 1, "evaluation": {"bleu_sentences": None}}), "cpu")
    engine = build_engine(cfg, ensure_dataset(cfg.task), "cpu")
    engine.model.load_state_dict(load_weights(source))
    return TranslationForward(engine.model)

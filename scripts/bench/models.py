"""The models the int8 section times: a toy encoder-decoder built here, and the translation model
of a finished `tlc-train` or `tlc-compress` run rebuilt through the training engine.

`ToyTranslationModel` is laid out as fairseq's (attention through its q/k/v/out_proj Linears;
width 128, 2 + 2 layers, vocabulary 1000, untied output projection). `from_run` wraps a run's
model so the benchmark can call it: a teacher-forced forward pass of a batch of sentences, logits
out. Both give `example_inputs(batch)`. Must not import fairseq: the engine builds the model.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from compress.checkpoint import FILE, LEGACY_FILE

TOY = "toy encoder-decoder, fairseq module layout, d128 2+2 layers 4 heads ffn 512 vocab 1000, untied output"
SENTENCE_TOKENS = 32  # source and target tokens per sentence in a run's benchmark batch
FIRST_WORD = 4  # fairseq dictionaries start with <s>, <pad>, </s>, <unk>


class Attention(nn.Module):
    """Multi-head attention through four `nn.Linear`s that it calls, as fairseq's runs outside
    incremental decoding (see `TranslationForward`), so each projection can be an int8 Linear."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(width, width) for _ in range(4))

    def forward(self, x: torch.Tensor, memory: torch.Tensor, causal: bool = False) -> torch.Tensor:
        batch, length, width = x.shape

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(batch, -1, self.heads, width // self.heads).transpose(1, 2)

        out = nn.functional.scaled_dot_product_attention(heads(self.q_proj(x)), heads(self.k_proj(memory)),
                                                         heads(self.v_proj(memory)), is_causal=causal)
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, width))


class Layer(nn.Module):
    """A post-norm Transformer layer with fairseq's module names (decoder layers: `cross`)."""

    def __init__(self, width: int, heads: int, ffn: int, cross: bool) -> None:
        super().__init__()
        self.self_attn, self.self_attn_layer_norm = Attention(width, heads), nn.LayerNorm(width)
        if cross:
            self.encoder_attn, self.encoder_attn_layer_norm = Attention(width, heads), nn.LayerNorm(width)
        self.fc1, self.fc2, self.final_layer_norm = nn.Linear(width, ffn), nn.Linear(ffn, width), nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        x = self.self_attn_layer_norm(x + self.self_attn(x, x, causal=memory is not None))
        if memory is not None:
            x = self.encoder_attn_layer_norm(x + self.encoder_attn(x, memory))
        return self.final_layer_norm(x + self.fc2(torch.relu(self.fc1(x))))


class ToyTranslationModel(nn.Module):
    def __init__(self, vocab: int = 1000, width: int = 128, layers: int = 2, heads: int = 4,
                 ffn: int = 512, length: int = 32) -> None:
        super().__init__()
        self.vocab, self.length = vocab, length  # length: tokens per source and target sentence
        self.embed_tokens = nn.Embedding(vocab, width)
        self.encoder = nn.ModuleList(Layer(width, heads, ffn, cross=False) for _ in range(layers))
        self.decoder = nn.ModuleList(Layer(width, heads, ffn, cross=True) for _ in range(layers))
        self.output_projection = nn.Linear(width, vocab, bias=False)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        memory, x = self.embed_tokens(source), self.embed_tokens(target)
        for layer in self.encoder:
            memory = layer(memory)
        for layer in self.decoder:
            x = layer(x, memory)
        return self.output_projection(x)

    def example_inputs(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(0)
        return tuple(torch.randint(0, self.vocab, (batch, self.length), generator=generator) for _ in range(2))


def toy_model() -> ToyTranslationModel:
    torch.manual_seed(0)
    return ToyTranslationModel().eval()


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


def from_run(run_dir: Path) -> TranslationForward:
    """The translation model of a `tlc-compress` run (rebuilt from its compressed checkpoint) or of a
    finished `tlc-train` run (its best checkpoint), on CPU."""
    run_dir = run_dir.expanduser().resolve()
    if any((run_dir / "checkpoints" / name).is_file() for name in (FILE, LEGACY_FILE)):  # a compression run
        from compress.pipeline import reload

        engine, _, _ = reload(run_dir)
        return TranslationForward(engine.model)
    from omegaconf import OmegaConf

    from compress.source import engine_config, find_source, load_weights
    from train_large.data.datasets import ensure_dataset
    from train_large.engine import build_engine
    from train_large.runtime import resolve_runtime

    source = find_source(str(run_dir))
    cfg = engine_config(source, OmegaConf.create({"seed": 1, "evaluation": {"bleu_sentences": None}}), "cpu")
    engine = build_engine(cfg, ensure_dataset(cfg.task), resolve_runtime(cfg, "cpu").for_world(1))
    engine.model.load_state_dict(load_weights(source))
    return TranslationForward(engine.model)

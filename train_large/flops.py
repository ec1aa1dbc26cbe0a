"""Training FLOPs: the hardware-independent x-axis beside training seconds.

For a sequence of n tokens through a stack of L attention layers of width d whose weights,
embedding tables excluded, number N:

    forward  ~ 2 N n          one multiply-add per weight per token
             + 4 L d n^2      Q K^T and (attention weights) V: n^2 d multiply-adds each per layer
    training ~ 3 x forward    the backward pass costs about twice the forward

so 6 N n + 12 L d n^2 per sequence. A decoder layer also attends over the source
(12 L d n_src n_tgt), and an output head (projection to the vocabulary, RoBERTa's LM head,
a classification head) costs 6 H per position it scores, H its weights. Embedding lookups,
norms, softmaxes and the optimizer are left out: they are small beside these terms for the
paper's sizes. Pure Python; no torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class FlopModel:
    """The counts of one model that its training FLOPs depend on."""

    width: int
    encoder_params: int  # non-embedding weights of the encoder stack
    encoder_layers: int
    decoder_params: int = 0  # non-embedding weights of the decoder stack (translation)
    decoder_layers: int = 0
    head_params: int = 0  # weights applied at each scored position (output projection or head)

    def update_flops(self, source_lengths: Sequence[int], target_lengths: Sequence[int] = (),
                     head_positions: int = 0) -> float:
        """FLOPs of one training update: tokens of each encoder input, of each paired decoder input
        (translation only), and the positions the head scores (target or masked tokens, sentences)."""
        d = self.width
        flops = 6.0 * self.encoder_params * sum(source_lengths)
        flops += 12.0 * self.encoder_layers * d * sum(n * n for n in source_lengths)
        if target_lengths:
            flops += 6.0 * self.decoder_params * sum(target_lengths)
            self_and_cross = sum(t * t + s * t for s, t in zip(source_lengths, target_lengths))
            flops += 12.0 * self.decoder_layers * d * self_and_cross
        return flops + 6.0 * self.head_params * head_positions

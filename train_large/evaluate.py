"""Validation and test evaluation: loss, perplexity and BLEU for one split.

The work is timed on the clock under `eval` (loss) and `bleu` (decoding and scoring), outside
the training budget. Must not import fairseq: it drives the engine through its methods.
"""
from __future__ import annotations

from typing import Any

from .bleu import Detokenizer, corpus_bleu, read_references
from .clock import TrainingClock
from .data.prepare import PreparedData


class Evaluator:
    """Scores an engine on a prepared dataset's valid and test splits."""

    def __init__(self, engine: Any, data: PreparedData) -> None:
        self.engine = engine
        self.detokenize = Detokenizer(data.spm_model)
        self.references = {split: read_references(data.reference(split)) for split in ("valid", "test")}

    def evaluate(self, split: str, clock: TrainingClock, *, sentences: int, beam: int, lenpen: float,
                 max_len_a: float, max_len_b: int) -> dict:
        """Metrics for `split`; BLEU on its first `sentences` sentences (0 = all).

        The subset is the same at every evaluation, so points on one curve are comparable.
        """
        with clock.timed("eval") as eval_lap:
            losses = self.engine.validate(split)
        size = self.engine.split_size(split)
        ids = list(range(size if sentences <= 0 else min(sentences, size)))
        with clock.timed("bleu") as bleu_lap:
            pieces = self.engine.translate(split, ids, beam=beam, lenpen=lenpen,
                                           max_len_a=max_len_a, max_len_b=max_len_b)
            hypotheses = [self.detokenize(pieces[i]) for i in ids]
            references = [self.references[split][i] for i in ids]
            bleu, signature = corpus_bleu(hypotheses, references)
        return {"loss": losses["loss"], "nll_loss": losses["nll_loss"], "ppl": losses["ppl"],
                "bleu": bleu, "bleu_sentences": len(ids), "beam": beam, "lenpen": lenpen,
                "sacrebleu_signature": signature, "eval_seconds": round(eval_lap.seconds, 4),
                "bleu_seconds": round(bleu_lap.seconds, 4)}

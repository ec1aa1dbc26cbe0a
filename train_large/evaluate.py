"""Validation and test evaluation of one split, for each task kind.

- translation: loss, perplexity and sacreBLEU on detokenised beam-search output;
- masked_lm: masked-token loss and perplexity;
- classification: loss and accuracy; the valid record also scores the extra dev sets
  (MNLI's mismatched one), with the split's suffix on their keys (`accuracy_mismatched`).

The work is timed on the clock under `eval` (loss) and `bleu` (decoding and scoring), outside
the training budget. Must not import fairseq: it drives the engine through its methods.
"""
from __future__ import annotations

from typing import Any

from .bleu import Detokenizer, corpus_bleu, read_references
from .clock import TrainingClock
from .data.prepare import PreparedData

# The metric that marks a run's best checkpoint and summarises it, and whether higher is better.
PRIMARY_METRIC = {"translation": ("bleu", True), "masked_lm": ("ppl", False), "classification": ("accuracy", True)}


def is_better(kind: str, value: float, best: float | None) -> bool:
    _, higher = PRIMARY_METRIC[kind]
    return best is None or (value > best if higher else value < best)


class Evaluator:
    """Scores an engine on a prepared dataset's valid and test splits."""

    def __init__(self, engine: Any, data: PreparedData, eval_cfg: Any) -> None:
        self.engine = engine
        self.data = data
        self.settings = eval_cfg
        if data.kind == "translation":
            self.detokenize = Detokenizer(data.spm_model)
            self.references = {split: read_references(data.reference(split)) for split in ("valid", "test")}

    def evaluate(self, split: str, clock: TrainingClock, *, full: bool = False) -> dict:
        """Metrics for `split`. `full`: BLEU with the final decoding settings (test beam and
        length penalty) on the first `test_sentences` sentences (0 = all); otherwise on the first
        `bleu_sentences`, the same subset at every evaluation so points on one curve are
        comparable."""
        with clock.timed("eval") as eval_lap:
            metrics = self.engine.validate(split)
            if split == "valid":
                for extra in self.data.eval_splits[1:]:
                    suffix = extra.removeprefix("valid")
                    metrics.update({f"{key}{suffix}": value
                                    for key, value in self.engine.validate(extra).items()})
        metrics["eval_seconds"] = round(eval_lap.seconds, 4)
        if self.data.kind == "translation":
            metrics.update(self._bleu(split, clock, full))
        return metrics

    def _bleu(self, split: str, clock: TrainingClock, full: bool) -> dict:
        e = self.settings
        beam, lenpen = (e.test_beam, e.test_lenpen) if full else (e.beam, e.lenpen)
        size = self.engine.split_size(split)
        sentences = e.test_sentences if full else e.bleu_sentences
        ids = list(range(size if sentences <= 0 else min(sentences, size)))
        with clock.timed("bleu") as bleu_lap:
            pieces = self.engine.translate(split, ids, beam=beam, lenpen=lenpen,
                                           max_len_a=e.max_len_a, max_len_b=e.max_len_b)
            hypotheses = [self.detokenize(pieces[i]) for i in ids]
            references = [self.references[split][i] for i in ids]
            bleu, signature = corpus_bleu(hypotheses, references)
        return {"bleu": bleu, "bleu_sentences": len(ids), "beam": beam, "lenpen": lenpen,
                "sacrebleu_signature": signature, "bleu_seconds": round(bleu_lap.seconds, 4)}

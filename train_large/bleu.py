"""BLEU as the paper reports it: sacrebleu on detokenized output against raw references.

Hypotheses arrive as sentencepiece pieces and are decoded with the dataset's own model; the
references are the normalised raw target lines, never re-tokenised. Must not import fairseq.
"""
from __future__ import annotations

from pathlib import Path

import sacrebleu
import sentencepiece as spm


class Detokenizer:
    def __init__(self, spm_model: Path) -> None:
        self._sp = spm.SentencePieceProcessor(model_file=str(spm_model))

    def __call__(self, pieces: list[str]) -> str:
        return self._sp.decode_pieces(pieces)


def read_references(path: Path) -> list[str]:
    return Path(path).read_text(encoding="utf-8").split("\n")[:-1]


def corpus_bleu(hypotheses: list[str], references: list[str]) -> tuple[float, str]:
    """(BLEU score, sacrebleu signature) of line-aligned hypotheses and references."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    metric = sacrebleu.BLEU()
    score = metric.corpus_score(hypotheses, [references])
    return float(score.score), str(metric.get_signature())

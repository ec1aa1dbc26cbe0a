"""BLEU as the paper reports it: sacrebleu on output detokenized with the dataset's sentencepiece
model, never re-tokenised by us, and the sacrebleu CLI command for it. Must not import fairseq."""
from __future__ import annotations

import shlex
from pathlib import Path

import sacrebleu
import sentencepiece as spm

# sacrebleu's default for our target languages (not ja, ko, zh); explicit so the CLI command names it.
STANDARD_TOKENIZE = "13a"
TOKENIZERS = tuple(sacrebleu.BLEU.TOKENIZERS)  # the --tokenize choices of the sacrebleu CLI


class Detokenizer:
    def __init__(self, spm_model: Path) -> None:
        self._sp = spm.SentencePieceProcessor(model_file=str(spm_model))

    def __call__(self, pieces: list[str]) -> str:
        return self._sp.decode_pieces(pieces)


def corpus_bleu(hypotheses: list[str], references: list[str],
                tokenize: str = STANDARD_TOKENIZE) -> tuple[float, str]:
    """(BLEU score, sacrebleu signature) of line-aligned hypotheses and references (ValueError if not)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    metric = sacrebleu.BLEU(tokenize=tokenize)
    score = metric.corpus_score(hypotheses, [references])
    return float(score.score), str(metric.get_signature())


def bleu_scores(hypotheses: list[str], references: list[str], extra_tokenize: str | None) -> dict:
    """`bleu` and `sacrebleu_signature`, and with `extra_tokenize` `bleu_<name>` and
    `sacrebleu_signature_<name>` beside them, never instead."""
    bleu, signature = corpus_bleu(hypotheses, references)
    scores = {"bleu": bleu, "sacrebleu_signature": signature}
    if extra_tokenize:
        extra, extra_signature = corpus_bleu(hypotheses, references, extra_tokenize)
        scores.update({f"bleu_{extra_tokenize}": extra, f"sacrebleu_signature_{extra_tokenize}": extra_signature})
    return scores


def recompute_command(references: Path, hypotheses: Path, scored_lines: int, reference_lines: int,
                      tokenize: str = STANDARD_TOKENIZE) -> str:
    """The sacrebleu CLI command (bash) that prints this BLEU from the files, to 4 decimals."""
    ref = shlex.quote(str(references))
    if scored_lines < reference_lines:
        ref = f"<(head -n {scored_lines} {ref})"
    return f"sacrebleu {ref} -i {shlex.quote(str(hypotheses))} -m bleu -b -w 4 --tokenize {tokenize}"

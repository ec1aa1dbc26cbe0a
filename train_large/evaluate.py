"""Validation and test evaluation for each task kind, and the saved final outputs (translations with
how to score them again, predicted labels, GLUE submission files). Timed on the clock under `eval`
and `bleu`, outside the budget. BLEU as the paper reports it: sacrebleu on output detokenized with
the dataset's sentencepiece model, never re-tokenised by us. Must not import fairseq: it drives the
engine's methods."""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import sacrebleu
import sentencepiece as spm

from .clock import TrainingClock
from .data.prepare import PreparedData
from .data.references import NORMALISED, final_references, read_lines
from .outputs import GLUE_SUBMISSION_DIR, write_lines

# sacrebleu's default for our target languages (not ja, ko, zh); explicit so the CLI command names it.
STANDARD_TOKENIZE = "13a"
TOKENIZERS = tuple(sacrebleu.BLEU.TOKENIZERS)  # the --tokenize choices of the sacrebleu CLI
# The metric that marks a run's best checkpoint and summarises it, and whether higher is better.
PRIMARY_METRIC = {"translation": ("bleu", True), "masked_lm": ("ppl", False), "classification": ("accuracy", True)}


def is_better(kind: str, value: float, best: float | None) -> bool:
    _, higher = PRIMARY_METRIC[kind]
    return best is None or (value > best if higher else value < best)


class Evaluator:
    """Scores an engine on a prepared dataset's splits. Final outputs go to `outputs_dir` (None: not
    saved); `saved` (split -> {"file", "sha256", "lines"}) lists them for result.json."""

    def __init__(self, engine: Any, data: PreparedData, eval_cfg: Any, outputs_dir: Path | None = None) -> None:
        self.engine = engine
        self.data = data
        self.settings = eval_cfg
        self.outputs_dir = outputs_dir
        self.saved: dict[str, dict] = {}
        if data.kind == "translation":
            self.detokenize = Detokenizer(data.spm_model)
            self.references = {split: read_lines(data.reference(split)) for split in ("valid", "test")}

    def evaluate(self, split: str, clock: TrainingClock, *, full: bool = False) -> dict:
        """Metrics for `split` (valid: with the extra dev sets' keys suffixed, `accuracy_mismatched`).
        BLEU on the first `bleu_sentences` against the normalised references, the same subset every
        time; `full`: on `test_sentences` (0 = all) at the test decoding settings, as `_final_bleu`."""
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
        extra = getattr(e, "extra_bleu_tokenize", None)  # absent from configs saved before it existed
        with clock.timed("bleu") as bleu_lap:
            pieces = self.engine.translate(split, ids, beam=beam, lenpen=lenpen,
                                           max_len_a=e.max_len_a, max_len_b=e.max_len_b)
            hypotheses = [self.detokenize(pieces[i]) for i in ids]
            if full:
                scored = self._final_bleu(split, hypotheses, extra)
            else:
                references = [self.references[split][i] for i in ids]
                scored = {**bleu_scores(hypotheses, references, extra), "references": NORMALISED}
        return {**scored, "bleu_sentences": len(ids), "beam": beam, "lenpen": lenpen,
                "bleu_seconds": round(bleu_lap.seconds, 4)}

    def _final_bleu(self, split: str, hypotheses: list[str], extra: str | None) -> dict:
        """BLEU against the untouched references (else the normalised ones), the hypotheses saved, and
        how to recompute it."""
        references = final_references(self.data.untouched_reference(split), self.data.reference(split))
        scored = {**bleu_scores(hypotheses, references.lines[:len(hypotheses)], extra), **references.describe()}
        if self.outputs_dir is not None:
            path = self.outputs_dir / f"{split}.hyp.{self.data.target_lang}"
            saved = write_lines(path, hypotheses)
            self.saved[split] = saved
            scored.update({"hypotheses_file": saved["file"], "hypotheses_sha256": saved["sha256"],
                           "recompute": recompute_command(references.path, path, len(hypotheses),
                                                          len(references.lines))})
        return scored

    def write_predictions(self, clock: TrainingClock, *, test: bool = True) -> dict:
        """Classification: each dev set's predicted labels as outputs/{split}.pred, and with `test` a
        labelled test set's and each GLUE test set's submission file (ValueError: index file mismatch)."""
        if self.data.kind != "classification" or self.outputs_dir is None:
            return self.saved
        splits = [*self.data.eval_splits, *(["test"] if test and "test" in self.data.lines else [])]
        with clock.timed("eval"):
            for split in splits:
                labels = [self.data.labels[i] for i in self.engine.predict(split)]
                self.saved[split] = write_lines(self.outputs_dir / f"{split}.pred", labels)
            for split, submission in (self.data.submission if test else {}).items():
                labels = [self.data.labels[i] for i in self.engine.predict(split)]
                rows = submission_rows(self.data.glue_index(split), labels)
                self.saved[split] = write_lines(self.outputs_dir / GLUE_SUBMISSION_DIR / submission["file"], rows)
        return self.saved


def submission_rows(index_file: Path, labels: list[str]) -> list[str]:
    """GLUE's submission format: `index<TAB>prediction`, then a row per label with its GLUE index
    (ValueError if `index_file` does not have one line per label)."""
    indices = index_file.read_text(encoding="utf-8").splitlines()
    if len(indices) != len(labels):
        raise ValueError(f"{index_file} holds {len(indices)} indices for {len(labels)} predictions; "
                         "prepare the data again")
    return ["index\tprediction", *(f"{index}\t{label}" for index, label in zip(indices, labels))]


class Detokenizer:
    def __init__(self, spm_model: Path) -> None:
        self._sp = spm.SentencePieceProcessor(model_file=str(spm_model))

    def __call__(self, pieces: list[str]) -> str:
        return self._sp.decode_pieces(pieces)


def bleu_scores(hypotheses: list[str], references: list[str], extra_tokenize: str | None) -> dict:
    """`bleu` and `sacrebleu_signature` of line-aligned hypotheses and references (ValueError if not), and
    with `extra_tokenize` `bleu_<name>` and `sacrebleu_signature_<name>` beside them, never instead."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    scores, extra = {}, [(extra_tokenize, f"_{extra_tokenize}")] if extra_tokenize else []
    for tokenize, suffix in [(STANDARD_TOKENIZE, ""), *extra]:
        metric = sacrebleu.BLEU(tokenize=tokenize)
        scores[f"bleu{suffix}"] = float(metric.corpus_score(hypotheses, [references]).score)
        scores[f"sacrebleu_signature{suffix}"] = str(metric.get_signature())
    return scores


def recompute_command(references: Path, hypotheses: Path, scored_lines: int, reference_lines: int,
                      tokenize: str = STANDARD_TOKENIZE) -> str:
    """The sacrebleu CLI command (bash) that prints this BLEU from the files, to 4 decimals."""
    ref = shlex.quote(str(references))
    if scored_lines < reference_lines:
        ref = f"<(head -n {scored_lines} {ref})"
    return f"sacrebleu {ref} -i {shlex.quote(str(hypotheses))} -m bleu -b -w 4 --tokenize {tokenize}"

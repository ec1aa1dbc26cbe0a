"""Validation and test evaluation of one split, for each task kind, and the saved final outputs.

- translation: loss, perplexity and sacreBLEU on detokenised beam-search output. Validation
  scores against the normalised references; the final test BLEU against the untouched ones
  (`data.references`), and saves its translations under the run's outputs/ with what a reviewer
  needs to score them again (files, sha256s and the sacrebleu command);
- masked_lm: masked-token loss and perplexity;
- classification: loss and accuracy; the valid record also scores the extra dev sets
  (MNLI's mismatched one), with the split's suffix on their keys (`accuracy_mismatched`).
  `write_predictions` saves the final model's predicted labels, and those of the unlabelled GLUE
  test sets in GLUE's submission format (outputs/glue/MNLI-m.tsv ...).

The work is timed on the clock under `eval` (loss) and `bleu` (decoding and scoring), outside
the training budget. Must not import fairseq: it drives the engine through its methods.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .bleu import Detokenizer, bleu_scores, read_references, recompute_command
from .clock import TrainingClock
from .data.prepare import PreparedData
from .data.references import NORMALISED, final_references
from .outputs import GLUE_SUBMISSION_DIR, write_lines

# The metric that marks a run's best checkpoint and summarises it, and whether higher is better.
PRIMARY_METRIC = {"translation": ("bleu", True), "masked_lm": ("ppl", False), "classification": ("accuracy", True)}


def is_better(kind: str, value: float, best: float | None) -> bool:
    _, higher = PRIMARY_METRIC[kind]
    return best is None or (value > best if higher else value < best)


class Evaluator:
    """Scores an engine on a prepared dataset's valid and test splits.

    outputs_dir: where the final outputs are saved (None: not saved). `saved` collects what was
    written, split -> {"file", "sha256", "lines"}, for result.json.
    """

    def __init__(self, engine: Any, data: PreparedData, eval_cfg: Any, outputs_dir: Path | None = None) -> None:
        self.engine = engine
        self.data = data
        self.settings = eval_cfg
        self.outputs_dir = outputs_dir
        self.saved: dict[str, dict] = {}
        if data.kind == "translation":
            self.detokenize = Detokenizer(data.spm_model)
            self.references = {split: read_references(data.reference(split)) for split in ("valid", "test")}

    def evaluate(self, split: str, clock: TrainingClock, *, full: bool = False) -> dict:
        """Metrics for `split`. `full`: BLEU with the final decoding settings (test beam and
        length penalty) on the first `test_sentences` sentences (0 = all), against the untouched
        references, with the translations saved; otherwise on the first `bleu_sentences` against
        the normalised ones, the same subset at every evaluation so points on one curve are
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
        """BLEU against the untouched references (or, for data prepared without them, the
        normalised ones), the hypotheses saved as written, and how to recompute it."""
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
        """Classification: the predicted label of every example of each dev set (and a labelled
        test set, unless not `test`), one per line in the split's order, as outputs/{split}.pred,
        and of each unlabelled GLUE test set (unless not `test`) as outputs/glue/<its submission
        file> (`submission_rows`; its `lines` in `saved` count the header). Returns `saved`.

        Raises:
            ValueError: a GLUE test split's index file does not have one line per example (the data
                dir changed under the run).
        """
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
    """GLUE's submission format: the header `index<TAB>prediction`, then each example's GLUE index
    (from `index_file`, one per line) and predicted label name, in file order.

    Raises:
        ValueError: `index_file` does not have one line per label.
    """
    indices = index_file.read_text(encoding="utf-8").splitlines()
    if len(indices) != len(labels):
        raise ValueError(f"{index_file} holds {len(indices)} indices for {len(labels)} predictions; "
                         "prepare the data again")
    return ["index\tprediction", *(f"{index}\t{label}" for index, label in zip(indices, labels))]

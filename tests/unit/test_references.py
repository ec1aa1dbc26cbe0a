"""Final BLEU against the references as distributed, saved outputs and the CLI recompute command."""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from train_large import evaluate
from train_large.evaluate import bleu_scores, recompute_command
from train_large.clock import TrainingClock
from train_large.data.prepare import PreparedData, normalize_line
from train_large.data.references import file_sha256, read_lines

SACREBLEU = str(Path(sys.executable).parent / "sacrebleu")
# As a published test set gives them: curly quotes, a narrow no-break space before the French '?'.
OFFICIAL = ["« C’est l’été », dit-il.", "Il a dit “bonjour” à l’homme.", "Où est le chat\u202f?",
            "Le chien dort."]


class FakeEngine:
    """Translates every sentence to a fixed hypothesis (as subword pieces split on spaces)."""

    def __init__(self, hypotheses: list[str]) -> None:
        self.hypotheses = hypotheses

    def validate(self, split: str) -> dict:
        return {"loss": 1.0, "nll_loss": 1.0, "ppl": 2.7}

    def split_size(self, split: str) -> int:
        return len(self.hypotheses)

    def translate(self, split, ids, **settings) -> dict[int, list[str]]:
        return {i: self.hypotheses[i].split(" ") for i in ids}


def prepared(tmp_path: Path, *, untouched: bool) -> PreparedData:
    """A translation data dir holding the normalised test references, and the official ones if asked."""
    data_dir = tmp_path / "data"
    (data_dir / "raw").mkdir(parents=True)
    for split in ("valid", "test"):
        (data_dir / "raw" / f"{split}.fr").write_text("".join(normalize_line(line) + "\n" for line in OFFICIAL),
                                                      encoding="utf-8")
    kept = {}
    if untouched:
        (data_dir / "untouched").mkdir()
        (data_dir / "untouched" / "test.fr").write_text("".join(line + "\n" for line in OFFICIAL), encoding="utf-8")
        kept = {"test": "untouched/test.fr"}
    lines = {"train": 10, "valid": len(OFFICIAL), "test": len(OFFICIAL)}
    return PreparedData(data_dir, "en", "fr", 100, lines, untouched=kept)


@pytest.fixture
def joined_detokenizer(monkeypatch):
    monkeypatch.setattr(evaluate, "Detokenizer", lambda model: " ".join)


def settings(**overrides) -> SimpleNamespace:
    values = dict(bleu_sentences=0, beam=1, lenpen=1.0, test_beam=1, test_lenpen=1.0, test_sentences=0,
                  max_len_a=1.2, max_len_b=10, max_tokens=1000, extra_bleu_tokenize=None)
    return SimpleNamespace(**{**values, **overrides})


def test_final_bleu_uses_the_untouched_references_and_names_the_file(tmp_path, joined_detokenizer):
    data = prepared(tmp_path, untouched=True)
    # What a model trained on normalised text writes: straight quotes, plain spaces.
    hypotheses = [normalize_line(line) for line in OFFICIAL]
    evaluator = evaluate.Evaluator(FakeEngine(hypotheses), data, settings(), outputs_dir=tmp_path / "run" / "outputs")
    valid = evaluator.evaluate("valid", TrainingClock())
    test = evaluator.evaluate("test", TrainingClock(), full=True)
    assert valid["references"] == "normalised" and valid["bleu"] == pytest.approx(100.0)
    assert test["bleu"] < 90.0
    untouched = data.data_dir / "untouched" / "test.fr"
    assert (test["references"], test["references_file"]) == ("untouched", str(untouched))
    assert test["references_sha256"] == file_sha256(untouched) and test["references_lines_differ"] == 3
    saved = Path(test["hypotheses_file"])
    assert saved == tmp_path / "run" / "outputs" / "test.hyp.fr" and read_lines(saved) == hypotheses
    assert test["hypotheses_sha256"] == file_sha256(saved)
    assert evaluator.saved == {"test": {"file": str(saved), "sha256": file_sha256(saved), "lines": 4}}


def test_data_prepared_without_untouched_references_scores_the_normalised_ones_and_says_so(
        tmp_path, joined_detokenizer, caplog):
    data = prepared(tmp_path, untouched=False)
    evaluator = evaluate.Evaluator(FakeEngine(read_lines(data.reference("test"))), data, settings(),
                                   outputs_dir=tmp_path / "outputs")
    with caplog.at_level(logging.INFO, logger="train_large.data.references"):
        test = evaluator.evaluate("test", TrainingClock(), full=True)
    assert test["references"] == "normalised" and test["references_file"] == str(data.reference("test"))
    assert "references_lines_differ" not in test and test["bleu"] == pytest.approx(100.0)
    assert len([r for r in caplog.records if "prepared before untouched references" in r.getMessage()]) == 1


def test_the_recorded_command_gives_the_recorded_bleu_with_the_sacrebleu_cli(tmp_path, joined_detokenizer):
    data = prepared(tmp_path, untouched=True)
    hypotheses = ["« C’est l'été », dit il.", "Il a dit bonjour à l’homme.", "Où est le chien ?"]
    evaluator = evaluate.Evaluator(FakeEngine(hypotheses + ["x"]), data, settings(test_sentences=3),
                                   outputs_dir=tmp_path / "outputs")
    test = evaluator.evaluate("test", TrainingClock(), full=True)
    assert "<(head -n 3 " in test["recompute"]  # a subset: the references' first lines
    env = {"PATH": f"{Path(SACREBLEU).parent}:/usr/bin:/bin"}
    printed = subprocess.run(["bash", "-c", test["recompute"]], capture_output=True, text=True, env=env, check=True)
    assert printed.stdout.strip() == f"{test['bleu']:.4f}"


def test_an_extra_tokenizer_is_recorded_beside_the_standard_bleu_never_instead():
    hypotheses, references = ["le petit chat dormait bien"], ["le petit chat dort bien"]
    scores = bleu_scores(hypotheses, references, "char")
    assert scores["bleu"] == bleu_scores(hypotheses, references, None)["bleu"]
    assert "tok:13a" in scores["sacrebleu_signature"] and "tok:char" in scores["sacrebleu_signature_char"]
    assert scores["bleu_char"] != scores["bleu"]


def test_recompute_command_scores_the_whole_file_and_quotes_paths_for_the_shell():
    command = recompute_command(Path("/d/untouched/test.fr"), Path("/my runs/e/width=32/outputs/test.hyp.fr"),
                                3003, 3003)
    assert command == ("sacrebleu /d/untouched/test.fr -i '/my runs/e/width=32/outputs/test.hyp.fr' "
                       "-m bleu -b -w 4 --tokenize 13a")


def test_an_unknown_extra_tokenizer_is_one_line():
    from tests.conftest import compose_train
    from train_large.config import check

    problems = check(compose_train(["task.eval.extra_bleu_tokenize=intll"]), cuda_available=False)
    assert len(problems) == 1
    assert problems[0].startswith("task.eval.extra_bleu_tokenize='intll' is not allowed; choose one of: ")
    assert "intl" in problems[0] and "char" in problems[0]

"""Toy text: the masked-LM corpus layout, and a classification label that is a function of syntax."""
from __future__ import annotations

from collections import Counter

import pytest

from train_large.data import toy_mt
from train_large.data.toy_text import (PLURAL, SINGULAR, subject_number, write_toy_cls,
                                       write_toy_mlm_corpus)


class RecordingGrammar(toy_mt._Grammar):
    """toy_mt's grammar, noting the person of each sentence's main-clause subject: the oracle."""

    def sentence(self):
        self.main_persons: list[int] = []
        return super().sentence()

    def subject(self, depth):
        words_en, words_fr, person = super().subject(depth)
        if depth == 0:  # only clause() asks for a depth-0 subject; relative clauses go deeper
            self.main_persons.append(person)
        return words_en, words_fr, person


@pytest.mark.parametrize("sentence, number", [
    ("The cat with the dogs watches the bird.", SINGULAR),
    ("The cats that the dog chased sing.", PLURAL),
    ("The small cat that chases the birds in the garden sings.", SINGULAR),
    ("The cat and the dog sing.", PLURAL),  # coordination of two singulars
    ("The cat with John and a dog sing.", PLURAL),
    ("The cat watches the dog and the birds sing.", SINGULAR),  # "and" between clauses
    ("Does the cat with the big dogs sing?", SINGULAR),
    ("Will three red cats in the house sing?", PLURAL),
    ("Mary watches the cats.", SINGULAR),
    ("We sing.", PLURAL),
    ("I watched them.", SINGULAR),
    ("A fish sings.", SINGULAR),
    ("Fish sing.", PLURAL),
    ("You sing.", None),  # singular or plural
    ("The fish watched the cat.", None),  # "the fish" is either
])
def test_subject_number_reads_the_main_clause_subject(sentence, number):
    assert subject_number(sentence) == number


def test_subject_number_agrees_with_the_grammar_and_drops_few():
    grammar, outcomes = RecordingGrammar(seed=7), Counter()
    for _ in range(3000):
        english, _ = grammar.pair()
        person = grammar.main_persons[0]
        truth = None if person == 4 else PLURAL if person in (3, 5) else SINGULAR  # 4: "you"
        got = subject_number(english)
        assert got in (truth, None), english
        outcomes[got is None] += 1
    assert outcomes[True] / 3000 < 0.08  # "you" and "the fish": about 5%


def test_toy_cls_is_balanced_disjoint_and_in_sst2_layout(tmp_path):
    excluded = {english for english, _ in toy_mt.toy_pairs(300, seed=1)[::2]}
    assert write_toy_cls(tmp_path, exclude=excluded) == {"train": 2000, "dev": 500, "test": 500}
    seen = set()
    for name, size in (("train", 2000), ("dev", 500), ("test", 500)):
        header, *rows = (tmp_path / f"{name}.tsv").read_text(encoding="utf-8").splitlines()
        assert header == "sentence\tlabel"
        examples = [row.split("\t") for row in rows]
        assert Counter(label for _, label in examples) == {SINGULAR: size // 2, PLURAL: size // 2}
        assert all(subject_number(sentence) == label for sentence, label in examples)
        sentences = {sentence for sentence, _ in examples}
        assert len(sentences) == size and not sentences & seen and not sentences & excluded
        seen |= sentences


def test_toy_mlm_corpus_is_blank_line_separated_with_unseen_held_out_text(tmp_path):
    sizes = write_toy_mlm_corpus(tmp_path, train_docs=100, valid_docs=10, test_docs=10)
    documents = {split: (tmp_path / f"{split}.txt").read_text(encoding="utf-8").rstrip("\n").split("\n\n")
                 for split in ("train", "valid", "test")}
    assert {split: len(docs) for split, docs in documents.items()} == {"train": 100, "valid": 10, "test": 10}
    sentences = {split: [s for doc in docs for s in doc.split("\n")] for split, docs in documents.items()}
    assert {split: len(lines) for split, lines in sentences.items()} == sizes
    assert all(2 <= len(doc.split("\n")) <= 8 for docs in documents.values() for doc in docs)
    held_out = sentences["valid"] + sentences["test"]
    assert len(set(held_out)) == len(held_out) and not set(held_out) & set(sentences["train"])
    # Deterministic: a second data root gets the same corpus.
    assert write_toy_mlm_corpus(tmp_path / "again", train_docs=100, valid_docs=10, test_docs=10) == sizes
    assert (tmp_path / "again" / "valid.txt").read_bytes() == (tmp_path / "valid.txt").read_bytes()

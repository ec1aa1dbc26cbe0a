"""Toy text: topics that partition the content words, a masked-LM corpus of one-topic documents,
and a classification task scored on words only the pretraining corpus has."""
from __future__ import annotations

from collections import Counter
from itertools import islice

import pytest

from train_large.data import toy_mt
from train_large.data.toy_text import TOPICS, Topic, topics, word_forms, write_toy_cls, write_toy_mlm_corpus


def content_forms(lexicon: toy_mt.Lexicon) -> set[str]:
    return {form for kind in lexicon for word in kind for form in word_forms(word)}


def words_of(sentence: str) -> set[str]:
    return set(sentence.rstrip(".?").lower().split())


def topic_label(sentence: str, dealt: tuple[Topic, ...]) -> str | None:
    """The label of a toy sentence: the side of the topic its content words belong to (None when
    it has none, or words of both sides)."""
    words = words_of(sentence)
    found = {topic.label for topic in dealt
             if any(words & word_forms(word) for kind in topic.lexicon for word in kind)}
    return found.pop() if len(found) == 1 else None


def test_the_full_lexicon_is_toy_mts_grammar():
    assert list(islice(toy_mt.english_sentences(5), 300)) == [en for en, _ in toy_mt.toy_pairs(300, seed=5)]


def test_topics_partition_the_content_words_into_seen_and_held_halves():
    dealt = topics()
    assert len(dealt) == TOPICS and Counter(topic.label for topic in dealt) == {"0": TOPICS // 2, "1": TOPICS // 2}
    halves = [content_forms(half) for topic in dealt for half in (topic.seen, topic.held)]
    assert sum(map(len, halves)) == len(set().union(*halves))  # no form in two places
    everything = content_forms(toy_mt.FULL_LEXICON)
    assert everything - set().union(*halves) == {"cook", "cooks", "cooked"}  # a noun and a verb
    assert topics() == dealt  # deterministic


@pytest.mark.parametrize("count", [0, 3, 40])
def test_a_topic_count_that_cannot_be_dealt_is_refused(count):
    with pytest.raises(ValueError, match="topics"):
        topics(count)


def test_a_restricted_grammar_draws_content_words_from_its_lexicon_only():
    topic = topics()[1]
    allowed, others = content_forms(topic.held), content_forms(toy_mt.FULL_LEXICON) - content_forms(topic.held)
    for sentence in islice(toy_mt.english_sentences(3, topic.held), 500):
        assert words_of(sentence) & allowed and not words_of(sentence) & others, sentence


def test_toy_cls_is_balanced_disjoint_in_sst2_layout_and_scored_on_held_words(tmp_path):
    excluded = set(islice(toy_mt.english_sentences("excluded", topics()[0].held), 200))
    assert write_toy_cls(tmp_path, exclude=excluded) == {"train": 2000, "dev": 500, "test": 500}
    dealt, seen = topics(), set()
    held_forms = set().union(*(content_forms(topic.held) for topic in dealt))
    for name, size in (("train", 2000), ("dev", 500), ("test", 500)):
        header, *rows = (tmp_path / f"{name}.tsv").read_text(encoding="utf-8").splitlines()
        assert header == "sentence\tlabel"
        examples = [row.split("\t") for row in rows]
        assert Counter(label for _, label in examples) == {"0": size // 2, "1": size // 2}
        assert all(topic_label(sentence, dealt) == label for sentence, label in examples)
        # the classifier trains on seen words only and is scored on held words only
        assert all(bool(words_of(sentence) & held_forms) == (name != "train") for sentence, _ in examples)
        sentences = {sentence for sentence, _ in examples}
        assert len(sentences) == size and not sentences & seen and not sentences & excluded
        seen |= sentences


def test_toy_mlm_corpus_has_one_topic_documents_and_unseen_held_out_text(tmp_path):
    sizes = write_toy_mlm_corpus(tmp_path, train_docs=100, valid_docs=10, test_docs=10)
    documents = {split: (tmp_path / f"{split}.txt").read_text(encoding="utf-8").rstrip("\n").split("\n\n")
                 for split in ("train", "valid", "test")}
    assert {split: len(docs) for split, docs in documents.items()} == {"train": 100, "valid": 10, "test": 10}
    sentences = {split: [s for doc in docs for s in doc.split("\n")] for split, docs in documents.items()}
    assert {split: len(lines) for split, lines in sentences.items()} == sizes
    assert all(8 <= len(doc.split("\n")) <= 16 for docs in documents.values() for doc in docs)
    topic_forms = [content_forms(topic.lexicon) for topic in topics()]
    for doc in documents["train"]:
        used = [index for index, forms in enumerate(topic_forms) if words_of(doc.replace("\n", " ")) & forms]
        assert len(used) == 1, doc
    held_out = sentences["valid"] + sentences["test"]
    assert len(set(held_out)) == len(held_out) and not set(held_out) & set(sentences["train"])
    # Deterministic: a second data root gets the same corpus.
    assert write_toy_mlm_corpus(tmp_path / "again", train_docs=100, valid_docs=10, test_docs=10) == sizes
    assert (tmp_path / "again" / "valid.txt").read_bytes() == (tmp_path / "valid.txt").read_bytes()

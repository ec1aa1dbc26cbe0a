"""Toy text for the RoBERTa path: a masked-LM corpus and a classification task in GLUE's layout.

Both use the English of toy_mt's grammar and are prepared as real text is. The content words
are dealt into `TOPICS` topics, and every pretraining document keeps to one, so a masked LM learns
from context which words go together. The label is the topic's side (topics 0..T/2-1 are label
0), a function of any content word of the sentence. The classifier trains on sentences of one
half of each topic's words and is scored on the other half, which only the pretraining corpus
contains: fine-tuned from a random init a model can only guess, pretrained it knows which topic
a dev word keeps company with. That is the transfer the paper's GLUE numbers rest on, made
measurable on CPU. Pure standard library: must not import fairseq or torch.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .toy_mt import FULL_LEXICON, Lexicon, en_suffix_s, english_sentences, unseen, write_lines

TOPICS = 4
_PARTITION_SEED = "toy_text topics"


@dataclass(frozen=True)
class Topic:
    """One topic's content words: `seen` words make the classifier's training sentences,
    `held` words its dev and test sentences; the pretraining corpus uses both."""
    index: int
    label: str  # SST-2's label names, "0" or "1"
    seen: Lexicon
    held: Lexicon

    @property
    def lexicon(self) -> Lexicon:
        return Lexicon(*(seen + held for seen, held in zip(self.seen, self.held)))


def word_forms(word) -> set[str]:
    """The English forms of a grammar entry, as they appear in sentences."""
    if hasattr(word, "en_plural"):
        return {word.en, word.en_plural}
    if hasattr(word, "en_past"):
        return {word.en, word.en_past, en_suffix_s(word.en)}
    return {word.en}


def topics(count: int = TOPICS) -> tuple[Topic, ...]:
    """Deal the grammar's content words into `count` (even) topics, each half seen and half held.
    A form two entries share (the noun and the verb "cook") is left out, so every content word in
    a sentence names exactly one topic."""
    if count < 2 or count % 2:
        raise ValueError(f"topics must be an even number >= 2, got {count}")
    owners = Counter(form for words in FULL_LEXICON for word in words for form in word_forms(word))
    rng = random.Random(_PARTITION_SEED)
    # topic -> (seen, held) -> word class -> entries
    dealt = [[[[] for _ in FULL_LEXICON] for _ in range(2)] for _ in range(count)]
    for kind, words in enumerate(FULL_LEXICON):
        kept = [word for word in words if all(owners[form] == 1 for form in word_forms(word))]
        rng.shuffle(kept)
        for position, word in enumerate(kept):
            dealt[position % count][(position // count) % 2][kind].append(word)
    result = tuple(Topic(index, str(2 * index // count), Lexicon(*map(tuple, seen)), Lexicon(*map(tuple, held)))
                   for index, (seen, held) in enumerate(dealt))
    if any(len(half.adjectives) < 2 or not all(half) for topic in result for half in (topic.seen, topic.held)):
        raise ValueError(f"{count} topics leave too few words per topic; use fewer")
    return result


def write_toy_mlm_corpus(raw_dir: Path, *, seed: int = 0, train_docs: int = 3300, valid_docs: int = 84,
                         test_docs: int = 84, doc_sentences: tuple[int, int] = (8, 16),
                         topic_count: int = TOPICS) -> dict[str, int]:
    """Write raw_dir/{train,valid,test}.txt: documents of `doc_sentences` (min, max) sentences on
    one topic each, a sentence per line, a blank line between documents (~40k/1k/1k sentences by
    default). valid and test sentences are distinct and absent from train. Returns sentences per split."""
    low, high = doc_sentences
    if min(train_docs, valid_docs, test_docs) < 1 or not 1 <= low <= high:
        raise ValueError(f"need >= 1 document per split and 1 <= min <= max sentences, got "
                         f"{train_docs}/{valid_docs}/{test_docs} documents of {doc_sentences}")
    dealt = topics(topic_count)
    streams = [english_sentences(f"toy_text mlm {seed} {topic.index}", topic.lexicon) for topic in dealt]
    rng = random.Random(f"toy_text documents {seed}")
    held_out: set[str] = set()
    documents: dict[str, list[list[str]]] = {}
    # Held-out splits first, so they do not change when only the train size changes.
    for split, count in (("valid", valid_docs), ("test", test_docs), ("train", train_docs)):
        documents[split] = []
        for _ in range(count):
            stream, size = streams[rng.randrange(topic_count)], rng.randint(low, high)
            fresh = unseen(stream, held_out, remember=split != "train")
            documents[split].append([sentence for sentence, _ in zip(fresh, range(size))])
    for split in ("train", "valid", "test"):
        text = "\n\n".join("\n".join(document) for document in documents[split])
        write_lines(Path(raw_dir) / f"{split}.txt", [text])
    return {split: sum(map(len, documents[split])) for split in ("train", "valid", "test")}


def write_toy_cls(glue_dir: Path, *, seed: int = 1, train: int = 2000, dev: int = 500, test: int = 500,
                  exclude: Iterable[str] = (), topic_count: int = TOPICS) -> dict[str, int]:
    """Write glue_dir/{train,dev,test}.tsv in SST-2's layout (`sentence<TAB>label`, header row).

    train sentences use each topic's seen words, dev and test its held words. Each split is half
    label 0 (plus the odd one) and half label 1. No sentence repeats across splits or is in
    `exclude` (the pretraining corpus's valid and test sentences). Returns examples per split.
    """
    if min(train, dev, test) < 2:
        raise ValueError(f"need >= 2 examples per split, got train={train} dev={dev} test={test}")
    dealt = topics(topic_count)
    used, rng = set(exclude), random.Random(f"toy_text cls {seed}")
    rows: dict[str, list[tuple[str, str]]] = {}
    for split, size, half in (("dev", dev, "held"), ("test", test, "held"), ("train", train, "seen")):
        streams = [unseen(english_sentences(f"toy_text cls {seed} {split} {topic.index}", getattr(topic, half)),
                           used, remember=True) for topic in dealt]
        rows[split] = []
        for position in range(size):
            label = str(position % 2)
            topic = rng.choice([topic for topic in dealt if topic.label == label])
            rows[split].append((next(streams[topic.index]), label))
    for split, examples in rows.items():
        lines = [f"{sentence}\t{label}" for sentence, label in examples]
        write_lines(Path(glue_dir) / f"{split}.tsv", ["sentence\tlabel", *lines])
    return {split: len(rows[split]) for split in ("train", "dev", "test")}

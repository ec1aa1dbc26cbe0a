"""Toy text for the RoBERTa path: a masked-LM corpus and a classification task in GLUE's layout.

Both use the English of toy_mt's grammar, and the raw files go through exactly the preparation
real text does (`prepare_mlm_corpus`, `prepare_glue("sst2", ...)`).

The content words (nouns, adjectives, verbs) are dealt into `TOPICS` topics. Every pretraining
document keeps to one topic, so which words go together is something a masked LM learns from
context. The classification label is the topic's side (topics 0..T/2-1 are label 0, the rest
label 1), a function of any content word of the sentence. Each topic's words are split in two
halves: the classifier trains on sentences of one half and is scored on sentences of the
other, which only the pretraining corpus contains. A model fine-tuned from a random init has
never seen a dev word and can only guess; a pretrained one knows which topic a dev word keeps
company with. That is the transfer the paper's GLUE numbers rest on, made measurable on CPU.

Pure standard library: must not import fairseq or torch.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .toy_mt import FULL_LEXICON, Lexicon, en_suffix_s, english_sentences

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
    """Deal every content word of the grammar into `count` topics (an even number), each half
    seen and half held; deterministic. A form two entries share (the noun and the verb "cook")
    is left out, so every content word in a sentence names exactly one topic."""
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
    result = []
    for index, (seen, held) in enumerate(dealt):
        topic = Topic(index, str(2 * index // count), Lexicon(*map(tuple, seen)), Lexicon(*map(tuple, held)))
        for half in (topic.seen, topic.held):
            if len(half.adjectives) < 2 or not all(half):
                raise ValueError(f"{count} topics leave too few words per topic; use fewer")
        result.append(topic)
    return tuple(result)


def topic_label(sentence: str, dealt: tuple[Topic, ...]) -> str | None:
    """The label of a toy sentence: the side of the topic its content words belong to (None when
    it has none, or words of both sides)."""
    words = set(sentence.rstrip(".?").lower().split())
    found = {topic.label for topic in dealt
             if any(words & word_forms(word) for kind in topic.lexicon for word in kind)}
    return found.pop() if len(found) == 1 else None


def write_toy_mlm_corpus(raw_dir: Path, *, seed: int = 0, train_docs: int = 3300, valid_docs: int = 84,
                         test_docs: int = 84, doc_sentences: tuple[int, int] = (8, 16),
                         topic_count: int = TOPICS) -> dict[str, int]:
    """Write raw_dir/{train,valid,test}.txt: documents of `doc_sentences` (min, max) toy sentences
    on one topic each, one sentence per line, documents separated by a blank line (~40k/1k/1k
    sentences by default).

    valid and test sentences are distinct and absent from train. Returns sentences per split.
    """
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
            fresh = _unseen(stream, held_out, remember=split != "train")
            documents[split].append([sentence for sentence, _ in zip(fresh, range(size))])
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        text = "\n\n".join("\n".join(document) for document in documents[split]) + "\n"
        (raw_dir / f"{split}.txt").write_text(text, encoding="utf-8", newline="\n")
    return {split: sum(map(len, documents[split])) for split in ("train", "valid", "test")}


def _unseen(sentences: Iterator[str], used: set[str], *, remember: bool = False) -> Iterator[str]:
    """The sentences not in `used`; with `remember`, each one yielded joins it."""
    for sentence in sentences:
        if sentence not in used:
            if remember:
                used.add(sentence)
            yield sentence


def write_toy_cls(glue_dir: Path, *, seed: int = 1, train: int = 2000, dev: int = 500, test: int = 500,
                  exclude: Iterable[str] = (), topic_count: int = TOPICS) -> dict[str, int]:
    """Write glue_dir/{train,dev,test}.tsv in SST-2's layout (`sentence<TAB>label`, header row),
    labelled by the side of the sentence's topic (see the module docstring).

    train sentences use each topic's seen words, dev and test its held words. Each split holds
    half of each label (the extra one of an odd size is label 0), so the majority-class rate is
    0.5. No sentence repeats across splits and none is in `exclude` (the pretraining corpus's
    valid and test sentences). Returns examples per split.
    """
    if min(train, dev, test) < 2:
        raise ValueError(f"need >= 2 examples per split, got train={train} dev={dev} test={test}")
    dealt = topics(topic_count)
    used, rng = set(exclude), random.Random(f"toy_text cls {seed}")
    rows: dict[str, list[tuple[str, str]]] = {}
    for split, size, half in (("dev", dev, "held"), ("test", test, "held"), ("train", train, "seen")):
        streams = [_unseen(english_sentences(f"toy_text cls {seed} {split} {topic.index}", getattr(topic, half)),
                           used, remember=True) for topic in dealt]
        rows[split] = []
        for position in range(size):
            label = str(position % 2)
            topic = rng.choice([topic for topic in dealt if topic.label == label])
            rows[split].append((next(streams[topic.index]), label))
    glue_dir = Path(glue_dir)
    glue_dir.mkdir(parents=True, exist_ok=True)
    for split, examples in rows.items():
        text = "sentence\tlabel\n" + "".join(f"{sentence}\t{label}\n" for sentence, label in examples)
        (glue_dir / f"{split}.tsv").write_text(text, encoding="utf-8", newline="\n")
    return {split: len(rows[split]) for split in ("train", "dev", "test")}

"""Toy text for the RoBERTa path: a masked-LM corpus and a classification task in GLUE's layout.

Both use the English side of toy_mt's grammar (`toy_pairs`), so the raw files go through exactly
the preparation real text does (`prepare_mlm_corpus`, `prepare_glue("sst2", ...)`).

The classification label is the grammatical number of the main-clause subject (SST-2 layout:
label 1 = plural, 0 = singular). It takes syntax rather than one keyword: the head noun is the
first noun of the subject, which may be followed by prepositional phrases and relative clauses
holding nouns of the other number ("the cat with the dogs that chase the birds"); a coordination
("the cat and the dog") is plural although both nouns are singular; the verb shows agreement only
in the present tense. Sentences whose English does not fix the number ("you", "the fish") are
dropped, so the label is a function of the sentence.

Pure standard library: must not import fairseq or torch.
"""
from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Iterable, Iterator, Optional

# The grammar's word lists: the label is read back from the English text with the same words.
from .toy_mt import (_ADJS, _NAMES, _NOUNS, _NUMBERS, _PLURAL_DETS, _PREPOSITIONS,
                     _SINGULAR_DETS, _SUBJECT_PRONOUNS, toy_pairs)

log = logging.getLogger(__name__)

SINGULAR, PLURAL = "0", "1"  # SST-2's label names
_BOTH = frozenset({SINGULAR, PLURAL})
_PRONOUN_NUMBER = {"i": SINGULAR, "he": SINGULAR, "she": SINGULAR, "we": PLURAL, "they": PLURAL,
                   "you": None}  # "you" is either
_DET_NUMBER = {**{en: frozenset({SINGULAR}) for en, _, _ in _SINGULAR_DETS}, "an": frozenset({SINGULAR}),
               **{en: frozenset({PLURAL}) for en, _ in (*_PLURAL_DETS, *_NUMBERS)},
               **{en: _BOTH for en, _, _ in _SINGULAR_DETS if en in {p for p, _ in _PLURAL_DETS}}}
_NOUN_NUMBER: dict[str, frozenset[str]] = {}
for _noun in _NOUNS:
    _NOUN_NUMBER[_noun.en] = _NOUN_NUMBER.get(_noun.en, frozenset()) | {SINGULAR}
    _NOUN_NUMBER[_noun.en_plural] = _NOUN_NUMBER.get(_noun.en_plural, frozenset()) | {PLURAL}
_ADJECTIVES = frozenset(adj.en for adj in _ADJS)
_NAME_WORDS = frozenset(en.lower() for en, _ in _NAMES)
_PREPOSITION_WORDS = frozenset(en for en, _ in _PREPOSITIONS)
_QUESTION_AUXILIARIES = frozenset({"do", "does", "did", "will"})


class _Unparsed(ValueError):
    pass


def subject_number(sentence: str) -> Optional[str]:
    """PLURAL or SINGULAR: the number of the main-clause subject of a toy English sentence.

    None when the subject's own words do not fix it ("you", "the fish", "my fish"; the verb is
    not consulted, as it shows number only in the present tense) or the sentence does not parse.
    """
    words = sentence.rstrip(".?").lower().split()
    if sentence.endswith("?") and words and words[0] in _QUESTION_AUXILIARIES:
        words = words[1:]  # "Does the cat ...?": the subject follows the auxiliary
    try:
        if words[0] in _PRONOUN_NUMBER:
            return _PRONOUN_NUMBER[words[0]]
        if words[0] in _NAME_WORDS:
            return SINGULAR  # the grammar never coordinates a name as the subject
        end, number = _noun_phrase(words, 0)
        while words[end] in _PREPOSITION_WORDS:  # "the cat with the dogs in the house ..."
            end = end + 2 if words[end + 1] in _NAME_WORDS else _noun_phrase(words, end + 1)[0]
        # Only a coordinated subject puts "and" right after the noun phrase: between two
        # clauses it follows a verb phrase.
        return PLURAL if words[end] == "and" else number
    except (IndexError, _Unparsed):
        return None


def _noun_phrase(words: list[str], start: int) -> tuple[int, Optional[str]]:
    """[determiner] adjective* noun at `start`: (index after the noun, its number or None)."""
    determiner = words[start] if words[start] in _DET_NUMBER else ""
    index = start + (determiner != "")
    while words[index] in _ADJECTIVES:
        index += 1
    if words[index] not in _NOUN_NUMBER:
        raise _Unparsed(f"{words[index]!r} is not a noun")
    numbers = _NOUN_NUMBER[words[index]] & _DET_NUMBER[determiner]
    if not numbers:
        raise _Unparsed(f"{determiner!r} does not go with {words[index]!r}")
    return index + 1, next(iter(numbers)) if len(numbers) == 1 else None


def _english(seed: int, first: int) -> Iterator[str]:
    """The English side of toy_pairs(.., seed), unbounded: prefixes of doubling length."""
    done, size = 0, max(first, 1)
    while True:
        for source, _ in toy_pairs(size, seed)[done:]:
            yield source
        done, size = size, 2 * size


def write_toy_mlm_corpus(raw_dir: Path, *, seed: int = 0, train_docs: int = 8000, valid_docs: int = 200,
                         test_docs: int = 200, doc_sentences: tuple[int, int] = (2, 8)) -> dict[str, int]:
    """Write raw_dir/{train,valid,test}.txt: documents of `doc_sentences` (min, max) toy sentences,
    one sentence per line, documents separated by a blank line (~40k/1k/1k sentences by default).

    valid and test sentences are distinct and absent from train. Returns sentences per split.
    """
    low, high = doc_sentences
    if min(train_docs, valid_docs, test_docs) < 1 or not 1 <= low <= high:
        raise ValueError(f"need >= 1 document per split and 1 <= min <= max sentences, got "
                         f"{train_docs}/{valid_docs}/{test_docs} documents of {doc_sentences}")
    lengths_rng = random.Random(f"toy_text document lengths {seed}")
    lengths = {split: [lengths_rng.randint(low, high) for _ in range(docs)]
               for split, docs in (("valid", valid_docs), ("test", test_docs), ("train", train_docs))}
    needed = sum(sum(sizes) for sizes in lengths.values())
    sentences, held_out = _english(seed, needed + needed // 20), set[str]()
    documents: dict[str, list[list[str]]] = {}
    # Held-out splits first, so they do not change when only the train size changes.
    for split in ("valid", "test"):
        documents[split] = []
        for size in lengths[split]:
            document: list[str] = []
            while len(document) < size:
                sentence = next(sentences)
                if sentence not in held_out:
                    held_out.add(sentence)
                    document.append(sentence)
            documents[split].append(document)
    train = (sentence for sentence in sentences if sentence not in held_out)
    documents["train"] = [[next(train) for _ in range(size)] for size in lengths["train"]]
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        text = "\n\n".join("\n".join(document) for document in documents[split]) + "\n"
        (raw_dir / f"{split}.txt").write_text(text, encoding="utf-8", newline="\n")
    return {split: sum(lengths[split]) for split in ("train", "valid", "test")}


def write_toy_cls(glue_dir: Path, *, seed: int = 1, train: int = 2000, dev: int = 500, test: int = 500,
                  exclude: Iterable[str] = ()) -> dict[str, int]:
    """Write glue_dir/{train,dev,test}.tsv in SST-2's layout (`sentence<TAB>label`, header row):
    label PLURAL ("1") when the main-clause subject is plural, SINGULAR ("0") otherwise.

    Each split holds half of each label (the extra one of an odd size is singular), so the
    majority-class rate is 0.5. No sentence repeats across splits, none is in `exclude` (the
    pretraining corpus's valid and test sentences), and sentences whose number is ambiguous are
    dropped. Returns examples per split.
    """
    if min(train, dev, test) < 2:
        raise ValueError(f"need >= 2 examples per split, got train={train} dev={dev} test={test}")
    sizes = {"dev": dev, "test": test, "train": train}  # held-out splits fill first
    wanted = {split: {SINGULAR: size - size // 2, PLURAL: size // 2} for split, size in sizes.items()}
    rows: dict[str, list[tuple[str, str]]] = {split: [] for split in sizes}
    used, drawn, ambiguous = set(exclude), 0, 0
    sentences = _english(seed, 2 * sum(sizes.values()))
    while any(any(left.values()) for left in wanted.values()):
        sentence = next(sentences)
        drawn += 1
        if sentence in used:
            continue
        label = subject_number(sentence)
        if label is None:
            ambiguous += 1
            continue
        split = next((s for s in sizes if wanted[s][label]), None)
        if split is not None:
            used.add(sentence)
            wanted[split][label] -= 1
            rows[split].append((sentence, label))
    log.info("toy_cls: drew %d sentences, dropped %d whose subject number is ambiguous",
             drawn, ambiguous)
    glue_dir = Path(glue_dir)
    glue_dir.mkdir(parents=True, exist_ok=True)
    for split, examples in rows.items():
        text = "sentence\tlabel\n" + "".join(f"{sentence}\t{label}\n" for sentence, label in examples)
        (glue_dir / f"{split}.tsv").write_text(text, encoding="utf-8", newline="\n")
    return {split: len(rows[split]) for split in ("train", "dev", "test")}

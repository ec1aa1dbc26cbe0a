"""Unit tests for the toy_mt synthetic English-to-French corpus: determinism, files, and grammar."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from train_large.data.toy_mt import toy_pairs, write_toy_corpus

REPO_ROOT = Path(__file__).resolve().parents[2]
DETERMINERS = {"le", "la", "les", "un", "une", "des", "ce", "cet", "cette", "ces", "mon", "ma", "mes"}
COLOURS = {"rouge", "rouges", "noir", "noire", "noirs", "noires", "vert", "verte", "verts", "vertes"}
PRENOMINAL = {"petit", "petite", "petits", "petites", "grand", "grande", "grands", "grandes"}

Pairs = list[tuple[str, str]]


@pytest.fixture(scope="module")
def pairs() -> Pairs:
    return toy_pairs(20_000, seed=0)


def _tokens(text: str) -> list[str]:
    return [word.strip(".,?").lower() for word in text.split()]


def _first_unique_by_source(pairs: Pairs) -> Pairs:
    seen: set[str] = set()
    return [pair for pair in pairs if not (pair[0] in seen or seen.add(pair[0]))]


def test_same_seed_gives_identical_pairs() -> None:
    assert toy_pairs(300, seed=7) == toy_pairs(300, seed=7)


def test_different_seeds_give_different_pairs() -> None:
    first, second = toy_pairs(300, seed=1), toy_pairs(300, seed=2)
    assert sum(a != b for a, b in zip(first, second)) > 250


def test_shorter_request_is_a_prefix_of_a_longer_one() -> None:
    assert toy_pairs(300, seed=5)[:100] == toy_pairs(100, seed=5)


def test_output_does_not_depend_on_hash_randomization() -> None:
    code = "from train_large.data.toy_mt import toy_pairs; print(repr(toy_pairs(200, 3)))"
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONIOENCODING": "utf-8"}
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True,
                              encoding="utf-8", check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] == repr(toy_pairs(200, 3)) + "\n"


def test_42k_pairs_generate_in_under_five_seconds() -> None:
    started = time.perf_counter()
    toy_pairs(42_000, seed=11)
    assert time.perf_counter() - started < 5.0


def test_sentences_look_like_written_text(pairs: Pairs) -> None:
    for source, target in pairs[:3000]:
        for text in (source, target):
            assert text == text.strip() and "  " not in text, text
            assert text[0].isupper() and text[-1] in ".?", text
        assert source[-1] == target[-1]
        assert (source[-1] == "?") == target.startswith(("Est-ce que ", "Est-ce qu'"))
    assert any(source.endswith("?") for source, _ in pairs)


def test_write_toy_corpus_writes_aligned_splits_with_returned_counts(tmp_path: Path) -> None:
    counts = write_toy_corpus(tmp_path / "raw", seed=3, train=2000, valid=150, test=120,
                              source_lang="src", target_lang="tgt")
    assert counts == {"train": 2000, "valid": 150, "test": 120}
    lines = {}
    for split, size in counts.items():
        source = (tmp_path / "raw" / f"{split}.src").read_text(encoding="utf-8").splitlines()
        target = (tmp_path / "raw" / f"{split}.tgt").read_text(encoding="utf-8").splitlines()
        assert len(source) == len(target) == size
        lines[split] = list(zip(source, target))
    # valid is drawn first from the same stream, so its lines are exactly the generator's pairs, in order.
    assert lines["valid"] == _first_unique_by_source(toy_pairs(400, seed=3))[:150]


def test_held_out_source_sentences_never_appear_in_train(tmp_path: Path) -> None:
    write_toy_corpus(tmp_path, seed=4, train=5000, valid=400, test=400)
    read = {name: (tmp_path / name).read_text(encoding="utf-8").splitlines()
            for name in ("train.en", "valid.en", "test.en")}
    train, valid, test = set(read["train.en"]), read["valid.en"], read["test.en"]
    assert not train & set(valid) and not train & set(test)
    assert len(set(valid) | set(test)) == len(valid) + len(test)
    # Short sentences recur often, so an unfiltered train split would certainly overlap held-out ones.
    assert len(_first_unique_by_source(toy_pairs(5800, seed=4))) < 5800


def test_same_seed_writes_byte_identical_corpus(tmp_path: Path) -> None:
    for run in ("a", "b"):
        write_toy_corpus(tmp_path / run, seed=9, train=500, valid=50, test=50)
    names = sorted(path.name for path in (tmp_path / "a").iterdir())
    assert names == ["test.en", "test.fr", "train.en", "train.fr", "valid.en", "valid.fr"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_write_toy_corpus_rejects_identical_languages(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_toy_corpus(tmp_path, train=10, valid=1, test=1, source_lang="en", target_lang="en")


def test_vocabulary_is_a_few_hundred_words_per_language(pairs: Pairs) -> None:
    source_vocab = {word for source, _ in pairs for word in _tokens(source)}
    # Elided clitics (l'arbre, n'a) are split off so each French word form is counted once.
    target_vocab = {piece for _, target in pairs for word in _tokens(target) for piece in word.split("'") if piece}
    assert 200 <= len(source_vocab) <= 1000
    assert 200 <= len(target_vocab) <= 1000


def test_colour_adjectives_move_after_the_noun(pairs: Pairs) -> None:
    source_after_det = target_colours = target_after_det = prenominal_after_det = 0
    for source, target in pairs:
        src, tgt = _tokens(source), _tokens(target)
        source_after_det += sum(w in {"red", "black", "green"} and src[i - 1] in {"the", "a", "my"}
                                for i, w in enumerate(src) if i)
        for i, word in enumerate(tgt[1:], start=1):
            target_colours += word in COLOURS
            target_after_det += word in COLOURS and tgt[i - 1] in DETERMINERS
            prenominal_after_det += word in PRENOMINAL and tgt[i - 1] in DETERMINERS
    assert source_after_det > 100 and target_colours > 300
    assert target_after_det == 0
    assert prenominal_after_det > 50  # placement is lexical, not a blanket reordering


def test_article_depends_on_the_hidden_gender_of_the_noun(pairs: Pairs) -> None:
    cases = [("cat", "le chat", "un chat"), ("dog", "le chien", "un chien"),
             ("house", "la maison", "une maison"), ("car", "la voiture", "une voiture")]
    for english, with_the, with_a in cases:
        for article, expected in (("the", with_the), ("a", with_a)):
            targets = [t.lower() for s, t in pairs if re.search(rf"\b{article} {english}\b", s, re.IGNORECASE)]
            assert len(targets) >= 10, (article, english)
            assert all(expected in target for target in targets), (article, english)


def test_adjectives_agree_in_gender_with_the_noun(pairs: Pairs) -> None:
    agreement = re.compile(r"\b(le|la|un|une) \w+ (blanc|blanche|vert|verte|noir|noire|heureux|heureuse)\b")
    matches = [m.groups() for _, target in pairs for m in agreement.finditer(target.lower())]
    assert len(matches) > 100
    for article, adjective in matches:
        assert (article in {"la", "une"}) == (adjective in {"blanche", "verte", "noire", "heureuse"})


def test_future_verbs_conjugate_for_the_subject(pairs: Pairs) -> None:
    for prefix, french_subject, ending in (("I will ", "je", "rai"), ("We will ", "nous", "rons"),
                                           ("They will ", "ils", "ront"), ("You will ", "vous", "rez")):
        targets = [_tokens(t) for s, t in pairs if s.startswith(prefix) and not s.startswith(prefix + "not")]
        assert len(targets) >= 20, prefix
        for words in targets:
            words = words[1:] if words[0] == "demain" else words
            assert words[0] == french_subject or words[0].startswith(french_subject[:-1] + "'"), words
            assert any(w.endswith(ending) for w in words[:3]), words


def test_time_adverb_moves_to_the_front_and_matches_the_tense(pairs: Pairs) -> None:
    past_participle, future = ("é", "ée", "és", "ées"), ("rai", "ra", "rons", "rez", "ront")
    for english, french, endings in (("yesterday", "Hier,", past_participle), ("tomorrow", "Demain,", future)):
        moved = [t for s, t in pairs if s.endswith(f" {english}.")]
        assert len(moved) >= 50
        for target in moved:
            assert target.startswith(french + " ") and any(w.endswith(endings) for w in _tokens(target)), target
    assert not any(t.endswith(("hier.", "demain.")) for _, t in pairs)


def test_negation_wraps_the_verb(pairs: Pairs) -> None:
    negated = 0
    for source, target in pairs:
        tgt = _tokens(target)
        assert ("not" in _tokens(source)) == ("pas" in tgt), (source, target)
        for i, word in enumerate(tgt):
            if word == "pas":
                negated += 1
                assert tgt[i - 1] != "ne" and any(w == "ne" or w.startswith("n'") for w in tgt[max(0, i - 3):i])
    assert negated > 500


def test_object_pronouns_move_before_the_verb(pairs: Pairs) -> None:
    moved = [(s, t) for s, t in pairs if s.endswith((" him.", " them."))]
    assert len(moved) >= 20
    for source, target in moved:
        tgt = _tokens(target)
        assert tgt[-1] not in {"le", "les"}, (source, target)
        assert any(w in {"le", "les"} or w.startswith("l'") for w in tgt), (source, target)


def test_target_length_often_differs_from_source_length(pairs: Pairs) -> None:
    differing = sum(len(s.split()) != len(t.split()) for s, t in pairs)
    assert differing / len(pairs) > 0.4


def test_sentence_lengths_span_short_and_long(pairs: Pairs) -> None:
    lengths = [len(source.split()) for source, _ in pairs]
    assert min(lengths) == 4 and max(lengths) == 25
    assert sum(n <= 6 for n in lengths) / len(lengths) > 0.2
    assert sum(n >= 18 for n in lengths) / len(lengths) > 0.05

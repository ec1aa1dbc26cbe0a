"""Real-text preparation: normalisation, input checks, the fairseq layout read back by fairseq."""
from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sentencepiece as spm

from train_large.data.prepare import (
    PrepareError,
    check_parallel,
    load_prepared,
    normalize_line,
    prepare_translation,
    split_tsv,
)

TATOEBA = Path(__file__).resolve().parents[3] / "shared" / "data" / "tatoeba-en-fr-18k.tsv"
SPLITS = ("train", "valid", "test")


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_toy_corpus(raw_dir: Path, pairs: int = 2000) -> None:
    """Short English/French sentences with accents, curly apostrophes and narrow no-break spaces."""
    subjects = [("the cat", "le chat"), ("my sister", "ma sœur"), ("the teacher", "le professeur"),
                ("our neighbour", "notre voisin"), ("a child", "un enfant"), ("the dog", "le chien")]
    verbs = [("sees", "voit"), ("likes", "aime"), ("draws", "dessine"), ("waits for", "attend"),
             ("finds", "trouve")]
    objects = [("the house", "la maison"), ("a coffee", "un café"), ("the summer", "l’été"),
               ("the old tree", "le vieil arbre"), ("the blue car", "la voiture bleue")]
    endings = [(".", "."), (" today!", " aujourd’hui\u202f!"), (" in Paris?", " à Paris\u202f?"),
               (" again.", " encore.")]
    rng = random.Random(0)
    sizes = {"train": pairs - 200, "valid": 100, "test": 100}
    for split, size in sizes.items():
        chosen = [[rng.choice(words) for words in (subjects, verbs, objects, endings)]
                  for _ in range(size)]
        for side, lang in enumerate(("en", "fr")):
            lines = [" ".join(part[side] for part in parts[:3]) + parts[3][side] for parts in chosen]
            write_lines(raw_dir / f"{split}.{lang}", [line[0].upper() + line[1:] for line in lines])


@pytest.mark.parametrize("raw, normalized", [
    ("  Hello \t  world  ", "Hello world"),
    ("“Bonjour”, dit-il.", '"Bonjour", dit-il.'),
    ("l’homme ‘ici’ C´est", "l'homme 'ici' C'est"),
    ("Où es-tu\u202f? Ici\u00a0!", "Où es-tu ? Ici !"),
    ("1990–2000 — fin − 3", "1990-2000 - fin - 3"),
    ("e\u0301te\u0301 ÉCOLE Ça", "été ÉCOLE Ça"),
    ("ﬁn ＡＢＣ…", "fin ABC..."),
    ("zero\u200bwidth\ufeff soft\u00adhyphen\x07", "zerowidth softhyphen"),
    ("« Salut »", "« Salut »"),
])
def test_normalize_line_unifies_punctuation_and_keeps_case_and_accents(raw, normalized):
    assert normalize_line(raw) == normalized


def _bad_pair(tmp_path: Path, problem: str) -> tuple[Path, Path, str]:
    """Two raw files with `problem`, and the file name the error must mention."""
    src, tgt = tmp_path / "train.en", tmp_path / "train.fr"
    if problem == "missing":
        write_lines(src, ["Hello."])
        return src, tgt, "train.fr"
    if problem == "empty":
        src.write_text("")
        write_lines(tgt, ["Bonjour."])
        return src, tgt, "train.en"
    if problem == "counts":
        write_lines(src, ["One.", "Two.", "Three."])
        write_lines(tgt, ["Un.", "Deux."])
        return src, tgt, "train.en has 3 lines"
    if problem == "blank one side":
        write_lines(src, ["One.", "Two.", "Three."])
        write_lines(tgt, ["Un.", "  ", "Trois."])
        return src, tgt, "train.fr line 2 is blank"
    if problem == "blank both sides":
        write_lines(src, ["One.", "", "Three."])
        write_lines(tgt, ["Un.", "", "Trois."])
        return src, tgt, "line 2 are both blank"
    assert problem == "not utf-8"
    src.write_bytes("Héllo.\n".encode("latin-1"))
    write_lines(tgt, ["Bonjour."])
    return src, tgt, "train.en line 1 is not valid UTF-8"


@pytest.mark.parametrize("problem", ["missing", "empty", "counts", "blank one side",
                                     "blank both sides", "not utf-8"])
def test_bad_parallel_input_is_one_line_naming_the_file(tmp_path, problem):
    src, tgt, expected = _bad_pair(tmp_path, problem)
    with pytest.raises(PrepareError) as raised:
        check_parallel(src, tgt)
    message = str(raised.value)
    assert expected in message and "\n" not in message


def test_check_parallel_counts_pairs(tmp_path):
    src = write_lines(tmp_path / "valid.en", ["One.", "Two."])
    tgt = write_lines(tmp_path / "valid.fr", ["Un.", "Deux."])
    assert check_parallel(src, tgt) == 2


def test_prepare_checks_every_split_before_writing(tmp_path):
    write_toy_corpus(tmp_path / "source", pairs=300)
    write_lines(tmp_path / "source" / "test.fr", ["Un."])
    with pytest.raises(PrepareError, match="test.en has 100 lines"):
        prepare_translation(tmp_path / "source", tmp_path / "data", source_lang="en",
                            target_lang="fr", vocab_size=100)
    assert not (tmp_path / "data").exists()


@pytest.fixture(scope="module")
def toy_prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    write_toy_corpus(root / "source")
    prepared = prepare_translation(root / "source", root / "data", source_lang="en",
                                   target_lang="fr", vocab_size=300)
    return prepared


def test_prepare_writes_the_layout_fairseq_translation_loads(toy_prepared):
    from fairseq.data import Dictionary
    from fairseq.tasks.translation import load_langpair_dataset

    bin_dir = toy_prepared.bin_dir
    assert (bin_dir / "dict.en.txt").read_text() == (bin_dir / "dict.fr.txt").read_text()
    dictionary = Dictionary.load(str(bin_dir / "dict.en.txt"))
    assert len(dictionary) == toy_prepared.vocab_size and len(dictionary) % 8 == 0
    for split, pairs in {"train": 1800, "valid": 100, "test": 100}.items():
        dataset = load_langpair_dataset(
            str(bin_dir), split, "en", dictionary, "fr", dictionary, combine=False,
            dataset_impl=None, upsample_primary=1, left_pad_source=True, left_pad_target=False,
            max_source_positions=1024, max_target_positions=1024)
        assert len(dataset) == pairs == toy_prepared.lines[split]


def test_binarized_valid_decodes_to_the_normalized_reference(toy_prepared):
    from fairseq.data import Dictionary, data_utils

    dictionary = Dictionary.load(str(toy_prepared.bin_dir / "dict.fr.txt"))
    dataset = data_utils.load_indexed_dataset(str(toy_prepared.bin_dir / "valid.en-fr.fr"),
                                              dictionary)
    references = toy_prepared.reference("valid").read_text(encoding="utf-8").splitlines()
    assert len(dataset) == len(references) == 100
    processor = spm.SentencePieceProcessor(model_file=str(toy_prepared.spm_model))
    for index in range(5):
        assert processor.decode(dictionary.string(dataset[index]).split()) == references[index]
    text = "\n".join(references)
    assert "’" not in text and "\u202f" not in text and "é" in text


def test_prepared_json_is_what_load_prepared_returns(toy_prepared):
    meta = json.loads((toy_prepared.data_dir / "prepared.json").read_text())
    assert meta["lines"] == {"train": 1800, "valid": 100, "test": 100}
    assert meta["spm_model"] == "spm.model" and toy_prepared.spm_model.is_file()
    assert load_prepared(toy_prepared.data_dir) == toy_prepared


def test_held_out_references_are_kept_byte_for_byte_beside_the_normalised_ones(toy_prepared):
    source = toy_prepared.data_dir.parent / "source"
    assert toy_prepared.untouched == {"valid": "untouched/valid.fr", "test": "untouched/test.fr"}
    for split in ("valid", "test"):
        kept = toy_prepared.untouched_reference(split)
        assert kept.read_bytes() == (source / f"{split}.fr").read_bytes()
        assert "’" in kept.read_text(encoding="utf-8")
        assert "’" not in toy_prepared.reference(split).read_text(encoding="utf-8")
    assert toy_prepared.untouched_reference("train") is None


def test_load_prepared_without_marker_says_how_to_prepare(tmp_path):
    with pytest.raises(PrepareError, match="no prepared.json.*tlc-prepare translation --raw-dir"):
        load_prepared(tmp_path)


def test_prepare_reruns_over_a_half_finished_dir(tmp_path):
    write_toy_corpus(tmp_path / "source", pairs=600)
    first = prepare_translation(tmp_path / "source", tmp_path / "data", source_lang="en",
                                target_lang="fr", vocab_size=200)
    (tmp_path / "data" / "prepared.json").unlink()
    (tmp_path / "data" / "bin" / "valid.en-fr.fr.idx").write_bytes(b"torn")
    with pytest.raises(PrepareError, match="not a prepared dataset"):
        load_prepared(tmp_path / "data")
    again = prepare_translation(tmp_path / "source", tmp_path / "data", source_lang="en",
                                target_lang="fr", vocab_size=200)
    assert again == first == load_prepared(tmp_path / "data")


def test_split_tsv_rejects_a_line_without_exactly_one_tab(tmp_path):
    tsv = write_lines(tmp_path / "pairs.tsv", ["Go.\tVa !", "Run!\tCours !\tCC-BY", "Hi.\tSalut."])
    with pytest.raises(PrepareError, match=r"pairs.tsv line 2 has 2 tabs"):
        split_tsv(tsv, tmp_path / "raw", source_lang="en", target_lang="fr", valid=1, test=1)


def test_split_tsv_shuffles_into_aligned_splits(tmp_path):
    pairs = [f"Sentence {i}.\tPhrase {i}." for i in range(50)]
    tsv = write_lines(tmp_path / "pairs.tsv", pairs)
    sizes = split_tsv(tsv, tmp_path / "raw", source_lang="en", target_lang="fr", valid=5, test=7)
    assert sizes == {"train": 38, "valid": 5, "test": 7}
    english = (tmp_path / "raw" / "train.en").read_text().splitlines()
    french = (tmp_path / "raw" / "train.fr").read_text().splitlines()
    assert [e.split()[1] for e in english] == [f.split()[1] for f in french]
    assert english != sorted(english, key=lambda line: int(line.split()[1][:-1]))


def test_cli_reports_misaligned_input_in_one_line_with_status_2(tmp_path):
    write_lines(tmp_path / "raw" / "train.en", ["One.", "Two."])
    write_lines(tmp_path / "raw" / "train.fr", ["Un."])
    result = subprocess.run(
        [str(Path(sys.executable).parent / "tlc-prepare"), "translation", "--raw-dir",
         str(tmp_path / "raw"), "--out", str(tmp_path / "data"), "--src", "en", "--tgt", "fr"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "train.en has 2 lines" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.e2e
def test_tatoeba_prepares_with_accents_intact(tmp_path):
    if not TATOEBA.is_file():
        pytest.skip(f"{TATOEBA} is absent (it lives outside the repo, in ../shared/data)")
    started = time.perf_counter()
    sizes = split_tsv(TATOEBA, tmp_path / "source", source_lang="en", target_lang="fr",
                      valid=500, test=500)
    prepared = prepare_translation(tmp_path / "source", tmp_path / "data", source_lang="en",
                                   target_lang="fr", vocab_size=2000)
    seconds = time.perf_counter() - started
    assert prepared.lines == sizes == {"train": 17066, "valid": 500, "test": 500}
    assert seconds < 60, f"preparing Tatoeba took {seconds:.0f} s"

    from fairseq.data import Dictionary, data_utils

    dictionary = Dictionary.load(str(prepared.bin_dir / "dict.fr.txt"))
    dataset = data_utils.load_indexed_dataset(str(prepared.bin_dir / "test.en-fr.fr"), dictionary)
    processor = spm.SentencePieceProcessor(model_file=str(prepared.spm_model))
    decoded = [processor.decode(dictionary.string(dataset[i]).split()) for i in range(len(dataset))]
    assert decoded == prepared.reference("test").read_text(encoding="utf-8").splitlines()
    assert any("é" in line or "à" in line for line in decoded)

"""`tlc-prepare`: the three subcommands parse to their preparer, and bad input is one line, status 2."""
from __future__ import annotations

from pathlib import Path

import pytest

from train_large.data import cli


def test_each_subcommand_parses_to_its_preparer_with_the_scripts_defaults():
    translation = cli.parse_args(["translation", "--raw-dir", "raw", "--out", "data", "--src", "en",
                                  "--tgt", "fr", "--tsv", "pairs.tsv", "--valid", "5", "--test", "7"])
    assert translation.prepare is cli.translation
    assert (translation.raw_dir, translation.out, translation.tsv) == (Path("raw"), Path("data"), Path("pairs.tsv"))
    assert (translation.src, translation.tgt, translation.valid, translation.test) == ("en", "fr", 5, 7)
    assert (translation.vocab_size, translation.max_spm_sentences, translation.seed) == (8000, 2_000_000, 0)
    assert translation.workers is None  # every core the process may use

    mlm = cli.parse_args(["mlm", "--raw-dir", "raw", "--out", "data", "--seed", "3"])
    assert mlm.prepare is cli.mlm
    assert (mlm.vocab_size, mlm.max_spm_sentences, mlm.seed) == (32000, 2_000_000, 3)

    glue = cli.parse_args(["glue", "--task", "sst2", "--glue-dir", "SST-2", "--vocab-from", "wiki",
                           "--out", "data"])
    assert glue.prepare is cli.glue
    assert (glue.task, glue.glue_dir, glue.vocab_from, glue.out) == ("sst2", Path("SST-2"), Path("wiki"), Path("data"))
    assert cli.parse_args(["mlm", "--raw-dir", "r", "--out", "o", "--workers", "16"]).workers == 16


def test_help_lists_the_three_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(f"    {command} " in out for command in ("translation", "mlm", "glue"))


@pytest.mark.parametrize("argv, message", [
    ([], "tlc-prepare: error: the following arguments are required: {translation,mlm,glue}"),
    (["frob"], "tlc-prepare: error: argument {translation,mlm,glue}: invalid choice: 'frob'"),
    (["glue", "--task", "cola", "--glue-dir", "g", "--vocab-from", "v", "--out", "o"],
     "tlc-prepare glue: error: argument --task: invalid choice: 'cola' (choose from 'mnli', 'sst2')"),
    (["mlm", "--raw-dir", "r", "--out", "o", "--vocab-size", "0"],
     "tlc-prepare mlm: error: argument --vocab-size: must be a positive integer, got 0"),
    (["glue", "--task", "sst2", "--glue-dir", "g", "--vocab-from", "v", "--out", "o", "--workers", "0"],
     "tlc-prepare glue: error: argument --workers: must be a positive integer, got 0"),
    (["translation", "--raw-dir", "r", "--out", "o", "--src", "en"],
     "tlc-prepare translation: error: the following arguments are required: --tgt"),
    (["translation", "--raw-dir", "r", "--out", "o", "--src", "en", "--tgt", "fr", "--tsv", "p.tsv"],
     "tlc-prepare translation: error: --tsv needs --valid N and --test N"),
    (["translation", "--raw-dir", "r", "--out", "o", "--src", "en", "--tgt", "fr", "--valid", "5"],
     "tlc-prepare translation: error: --valid and --test only apply with --tsv"),
])
def test_a_bad_argument_is_one_line_naming_it_with_status_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(message), line


def test_bad_data_is_one_line_with_status_2(tmp_path, capsys):
    status = cli.main(["mlm", "--raw-dir", str(tmp_path / "absent"), "--out", str(tmp_path / "data")])
    assert status == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"tlc-prepare mlm: error: {tmp_path / 'absent' / 'train.txt'} does not exist")
    assert not (tmp_path / "data" / "prepared.json").exists()

"""GLUE preparation: official task TSVs to the data dir of fairseq's `sentence_prediction` task.

glue_dir/*.tsv -> checked before anything is written (columns found by header name, split on tabs
only: the official files are unquoted and MNLI text holds quotes) -> data_dir/raw/{split}.{input0,
input1,label} -> encoded with the *pretraining corpus's* spm.model and dictionary (`vocab_from`,
copied here, so the fine-tuned model shares the pretrained embeddings) -> bin/input0/, bin/input1/
(pairs only), bin/label/, each with dict.txt (label names sorted: class id = position) and
{split}.bin/.idx -> prepared.json, written last and atomically.

The unlabelled official test sets present become submission splits (MNLI test_matched and
test_mismatched; SST-2 test_unlabelled, as a labelled test.tsv, the toy task's, is the scored
`test`) with raw/{split}.index (GLUE's `index`, which its server matches predictions on) and no
bin/label/{split}: fairseq sets no target. prepared.json lists them under `submission`, outside
`lines`, `label_counts` and `majority_class_rate`. Must not import fairseq.
"""
from __future__ import annotations

import logging
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from train_large.rundir import atomic_write_json

from .prepare import (PREPARED_FILE, PrepareError, PreparedData, available_cores, load_prepared, log_step,
                      normalize_line, numbered_lines, preparing, write_pieces)
from .prepare_mlm import file_sha1

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GlueLayout:
    files: dict[str, str]  # split -> TSV file name; each must exist and be labelled
    text_columns: tuple[str, ...]  # one column (single sentence) or two (sentence pairs)
    label_column: str
    labels: tuple[str, ...]  # allowed label names; sorted, they give the class ids
    # split -> TSV used when present with a label column (the toy task's test.tsv)
    optional_files: dict[str, str] = field(default_factory=dict)
    # split -> (official unlabelled test TSV, the file GLUE's server expects its predictions in)
    submission_files: dict[str, tuple[str, str]] = field(default_factory=dict)


LAYOUTS = {
    "mnli": GlueLayout(
        files={"train": "train.tsv", "valid": "dev_matched.tsv", "valid_mismatched": "dev_mismatched.tsv"},
        text_columns=("sentence1", "sentence2"), label_column="gold_label",
        labels=("contradiction", "entailment", "neutral"),
        submission_files={"test_matched": ("test_matched.tsv", "MNLI-m.tsv"),
                          "test_mismatched": ("test_mismatched.tsv", "MNLI-mm.tsv")}),
    "sst2": GlueLayout(
        files={"train": "train.tsv", "valid": "dev.tsv"}, text_columns=("sentence",),
        label_column="label", labels=("0", "1"), optional_files={"test": "test.tsv"},
        submission_files={"test_unlabelled": ("test.tsv", "SST-2.tsv")}),
}
INDEX_COLUMN = "index"  # of the unlabelled test sets: GLUE's server matches predictions on it

Example = tuple[list[str], str]  # (normalised texts, label; for an unlabelled test set, its GLUE index)


def prepare_glue(task_name: str, glue_dir: Path, data_dir: Path, *, vocab_from: Path,
                 workers: int | None = None) -> PreparedData:
    """Prepare the GLUE task `task_name` from `glue_dir` into `data_dir`, encoded with the prepared
    masked-LM corpus `vocab_from` by `workers` processes (None: available_cores()). PrepareError on
    an unknown task, a `vocab_from` that is not one, or a bad TSV; all checks run before anything is
    written."""
    if task_name not in LAYOUTS:
        raise PrepareError(f"GLUE task {task_name!r} is not supported; choose one of "
                           f"{', '.join(sorted(LAYOUTS))}")
    layout, glue_dir, data_dir = LAYOUTS[task_name], Path(glue_dir), Path(data_dir)
    started = time.perf_counter()
    pretraining = check_vocab_from(Path(vocab_from))
    examples, unlabelled = read_splits(glue_dir, layout)
    lines = {split: len(rows) for split, rows in examples.items()}
    submission = {split: {"file": layout.submission_files[split][1], "lines": len(rows)}
                  for split, rows in unlabelled.items()}
    log_step(log, started, "checked %s %s: %s examples", task_name, glue_dir,
             ", ".join(f"{split} {len(rows)}" for split, rows in {**examples, **unlabelled}.items()))

    pairs, labels = len(layout.text_columns) == 2, sorted(layout.labels)
    with preparing(data_dir, started):
        _write_raw(examples, data_dir / "raw", "label")
        _write_raw(unlabelled, data_dir / "raw", INDEX_COLUMN)
        _encode_and_binarize(data_dir, pretraining, list(examples), list(unlabelled), pairs, labels,
                             workers or available_cores())
        sha1 = file_sha1(data_dir / "bin" / "input0" / "dict.txt")
        if sha1 != pretraining.dictionary_sha1:
            raise PrepareError(f"{pretraining.bin_dir / 'dict.txt'} changed after it was prepared "
                               f"(sha1 {sha1}, prepared.json says {pretraining.dictionary_sha1}); "
                               "prepare the pretraining corpus again")
        counts = {split: Counter(label for _, label in rows) for split, rows in examples.items()}
        atomic_write_json(data_dir / PREPARED_FILE, {
            "kind": "classification", "glue_task": task_name, "labels": labels,
            "sentence_pairs": pairs, "lines": lines, "vocab_size": pretraining.vocab_size,
            "dictionary_sha1": sha1, "vocab_from": str(pretraining.data_dir.resolve()),
            "spm_model": "spm.model", "glue_dir": str(glue_dir.resolve()),
            "label_counts": {split: {label: c[label] for label in labels} for split, c in counts.items()},
            # The accuracy of always answering the commonest train label: the floor to beat.
            "majority_class_rate": {split: round(c[counts["train"].most_common(1)[0][0]] / lines[split], 4)
                                    for split, c in counts.items()},
            "submission": submission,
        })
    return PreparedData(data_dir, "", "", pretraining.vocab_size, lines, kind="classification",
                        labels=labels, sentence_pairs=pairs, dictionary_sha1=sha1, submission=submission)


def check_vocab_from(vocab_from: Path) -> PreparedData:
    """The prepared masked-LM corpus at `vocab_from`; PrepareError when it is not one."""
    prepare = (f"prepare the pretraining corpus first: tlc-prepare mlm "
               f"--raw-dir RAW --out {vocab_from}")
    try:
        prepared = load_prepared(vocab_from)
    except PrepareError as err:
        raise PrepareError(f"vocab_from={vocab_from} is not a prepared masked-LM corpus "
                           f"({str(err).split(';')[0]}); {prepare}") from err
    if prepared.kind != "masked_lm":
        raise PrepareError(f"vocab_from={vocab_from} is a {prepared.kind} dataset, not a masked-LM "
                           f"corpus; {prepare}")
    for path in (prepared.spm_model, prepared.bin_dir / "dict.txt"):
        if not path.is_file():
            raise PrepareError(f"vocab_from={vocab_from} lacks {path.name}; {prepare}")
    return prepared


def read_splits(glue_dir: Path, layout: GlueLayout) -> tuple[dict[str, list[Example]], dict[str, list[Example]]]:
    """The labelled splits, and the unlabelled test sets that are present (split -> examples)."""
    examples = {split: read_examples(glue_dir / name, layout) for split, name in layout.files.items()}
    for split, name in layout.optional_files.items():
        path = glue_dir / name
        if path.is_file() and layout.label_column in _header(path):
            examples[split] = read_examples(path, layout)
    unlabelled = {}
    for split, (name, _) in layout.submission_files.items():
        path = glue_dir / name
        if path.is_file() and layout.label_column not in _header(path):
            unlabelled[split] = read_examples(path, layout, unlabelled=True)
        elif path.is_file() and name not in layout.optional_files.values():
            log.info("not using %s: it has a %s column, so it is not the official test set", path,
                     layout.label_column)
    return examples, unlabelled


def read_examples(path: Path, layout: GlueLayout, *, unlabelled: bool = False) -> list[Example]:
    """The normalised examples of one TSV with a header row (`unlabelled`, an official test set: with
    its GLUE index in place of a label); PrepareError on a missing column or a bad row."""
    header = _header(path)
    key = INDEX_COLUMN if unlabelled else layout.label_column
    missing = [name for name in [*layout.text_columns, key] if name not in header]
    if missing:
        raise PrepareError(f"{path} line 1 (the header) lacks column {missing[0]!r} (it has: "
                           f"{', '.join(header)}); expected the official GLUE file")
    text_at, key_at = [header.index(name) for name in layout.text_columns], header.index(key)
    examples: list[Example] = []
    seen: dict[str, int] = {}  # index -> line
    for number, line in numbered_lines(path):
        if number == 1:
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != len(header):
            raise PrepareError(f"{path} line {number} has {len(fields)} tab-separated columns but "
                               f"the header has {len(header)}; fix or remove that row")
        texts = [normalize_line(fields[at]) for at in text_at]
        for name, text in zip(layout.text_columns, texts):
            if not text:
                raise PrepareError(f"{path} line {number} has an empty {name}; remove that row")
        value = fields[key_at].strip()
        if unlabelled:
            _check_index(path, number, value, seen)
        elif value not in layout.labels:
            raise PrepareError(f"{path} line {number} has {layout.label_column} {value!r}; allowed: "
                               f"{', '.join(layout.labels)} (remove unlabelled rows)")
        examples.append((texts, value))
    if not examples:
        raise PrepareError(f"{path} has a header but no examples")
    return examples


def _check_index(path: Path, number: int, index: str, seen: dict[str, int]) -> None:
    # Predictions are matched on the index, and a submission file is one index per line.
    if not (index.isascii() and index.isdigit()):
        raise PrepareError(f"{path} line {number} has {INDEX_COLUMN} {index!r}, not a whole number; "
                           "expected the official GLUE test file")
    if index in seen:
        raise PrepareError(f"{path} line {number} repeats {INDEX_COLUMN} {index} of line {seen[index]}; "
                           "expected the official GLUE test file")
    seen[index] = number


def _header(path: Path) -> list[str]:
    if not path.is_file():
        raise PrepareError(f"{path} does not exist; download the task with scripts/download_glue.sh")
    for _, line in numbered_lines(path):
        return [name.strip() for name in line.lstrip("\ufeff").rstrip("\r\n").split("\t")]
    raise PrepareError(f"{path} is empty; expected a header row, then one example per row")


def _write_raw(examples: dict[str, list[Example]], raw_dir: Path, key: str) -> None:
    """raw_dir/{split}.input0, .input1 (pairs) and .{key} (the label or the GLUE index)."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    for split, rows in examples.items():
        for column in range(len(rows[0][0])):
            text = "".join(texts[column] + "\n" for texts, _ in rows)
            (raw_dir / f"{split}.input{column}").write_text(text, encoding="utf-8", newline="\n")
        text = "".join(value + "\n" for _, value in rows)
        (raw_dir / f"{split}.{key}").write_text(text, encoding="utf-8", newline="\n")


def _encode_and_binarize(data_dir: Path, pretraining: PreparedData, labelled: list[str], unlabelled: list[str],
                         pairs: bool, labels: list[str], workers: int) -> None:
    from train_large.engine import binarize  # only now: see prepare.encode_and_binarize

    step = time.perf_counter()
    bin_dir, inputs, splits = data_dir / "bin", ["input0", "input1"] if pairs else ["input0"], labelled + unlabelled
    if bin_dir.exists():
        shutil.rmtree(bin_dir)  # a stale input1/ would turn a single-sentence task into pairs
    shutil.copyfile(pretraining.spm_model, data_dir / "spm.model")
    write_pieces(data_dir, [f"{split}.{column}" for column in inputs for split in splits], workers)
    for column in inputs:
        (bin_dir / column).mkdir(parents=True)
        shutil.copyfile(pretraining.bin_dir / "dict.txt", bin_dir / column / "dict.txt")
    binarize.build_label_dictionary(labels, bin_dir / "label" / "dict.txt")
    binarize.binarize_files(
        [(data_dir / "pieces" / f"{split}.{column}", bin_dir / column / "dict.txt", bin_dir / column / split)
         for column in inputs for split in splits]
        # an unlabelled split has no label file: fairseq then sets no target
        + [(data_dir / "raw" / f"{split}.label", bin_dir / "label" / "dict.txt", bin_dir / "label" / split)
           for split in labelled], workers)
    log_step(log, step, "encoded and binarized %s into %s, labels %s", "/".join(splits), bin_dir, labels)

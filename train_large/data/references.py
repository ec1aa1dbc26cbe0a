"""The official references, kept byte for byte as given, and which file a BLEU score uses.

The validation BLEU scores against the normalised target lines (`prepare.normalize_line`). A
published sacreBLEU score is against the references as distributed, so the final test BLEU uses
the untouched held-out target files (data_dir/untouched/{split}.{lang}); a data dir prepared
before they were kept has none, and its scores name the normalised file. Must not import fairseq.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

log = logging.getLogger(__name__)

UNTOUCHED_DIR = "untouched"
NORMALISED, UNTOUCHED = "normalised", "untouched"  # the values of a record's `references`


def keep_untouched(raw_dir: Path, data_dir: Path, splits: Iterable[str], lang: str) -> dict[str, str]:
    """Copy raw_dir/{split}.{lang} of the held-out splits into data_dir/untouched/, byte for byte;
    returns split -> path relative to `data_dir`, so the dir can move. Train is not copied: nothing
    is scored against it, and WMT's is gigabytes."""
    kept = {split: f"{UNTOUCHED_DIR}/{split}.{lang}" for split in splits if split != "train"}
    for split, relative in kept.items():
        (data_dir / UNTOUCHED_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(raw_dir) / f"{split}.{lang}", data_dir / relative)
    return kept


def read_lines(path: Path) -> list[str]:
    """The lines of a text file as the sacrebleu CLI reads them: split at newline only, trailing
    whitespace dropped. Scoring in Python reads the same lines, so the CLI gives the same score."""
    with Path(path).open(encoding="utf-8", newline="\n") as handle:
        return [line.rstrip() for line in handle]


@dataclass(frozen=True)
class References:
    path: Path
    kind: str  # UNTOUCHED or NORMALISED
    lines: list[str]  # as the sacrebleu CLI reads them
    lines_differ: int | None = None  # untouched only: lines unlike their normalised form

    def describe(self) -> dict:
        """The record's fields naming the references."""
        fields = {"references": self.kind, "references_file": str(self.path),
                  "references_sha256": file_sha256(self.path)}
        if self.lines_differ is not None:
            fields["references_lines_differ"] = self.lines_differ
        return fields


def final_references(untouched: Path | None, normalised: Path) -> References:
    """The untouched references when preparation kept them, else the normalised ones (logged)."""
    normalised_lines = read_lines(normalised)
    if untouched is None or not untouched.is_file():
        log.info("scoring against the normalised references %s: this data dir was prepared before "
                 "untouched references were kept; prepare it again to score against the official ones",
                 normalised)
        return References(normalised, NORMALISED, normalised_lines)
    lines = read_lines(untouched)
    differ = sum(a != b for a, b in zip(lines, normalised_lines)) + abs(len(lines) - len(normalised_lines))
    return References(untouched, UNTOUCHED, lines, differ)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes: what a reviewer checks a reference or output file against."""
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()

"""A run's saved outputs under run_dir/outputs/: the final test translations and predictions, one
per line in the split's order, so a reviewer can score them again without the model, and under glue/
the GLUE test sets' predictions as GLUE's server expects them (MNLI-m.tsv: a header, then
`index<TAB>label` rows). Each file is written atomically and recorded by path and sha256. Must not
import fairseq.
"""
from __future__ import annotations

from pathlib import Path

from .data.references import file_sha256
from .rundir import OUTPUTS_DIR, atomic_write_bytes  # noqa: F401 - OUTPUTS_DIR: the folder, for compress.pipeline

GLUE_SUBMISSION_DIR = "glue"  # under OUTPUTS_DIR


def write_lines(path: Path, lines: list[str]) -> dict:
    """Write one line per item; returns {"file", "sha256", "lines"}. ValueError if an item holds a
    newline, which would shift every later line."""
    for number, line in enumerate(lines, start=1):
        if "\n" in line:
            raise ValueError(f"output line {number} for {path} holds a newline: {line!r}")
    atomic_write_bytes(path, "".join(line + "\n" for line in lines).encode("utf-8"))
    return {"file": str(path), "sha256": file_sha256(path), "lines": len(lines)}

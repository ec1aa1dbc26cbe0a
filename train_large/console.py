"""What a job shows on the terminal, as against what goes to its log file.

Hydra's job logging (conf/hydra/job_logging/harness.yaml, applied in every local, Ray or SLURM job
process) sends every record to the run's log file and, through `ConsoleFilter`, all but fairseq's
INFO lines (a dozen per job start), FILE_ONLY details and HARMLESS_WARNINGS to the terminal. A
process spawned by `train_large.distributed` sets up its own logging. Must not import fairseq,
torch or wandb.
"""
from __future__ import annotations

import logging

# Warnings that library code raises on every run of this harness and that change nothing about
# it, each matched by a piece of its message. They go to the log file only.
HARMLESS_WARNINGS = (
    # torch's DataLoader on a machine without a GPU: fairseq asks for pinned memory, which only
    # speeds up copies to a GPU; torch skips the pinning and the batches are the same.
    "'pin_memory' argument is set as true but no accelerator is found",
    # fairseq 0.12 enters torch.cuda.amp.autocast(enabled=...), which torch renamed to
    # torch.amp.autocast('cuda', ...); the old name does the same, and on CPU it is disabled.
    "`torch.cuda.amp.autocast(args...)` is deprecated",
    # fairseq's attention passes a boolean padding mask beside a float attention mask; torch
    # turns the boolean one into the same float mask itself and warns that it may stop doing so.
    "Support for mismatched key_padding_mask and attn_mask is deprecated",
)
_LIBRARY_CHATTER = ("fairseq", "fairseq_cli")  # loggers whose INFO lines stay in the log file
# `log.info(..., extra=FILE_ONLY)`: a detail of the harness's own (a step of data preparation, a
# file's size) that belongs in the run's log but would bury the progress lines on the terminal.
FILE_ONLY = {"file_only": True}


class ConsoleFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and (record.name.split(".")[0] in _LIBRARY_CHATTER
                                                 or getattr(record, "file_only", False)):
            return False
        if record.name == "py.warnings":
            message = record.getMessage()
            return not any(known in message for known in HARMLESS_WARNINGS)
        return True


def console_filter() -> ConsoleFilter:
    """The terminal handler's filter, built by Hydra's logging config. It also routes `warnings.warn`
    through logging for the rest of the process, so a warning reaches the log file too (Python would
    otherwise print it straight to stderr, past both handlers)."""
    logging.captureWarnings(True)
    return ConsoleFilter()

"""Sweep outcomes: `<sweep dir>/outcomes.jsonl`, whose one reader and writer is the launcher plugin
(which must not import train_large), and the summary printed at the end of a multirun.
"""
from hydra_plugins.tlc_launchers.outcomes import (OUTCOMES_FILE, RUNNING_ELSEWHERE, read_outcomes,  # noqa: F401
                                                  record_outcome, sweep_summary_lines as summary_lines)

"""tlc-report: finished sweeps as tables, the paper's figures, checks of its claims and advice.

collect (run dirs -> runs) -> table (CSV, markdown, report.md) -> figures -> claims -> advise; cli is
the entry. It reads only the files runs leave on disk (`metrics.jsonl`, `result.json`, `.hydra/`) and
must not import fairseq or torch, so it starts fast anywhere the results are copied to.
"""

"""tlc-report: the results of finished sweeps as a table, the paper's figures, checks of its
claims and advice for a budget.

collect (run dirs -> runs) -> table (CSV, markdown) -> figures (matplotlib) -> claims -> advise
-> markdown (report.md); series holds the questions they share, noise the intervals over seeds,
bands the alignment of replicas' curves, evidence and verdicts what claims and advice weigh and
conclude (claim_compression is claim 4), plotting the figures' style, budget the --advise parsing,
workspace the optional W&B workspace, and cli the entry point. Reads only the files runs leave on
disk (`metrics.jsonl`, `result.json`, `.hydra/`): must not import fairseq or torch, so it starts
fast and runs anywhere the results are copied to.
"""

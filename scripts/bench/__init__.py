"""The benchmarks, one module per section, run as `python -m scripts.bench SECTION [options]` from
the repository root (see __main__ for the sections and commands). Shared parts: runs (timed
commands), measure (in-process timing), toy (the toy runs and their sizes), stats (intervals and
goal verdicts), machine (what a result was measured on), table (the printed report).

Must not import torch or fairseq: scripts/render_performance.py reaches stats through this package.
"""

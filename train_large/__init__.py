"""train_large: train Transformers for a fixed wall-clock budget and record metric-vs-seconds curves.

Only `train_large.engine` imports fairseq; everything else talks to it through `build_engine`.
"""

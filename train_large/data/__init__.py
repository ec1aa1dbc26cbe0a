"""Data for runs: real-text preparation (`prepare`) and the datasets a task can use.

Nothing in this package imports fairseq; binarization goes through `train_large.engine.binarize`.
"""

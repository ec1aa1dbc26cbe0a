"""Scripts run from the repository root; a package so that `python -m scripts.bench` finds its modules."""

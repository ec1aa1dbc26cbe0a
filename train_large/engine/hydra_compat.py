"""Keeping fairseq and our Hydra app out of each other's way.

fairseq 0.12 registers its dataclasses in Hydra's global ConfigStore under our group names
(`task/translation`, `model/roberta`, ...), where Hydra takes them as schemas for our presets of the
same name: composing fails once fairseq is imported (every multirun job after the first). So they are
parked under a private group, put back only while fairseq composes its own config.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator

from hydra.core.config_store import ConfigStore
from hydra.experimental.initialize import get_gh_backup, restore_gh_from_backup
from hydra.version import VersionBase, setbase

SHARED_GROUPS = ("task", "model")
PARKED = "_fairseq_parked"


def park_fairseq_configs() -> None:
    """Move fairseq's ConfigStore entries out of the groups our app composes (idempotent)."""
    repo = ConfigStore.instance().repo
    parked = repo.setdefault(PARKED, {})
    for group in SHARED_GROUPS:
        entries = repo.get(group, {})
        for name in [n for n, node in entries.items() if getattr(node, "provider", None) == "fairseq"]:
            parked.setdefault(group, {})[name] = entries.pop(name)


@contextmanager
def fairseq_compose_context() -> Iterator[None]:
    """Let fairseq compose its own config inside our running Hydra app: its
    `hydra.experimental.initialize` refuses version_base >= 1.2 (ours is 1.3) and clears the global
    Hydra instance our multirun launcher still uses, so it gets the 1.1 base, then all is put back."""
    saved_base = VersionBase.instance().getbase()
    saved_hydra = get_gh_backup()
    setbase("1.1")
    repo = ConfigStore.instance().repo
    for group, entries in repo.get(PARKED, {}).items():  # put fairseq's configs back
        repo.setdefault(group, {}).update(entries)
        entries.clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        park_fairseq_configs()
        restore_gh_from_backup(saved_hydra)
        # Assigned, not setbase(): outside a Hydra app (scripts, benchmarks) no base was set yet.
        VersionBase.instance().version_base = saved_base

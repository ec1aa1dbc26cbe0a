"""Keeping fairseq and our Hydra app out of each other's way.

fairseq 0.12 registers its own dataclasses in Hydra's global ConfigStore under the group names
we use too (`task/translation`, `task/masked_lm`, `model/roberta`, ...). Hydra then treats them as
schemas for our YAML presets of the same name, and composing our config fails once fairseq has
been imported in the process (every job after the first in a multirun). So fairseq's entries in
those groups are parked under a private group, and put back only while fairseq composes its own
config. fairseq also composes with a Hydra API that refuses to run under our version_base.
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


def unpark_fairseq_configs() -> None:
    repo = ConfigStore.instance().repo
    for group, entries in repo.get(PARKED, {}).items():
        repo.setdefault(group, {}).update(entries)
        entries.clear()


@contextmanager
def fairseq_compose_context() -> Iterator[None]:
    """Let fairseq compose its own config inside our running Hydra app.

    fairseq composes with `hydra.experimental.initialize`, which refuses to run once the app has
    set version_base >= 1.2 (ours is 1.3), and it clears the global Hydra instance our multirun
    launcher is still using. Give it the 1.1 base and its configs, then put everything back.
    """
    saved_base = VersionBase.instance().getbase()
    saved_hydra = get_gh_backup()
    setbase("1.1")
    unpark_fairseq_configs()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        park_fairseq_configs()
        restore_gh_from_backup(saved_hydra)
        # Assigned, not setbase(): outside a Hydra app (scripts, benchmarks) no base was set yet.
        VersionBase.instance().version_base = saved_base

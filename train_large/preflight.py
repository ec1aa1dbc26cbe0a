"""Pre-flight: every job a command line would launch, composed and checked before Hydra starts.

Hydra reports a misspelt key or a badly typed value as a multi-line error, and in a multirun
only when that job's turn comes. Composing each job here first turns both into one line
naming the override, and stops a sweep with a bad value before its first job trains.
Must not import fairseq or wandb.
"""
from __future__ import annotations

import difflib
import itertools
import re
from typing import Any, Callable

from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

MAX_JOBS_CHECKED = 64  # beyond this, each swept value is checked on its own, not every combination


def job_overrides(argv: list[str],
                  sweeper_params: Callable[[list[str]], dict[str, str]] = lambda fixed: {}) -> list[list[str]]:
    """The override list of each job the command line describes (one list without -m sweeps).

    `sweeper_params(fixed overrides)`: the `hydra.sweeper.params` a config (a `+sweep=` file)
    adds in a multirun, as {key: "v1,v2"}; the command line wins for a key given in both, as
    in Hydra's sweeper.
    """
    args = get_args_parser().parse_args(argv)
    parser = OverridesParser.create()
    parsed = [o for o in parser.parse_overrides(args.overrides) if not o.is_hydra_override()]
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    if args.multirun:
        given = {o.key_or_group for o in parsed}
        extra = [f"{key}={values}" for key, values in sweeper_params(fixed).items() if key not in given]
        parsed += parser.parse_overrides(extra)
        fixed += [o.input_line for o in parsed[-len(extra):] if not o.is_sweep_override()] if extra else []
    swept = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
             for o in parsed if o.is_sweep_override()]
    if not swept:
        return [fixed]
    combinations = 1
    for values in swept:
        combinations *= len(values)
    if combinations <= MAX_JOBS_CHECKED:
        return [fixed + list(combo) for combo in itertools.product(*swept)]
    firsts = [values[0] for values in swept]
    return [fixed + firsts[:i] + [value] + firsts[i + 1:] for i, values in enumerate(swept) for value in values]


def describe_compose_error(err: Exception, defaults: DictConfig | None) -> str:
    """One line for a Hydra/OmegaConf composition error."""
    cause = err.__cause__ or err
    text = str(cause)
    key = re.search(r"full_key: (\S+)", text)
    missing = re.match(r"Key '([^']+)' not in '([^']+)'", text)
    if missing and key:
        parent = key.group(1).rpartition(".")[0]
        known = _keys(defaults, parent)
        close = difflib.get_close_matches(missing.group(1), known, n=1)
        hint = f"; did you mean {parent + '.' if parent else ''}{close[0]}?" if close else ""
        return f"{key.group(1)} is not a setting{hint} ({parent or 'top level'} has: {', '.join(known)})"
    first = text.strip().splitlines()[0] if text.strip() else type(cause).__name__
    return f"{key.group(1)}: {first}" if key else f"{str(err).splitlines()[0]}: {first}"


def _keys(cfg: DictConfig | None, path: str) -> list[str]:
    node = OmegaConf.select(cfg, path) if (cfg is not None and path) else cfg
    return sorted(str(k) for k in node.keys()) if isinstance(node, DictConfig) else []


def preflight(argv: list[str], compose: Callable[[list[str]], Any],
              check: Callable[[Any, list[str]], list[str]],
              sweeper_params: Callable[[list[str]], dict[str, str]] = lambda fixed: {}) -> list[str]:
    """Problems with any job of this command line, one line each; [] when every job is fine.

    `check(cfg, overrides)` gets each job's composed config and the overrides that made it.
    """
    try:
        jobs = job_overrides(argv, sweeper_params)
    except Exception as err:  # noqa: BLE001 - Hydra's parser raises several types for bad syntax
        return [f"cannot parse the overrides: {str(err).splitlines()[0]}"]
    defaults = compose([])
    problems: list[str] = []
    for overrides in jobs:
        try:
            found = check(compose(overrides), overrides)
        except Exception as err:  # noqa: BLE001 - composition errors come in many types
            found = [describe_compose_error(err, defaults)]
        problems += [line for line in found if line not in problems]
    return problems

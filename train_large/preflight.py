"""Pre-flight: every job a command line would launch, composed and checked before Hydra starts.

Hydra reports a misspelt key or a badly typed value as a multi-line error, and in a multirun
only when that job's turn comes. Composing each job here first turns both into one line
naming the override, and stops a sweep with a bad value before its first job trains.
Must not import fairseq or wandb.
"""
from __future__ import annotations

import difflib
import functools
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


def hydra_overrides(argv: list[str]) -> list[str]:
    """The command line's `hydra...` overrides (launcher, run dir), a swept one at its first value."""
    args = get_args_parser().parse_args(argv)
    parsed = [o for o in OverridesParser.create().parse_overrides(args.overrides) if o.is_hydra_override()]
    return [o.input_line if not o.is_sweep_override() else f"{o.get_key_element()}={next(o.sweep_string_iterator())}"
            for o in parsed]


# Hydra's messages for a config group or override it cannot place, reworded as one line each.
_NOT_FOUND = re.compile(r"Could not find '(?P<group>[^']+)/(?P<option>[^']+)'")
_FOREIGN_GROUP = re.compile(r"In '(?P<group>[^']+)/(?P<option>[^']+)': Could not override '(?P<key>[^']+)'")
_NOT_A_DEFAULT = re.compile(r"Could not override '(?P<key>[^']+)'\. No match in the defaults list\.\s*"
                            r"To append to your default list use (?P<hint>\S+)")
_ALREADY_SET = re.compile(r"Could not append to config\. An item is already at '(?P<key>[^']+)'")


def describe_compose_error(err: Exception, defaults: DictConfig | None) -> str:
    """One line for a Hydra/OmegaConf composition error."""
    cause = err.__cause__ or err
    text = str(cause)
    if found := _NOT_FOUND.search(text):
        group, option = found["group"], found["option"]
        choices = [o for o in getattr(err, "options", None) or [] if not o.endswith("_schema")]
        return f"{group}={option} is not a known {group.rpartition('/')[2]}; choose one of: {', '.join(choices)}"
    if found := _FOREIGN_GROUP.search(text):
        return (f"{found['group']}={found['option']} sets {found['key']}, which this command has no config group "
                f"for; choose a {found['group']} written for this command")
    if found := _NOT_A_DEFAULT.search(text):
        return f"{found['key']} is not chosen by default, so it cannot be replaced; add it with {found['hint']}"
    if found := _ALREADY_SET.search(text):
        return f"+{found['key']}: {found['key']} is already a setting; drop the + ({found['key']}=...)"
    key = re.search(r"full_key: (\S+)", text)
    missing = re.match(r"Key '([^']+)' not in '([^']+)'", text)
    if missing and key:
        return not_a_setting(key.group(1), defaults)
    if key and re.match(r"field '[^']+' is not Optional", text):
        return f"{key.group(1)}=null is not allowed; give it a value"
    first = text.strip().splitlines()[0] if text.strip() else type(cause).__name__
    if key:
        return f"{key.group(1)}: {first}"
    return f"cannot compose the config: {first}" if cause is err else f"{str(err).splitlines()[0]}: {first}"


def not_a_setting(full_key: str, defaults: DictConfig | None) -> str:
    """`full_key` is not in the config: the line names it, the closest real key and its siblings."""
    parent, _, name = full_key.rpartition(".")
    known = _keys(defaults, parent)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {parent + '.' if parent else ''}{close[0]}?" if close else ""
    return f"{full_key} is not a setting{hint} ({parent or 'top level'} has: {', '.join(known)})"


def _keys(cfg: DictConfig | None, path: str) -> list[str]:
    node = OmegaConf.select(cfg, path) if (cfg is not None and path) else cfg
    return sorted(str(k) for k in node.keys()) if isinstance(node, DictConfig) else []


def _paths(node: Any, prefix: str = "") -> set[str]:
    """Every key path (`model.width`) in a config's unresolved container."""
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=False, throw_on_missing=False)
    paths = set()
    for key, value in node.items():
        paths.add(f"{prefix}{key}")
        if isinstance(value, dict):
            paths |= _paths(value, f"{prefix}{key}.")
    return paths


def structure_problems(cfg: DictConfig, defaults: DictConfig) -> list[str]:
    """Keys a job added (`+model.widht=64`) or deleted (`~seed`) against the typed defaults.

    Hydra accepts both, but the schemas define every setting a run reads: an added key is a typo
    that would silently do nothing, and a deleted one fails hours later when it is read.
    """
    job, known = _paths(cfg), _paths(defaults)
    added = sorted(path for path in job - known if path.rpartition(".")[0] not in job - known)
    deleted = sorted(path for path in known - job if path.rpartition(".")[0] not in known - job)
    return ([not_a_setting(path, defaults) for path in added]
            + [f"~{path} deletes a setting every run reads; give it a value instead ({path}=...)" for path in deleted])


def preflight(argv: list[str], compose: Callable[..., Any],
              check: Callable[[Any, list[str]], list[str]],
              sweeper_params: Callable[[list[str]], dict[str, str]] = lambda fixed: {},
              check_launcher: Callable[[Any], list[str]] = lambda launcher: []) -> list[str]:
    """Problems with any job of this command line, one line each; [] when every job is fine.

    `compose(overrides, with_hydra=False)`: the composed config. `check(cfg, overrides)` gets
    each job's composed config and the overrides that made it. `check_launcher(hydra.launcher)`:
    the launcher's values, when the command line sets any `hydra` override.
    """
    try:
        jobs = job_overrides(argv, sweeper_params)
        hydra_settings = hydra_overrides(argv)
    except Exception as err:  # noqa: BLE001 - Hydra's parser raises several types for bad syntax
        return [f"cannot parse the overrides: {str(err).splitlines()[0]}; each is key=value (key=v1,v2 with -m)"]
    defaults = default_config(compose)
    problems: list[str] = []
    if hydra_settings:
        problems += _hydra_problems(hydra_settings, compose, check_launcher)
    for overrides in jobs:
        try:
            cfg = compose(overrides)
            found = structure_problems(cfg, defaults) or check(cfg, overrides)
        except Exception as err:  # noqa: BLE001 - composition errors come in many types
            found = [describe_compose_error(err, defaults)]
        problems += [line for line in found if line not in problems]
    return problems


@functools.lru_cache(maxsize=8)
def default_config(compose: Callable[..., Any]) -> DictConfig:
    """The config without overrides: the keys every job is compared with. Cached, as it is the same
    for every command line of a process (its values are left unresolved and never read here)."""
    return compose([])


def _hydra_problems(overrides: list[str], compose: Callable[..., Any],
                    check_launcher: Callable[[Any], list[str]]) -> list[str]:
    """Problems with the `hydra` settings (launcher choice, its keys and values), found by composing
    them as Hydra will: otherwise they surface as Hydra's multi-line error when the sweep starts."""
    try:
        return check_launcher(compose(overrides, with_hydra=True).hydra.launcher)
    except Exception as err:  # noqa: BLE001 - composition errors come in many types
        return [describe_compose_error(err, _hydra_defaults(overrides, compose))]


def _hydra_defaults(overrides: list[str], compose: Callable[..., Any]) -> DictConfig | None:
    """The config with the command line's hydra group choices (`hydra/launcher=gpus`) and no
    other override: the keys a misspelt `hydra.launcher...` setting is compared with."""
    groups = [o for o in overrides if o.lstrip("+~").startswith("hydra/")]
    try:
        return compose(groups, with_hydra=True)
    except Exception:  # noqa: BLE001 - the group choice itself is bad: nothing to compare with
        return None

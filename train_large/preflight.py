"""Pre-flight: every job a command line would launch, composed and checked before Hydra starts.

Hydra reports a misspelt key or a badly typed value as a multi-line error, in a multirun only when
that job's turn comes; here each becomes one line naming the override, before the first job trains.
Errors are read through Hydra's and OmegaConf's exception types and attributes (pinned by
tests/unit/test_preflight_hydra_api.py). Must not import fairseq or wandb.
"""
from __future__ import annotations

import difflib
import functools
import itertools
import math
import re
from enum import Enum
from typing import Any, Callable, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

from .config import one_of

MAX_JOBS_CHECKED = 64  # beyond this, each swept value is checked on its own, not every combination
# Hydra's flags whose next argument is their value, not an override (`hydra --help`); --info's
# value is optional, so only a next argument without '=' is taken as it.
_FLAGS_WITH_VALUE = ("--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                     "--config-dir", "-cd", "--experimental-rerun")


def _command_line(argv: list[str]) -> tuple[bool, list[Override]]:
    """Whether `argv` asks for a multirun, and its parsed overrides (OverrideParseException: not key=value)."""
    overrides, after = [], ""
    for arg in argv:
        takes_value = after in _FLAGS_WITH_VALUE or (after in ("--info", "-i") and "=" not in arg)
        if not arg.startswith("-") and not takes_value:
            overrides.append(arg)
        after = arg
    multirun = "-m" in argv or "--multirun" in argv
    return multirun, OverridesParser.create().parse_overrides(overrides)


def job_overrides(argv: list[str],
                  sweeper_params: Callable[[list[str]], dict[str, str]] = lambda fixed: {}) -> list[list[str]]:
    """The override list of each job the command line describes (one list without -m). `sweeper_params(fixed
    overrides)`: the `hydra.sweeper.params` a `+sweep=` file adds in a multirun, as {key: "v1,v2"}; as in
    Hydra's sweeper, the command line wins for a key given in both."""
    multirun, parsed = _command_line(argv)
    parsed = [o for o in parsed if not o.is_hydra_override()]
    if multirun:
        given = {o.key_or_group for o in parsed}
        fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
        extra = [f"{key}={values}" for key, values in sweeper_params(fixed).items() if key not in given]
        parsed += OverridesParser.create().parse_overrides(extra)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    swept = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
             for o in parsed if o.is_sweep_override()]
    if math.prod(len(values) for values in swept) <= MAX_JOBS_CHECKED:
        return [fixed + list(combo) for combo in itertools.product(*swept)]
    firsts = [values[0] for values in swept]
    return [fixed + firsts[:i] + [value] + firsts[i + 1:] for i, values in enumerate(swept) for value in values]


def hydra_overrides(argv: list[str]) -> list[str]:
    """The command line's `hydra...` overrides (launcher, run dir), a swept one at its first value."""
    return [o.input_line if not o.is_sweep_override() else f"{o.get_key_element()}={next(o.sweep_string_iterator())}"
            for o in _command_line(argv)[1] if o.is_hydra_override()]


def describe_compose_error(err: Exception, defaults: DictConfig | None, overrides: Sequence[str] = ()) -> str:
    """One line for a Hydra/OmegaConf composition error of the job made by `overrides`."""
    cause = err.__cause__ or err
    key = getattr(cause, "full_key", None)
    if isinstance(err, MissingConfigException) and err.missing_cfg_file:
        group, _, option = err.missing_cfg_file.rpartition("/")
        choices = [o for o in err.options or [] if not o.endswith("_schema")]
        return f"{group}={option} is not a known {group.rpartition('/')[2]}; choose one of: {', '.join(choices)}"
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and key:
        return not_a_setting(key, defaults)
    if isinstance(cause, ValidationError) and key and cause.value is None:
        return f"{key}=null is not allowed; give it a value"
    if isinstance(cause, ValidationError) and key and (allowed := _enum_names(cause)):
        return one_of(key, cause.value, allowed)[0]  # OmegaConf refused it, so it is none of them
    if isinstance(err, ConfigCompositionException) and cause is err:
        if line := defaults_list_problem(overrides, defaults) or _foreign_group(err):
            return line
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    if key:
        return f"{key}: {first}"
    return f"cannot compose the config: {first}" if cause is err else f"{str(err).splitlines()[0]}: {first}"


def _enum_names(err: ValidationError) -> list[str]:
    """The values an Enum-typed setting allows (its member names: OmegaConf converts by name)."""
    kind = OmegaConf.get_type(err.parent_node, err.key) if err.parent_node is not None else None
    return [member.name for member in kind] if isinstance(kind, type) and issubclass(kind, Enum) else []


def defaults_list_problem(overrides: Sequence[str], defaults: DictConfig | None) -> str | None:
    """The override Hydra could not place in the defaults list (`+seed=3` adds an existing setting,
    `sweep=x` replaces an unchosen group): Hydra 1.3 raises a bare ConfigCompositionException for both."""
    if defaults is None:
        return None
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        parent, _, name = key.replace("/", ".").rpartition(".")
        known = name in _keys(defaults, parent)
        if override.is_add() and known:
            return f"+{key}: {key} is already a setting; drop the + ({key}=...)"
        if not (override.is_add() or override.is_force_add() or override.is_delete() or known):
            return f"{key} is not chosen by default, so it cannot be replaced; add it with +{override.input_line}"
    return None


# A config that overrides a group this command lacks (`+sweep=toy_prune` in tlc-train): Hydra 1.3.2
# raises a bare ConfigCompositionException whose message alone names the config and the group.
_FOREIGN_GROUP = re.compile(r"In '(?P<group>[^']+)/(?P<option>[^']+)': Could not override '(?P<key>[^']+)'")


def _foreign_group(err: ConfigCompositionException) -> str | None:
    if not (found := _FOREIGN_GROUP.search(str(err))):
        return None
    return (f"{found['group']}={found['option']} sets {found['key']}, which this command has no config group "
            f"for; choose a {found['group']} written for this command")


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
    """Keys a job added (`+model.widht=64`) or deleted (`~seed`) against the typed defaults. Hydra
    accepts both, but an added key is a typo that does nothing and a deleted one fails hours later."""
    job, known = _paths(cfg), _paths(defaults)
    added = sorted(path for path in job - known if path.rpartition(".")[0] not in job - known)
    deleted = sorted(path for path in known - job if path.rpartition(".")[0] not in known - job)
    return ([not_a_setting(path, defaults) for path in added]
            + [f"~{path} deletes a setting every run reads; give it a value instead ({path}=...)" for path in deleted])


def preflight(argv: list[str], compose: Callable[..., Any],
              check: Callable[[Any, list[str]], list[str]],
              sweeper_params: Callable[[list[str]], dict[str, str]] = lambda fixed: {},
              check_launcher: Callable[[Any], list[str]] = lambda launcher: []) -> list[str]:
    """Problems with any job of this command line, one line each. `compose(overrides, with_hydra=False)`
    composes a job, `check(cfg, overrides)` checks it, and `check_launcher(hydra.launcher)` checks the
    launcher when the command line sets a `hydra` override."""
    try:
        jobs = job_overrides(argv, sweeper_params)
        hydra_settings = hydra_overrides(argv)
    except HydraException as err:  # OverrideParseException, or a sweep the basic sweeper cannot list
        return [f"cannot parse the overrides: {str(err).splitlines()[0]}; each is key=value (key=v1,v2 with -m)"]
    problems = _hydra_problems(hydra_settings, compose, check_launcher) if hydra_settings else []
    for overrides in jobs:
        try:
            cfg = compose(overrides)
            # Only `+key` and `~key` change which keys a job has (the typed schema refuses any other
            # new key), so the defaults are composed for those alone: a composition is 0.1 s of startup.
            reshaped = any(override.startswith(("+", "~")) for override in overrides)
            found = (reshaped and structure_problems(cfg, _default_config(compose))) or check(cfg, overrides)
        except Exception as err:  # noqa: BLE001 - composition errors come in many types
            found = [describe_compose_error(err, _default_config(compose), overrides)]
        problems += [line for line in found if line not in problems]
    return problems


@functools.lru_cache(maxsize=8)
def _default_config(compose: Callable[..., Any]) -> DictConfig:
    return compose([])  # whose keys every job is compared with (the same all process long)


def _hydra_problems(overrides: list[str], compose: Callable[..., Any],
                    check_launcher: Callable[[Any], list[str]]) -> list[str]:
    """Problems with the `hydra` settings (launcher choice, its keys and values), composed as Hydra will.
    A misspelt `hydra.launcher...` key is compared with the config of the `hydra/...` choices alone."""
    try:
        return check_launcher(compose(overrides, with_hydra=True).hydra.launcher)
    except Exception as err:  # noqa: BLE001 - composition errors come in many types
        try:
            defaults = compose([o for o in overrides if o.lstrip("+~").startswith("hydra/")], with_hydra=True)
        except Exception:  # noqa: BLE001 - the group choice itself is bad: nothing to compare with
            defaults = None
        return [describe_compose_error(err, defaults, overrides)]

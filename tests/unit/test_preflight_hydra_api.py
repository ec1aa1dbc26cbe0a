"""Pins the Hydra and OmegaConf behaviour `train_large.preflight` relies on, on a config tree of its
own, for every Hydra version pyproject.toml allows: the overrides parser's sweep expansion, and the
exception type and attributes of each composition error the pre-flight turns into one line. An
upgrade that changes one fails here, naming the call, rather than as a vaguer pre-flight line."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ValidationError

from train_large.config import Choice
from train_large.preflight import _FOREIGN_GROUP, describe_compose_error, job_overrides

PinKind = Choice("PinKind", "small large")


@dataclass
class PinModel:
    size: int = 1


@dataclass
class PinSchema:
    a: int = 1
    b: str = "x"
    note: Optional[str] = None
    kind: PinKind = PinKind.small
    model: PinModel = field(default_factory=PinModel)


FILES = {
    "main.yaml": "defaults:\n  - pin_schema\n  - model: small\n  - _self_\n",
    "model/small.yaml": "size: 1\n",
    "model/large.yaml": "size: 2\n",
    # a config written for another command: it overrides a group this tree does not have
    "extra/foreign.yaml": "# @package _global_\ndefaults:\n  - override /compression: prune\n",
}


@pytest.fixture(scope="module")
def conf_dir(tmp_path_factory) -> Path:
    ConfigStore.instance().store(name="pin_schema", node=PinSchema)
    root = tmp_path_factory.mktemp("pin_conf")
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def compose_error(conf_dir: Path, *overrides: str) -> Exception:
    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        with pytest.raises(ConfigCompositionException) as caught:
            compose(config_name="main", overrides=list(overrides))
    return caught.value


def defaults(conf_dir: Path) -> DictConfig:
    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        return compose(config_name="main")


def test_sweep_overrides_expand_into_every_combination():
    parsed = OverridesParser.create().parse_overrides(["a=1,2", "b=x,y", "hydra.run.dir=/r"])
    assert [o.is_sweep_override() for o in parsed] == [True, True, False]
    assert [o.is_hydra_override() for o in parsed] == [False, False, True]
    assert [list(o.sweep_string_iterator()) for o in parsed[:2]] == [["1", "2"], ["x", "y"]]
    assert parsed[2].input_line == "hydra.run.dir=/r" and parsed[0].key_or_group == "a"
    assert job_overrides(["-m", "a=1,2", "b=x,y"]) == [["a=1", "b=x"], ["a=1", "b=y"], ["a=2", "b=x"], ["a=2", "b=y"]]


def test_flag_values_are_not_overrides():
    assert job_overrides(["--cfg", "job", "-p", "model", "a=1", "--info", "config"]) == [["a=1"]]


def test_bad_syntax_is_an_override_parse_exception():
    with pytest.raises(OverrideParseException):
        OverridesParser.create().parse_overrides(["a"])


def test_unknown_key_is_a_config_attribute_error_with_its_full_key(conf_dir):
    err = compose_error(conf_dir, "model.sise=3")
    assert isinstance(err.__cause__, ConfigAttributeError) and err.__cause__.full_key == "model.sise"
    assert describe_compose_error(err, defaults(conf_dir)).startswith("model.sise is not a setting; did you mean")


def test_badly_typed_value_is_a_validation_error_with_key_and_value(conf_dir):
    cause = compose_error(conf_dir, "a=abc").__cause__
    assert isinstance(cause, ValidationError) and (cause.full_key, cause.value) == ("a", "abc")
    assert compose_error(conf_dir, "a=null").__cause__.value is None


def test_value_outside_an_enum_is_a_validation_error_whose_parent_knows_the_enum(conf_dir):
    err = compose_error(conf_dir, "kind=huge")
    cause = err.__cause__
    assert isinstance(cause, ValidationError) and (cause.full_key, cause.value) == ("kind", "huge")
    assert OmegaConf.get_type(cause.parent_node, cause.key) is PinKind
    assert describe_compose_error(err, None) == "kind='huge' is not allowed; choose one of: small, large"
    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        assert compose(config_name="main", overrides=["kind=large"]).kind is PinKind.large  # by name


def test_missing_group_option_is_a_missing_config_exception_with_the_options(conf_dir):
    err = compose_error(conf_dir, "model=huge")
    assert isinstance(err, MissingConfigException)
    # (the options also hold schemas other tests stored in the process-wide ConfigStore)
    assert err.missing_cfg_file == "model/huge" and {"large", "small"} <= set(err.options)


def test_defaults_list_errors_are_bare_composition_exceptions(conf_dir):
    for overrides in (["+a=2"], ["extra=foreign"], ["+extra=foreign"]):
        err = compose_error(conf_dir, *overrides)
        assert type(err) is ConfigCompositionException and err.__cause__ is None, overrides
        assert describe_compose_error(err, defaults(conf_dir), overrides).count("\n") == 0
    assert _FOREIGN_GROUP.search(str(compose_error(conf_dir, "+extra=foreign")))["key"] == "compression"

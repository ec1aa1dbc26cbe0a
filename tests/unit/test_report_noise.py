"""Seed noise: means over replicas with intervals, differences of two means, seeds needed, and the
names that tell replicas of one configuration apart."""
from __future__ import annotations

import pytest

from sweeps.report.noise import difference, estimate, seeds_needed, spread
from train_large.run_names import config_id


def test_replicas_share_the_name_without_its_seed():
    assert config_id("width=64,seed=2") == config_id("width=64,seed=3") == config_id("width=64") == "width=64"
    assert config_id("depth=2,width=64,seed=1") == "depth=2,width=64"
    assert config_id("source=width=64,seed=2,sparsity=0.5") == "source=width=64,sparsity=0.5"
    assert config_id("betas=[0.9,0.98],seed=1") == "betas=[0.9,0.98]" and config_id("seeds=3") == "seeds=3"


def test_a_mean_over_replicas_has_an_interval_inside_their_range():
    found = estimate([10.0, 12.0, 11.0])
    assert found.mean == pytest.approx(11.0) and found.n == 3
    assert 10.0 <= found.low < found.mean < found.high <= 12.0


def test_one_replica_has_no_interval_and_says_so():
    found = estimate([7.0])
    assert not found.has_interval and not found.excludes_zero()
    assert found.describe("BLEU") == "+7 BLEU (1 seed, no interval)"


def test_a_clear_difference_excludes_zero_and_one_within_the_spread_does_not():
    assert difference([20.0, 20.5, 21.0], [10.0, 10.5, 11.0]).excludes_zero()
    assert not difference([10.0, 12.0, 11.0], [10.5, 11.5, 11.2]).excludes_zero()
    assert "95% interval" in difference([2.0, 3.0], [1.0, 1.5]).describe("BLEU")


def test_seeds_needed_grow_as_the_effect_shrinks_against_the_spread():
    sd = spread([10.0, 12.0])
    assert seeds_needed(sd, 10.0) == 2 and seeds_needed(sd, 1.0) > seeds_needed(sd, 2.0) > 2
    assert seeds_needed(None, 1.0) is None

"""How one effect with its noise becomes a verdict, how families combine, and the contrast of several
groups' means that claims 2 and 3 rest on."""
from __future__ import annotations

import pytest

from sweeps.report.evidence import (INCONCLUSIVE, NOT_ENOUGH, NOT_SUPPORTED, ONE_SEED, SUPPORTED, combine, decide,
                                    seeds_label)
from sweeps.report.noise import Estimate, contrast, difference


@pytest.mark.parametrize(("effect", "verdict"), [
    (Estimate(1.0, 0.2, 1.8, 3), SUPPORTED), (Estimate(-1.0, -1.8, -0.2, 3), NOT_SUPPORTED),
    (Estimate(1.0, -0.5, 2.5, 3), INCONCLUSIVE), (Estimate(0.4, None, None, 1), SUPPORTED),
    (Estimate(-0.4, None, None, 1), NOT_SUPPORTED), (Estimate(0.0, None, None, 1), INCONCLUSIVE)])
def test_an_effect_decides_by_its_interval_or_else_its_point_estimate(effect: Estimate, verdict: str) -> None:
    assert decide(effect) == verdict


def test_families_combine_supported_only_when_all_are_and_not_supported_when_any_is_reversed() -> None:
    assert combine([]) == NOT_ENOUGH
    assert combine([SUPPORTED, SUPPORTED]) == SUPPORTED
    assert combine([SUPPORTED, INCONCLUSIVE]) == INCONCLUSIVE
    assert combine([SUPPORTED, INCONCLUSIVE, NOT_SUPPORTED]) == NOT_SUPPORTED


def test_the_label_says_one_seed_when_an_effect_has_no_interval() -> None:
    three, one = Estimate(1.0, 0.5, 1.5, 3), Estimate(1.0, None, None, 1)
    assert seeds_label([three, Estimate(1.0, 0.5, 1.5, 5)]) == "3-5 seeds"
    assert seeds_label([one]) == ONE_SEED
    assert seeds_label([three, one]) == f"{ONE_SEED} for 1 of 2 comparisons"


def test_a_contrast_of_two_groups_is_their_difference_and_needs_two_replicas_each() -> None:
    a, b = [30.0, 31.0, 29.0], [20.0, 22.0, 18.0]
    two = contrast([(a, 1.0), (b, -1.0)])
    assert two.mean == pytest.approx(difference(a, b).mean) and two.low < 10 < two.high and two.n == 3
    halved = contrast([(a, 0.5), (b, -0.5)])  # a gain over two doublings, per doubling
    assert (halved.mean, halved.low, halved.high) == pytest.approx((5.0, two.low / 2, two.high / 2))
    assert not contrast([(a, 1.0), ([20.0], -1.0)]).has_interval

"""cl_utils.verdicts: statuses earned against measured uncertainty."""
from __future__ import annotations

import math

import pytest

from cl_utils import verdicts as v


def test_standard_errors():
    assert v.seed_se([1.0, 2.0, 3.0]) == pytest.approx(1 / math.sqrt(3))
    assert math.isnan(v.seed_se([1.0]))
    assert v.binomial_se(90.0, 10_000) == pytest.approx(0.3)
    assert v.paper_se(0.05, 5) == pytest.approx(0.05 / math.sqrt(5)) and v.paper_se(None, None) == 0.0
    assert v.combined_se(0.3, 0.4, math.nan) == pytest.approx(0.5)


@pytest.mark.parametrize("ours, runs, direction, expected", [
    (98.30, 5, True, "reproduced"),      # 0.12 away, SE 0.1: 1.2 SE
    (98.30, 2, True, "inconclusive"),    # close, but too few runs to call a size reproduced
    (97.90, 5, True, "partly"),          # 5.2 SE away, the direction holds
    (97.90, 5, False, "not reproduced"),
    (98.61, 5, True, "reproduced"),      # 1.9 SE
    (98.63, 5, True, "partly"),
])  # fmt: skip
def test_size_claims(ours, runs, direction, expected):
    status, reason = v.size_status(ours, 98.42, 0.1, runs=runs, direction_holds=direction)
    assert status == expected, reason
    assert f"{ours - 98.42:+.2f}" in reason and "SE" in reason


def test_a_size_claim_whose_own_value_is_inside_the_noise_shows_no_direction_either():
    """+1.23 against the paper's +10.81 with SE 1.12: far from the paper, and not told apart from zero."""
    status, reason = v.size_status(1.23, 10.81, 1.12, runs=6, direction_holds=True)
    assert status == "not reproduced" and "within 2 SE of zero" in reason
    assert v.size_status(5.0, 10.81, 1.12, runs=6, direction_holds=True)[0] == "partly"  # 4.5 SE from zero


def test_a_size_claim_of_the_wrong_sign_inside_the_noise_is_not_said_to_reverse_the_direction():
    """-0.53 against the paper's +10 with SE 0.53: the sign is the paper's opposite, but within 2 SE of zero, so
    the reason says no direction is shown; -5.0 (9.4 SE from zero) does reverse it. Both are not reproduced."""
    status, reason = v.size_status(-0.53, 10.0, 0.53, runs=3, direction_holds=False)
    assert status == "not reproduced" and "no direction is shown" in reason and "does not hold" not in reason
    status, reason = v.size_status(-5.0, 10.0, 0.53, runs=3, direction_holds=False)
    assert status == "not reproduced" and "the direction does not hold" in reason


@pytest.mark.parametrize("difference, sign, expected", [
    (0.5, 1, "reproduced"), (0.15, 1, "inconclusive"), (-0.15, 1, "inconclusive"), (-0.5, 1, "not reproduced"),
    (-0.5, -1, "reproduced"), (0.5, -1, "not reproduced"), (0.0, 1, "inconclusive"),
])  # fmt: skip
def test_direction_claims(difference, sign, expected):
    status, reason = v.direction_status(difference, 0.1, expected_sign=sign)
    assert status == expected, reason


def test_without_measured_noise_only_an_exact_tie_is_inconclusive():
    assert v.direction_status(0.01, 0.0)[0] == "reproduced"
    assert v.direction_status(0.0, 0.0)[0] == "inconclusive"


def test_paired_direction_uses_the_spread_of_the_paired_differences():
    # seeds move both arms together: the paired differences (0.3, 0.3, 0.4) are far from zero
    assert v.paired_direction([90.3, 80.3, 70.4], [90.0, 80.0, 70.0])[0] == "reproduced"
    assert v.paired_direction([90.3, 80.3, 70.4], [90.0, 80.0, 70.0], expected_sign=-1)[0] == "not reproduced"
    assert v.paired_direction([90.3, 79.7, 70.1], [90.0, 80.0, 70.0])[0] == "inconclusive"  # +0.3, -0.3, +0.1
    assert v.paired_direction([90.3], [90.0])[0] == "inconclusive"  # one seed: no spread measured


@pytest.mark.parametrize("parts, expected", [
    (["reproduced", "reproduced"], "reproduced"),
    (["reproduced", "inconclusive"], "partly"),
    (["reproduced", "not reproduced"], "partly"),
    (["reproduced"] + ["inconclusive"] * 4, "inconclusive"),  # one significant part of five
    (["reproduced", "not reproduced", "inconclusive"], "not reproduced"),
    (["inconclusive", "inconclusive"], "inconclusive"),
    (["inconclusive", "not reproduced"], "not reproduced"),
])  # fmt: skip
def test_compound_status(parts, expected):
    status, reason = v.compound_status([(s, "") for s in parts])
    assert status == expected
    assert reason.startswith(f"{parts.count('reproduced')} of {len(parts)} parts reproduced")


def test_a_compound_claim_with_no_part_is_not_attempted_never_reproduced():
    assert v.compound_status([]) == ("not attempted", "no part could be judged")


def test_the_pareto_front_keeps_exactly_the_undominated_points():
    from cl_utils.verdicts import undominated

    cost = [1, 2, 3, 2, 4, 1]
    loss = [5, 3, 1, 4, 1, 5]  # point 3 is beaten by 1; point 4 by 2; points 0 and 5 are equal, both kept
    assert undominated(cost, loss).tolist() == [True, True, True, False, False, True]
    assert undominated([1], [1]).tolist() == [True]

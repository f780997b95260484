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

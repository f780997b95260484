"""Chapter 02's direction rule: paired by seed over several seeds, and the test sets' binomial SE for one."""
from __future__ import annotations

import numpy as np

from cl_utils.experiments import efficiency_report as report


def test_several_seeds_are_paired_and_one_seed_falls_back_to_the_test_sets():
    behind = report._direction(np.array([90.0, 80.0, 70.0]), np.array([91.0, 81.2, 70.9]), expected_sign=-1, what="d")
    assert behind[0] == "reproduced"  # about -1 point on every seed: far beyond the paired spread
    shuffled = report._direction(np.array([90.0, 80.0, 70.0]), np.array([91.0, 79.0, 70.2]), expected_sign=-1, what="d")
    assert shuffled[0] == "inconclusive"  # -1, +1, -0.2: inside the noise
    near = report._direction(np.array([80.0]), np.array([81.0]), expected_sign=-1, what="d")
    assert near[0] == "inconclusive"  # one seed: binomial SE of two runs on 10,000 images ~0.56, -1 point is 1.8 SE
    far = report._direction(np.array([80.0]), np.array([82.0]), expected_sign=-1, what="d")
    assert far[0] == "reproduced" and "10,000 test images" in far[1]

"""Statuses of the claims tables, earned against a measured uncertainty instead of an asserted tolerance.

A claim is judged by how far our number lies from the paper's, in units of their combined
standard error (SE): the SE over our seeds where there are several (:func:`seed_se`), the
binomial SE of the test set where there is one run (:func:`binomial_se`), combined with the
paper's own SE where it reports a spread (:func:`paper_se`). The readings, shared by every chapter:

* a **size** claim (the paper's number itself) is *reproduced* when the paper's value lies within
  2 combined SE of ours and ours rests on at least 3 runs; *inconclusive* when it lies within
  2 SE but on fewer runs; *partly* when it lies further but the claim's direction holds (ours
  has the paper's sign and lies beyond 2 SE of zero);
  *not reproduced* otherwise (:func:`size_status`);
* a **direction** claim (one thing beats another) is *reproduced* when the difference has the
  paper's sign and exceeds 2 SE, *inconclusive* within 2 SE of zero, *not reproduced* beyond
  2 SE the other way (:func:`direction_status`; :func:`paired_direction` for differences paired
  by seed);
* a **compound** claim (several directions at once: "at every pruning level") is *reproduced*
  when every part is, *partly* when at least half are, *not reproduced* when fewer are and some
  part is reversed beyond 2 SE, *inconclusive* otherwise: one significant part among many inside
  the noise does not carry a claim about all of them (:func:`compound_status`).

Each returns the status and a reason that shows the numbers, so a reader can redo the judgement.
A row that needs another reading (an exact property such as bit-identical outputs, a pattern)
says which in its own reason.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["Z", "MIN_RUNS", "seed_se", "binomial_se", "paper_se", "combined_se", "size_status", "direction_status",
           "paired_direction", "compound_status", "weakest_status", "undominated"]

#: how many standard errors a difference must exceed to count
Z = 2.0
#: runs needed before a size claim may be called reproduced
MIN_RUNS = 3


def seed_se(values: Sequence[float]) -> float:
    """Standard error of the mean over runs (sample standard deviation / sqrt(n)); nan for one run."""
    v = np.asarray(values, dtype=float)
    return float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan


def binomial_se(accuracy_percent: float, n_test: int) -> float:
    """Standard error (points) of an accuracy measured on ``n_test`` test examples."""
    p = min(max(accuracy_percent / 100, 0.0), 1.0)
    return 100 * math.sqrt(p * (1 - p) / n_test)


def paper_se(std: float | None, n: int | None) -> float:
    """The paper's standard error from its reported standard deviation over ``n`` runs (0 if it gives none)."""
    return 0.0 if std is None or not n else std / math.sqrt(n)


def combined_se(*ses: float) -> float:
    """Root sum of squares of independent standard errors (nan ones are skipped; nan if all are)."""
    known = [s for s in ses if not math.isnan(s)]
    return math.sqrt(sum(s * s for s in known)) if known else math.nan


def size_status(ours: float, paper: float, se: float, *, runs: int, direction_holds: bool | None) -> tuple[str, str]:
    """The status of a size claim and its reason (see the module docstring).

    ``direction_holds``: whether the claim's direction holds (for "partly"); None for a claim that is a level
    only (an accuracy), which has no direction: beyond 2 SE it is not reproduced.
    """
    if math.isnan(se):
        return "inconclusive", f"{ours - paper:+.2f} from the paper's, but no uncertainty could be measured"
    distance = abs(ours - paper)
    within = distance <= Z * se
    says = f"{ours - paper:+.2f} from the paper's, {distance / se:.1f} combined SE (SE {se:.2f}, {runs} run(s))" if se \
        else f"{ours - paper:+.2f} from the paper's (no uncertainty measured)"  # fmt: skip
    if within and runs >= MIN_RUNS:
        return "reproduced", f"{says}: within {Z:g} SE"
    if within:
        return "inconclusive", f"{says}: within {Z:g} SE, but {MIN_RUNS} runs are needed to call a size reproduced"
    if direction_holds and abs(ours) <= Z * se:  # the right sign, but not told apart from no effect at all
        return "not reproduced", f"{says}: beyond {Z:g} SE, and ours lies within {Z:g} SE of zero, so even its " \
                                 "direction is not shown"
    if direction_holds:
        return "partly", f"{says}: beyond {Z:g} SE; the direction holds"
    if direction_holds is None:
        return "not reproduced", f"{says}: beyond {Z:g} SE"
    if abs(ours) <= Z * se:  # the wrong sign, but inside the noise: no direction is shown, neither way
        return "not reproduced", f"{says}: beyond {Z:g} SE, and ours lies within {Z:g} SE of zero, so no " \
                                 "direction is shown"
    return "not reproduced", f"{says}: beyond {Z:g} SE, and the direction does not hold"


def direction_status(difference: float, se: float, *, expected_sign: int = 1, what: str = "difference") -> tuple[str, str]:
    """The status of a direction claim: ``difference`` should have ``expected_sign``, beyond 2 SE."""
    if math.isnan(se):
        return "inconclusive", f"{what} {difference:+.2f}, but no uncertainty could be measured"
    if se > 0:
        z = difference / se
    else:  # no noise measured: any non-zero difference counts
        z = math.copysign(math.inf, difference) if difference else 0.0
    says = f"{what} {difference:+.2f} = {z:+.1f} SE (SE {se:.2f})" if se else f"{what} {difference:+.2f}"
    if abs(z) <= Z:
        return "inconclusive", f"{says}: within {Z:g} SE of zero"
    if (z > 0) == (expected_sign > 0):
        return "reproduced", f"{says}: the paper's sign, beyond {Z:g} SE"
    return "not reproduced", f"{says}: the opposite sign, beyond {Z:g} SE"


def paired_direction(ours: Sequence[float], theirs: Sequence[float], *, expected_sign: int = 1,
                     what: str = "difference") -> tuple[str, str]:  # fmt: skip
    """:func:`direction_status` of ``mean(ours - theirs)``, paired by seed (the i-th values share a seed), with
    the standard error of the paired differences (nan, so inconclusive, with one seed)."""
    d = np.asarray(ours, dtype=float) - np.asarray(theirs, dtype=float)
    return direction_status(float(d.mean()), seed_se(d), expected_sign=expected_sign, what=what)


def compound_status(parts: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """One status for a claim made of several direction parts (see the module docstring), with a reason
    that counts them."""
    statuses = [status for status, _ in parts]
    if not statuses:  # nothing was run that could judge it (never "every part reproduced")
        return "not attempted", "no part could be judged"
    n, won, lost = len(statuses), statuses.count("reproduced"), statuses.count("not reproduced")
    counts = f"{won} of {n} parts reproduced, {lost} reversed beyond {Z:g} SE, {n - won - lost} within {Z:g} SE"
    if won == n:
        return "reproduced", counts
    if 2 * won >= n:
        return "partly", counts
    return ("not reproduced" if lost else "inconclusive"), counts


#: the statuses from weakest to strongest
STATUS_ORDER = ("not reproduced", "partly", "inconclusive", "reproduced")


def weakest_status(statuses) -> str:
    """The weakest of several statuses: a claim that must hold in each of several settings (each criterion,
    each schedule) holds only as far as it holds in the worst of them."""
    return min(statuses, key=STATUS_ORDER.index)


def undominated(cost: Sequence[float], loss: Sequence[float]) -> np.ndarray:
    """The Pareto front of points to minimise on both axes: True for each point that no other point beats (at
    most its cost and its loss, and strictly less of one). Equal points both stay on the front."""
    c, l = np.asarray(cost, dtype=float), np.asarray(loss, dtype=float)
    beats = (c[None, :] <= c[:, None]) & (l[None, :] <= l[:, None]) & ((c[None, :] < c[:, None]) | (l[None, :] < l[:, None]))
    return ~beats.any(axis=1)  # beats[i, j]: point j beats point i

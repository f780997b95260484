"""Efficiency in continual learning (Ball et al. 2020): PackNet's memory cost and iterative pruning on a budget.

Three ways to fill one network with a sequence of tasks, all ending with a
fraction ``p`` of the weights *free* (zero, available to future tasks):

* ``"packnet"``: PackNet (Mallya & Lazebnik 2018) with iterative
  pruning, Ball et al.'s Algorithm 1. Each task is trained for ``E`` epochs, then
  ``N`` rounds of *prune z % of the task's weights, retrain* share a retraining
  budget of ``B`` epochs (``R = B / N`` per round). ``z`` comes from their
  Algorithm 2 (:func:`prune_per_round`). ``N = 1`` is the original PackNet.
* ``"memory"``: at task ``i`` train on the data of tasks
  ``1..i`` (full rehearsal), nothing frozen; the set of used weights only grows,
  on the same schedule as PackNet's.
* ``"multinet"``: all tasks' data at once (multitask), pruned to ``p``.

All three run on the same :class:`~cl_utils.packnet.PackNet` machinery, with the
same epochs per phase (the time budget); their schedule (the paper's Algorithm 1)
is :func:`cl_utils.experiments.efficiency.run_method`, which returns each task's
test accuracy for every stacked model (:func:`~cl_utils.models.stacked_mlp` runs
several seeds as one network). :func:`match_free_fraction` is Appendix B: the
free fraction ``p̄`` at which another method matches PackNet's accuracy, found
with ``scipy.optimize.minimize_scalar``; :func:`compression_ratio` turns it into
Section 2's memory efficiency ``(1 − p) / (1 − p̄)``.

Here ``p`` counts the prunable body weights only (the paper does not say). Heads, biases and
batch-norm are kept whole by all three methods (:func:`dense_fraction` measures
them; ``compression_ratio(..., dense=...)`` counts them in). Biases are trained
differently: PackNet trains them with task 1 and freezes them (its default),
while Memory and Multinet train them in every phase, like every used weight.
"""
from __future__ import annotations

import math
from typing import Callable

from scipy.optimize import minimize_scalar

from .masks import prunable_weights
from .models import STACKED_LAYERS, MultiHeadNet
from .packnet import PackNet

__all__ = [
    "METHODS",
    "prune_per_round",
    "free_fraction_per_model",
    "compression_ratio",
    "dense_fraction",
    "match_free_fraction",
    "grid_frees",
    "match_on_grid",
]

METHODS = ("packnet", "memory", "multinet")


def prune_per_round(rounds: int, num_tasks: int, final_free: float) -> float:
    """Ball et al.'s Algorithm 2: the fraction ``z`` of a task's weights to prune in each round.

    Each task frees a fraction ``r = p^(1/|T|)`` of the weights it was given, so
    that ``p`` is free after ``|T|`` tasks; ``N`` rounds of pruning ``z`` of what is
    left free ``1 − (1 − z)^N = r`` of them.
    """
    if rounds < 1 or num_tasks < 1:
        raise ValueError(f"rounds and num_tasks must be >= 1, got {rounds} and {num_tasks}")
    if not 0.0 < final_free < 1.0:
        raise ValueError(f"final_free must be in (0, 1), got {final_free}")
    r = math.exp(math.log(final_free) / num_tasks)
    return 1.0 - math.exp(math.log(1.0 - r) / rounds)


def free_fraction_per_model(packnet: PackNet) -> list[float]:
    """Fraction of the prunable weights that no task owns, for each stacked model (one value otherwise)."""
    owners = packnet.owners()
    stacked = [isinstance(packnet.layers[n], STACKED_LAYERS) for n in owners]
    if all(stacked):
        free = sum((o == 0).flatten(1).sum(1) for o in owners.values())
        total = sum(o[0].numel() for o in owners.values())
        return (free.double() / total).tolist()
    if any(stacked):
        raise ValueError("a model mixes stacked and plain prunable layers")
    free = sum(int((o == 0).sum()) for o in owners.values())
    return [free / sum(o.numel() for o in owners.values())]


def compression_ratio(free: float, matched_free: float, dense: float = 0.0) -> float:
    """Section 2's memory efficiency: ``(1 − p) / (1 − p̄)`` for free fractions ``p`` and ``p̄``.

    ``p`` and ``p̄`` count only the prunable body weights. ``dense`` adds what every
    method keeps whole (biases, batch-norm, the task heads), as a fraction of the
    prunable weights (:func:`dense_fraction`): ``(1 − p + dense) / (1 − p̄ + dense)``,
    the ratio of all parameters kept. At high ``p`` the heads outweigh the body.
    """
    return (1.0 - free + dense) / (1.0 - matched_free + dense)


def dense_fraction(model: MultiHeadNet) -> float:
    """Parameters never pruned (biases, batch-norm, heads) per prunable body weight, for one model.

    ``p`` in this module counts prunable body weights only; this is what the three
    methods keep beside them. A stacked network counts one of its models.
    """
    weights = sum(p.numel() for p in prunable_weights(model).values())
    total = sum(p.numel() for p in model.parameters())
    return (total - weights) / weights  # a stack of S models scales both counts by S


def match_free_fraction(
    target: float,
    performance: Callable[[float], float],
    *,
    bounds: tuple[float, float] = (0.5, 0.9999),
    xatol: float = 0.01,
    maxiter: int = 20,
) -> dict:
    """Appendix B: the free fraction ``p̄`` whose ``performance(p̄)`` matches ``target``.

    Minimises ``(target − performance(p̄))²`` with ``scipy.optimize.minimize_scalar``
    (bounded Brent), searching over ``u = −log10(1 − p̄)`` so that steps are even in
    compression rather than in ``p̄`` (0.99 and 0.999 are far apart in memory).
    ``performance`` is called once per point (cache it: each call trains models).

    :returns: ``{"free": p̄, "performance": ..., "evaluations": [(p̄, performance), ...]}``.
    """
    lo, hi = bounds
    if not 0.0 <= lo < hi < 1.0:
        raise ValueError(f"bounds must satisfy 0 <= lo < hi < 1, got {bounds}")
    seen: dict[float, float] = {}

    def objective(u: float) -> float:
        free = 1.0 - 10.0 ** (-u)
        if free not in seen:
            seen[free] = float(performance(free))
        return (target - seen[free]) ** 2

    result = minimize_scalar(
        objective, bounds=(-math.log10(1.0 - lo), -math.log10(1.0 - hi)), method="bounded",
        options={"xatol": xatol, "maxiter": maxiter},
    )  # fmt: skip
    best = 1.0 - 10.0 ** (-float(result.x))
    objective(float(result.x))
    return {"free": best, "performance": seen[best], "evaluations": sorted(seen.items())}


def grid_frees(points: int, bounds: tuple[float, float] = (0.5, 0.9999)) -> list[float]:
    """``points`` free fractions evenly spaced in ``u = −log10(1 − p̄)`` over ``bounds`` (both ends included)."""
    lo, hi = bounds
    if points < 2 or not 0.0 <= lo < hi < 1.0:
        raise ValueError(f"need points >= 2 and 0 <= lo < hi < 1, got {points} and {bounds}")
    u_lo, u_hi = -math.log10(1.0 - lo), -math.log10(1.0 - hi)
    return [1.0 - 10.0 ** -(u_lo + (u_hi - u_lo) * i / (points - 1)) for i in range(points)]


def match_on_grid(target: float, frees: list[float], performances: list[float]) -> dict:
    """Appendix B on a grid: the largest ``p̄`` at which the performance, linearly interpolated in
    ``u = −log10(1 − p̄)`` between grid points, still reaches ``target``.

    All grid points train together (one stacked network), so the search costs one training
    instead of a dozen in sequence. ``bracketed`` is False when the target lies outside the
    grid's range (``p̄`` is then the grid's end that comes closest).

    :returns: ``{"free": p̄, "bracketed": bool, "evaluations": [(p̄, performance), ...]}``.
    """
    order = sorted(range(len(frees)), key=lambda i: frees[i])
    f = [frees[i] for i in order]
    perf = [float(performances[i]) for i in order]
    u = [-math.log10(1.0 - q) for q in f]
    evaluations = list(zip(f, perf))
    if perf[-1] >= target:  # reached even at the grid's sparsest end
        return {"free": f[-1], "bracketed": False, "evaluations": evaluations}
    for i in range(len(f) - 2, -1, -1):  # from the sparsest end down: the first segment that crosses the target
        if perf[i] >= target:
            t = (perf[i] - target) / (perf[i] - perf[i + 1])
            return {"free": 1.0 - 10.0 ** -(u[i] + t * (u[i + 1] - u[i])), "bracketed": True, "evaluations": evaluations}
    return {"free": f[0], "bracketed": False, "evaluations": evaluations}  # not reached anywhere

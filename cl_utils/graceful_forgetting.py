"""Graceful forgetting (Golkar, Kagan & Cho, 2019, §3.2): the activity threshold θ that prunes most and stays
within the margin.

After a task is trained, every open unit with mean activity at most θ would be left free. The scan
tries the θ values at which some unit changes side (thinned to ``num_candidates``), simulates each
pruning with unit masks on the validation split, and keeps the largest θ whose accuracy stays within
``margin`` of the reference (one θ shared by every layer, the paper's default), or, per layer, the
combination that keeps the fewest units. :meth:`cl_utils.clnp.CLNP.sparsify` then prunes at that choice.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from .train import evaluate

if TYPE_CHECKING:
    from .clnp import CLNP

__all__ = ["ThetaChoice", "select_theta"]


@dataclass(frozen=True)
class ThetaChoice:
    """Result of graceful forgetting for one trained model."""

    thetas: list[float]  # activity threshold per hidden layer
    val_acc: float  # validation accuracy after pruning at these thresholds
    active_units: list[int]  # newly active units per hidden layer

    @property
    def theta(self) -> float | None:
        """The threshold shared by every layer (None when the layers have their own)."""
        return self.thetas[0] if len(set(self.thetas)) == 1 else None


def _theta_candidates(activity: Sequence[torch.Tensor], open_units: Sequence[torch.Tensor], n: int) -> list[float]:
    """θ values at which some open unit changes side, thinned to at most ``n`` (plus θ = 0)."""
    values = torch.cat([a[o] for a, o in zip(activity, open_units)]).unique().sort().values
    values = values[values >= 0].cpu().numpy()
    if len(values) > n:
        values = values[np.unique(np.linspace(0, len(values) - 1, n).round().astype(int))]
    return [0.0] + [float(v) for v in values if v > 0]


def _threshold_grid(activity: Sequence[torch.Tensor], open_units: Sequence[torch.Tensor], per_layer: bool, n: int) -> list[list[float]]:
    """Candidate thresholds, one list per candidate: ``[θ] * layers`` (shared), or every combination
    of per-layer candidates, about ``(8n)^(1/L)`` per layer (``8n`` combinations in all)."""
    layers = len(activity)
    if not per_layer:
        return [[theta] * layers for theta in _theta_candidates(activity, open_units, n)]
    per = max(2, int(round((8 * n) ** (1 / layers))))
    lists = [_theta_candidates([a], [o], per) for a, o in zip(activity, open_units)]
    return [list(t) for t in itertools.product(*lists)]


@torch.no_grad()
def select_theta(
    clnp: CLNP,
    activity: Sequence[torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    reference_acc: float,
    margin: float,
    per_layer: bool = False,
    num_candidates: int = 40,
) -> ThetaChoice:
    """The activity thresholds whose pruned validation accuracy stays ≥ ``reference_acc − margin``.

    Shared θ (the paper's default): the largest θ, among the open units' activity
    values, that stays within the margin. ``per_layer`` (the paper allows one θ per
    layer): among all combinations of per-layer candidates within the margin, the
    one that keeps the fewest units (then the more accurate). ``margin`` and
    accuracies are fractions (0.0005 = 0.05 points). Zero thresholds (prune only
    dead units) are the fallback when nothing meets the margin. Pruning is
    simulated with unit masks, so nothing is changed here.
    """
    task = clnp.num_tasks
    opened = [clnp.open_units(i) for i in range(len(clnp.units))]
    best: ThetaChoice | None = None
    for thetas in _threshold_grid(activity, opened, per_layer, num_candidates):  # the zero thresholds come first
        masks = clnp.candidate_masks(activity, thetas)
        acc = evaluate(clnp.model, *val, forward=clnp.forward_with_units(masks, clnp.head_index(task)))[1]
        choice = ThetaChoice(thetas, acc, [int((o & m).sum()) for o, m in zip(opened, masks)])
        floor = reference_acc - margin
        if best is None or (acc >= floor and (not per_layer or _sparser(choice, best, floor))):
            best = choice  # shared θ ascends: a larger admissible θ replaces the last one
    assert best is not None
    return best


def _sparser(choice: ThetaChoice, best: ThetaChoice, floor: float) -> bool:
    """Per-layer search: does admissible ``choice`` beat ``best`` (a fallback below ``floor``, or more units)?"""
    return best.val_acc < floor or (sum(choice.active_units), -choice.val_acc) < (sum(best.active_units), -best.val_acc)

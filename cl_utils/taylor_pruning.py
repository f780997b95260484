"""Filter pruning ranked by Molchanov et al.'s Taylor criterion, the ranking behind PackNet's Table 6.

Mallya & Lazebnik compare weight pruning with the filter pruning of Molchanov et al. (2017): every unit of the
network (conv filter or fc neuron) is ranked by a first-order Taylor estimate of how much the loss changes when its
output is set to zero, the ranks are compared across layers, and the lowest units are removed a few hundred at a
time between epochs of training (400 per epoch for 10 epochs, about 30 % of VGG-16's 12,416 units; most of them,
3,730 of 4,000, came from the fully connected layers).

* :func:`taylor_scores`: per unit, the mean over examples of ``|mean over positions of a · dL/da|`` (``a`` the unit's
  output, before batch-norm and ReLU), divided by the layer's L2 norm of those values, Molchanov et al.'s
  normalisation that makes the scores of layers of different sizes comparable.
* :func:`lowest_units`: the ``count`` lowest-scoring units over the whole network, among those the task owns.
* :func:`free_units`: frees those units for later tasks as PackNet's filter pruning does (their weights and the
  next layer's weights that read them), so the task's surviving units never see what later tasks build there.
* :func:`taylor_filter_prune`: the schedule: ``steps`` rounds of ranking, removing ``1/steps`` of the units and
  retraining (the caller's ``retrain``, one epoch in the book).
"""
from __future__ import annotations

from typing import Callable

import torch

from .masks import _smallest
from .packnet import OWNER, PackNet
from .packnet import free_units as free_units_by

__all__ = ["taylor_scores", "lowest_units", "free_units", "taylor_filter_prune"]


def _owned_units(packnet: PackNet, name: str) -> torch.Tensor:
    """The output units of layer ``name`` that the current task owns any weight of."""
    return (getattr(packnet.layers[name], OWNER) == packnet.num_tasks).flatten(1).any(1)


def taylor_scores(packnet: PackNet, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 64) -> dict[str, torch.Tensor]:
    """Each prunable layer's per-unit Taylor criterion on ``(x, y)`` through the current task's head, layer-normalised.

    The network runs in evaluation mode (no dropout, batch-norm statistics unchanged) and no weight moves.
    """
    model, task = packnet.model, packnet.num_tasks
    forward = packnet.forward_for(task)
    outputs: dict[str, torch.Tensor] = {}
    hooks = []
    for name, layer in packnet.layers.items():
        def keep(_module, _inputs, out, name=name):
            out.retain_grad()
            outputs[name] = out
        hooks.append(layer.register_forward_hook(keep))
    totals = {name: torch.zeros(w.shape[0], device=w.device) for name, w in packnet.weights.items()}
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            model.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(forward(xb), yb).backward()
            for name, out in outputs.items():
                product = (out * out.grad).detach()
                per_example = product.flatten(2).mean(2) if product.dim() > 2 else product  # (batch, units)
                totals[name] += per_example.abs().sum(0)
    finally:
        for h in hooks:
            h.remove()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    scores = {}
    for name, total in totals.items():
        mean = total / len(x)
        norm = mean.norm()
        scores[name] = mean / norm if norm > 0 else mean
    return scores


def lowest_units(packnet: PackNet, scores: dict[str, torch.Tensor], count: int) -> dict[str, torch.Tensor]:
    """The ``count`` units with the lowest scores over all layers, among the units the current task owns; per layer a
    boolean mask of its units to free. Ties go to the earlier layer, then the earlier unit."""
    names = list(packnet.weights)
    eligible = [_owned_units(packnet, n) for n in names]
    flat = torch.cat([torch.where(e, scores[n], torch.full_like(scores[n], float("inf"))) for n, e in zip(names, eligible)])
    available = int(sum(int(e.sum()) for e in eligible))
    if not 0 <= count <= available:
        raise ValueError(f"cannot free {count} units: the task owns {available}")
    chosen = torch.zeros(len(flat), dtype=torch.bool, device=flat.device)
    chosen[_smallest(flat, count)] = True
    out, start = {}, 0
    for n in names:
        size = len(scores[n])
        out[n] = chosen[start:start + size]
        start += size
    return out


def free_units(packnet: PackNet, drop: dict[str, torch.Tensor]) -> dict[str, int]:
    """Free the current task's weights of the units in ``drop`` (per layer, a boolean mask of output units) and the
    next layer's weights that read any unit no longer owned (:func:`cl_utils.packnet.free_units`, as PackNet's own
    filter pruning does); return the number of units freed per layer."""
    return free_units_by(packnet, lambda name, _w, _mine: drop[name])


def taylor_filter_prune(packnet: PackNet, x: torch.Tensor, y: torch.Tensor, fraction: float, steps: int,
                        retrain: Callable[[], None], *, batch_size: int = 64) -> dict[str, int]:  # fmt: skip
    """Free ``round(fraction × units the task owns)`` units in ``steps`` rounds: rank on ``(x, y)``, free the next
    share of the lowest units over the whole network, ``retrain()``; return the units freed per layer in all."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    total = int(round(fraction * sum(int(_owned_units(packnet, n).sum()) for n in packnet.weights)))
    freed = dict.fromkeys(packnet.weights, 0)
    for k in range(steps):
        count = total * (k + 1) // steps - total * k // steps
        drop = lowest_units(packnet, taylor_scores(packnet, x, y, batch_size=batch_size), count)
        for name, n in free_units(packnet, drop).items():
            freed[name] += n
        retrain()
    return freed

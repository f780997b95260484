"""Nicholls & Dasgupta's Algorithm 1 over a stream: one progressive column per task, pruned and retrained.

The mechanism (columns, lateral adapters, pruning a column with the adapters that feed it, training
one column) is :mod:`cl_utils.progressive`. Here :class:`ProgressivePrune` adds the columns one task at
a time (a :class:`~cl_utils.methods.ContinualMethod`, chapter 06), :func:`run_progressive` runs it over a
stream and returns chapter 04's record, and :func:`train_first_column` trains column 1 alone, the
checkpoint every run of a seed shares. With ``models`` > 1 several seeds train as one stacked network, each
from its own column-1 checkpoint, and :func:`run_progressive` gives each seed's record (``per_seed``).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .masks import count_parameters
from .models import model_parameters, stacked_state
from .progressive import ProgressiveNet, train_column
from .streams import Task
from .train import TrainSettings, accuracy_per_model, evaluate, set_seed

__all__ = ["ProgressivePrune", "run_progressive", "train_first_column"]


class ProgressivePrune:
    """Column ``k`` for task ``k``: trained ``settings.epochs`` epochs (seeded ``(seed, k)``), then, where its
    fraction is above 0, pruned with its adapters and retrained ``retrain_epochs`` epochs.

    :param hidden_sizes: hidden widths of each column, one list per task.
    :param prune_fractions: one fraction per column (0 = that column is not pruned).
    :param first_column_state: column 1's ``state_dict`` after its initial epochs, shared by runs that differ
        only from there on (its initial training is then skipped); a stacked network's: one per model.
    :param models: seeds trained as one stacked network (see :class:`~cl_utils.progressive.ProgressiveNet`); they
        share the draws of ``seed`` (data order, new columns), each from its own ``first_column_state``.
    :param reference_size: the parameters of the network the method is compared with: :meth:`capacity` is
        what it keeps relative to that size (it grows past 1), ``None`` without one.
    """

    measures_each_task = True

    def __init__(self, in_features: int, hidden_sizes: Sequence[Sequence[int]], settings: TrainSettings, *,
                 adapter: str, prune_fractions: Sequence[float] | None = None, retrain_epochs: int = 0,
                 scope: str = "global", seed: int = 0, alpha_init: float = 0.1, adapter_width: int | None = None,
                 first_column_state: dict[str, torch.Tensor] | Sequence[dict[str, torch.Tensor]] | None = None,
                 show_progress: bool = True, reference_size: float | None = None, models: int = 1):  # fmt: skip
        self.fractions = list(prune_fractions) if prune_fractions is not None else [0.0] * len(hidden_sizes)
        if len(self.fractions) != len(hidden_sizes) or not all(0.0 <= f < 1.0 for f in self.fractions):
            raise ValueError(f"prune_fractions must be one value in [0, 1) per task, got {self.fractions}")
        self.model = ProgressiveNet(in_features, adapter, alpha_init=alpha_init, adapter_width=adapter_width,
                                    models=models)  # fmt: skip
        self.hidden_sizes, self.settings, self.retrain_epochs, self.scope = hidden_sizes, settings, retrain_epochs, scope
        self.seed, self.first_column_state, self.show_progress = seed, first_column_state, show_progress
        self.reference_size = reference_size
        self.columns: list[dict] = []  # train_column's record of each column

    def learn(self, t: int, task: Task) -> None:
        net = self.model
        set_seed(1000 * self.seed + 2 * t)
        net.add_column(self.hidden_sizes[t], task.num_classes)
        net.to(task.x_train.device)
        loaded = t == 0 and self.first_column_state is not None
        if loaded:
            state = self.first_column_state
            net.columns[0].load_state_dict(state if net.num_models == 1 else stacked_state(net.columns[0], state))
        self.columns.append(train_column(net, t, task, self.settings, initial_epochs=not loaded,
                                         prune_fraction=self.fractions[t], retrain_epochs=self.retrain_epochs,
                                         scope=self.scope, seed=self.seed, show_progress=self.show_progress))  # fmt: skip

    def forward_for(self, t: int):
        return lambda xb: self.model(xb, t)  # column t answers task t

    def parameters_kept(self, model: int | None = None) -> float:
        """Non-zero parameters of the columns and adapters, plus a 1-bit keep mask per weight of a pruned column
        (``model``: one model of a stacked network; None: the whole network)."""
        net = self.model
        share = 1 if model is None else net.num_models  # a stacked weight holds every model's
        masks = sum(w.numel() for k in range(len(net.columns)) if self.fractions[k] > 0
                    for w in net.column_weights(k).values()) / share  # fmt: skip
        params = net if model is None else model_parameters(net, model)
        return count_parameters(params).nonzero + masks / 32

    def capacity(self, model: int | None = None) -> float | None:
        """What the network (``model``: one model of a stack) keeps relative to ``reference_size`` (per model)."""
        return None if self.reference_size is None else self.parameters_kept(model) / self.reference_size


def run_progressive(tasks: Sequence[Task], hidden_sizes: Sequence[Sequence[int]], settings: TrainSettings,
                    **options) -> dict:  # fmt: skip
    """Train one column per task in order by :class:`ProgressivePrune` (``options``: its keywords; Algorithm 1
    when ``prune_fractions`` is given).

    :returns: a JSON-able record: per-column results of :func:`~cl_utils.progressive.train_column`, each
        column's test accuracy re-measured after the last column (``final_test_acc``), and totals.
    """
    if len(hidden_sizes) != len(tasks):
        raise ValueError(f"need one hidden-size list per task: {len(hidden_sizes)} for {len(tasks)} tasks")
    method = ProgressivePrune(math.prod(tasks[0].input_shape), hidden_sizes, settings, **options)
    for k, t in enumerate(tasks):
        method.learn(k, t)
    net = method.model
    if net.num_models == 1:
        final = [evaluate(net, *t.split("test"), forward=lambda xb, k=k: net(xb, k))[1] for k, t in enumerate(tasks)]
        return _record(method.columns, final, count_parameters(net))
    final_per_task = [accuracy_per_model(net, *t.split("test"), forward=lambda xb, k=k: net(xb, k))
                      for k, t in enumerate(tasks)]  # fmt: skip
    return {"per_seed": [_record([c["per_model"][s] for c in method.columns], [f[s] for f in final_per_task],
                                 count_parameters(model_parameters(net, s)))
                         for s in range(net.num_models)]}  # fmt: skip


def _record(columns: list[dict], final: list[float], total) -> dict:
    """One network's record: its columns' :func:`~cl_utils.progressive.train_column` results, each column's test
    accuracy after the last column, and the totals."""
    return {
        "columns": columns,
        "final_test_acc": final,
        "mean_test_error": 1.0 - sum(final) / len(final),
        "params_total": total.total,
        "params_nonzero": total.nonzero,
    }


def train_first_column(
    task: Task, hidden: Sequence[int], settings: TrainSettings, *, seed: int = 0, show_progress: bool = True
) -> dict[str, torch.Tensor]:
    """Column 1 after its initial epochs, as a ``state_dict``: identical for every adapter kind.

    Column 1 has no laterals, so runs that differ only in later columns (or in
    how column 1 is pruned afterwards) can share it: pass it to
    :func:`run_progressive` as ``first_column_state``.
    """
    set_seed(1000 * seed)
    net = ProgressiveNet(math.prod(task.input_shape), "none")
    net.add_column(hidden, task.num_classes)
    net.to(task.x_train.device)
    train_column(net, 0, task, settings, seed=seed, show_progress=show_progress)
    return {n: p.detach().clone() for n, p in net.columns[0].state_dict().items()}

"""The one contract every continual-learning method of the book meets, and the one loop that runs it.

A method is an object that learns a stream one task at a time and can then answer any task it has
learned. Six classes implement :class:`ContinualMethod`, each beside its method's mechanism:

* fine-tuning and joint training: :class:`~cl_utils.baselines.FineTune`, :class:`~cl_utils.baselines.Joint`
  (chapter 00, and the reference points of every comparison);
* LwF: :class:`~cl_utils.lwf.LwF` (chapter 01's baseline);
* PackNet, Memory and Multinet under Ball et al.'s Algorithm 1: :class:`~cl_utils.efficiency.PackingSchedule`
  (chapter 02; one round is PackNet's one-shot pruning);
* CLNP: :class:`~cl_utils.clnp_schedule.CLNPSchedule` (chapter 03);
* Progressive Prune: :class:`~cl_utils.progressive_schedule.ProgressivePrune` (chapter 04).

The contract is four methods, a flag and the network that answers, nothing else: no callbacks, plugins or strategy
objects (Avalanche) and no per-batch hook (Mammoth's ``observe``), because every method here
owns its whole per-task schedule (train, prune, retrain, fine-tune) and the book compares
methods only between tasks. :func:`learn_stream` is the loop: learn task ``t``, then measure
every task seen so far; chapter 06 builds each method from its configuration and calls it.

A method whose network may stack several independent models (one per seed, :func:`~cl_utils.models.stacked_mlp`)
is a :class:`StackableMethod`: it says what each stacked model keeps, and :func:`learn_stream_per_model` runs it
once for all of them and measures each model as :func:`learn_stream` measures one network (fine-tuning, joint
training and PackNet under Ball et al.'s schedule). Each stacked model has its own initial weights and data order,
so it is another draw than the unstacked run of its seed, not the same run.
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence, runtime_checkable

import torch

from .models import num_models
from .streams import Task
from .train import accuracy_per_model, evaluate_tasks

__all__ = ["ContinualMethod", "StackableMethod", "learn_stream", "learn_stream_per_model"]

Forward = Callable[[torch.Tensor], torch.Tensor]


@runtime_checkable
class ContinualMethod(Protocol):
    """A method that learns tasks in order (0-based ``t``) and answers every task learned so far."""

    #: ``False`` for a method that trains once, on every task, after the last one (joint training):
    #: :func:`learn_stream` then measures only at the end
    measures_each_task: bool
    #: the network the forwards run (evaluation mode is set on it)
    model: torch.nn.Module

    def learn(self, t: int, task: Task) -> None:
        """Learn task ``t`` by the method's whole schedule (train, and prune or distil as it does)."""

    def forward_for(self, t: int) -> Forward:
        """The forward pass that answers task ``t`` (its head, its weights or units, its column)."""

    def parameters_kept(self) -> float:
        """What must be stored to answer every task learned, in float32 parameters (masks at their bits)."""

    def capacity(self) -> float | None:
        """The share of the shared network the tasks so far own (may pass 1 for a growing method);
        ``None`` for a method that owns nothing (every weight serves every task)."""


@runtime_checkable
class StackableMethod(ContinualMethod, Protocol):
    """A :class:`ContinualMethod` that also learns with a stacked network (its ``model`` stacks ``S`` independent
    models) and measures each of them: ``model=s`` asks for stacked model ``s`` alone."""

    def parameters_kept(self, model: int | None = None) -> float:
        """:meth:`ContinualMethod.parameters_kept` of the whole network, or of stacked model ``model``."""

    def capacity(self, model: int | None = None) -> float | None:
        """:meth:`ContinualMethod.capacity` of the whole network, or of stacked model ``model``."""


def learn_stream(method: ContinualMethod, tasks: Sequence[Task]) -> dict:
    """Learn ``tasks`` in order; after each, measure every task seen so far on its test split.

    :returns: ``{"acc": acc[i][j] = task j after task i (one row, at the end, for a method that trains
        once), "kept": parameters_kept() at the end, "capacity": capacity() after each measured task}``
        (no ``capacity`` for a method without one).
    """
    acc: list[list[float]] = []
    capacity: list[float | None] = []
    for t, task in enumerate(tasks):
        method.learn(t, task)
        if method.measures_each_task or t == len(tasks) - 1:
            acc.append(evaluate_tasks(method.model, tasks[: t + 1], forward_for=method.forward_for))
            capacity.append(method.capacity())
    out: dict = {"acc": acc, "kept": method.parameters_kept()}
    return out if all(c is None for c in capacity) else out | {"capacity": capacity}


def learn_stream_per_model(method: StackableMethod, tasks: Sequence[Task]) -> list[dict]:
    """:func:`learn_stream` for a method whose network stacks ``S`` models: one result per stacked model, each
    what :func:`learn_stream` returns (its accuracy matrix, what it keeps, its capacity after each measured task)."""
    models = num_models(method.model)
    acc: list[list[list[float]]] = [[] for _ in range(models)]
    capacity: list[list[float | None]] = [[] for _ in range(models)]
    for t, task in enumerate(tasks):
        method.learn(t, task)
        if method.measures_each_task or t == len(tasks) - 1:
            seen = [accuracy_per_model(method.model, *old.split("test"), forward=method.forward_for(j))
                    for j, old in enumerate(tasks[: t + 1])]  # tasks × models
            for s in range(models):
                acc[s].append([a[s] for a in seen])
                capacity[s].append(method.capacity(model=s))
    out = [{"acc": acc[s], "kept": method.parameters_kept(model=s)} for s in range(models)]
    return [o if all(c is None for c in capacity[s]) else o | {"capacity": capacity[s]} for s, o in enumerate(out)]

"""Fine-tuning and joint training: the two reference points of every comparison.

* :func:`finetune_sequence` trains one network on the tasks in order with no
  protection at all, and records the accuracy matrix: the catastrophic
  forgetting that every method in this book is built to prevent
  (McCloskey & Cohen 1989; Goodfellow et al. 2013).
* :func:`train_jointly` trains on all tasks' data at once (multitask learning,
  Ball et al.'s "Multinet"): the usual upper bound, which needs all data at the same time.

:class:`FineTune` and :class:`Joint` are the two as :class:`~cl_utils.methods.ContinualMethod` objects, one task
at a time (chapter 06 compares them with the pruning methods).

:func:`train_head_only` trains one task's head on frozen features (PackNet's
"Classifier Only" baseline). The first two work single-head (one shared output layer, labels kept as they are) and
multi-head (one head per task, ``model.heads[t]``).
"""
from __future__ import annotations

from typing import Sequence

import torch

from .masks import count_parameters
from .models import MultiHeadNet, model_parameters
from .streams import Task, concat_tasks
from .train import EpochStats, TrainSettings, evaluate_tasks, fit

__all__ = ["finetune_task", "finetune_sequence", "fit_jointly", "train_jointly", "train_head_only", "FineTune", "Joint"]


def _head(task: int, multi_head: bool) -> int:
    return task if multi_head else 0


def _check_heads(model: MultiHeadNet, tasks: Sequence[Task], multi_head: bool) -> None:
    needed = len(tasks) if multi_head else 1
    if len(model.heads) < needed:
        raise ValueError(f"model has {len(model.heads)} head(s); {needed} needed for {len(tasks)} tasks")


def finetune_task(
    model: MultiHeadNet,
    task: Task,
    head: int,
    settings: TrainSettings,
    *,
    generator: torch.Generator | None = None,
    show_progress: bool = True,
    desc: str = "task",
) -> list[EpochStats]:
    """Train every weight of ``model`` on ``task`` through ``head``, with a fresh optimiser."""
    return fit(
        model,
        task.x_train,
        task.y_train,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        optimizer=settings.make_optimizer(model.parameters()),
        forward=lambda xb: model(xb, head),
        val=task.split("val"),
        generator=generator,
        show_progress=show_progress,
        desc=desc,
    )


def finetune_sequence(
    model: MultiHeadNet,
    tasks: Sequence[Task],
    settings: TrainSettings,
    *,
    multi_head: bool,
    generator: torch.Generator | None = None,
    show_progress: bool = True,
) -> dict:
    """Train on each task in turn (fresh optimiser per task); evaluate every task after each.

    :returns: ``{"acc": matrix, "history": per-task epoch stats}`` where
        ``acc[i][j]`` is the test accuracy (fraction) on task ``j`` after training task ``i``.
    """
    _check_heads(model, tasks, multi_head)
    acc: list[list[float]] = []
    history: list[list[dict]] = []
    for t, task in enumerate(tasks):
        stats = finetune_task(model, task, _head(t, multi_head), settings, generator=generator,
                              show_progress=show_progress, desc=f"task {t + 1}/{len(tasks)}")  # fmt: skip
        history.append([s.as_dict() for s in stats])
        acc.append(
            evaluate_tasks(model, tasks, forward_for=lambda j: (lambda xb: model(xb, _head(j, multi_head))))
        )
    return {"acc": acc, "history": history}


def fit_jointly(
    model: MultiHeadNet,
    tasks: Sequence[Task],
    settings: TrainSettings,
    *,
    multi_head: bool,
    generator: torch.Generator | None = None,
    show_progress: bool = True,
) -> list[EpochStats]:
    """Train on the union of all tasks' training data (a fresh optimiser); each sample uses its task's head."""
    _check_heads(model, tasks, multi_head)
    x, y, ids = concat_tasks(tasks, "train")
    x_val, y_val, ids_val = concat_tasks(tasks, "val")
    if multi_head:
        inputs, val_inputs, forward = (x, ids), (x_val, ids_val), model.forward_tasks
    else:
        inputs, val_inputs, forward = x, x_val, (lambda xb: model(xb, 0))
    return fit(
        model,
        inputs,
        y,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        optimizer=settings.make_optimizer(model.parameters()),
        forward=forward,
        val=(val_inputs, y_val),
        generator=generator,
        show_progress=show_progress,
        desc="joint",
    )


def train_jointly(
    model: MultiHeadNet,
    tasks: Sequence[Task],
    settings: TrainSettings,
    *,
    multi_head: bool,
    generator: torch.Generator | None = None,
    show_progress: bool = True,
) -> dict:
    """:func:`fit_jointly`, then every task's test accuracy.

    :returns: ``{"acc": per-task test accuracy (fraction), "history": epoch stats}``.
    """
    stats = fit_jointly(model, tasks, settings, multi_head=multi_head, generator=generator, show_progress=show_progress)
    acc = evaluate_tasks(model, tasks, forward_for=lambda j: (lambda xb: model(xb, _head(j, multi_head))))
    return {"acc": acc, "history": [s.as_dict() for s in stats]}


def train_head_only(
    model: MultiHeadNet,
    head: int,
    x: torch.Tensor,
    y: torch.Tensor,
    settings: TrainSettings,
    *,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
    show_progress: bool = True,
) -> list[EpochStats]:
    """Train only ``model.heads[head]`` on the body's frozen features (body in eval mode throughout)."""

    def heads_train_body_eval() -> None:
        model.eval()
        model.heads[head].train()

    return fit(
        model, x, y, epochs=settings.epochs, batch_size=settings.batch_size,
        optimizer=settings.make_optimizer(model.heads[head].parameters()),
        forward=lambda xb: model(xb, head), val=val, generator=generator, show_progress=show_progress,
        desc="classifier only", set_train_mode=heads_train_body_eval,
    )  # fmt: skip


class FineTune:
    """Fine-tuning as a :class:`~cl_utils.methods.ContinualMethod`: every task trains every weight, one head
    per task (``multi_head``) or one shared head; nothing is protected, so earlier tasks are forgotten. It also
    trains a stacked network (several seeds at once; a :class:`~cl_utils.methods.StackableMethod`)."""

    measures_each_task = True

    def __init__(self, model: MultiHeadNet, settings: TrainSettings, *, multi_head: bool = True,
                 generator: torch.Generator | None = None, show_progress: bool = True):  # fmt: skip
        self.model, self.settings, self.multi_head = model, settings, multi_head
        self.generator, self.show_progress = generator, show_progress

    def learn(self, t: int, task: Task) -> None:
        finetune_task(self.model, task, _head(t, self.multi_head), self.settings, generator=self.generator,
                      show_progress=self.show_progress, desc=f"task {t + 1}")  # fmt: skip

    def forward_for(self, t: int):
        return lambda xb: self.model(xb, _head(t, self.multi_head))

    def parameters_kept(self, model: int | None = None) -> float:
        """The whole network (its heads included); ``model``: stacked model ``model``'s alone."""
        return float(count_parameters(self.model if model is None else model_parameters(self.model, model)).total)

    def capacity(self, model: int | None = None) -> None:
        return None


class Joint(FineTune):
    """Joint (multitask) training as a :class:`~cl_utils.methods.ContinualMethod`: it keeps each task as it
    comes and trains once, on all of them, after the last of the ``num_tasks``."""

    measures_each_task = False

    def __init__(self, model: MultiHeadNet, settings: TrainSettings, num_tasks: int, *, multi_head: bool = True,
                 generator: torch.Generator | None = None, show_progress: bool = True):  # fmt: skip
        super().__init__(model, settings, multi_head=multi_head, generator=generator, show_progress=show_progress)
        self.num_tasks, self.seen = num_tasks, []

    def learn(self, t: int, task: Task) -> None:
        self.seen.append(task)
        if len(self.seen) == self.num_tasks:
            fit_jointly(self.model, self.seen, self.settings, multi_head=self.multi_head, generator=self.generator,
                        show_progress=self.show_progress)  # fmt: skip

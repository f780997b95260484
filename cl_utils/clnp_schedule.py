"""CLNP's schedule for one task, and its hyperparameter selection (Golkar, Kagan & Cho, 2019, section 3.2).

:func:`learn_task` trains a task with the L1 penalty, sparsifies it by graceful forgetting
(:meth:`~cl_utils.clnp.CLNP.sparsify`), and optionally fine-tunes and re-sparsifies it;
:func:`learn_task_with_grid` does the same for a grid of (learning rate, alpha) on the first task and
keeps the sparsest model within the margin (:func:`select_by_graceful_forgetting`). The mechanism
(units, ownership, interference, the theta scan) is in :mod:`cl_utils.clnp`.

:class:`CLNPSchedule` learns a stream task by task with them (task 1 with the grid, the later tasks
with the point it kept), a :class:`~cl_utils.methods.ContinualMethod`; :func:`run_sequence` runs it.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Sequence

import torch

from .clnp import CLNP
from .graceful_forgetting import ThetaChoice, select_theta
from .masks import count_parameters, unit_rows
from .streams import Task
from .train import TrainSettings, evaluate, evaluate_tasks

__all__ = ["learn_task", "sparsify_task", "select_by_graceful_forgetting", "learn_task_with_grid", "kept_point",
           "CLNPSchedule", "run_sequence"]


def learn_task(
    clnp: CLNP,
    x: torch.Tensor,
    y: torch.Tensor,
    val: tuple[torch.Tensor, torch.Tensor],
    settings: TrainSettings,
    *,
    alphas: Sequence[float],
    margin: float,
    finetune_iterations: int = 0,
    finetune: TrainSettings | None = None,
    reference_acc: float | None = None,
    per_layer: bool = False,
    generator: torch.Generator | None = None,
    show_progress: bool = True,
    finetune_l1: bool = False,
    end_on_finetune: bool = True,
    normalise_units: bool = False,
) -> dict:
    """One CLNP task: train with L1, sparsify by graceful forgetting, optionally fine-tune and re-sparsify.

    :param margin: graceful-forgetting margin as a fraction (0.0005 = 0.05 accuracy points).
    :param reference_acc: the accuracy the margin is measured from; default the
        trained model's own validation accuracy.
    :param finetune_iterations: rounds of (retrain the task's surviving weights with
        ``finetune`` settings, then sparsify again against the same reference).
    :param finetune_l1: keep the L1 penalty on while fine-tuning (the paper retrains the survivors without it).
    :param end_on_finetune: end the task on a fine-tune (the paper) rather than on a re-prune.
    :param normalise_units: finally rescale the task's units to mean activity 1, which changes no task's output
        (:meth:`~cl_utils.clnp.CLNP.normalise_units`) and keeps later tasks' new units alive.
    :returns: validation accuracies, θ, new units per layer, free units per layer, histories.
    """
    task = clnp.start_task()
    history = clnp.train_task(x, y, settings, alphas=alphas, val=val, generator=generator,
                              show_progress=show_progress, desc=f"task {task}")  # fmt: skip
    record = sparsify_task(clnp, x, val, margin=margin, reference_acc=reference_acc, per_layer=per_layer,
                           finetune_iterations=finetune_iterations, end_on_finetune=end_on_finetune,
                           finetune=_finetune_round(clnp, x, y, finetune, alphas if finetune_l1 else None, generator,
                                                    show_progress),
                           normalise_units=normalise_units)  # fmt: skip
    record["history"] = [h.as_dict() for h in history]
    return record


def _finetune_round(
    clnp: CLNP,
    x: torch.Tensor,
    y: torch.Tensor,
    settings: TrainSettings | None,
    alphas: Sequence[float] | None,
    generator: torch.Generator | None,
    show_progress: bool,
) -> Callable[[], object] | None:
    """One fine-tuning round: retrain the current task's surviving units (None without settings).

    ``alphas`` None: without the L1 penalty. Fine-tuning restores what pruning cost (Golkar et al., section 3.1);
    the sparsity pressure belongs to the training before pruning.
    """
    if settings is None:
        return None
    task = clnp.num_tasks
    penalty = [0.0] * (len(clnp.units) + 1) if alphas is None else alphas
    return lambda: clnp.train_task(
        x, y, settings, alphas=penalty, generator=generator, show_progress=show_progress,
        trainable_units=[clnp.owner(i) == task for i in range(len(clnp.units))], desc=f"fine-tune {task}",
    )  # fmt: skip


def _round_record(choice: ThetaChoice) -> dict:
    return {"theta": choice.theta, "thetas": choice.thetas, "val_acc": choice.val_acc, "grown": choice.active_units}


def sparsify_task(
    clnp: CLNP,
    x: torch.Tensor,
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    margin: float,
    reference_acc: float | None = None,
    per_layer: bool = False,
    finetune_iterations: int = 0,
    finetune: Callable[[], object] | None = None,
    end_on_finetune: bool = True,
    normalise_units: bool = False,
) -> dict:
    """Graceful forgetting for the just-trained current task, with optional fine-tuning rounds.

    ``finetune_iterations`` = k > 0 gives prune, (fine-tune, prune) x (k - 1), fine-tune: the paper iterates
    pruning and fine-tuning and each fine-tune regains some of what pruning cost, so the task ends on a
    fine-tune, not on a prune at the margin's floor. ``end_on_finetune=False`` re-prunes after every round
    (prune, (fine-tune, prune) x k), the book's first reading. ``normalise_units``: finally rescale the task's units
    to mean activity 1 on ``x`` (:meth:`~cl_utils.clnp.CLNP.normalise_units`; no output changes beyond rounding).
    """
    task = clnp.num_tasks
    unpruned = evaluate(clnp.model, *val, forward=clnp.training_forward(task))[1]
    reference = unpruned if reference_acc is None else reference_acc
    choice = clnp.sparsify(x, val, reference_acc=reference, margin=margin, per_layer=per_layer)
    rounds = [_round_record(choice)]
    if finetune_iterations and finetune is None:
        raise ValueError("fine-tuning iterations need fine-tuning settings")
    for i in range(finetune_iterations):
        finetune()
        if i < finetune_iterations - 1 or not end_on_finetune:
            clnp.release_current_task()
            choice = clnp.sparsify(x, val, reference_acc=reference, margin=margin, per_layer=per_layer)
            rounds.append(_round_record(choice))
    if normalise_units:
        clnp.normalise_units(x)
    return {
        "task": task,
        "unpruned_val_acc": unpruned,
        "reference_val_acc": reference,
        "val_acc": evaluate(clnp.model, *val, forward=clnp.forward_for(task))[1],
        "rounds": rounds,
        "new_units": clnp.units_of(task),
        "free_units": clnp.free_units(),
    }


def select_by_graceful_forgetting(
    candidates: Sequence[dict], *, margin: float
) -> int:
    """§3.2's hyperparameter choice: among trained candidates, the index of the one to keep.

    Each candidate is ``{"val_acc": unpruned validation accuracy, "pruned_acc": ..., "active": total active units}``
    after sparsifying with its largest admissible θ. Candidates whose unpruned
    accuracy is within ``margin`` of the best are eligible; the sparsest (fewest
    active units, then higher pruned accuracy) wins.
    """
    if not candidates:
        raise ValueError("no candidates")
    best = max(c["val_acc"] for c in candidates)
    eligible = [i for i, c in enumerate(candidates) if c["val_acc"] >= best - margin]
    return min(eligible, key=lambda i: (candidates[i]["active"], -candidates[i]["pruned_acc"]))


def learn_task_with_grid(
    clnp: CLNP,
    x: torch.Tensor,
    y: torch.Tensor,
    val: tuple[torch.Tensor, torch.Tensor],
    grid: Sequence[tuple[TrainSettings, Sequence[float]]],
    *,
    margin: float,
    finetune_iterations: int = 0,
    finetune: TrainSettings | None = None,
    per_layer: bool = False,
    generator_seed: int = 0,
    show_progress: bool = True,
    finetune_l1: bool = False,
    end_on_finetune: bool = True,
    normalise_units: bool = False,
) -> dict:
    """§3.2's selection for one task over a grid of (training settings, α per layer).

    Every grid point is trained from the same starting state. The best unpruned
    validation accuracy over the grid is the reference; points within ``margin`` of
    it are sparsified with their admissible threshold(s) (:func:`select_theta`), and
    the sparsest is kept (:func:`select_by_graceful_forgetting`). Fine-tuning rounds
    use the kept point's learning rate and α. Returns :func:`learn_task`'s record of
    the kept point plus the whole grid's summary.
    """
    start = {k: v.clone() for k, v in clnp.model.state_dict().items()}
    trained, summary = [], []
    for settings, alphas in grid:
        clnp.model.load_state_dict(start)
        task = clnp.start_task()
        clnp.train_task(x, y, settings, alphas=alphas, generator=torch.Generator().manual_seed(generator_seed),
                        show_progress=show_progress, desc=f"grid lr={settings.lr:g}")  # fmt: skip
        acc = evaluate(clnp.model, *val, forward=clnp.training_forward(task))[1]
        trained.append({k: v.clone() for k, v in clnp.model.state_dict().items()})
        summary.append({"lr": settings.lr, "alphas": list(alphas), "val_acc": acc})
    best = max(s["val_acc"] for s in summary)
    for state, s in zip(trained, summary):
        if s["val_acc"] < best - margin:
            s.update(pruned_acc=float("nan"), active=math.inf)
            continue
        clnp.model.load_state_dict(state)
        choice = select_theta(clnp, clnp.activity(x), val, reference_acc=best, margin=margin, per_layer=per_layer)
        s.update(pruned_acc=choice.val_acc, active=sum(choice.active_units), theta=choice.theta, thetas=choice.thetas)
    chosen = select_by_graceful_forgetting(summary, margin=margin)
    clnp.model.load_state_dict(trained[chosen])
    _, alphas, finetune = kept_point(grid, chosen, finetune)
    record = sparsify_task(clnp, x, val, margin=margin, reference_acc=best, finetune_iterations=finetune_iterations,
                           per_layer=per_layer, end_on_finetune=end_on_finetune, normalise_units=normalise_units,
                           finetune=_finetune_round(clnp, x, y, finetune, alphas if finetune_l1 else None,
                                                    torch.Generator().manual_seed(generator_seed), show_progress))  # fmt: skip
    record["grid"] = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in s.items()} for s in summary]
    record["chosen"] = chosen
    return record


def kept_point(
    grid: Sequence[tuple[TrainSettings, Sequence[float]]], chosen: int, finetune: TrainSettings | None
) -> tuple[TrainSettings, Sequence[float], TrainSettings | None]:
    """The kept grid point's settings and α, and the fine-tuning settings at its learning rate."""
    settings, alphas = grid[chosen]
    return settings, alphas, None if finetune is None else replace(finetune, lr=settings.lr)


class CLNPSchedule:
    """CLNP over a stream, one task at a time: :func:`learn_task` for each (seeded ``seed + t``), or with
    ``first_task_grid`` :func:`learn_task_with_grid` for task 1 and its kept point for the later tasks (the paper
    settles on task 1's choice); ``per_layer`` gives each hidden layer its own theta. Each task's record
    (theta, new and free units) is kept in ``steps``. A :class:`~cl_utils.methods.ContinualMethod`.
    """

    measures_each_task = True

    def __init__(self, clnp: CLNP, settings: TrainSettings, *, alphas: Sequence[float], margin: float,
                 finetune_iterations: int = 0, finetune: TrainSettings | None = None, first_task_grid=None,
                 per_layer: bool = False, seed: int = 0, show_progress: bool = False, finetune_l1: bool = False,
                 end_on_finetune: bool = True, normalise_units: bool = False):  # fmt: skip
        self.clnp, self.model = clnp, clnp.model
        self.settings, self.alphas, self.finetune, self.grid, self.seed = settings, alphas, finetune, first_task_grid, seed
        self.options = dict(margin=margin, finetune_iterations=finetune_iterations, per_layer=per_layer,
                            show_progress=show_progress, finetune_l1=finetune_l1, end_on_finetune=end_on_finetune,
                            normalise_units=normalise_units)  # fmt: skip
        self.steps: list[dict] = []

    def learn(self, t: int, task: Task) -> None:
        if t == 0 and self.grid:
            step = learn_task_with_grid(self.clnp, task.x_train, task.y_train, task.split("val"), self.grid,
                                        finetune=self.finetune, generator_seed=self.seed, **self.options)  # fmt: skip
            self.settings, self.alphas, self.finetune = kept_point(self.grid, step["chosen"], self.finetune)
        else:
            step = learn_task(self.clnp, task.x_train, task.y_train, task.split("val"), self.settings, alphas=self.alphas,
                              finetune=self.finetune, generator=torch.Generator().manual_seed(self.seed + t),
                              **self.options)  # fmt: skip
        step.pop("history", None)
        self.steps.append(step)

    def forward_for(self, t: int):
        return self.clnp.forward_for(t + 1)

    def parameters_kept(self) -> float:
        """Non-zero parameters of the units some task owns (and of the heads), plus each unit's owner at its bits.

        The weights into free units serve no task and are left out; those from free units into owned ones
        are zero already (CLNP's interference weights).
        """
        clnp = self.clnp
        total = count_parameters(clnp.model.heads).nonzero
        for i, u in enumerate(clnp.units):
            owned = clnp.owner(i) > 0
            w = u.layer.weight.detach()
            total += int(torch.count_nonzero(w * unit_rows(owned, w)))
            if u.layer.bias is not None:
                total += int(torch.count_nonzero(u.layer.bias.detach() * owned))
        bits = max(1, math.ceil(math.log2(clnp.num_tasks + 1)))
        return total + sum(u.num_units for u in clnp.units) * bits / 32

    def capacity(self) -> float:
        """The share of the hidden units some task owns."""
        owned = sum(int((self.clnp.owner(i) > 0).sum()) for i in range(len(self.clnp.units)))
        return owned / sum(u.num_units for u in self.clnp.units)


def run_sequence(clnp: CLNP, tasks: Sequence[Task], settings: TrainSettings, **options) -> dict:
    """Learn ``tasks`` in order by :class:`CLNPSchedule` (``options``: its keywords); after each, measure every task
    so far on its test split.

    Returns ``acc[i][j]`` (task ``j`` after task ``i``), the per-task records (theta, new and free units) and
    the final free units per layer.
    """
    schedule = CLNPSchedule(clnp, settings, **options)
    acc = []
    for t, task in enumerate(tasks):
        schedule.learn(t, task)
        acc.append(evaluate_tasks(clnp.model, tasks[: t + 1], forward_for=schedule.forward_for))
    return {"acc": acc, "steps": schedule.steps, "free_units": clnp.free_units()}

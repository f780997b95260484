"""CLNP's schedule for one task, and its hyperparameter selection (Golkar, Kagan & Cho, 2019, section 3.2).

:func:`learn_task` trains a task with the L1 penalty, sparsifies it by graceful forgetting
(:meth:`~cl_utils.clnp.CLNP.sparsify`), and optionally fine-tunes and re-sparsifies it;
:func:`learn_task_with_grid` does the same for a grid of (learning rate, alpha) on the first task and
keeps the sparsest model within the margin (:func:`select_by_graceful_forgetting`). The mechanism
(units, ownership, interference, the theta scan) is in :mod:`cl_utils.clnp`.

:class:`CLNPSchedule` learns a stream task by task with them (task 1 with the grid, the later tasks
with the point it kept), a :class:`~cl_utils.methods.ContinualMethod`; :func:`run_sequence` runs it.

The same code drives the models of a :class:`~cl_utils.clnp_stack.CLNPStack` in lockstep
(:func:`run_stacked_sequence`): each step is written once for a *team* (``_learn_tasks``,
``_learn_tasks_with_grid``, ``_sparsify_tasks``), whose members are CLNP states with their own data, and whose
training phases train them all; one network is a team of one (``_Alone``), so its results are the ones it had
before stacking existed.

Why one module (over 300 lines): the task schedule, the grid selection and the stream loop are one procedure
(§3.2), and its one-network and stacked forms must stay the same code.
"""
from __future__ import annotations

import math
from dataclasses import replace
from functools import partial
from typing import Callable, Sequence

import torch

from .clnp import CLNP
from .clnp_stack import CLNPStack, Data
from .graceful_forgetting import ThetaChoice, select_theta
from .masks import unit_rows
from .streams import Task
from .train import TrainSettings, evaluate, evaluate_tasks

__all__ = ["learn_task", "sparsify_task", "select_by_graceful_forgetting", "learn_task_with_grid", "kept_point",
           "CLNPSchedule", "run_sequence", "run_stacked_sequence"]


class _Alone:
    """One CLNP network as the team a schedule step drives: its :meth:`train_phase` is
    :meth:`~cl_utils.clnp.CLNP.train_task` (a :class:`~cl_utils.clnp_stack.CLNPStack` is the other team)."""

    def __init__(self, clnp: CLNP):
        self.members = [clnp]

    def train_phase(self, data: Sequence[Data], settings: Sequence[TrainSettings], alphas: Sequence[Sequence[float]],
                    *, finetune: bool = False, val: bool = False, generator: torch.Generator | None = None,
                    show_progress: bool = False, desc: str = "train") -> list[list]:  # fmt: skip
        (x, y, validation), clnp = data[0], self.members[0]
        task = clnp.num_tasks
        units = clnp.owned_units(task) if finetune else None
        return [clnp.train_task(x, y, settings[0], alphas=alphas[0], trainable_units=units,
                                val=validation if val else None, generator=generator, show_progress=show_progress,
                                desc=desc)]  # fmt: skip


def _team(clnp: CLNP | CLNPStack) -> _Alone | CLNPStack:
    return clnp if isinstance(clnp, CLNPStack) else _Alone(clnp)


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
    return _learn_tasks(_Alone(clnp), [(x, y, val)], [settings], [alphas], margin=margin,
                        finetune_iterations=finetune_iterations, finetune=[finetune], reference_acc=reference_acc,
                        per_layer=per_layer, generator=generator, show_progress=show_progress, finetune_l1=finetune_l1,
                        end_on_finetune=end_on_finetune, normalise_units=normalise_units)[0]  # fmt: skip


def _learn_tasks(
    team: _Alone | CLNPStack,
    data: Sequence[Data],
    settings: Sequence[TrainSettings],
    alphas: Sequence[Sequence[float]],
    *,
    margin: float,
    finetune_iterations: int,
    finetune: Sequence[TrainSettings | None],
    reference_acc: float | None,
    per_layer: bool,
    generator: torch.Generator | None,
    show_progress: bool,
    finetune_l1: bool,
    end_on_finetune: bool,
    normalise_units: bool,
) -> list[dict]:
    """:func:`learn_task` for every member of ``team`` in lockstep (member ``s`` on ``data[s]`` with
    ``settings[s]``, ``alphas[s]``, ``finetune[s]``): each step is each member's own, the training phases the team's."""
    for c in team.members:
        c.start_task()
    task = team.members[0].num_tasks
    histories = team.train_phase(data, settings, alphas, val=True, generator=generator, show_progress=show_progress,
                                 desc=f"task {task}")  # fmt: skip
    records = _sparsify_tasks(team, data, margin=margin, reference_acc=[reference_acc] * len(team.members),
                              per_layer=per_layer, finetune_iterations=finetune_iterations,
                              end_on_finetune=end_on_finetune, normalise_units=normalise_units,
                              finetune=_finetune_round(team, data, finetune, alphas if finetune_l1 else None,
                                                       generator, show_progress))  # fmt: skip
    for record, history in zip(records, histories):
        record["history"] = [h.as_dict() for h in history]
    return records


def _finetune_round(
    team: _Alone | CLNPStack,
    data: Sequence[Data],
    settings: Sequence[TrainSettings | None],
    alphas: Sequence[Sequence[float]] | None,
    generator: torch.Generator | None,
    show_progress: bool,
) -> Callable[[], object] | None:
    """One fine-tuning round of every member: retrain the current task's surviving units (None without settings).

    ``alphas`` None: without the L1 penalty. Fine-tuning restores what pruning cost (Golkar et al., section 3.1);
    the sparsity pressure belongs to the training before pruning.
    """
    if settings[0] is None:
        return None
    members = team.members
    penalty = [[0.0] * (len(c.units) + 1) for c in members] if alphas is None else alphas
    task = members[0].num_tasks
    return lambda: team.train_phase(data, settings, penalty, finetune=True, generator=generator,
                                    show_progress=show_progress, desc=f"fine-tune {task}")  # fmt: skip


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
    return _sparsify_tasks(_Alone(clnp), [(x, None, val)], margin=margin, reference_acc=[reference_acc],
                           per_layer=per_layer, finetune_iterations=finetune_iterations, finetune=finetune,
                           end_on_finetune=end_on_finetune, normalise_units=normalise_units)[0]  # fmt: skip


def _sparsify_tasks(
    team: _Alone | CLNPStack,
    data: Sequence[Data],
    *,
    margin: float,
    reference_acc: Sequence[float | None],
    per_layer: bool,
    finetune_iterations: int,
    finetune: Callable[[], object] | None,
    end_on_finetune: bool,
    normalise_units: bool,
) -> list[dict]:
    """:func:`sparsify_task` for every member of ``team`` in lockstep; ``finetune`` trains them all."""
    members = team.members
    task = members[0].num_tasks
    unpruned = [evaluate(c.model, *val, forward=c.training_forward(task))[1] for c, (_, _, val) in zip(members, data)]
    reference = [u if r is None else r for u, r in zip(unpruned, reference_acc)]

    def sparsify() -> list[ThetaChoice]:
        return [c.sparsify(x, val, reference_acc=r, margin=margin, per_layer=per_layer)
                for c, (x, _, val), r in zip(members, data, reference)]  # fmt: skip

    rounds = [[_round_record(choice)] for choice in sparsify()]
    if finetune_iterations and finetune is None:
        raise ValueError("fine-tuning iterations need fine-tuning settings")
    for i in range(finetune_iterations):
        finetune()
        if i < finetune_iterations - 1 or not end_on_finetune:
            for c in members:
                c.release_current_task()
            for own, choice in zip(rounds, sparsify()):
                own.append(_round_record(choice))
    if normalise_units:
        for c, (x, _, _) in zip(members, data):
            c.normalise_units(x)
    return [{
        "task": task,
        "unpruned_val_acc": u,
        "reference_val_acc": r,
        "val_acc": evaluate(c.model, *val, forward=c.forward_for(task))[1],
        "rounds": own,
        "new_units": c.units_of(task),
        "free_units": c.free_units(),
    } for c, (_, _, val), u, r, own in zip(members, data, unpruned, reference, rounds)]  # fmt: skip


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
    return _learn_tasks_with_grid(_Alone(clnp), [(x, y, val)], grid, margin=margin,
                                  finetune_iterations=finetune_iterations, finetune=finetune, per_layer=per_layer,
                                  generator_seed=generator_seed, show_progress=show_progress,
                                  finetune_l1=finetune_l1, end_on_finetune=end_on_finetune,
                                  normalise_units=normalise_units)[0]  # fmt: skip


def _learn_tasks_with_grid(
    team: _Alone | CLNPStack,
    data: Sequence[Data],
    grid: Sequence[tuple[TrainSettings, Sequence[float]]],
    *,
    margin: float,
    finetune_iterations: int,
    finetune: TrainSettings | None,
    per_layer: bool,
    generator_seed: int,
    show_progress: bool,
    finetune_l1: bool,
    end_on_finetune: bool,
    normalise_units: bool,
) -> list[dict]:
    """:func:`learn_task_with_grid` for every member of ``team`` in lockstep: every grid point trains all members
    at once, and each member keeps its own point (its own best, thresholds and sparsest choice)."""
    members = team.members
    state = lambda c: {k: v.clone() for k, v in c.model.state_dict().items()}  # noqa: E731
    start = [state(c) for c in members]
    trained: list[list[dict]] = [[] for _ in members]
    summary: list[list[dict]] = [[] for _ in members]
    for settings, alphas in grid:
        for c, first in zip(members, start):
            c.model.load_state_dict(first)
        for c in members:
            c.start_task()
        task = members[0].num_tasks
        team.train_phase(data, [settings] * len(members), [alphas] * len(members),
                         generator=torch.Generator().manual_seed(generator_seed), show_progress=show_progress,
                         desc=f"grid lr={settings.lr:g}")  # fmt: skip
        for c, (_, _, val), own, points in zip(members, data, trained, summary):
            acc = evaluate(c.model, *val, forward=c.training_forward(task))[1]
            own.append(state(c))
            points.append({"lr": settings.lr, "alphas": list(alphas), "val_acc": acc})
    chosen, best = [], []
    for c, (x, _, val), own, points in zip(members, data, trained, summary):
        best.append(max(s["val_acc"] for s in points))
        for point_state, s in zip(own, points):
            if s["val_acc"] < best[-1] - margin:
                s.update(pruned_acc=float("nan"), active=math.inf)
                continue
            c.model.load_state_dict(point_state)
            choice = select_theta(c, c.activity(x), val, reference_acc=best[-1], margin=margin, per_layer=per_layer)
            s.update(pruned_acc=choice.val_acc, active=sum(choice.active_units), theta=choice.theta,
                     thetas=choice.thetas)  # fmt: skip
        chosen.append(select_by_graceful_forgetting(points, margin=margin))
        c.model.load_state_dict(own[chosen[-1]])
    kept = [kept_point(grid, k, finetune) for k in chosen]
    records = _sparsify_tasks(team, data, margin=margin, reference_acc=best, finetune_iterations=finetune_iterations,
                              per_layer=per_layer, end_on_finetune=end_on_finetune, normalise_units=normalise_units,
                              finetune=_finetune_round(team, data, [f for _, _, f in kept],
                                                       [a for _, a, _ in kept] if finetune_l1 else None,
                                                       torch.Generator().manual_seed(generator_seed), show_progress))  # fmt: skip
    for record, points, k in zip(records, summary, chosen):
        record["grid"] = [{key: (None if isinstance(v, float) and not math.isfinite(v) else v) for key, v in s.items()}
                          for s in points]  # fmt: skip
        record["chosen"] = k
    return records


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

    Given a :class:`~cl_utils.clnp_stack.CLNPStack` instead of one network, it learns every model of the stack in
    lockstep (``learn(t, tasks)``: one task per model, each model its own stream), each model keeping its own grid
    point, thresholds and records (``member_steps[s]``); the data orders come from one generator.
    """

    measures_each_task = True

    def __init__(self, clnp: CLNP | CLNPStack, settings: TrainSettings, *, alphas: Sequence[float], margin: float,
                 finetune_iterations: int = 0, finetune: TrainSettings | None = None, first_task_grid=None,
                 per_layer: bool = False, seed: int = 0, show_progress: bool = False, finetune_l1: bool = False,
                 end_on_finetune: bool = True, normalise_units: bool = False):  # fmt: skip
        self.team = _team(clnp)
        self.clnp, self.model = self.team.members[0], clnp.model
        n = len(self.team.members)
        self.settings, self.alphas, self.finetune = [settings] * n, [alphas] * n, [finetune] * n
        self.grid, self.seed = first_task_grid, seed
        self.options = dict(margin=margin, finetune_iterations=finetune_iterations, per_layer=per_layer,
                            show_progress=show_progress, finetune_l1=finetune_l1, end_on_finetune=end_on_finetune,
                            normalise_units=normalise_units)  # fmt: skip
        self.member_steps: list[list[dict]] = [[] for _ in range(n)]

    @property
    def steps(self) -> list[dict]:
        """Each task's record (one network; a stack's are in ``member_steps``)."""
        if len(self.member_steps) > 1:
            raise ValueError("a stack's records are in member_steps, one list per model")
        return self.member_steps[0]

    def learn(self, t: int, task: Task | Sequence[Task]) -> None:
        n = len(self.team.members)
        tasks = [task] * n if isinstance(task, Task) else list(task)  # one task for every model, or each its own
        if len(tasks) != n:
            raise ValueError(f"{n} models need one task or {n}, got {len(tasks)}")
        data = [(k.x_train, k.y_train, k.split("val")) for k in tasks]
        if t == 0 and self.grid:
            steps = _learn_tasks_with_grid(self.team, data, self.grid, finetune=self.finetune[0],
                                           generator_seed=self.seed, **self.options)  # fmt: skip
            kept = [kept_point(self.grid, step["chosen"], f) for step, f in zip(steps, self.finetune)]
            self.settings, self.alphas, self.finetune = ([k[i] for k in kept] for i in range(3))
        else:
            steps = _learn_tasks(self.team, data, self.settings, self.alphas, finetune=self.finetune,
                                 generator=torch.Generator().manual_seed(self.seed + t), reference_acc=None,
                                 **self.options)  # fmt: skip
        for own, step in zip(self.member_steps, steps):
            step.pop("history", None)
            own.append(step)

    def _one(self, model: int | None) -> CLNP:
        """Model ``model``'s CLNP state (one network: itself)."""
        return self.team.members[model or 0]

    def forward_for(self, t: int, model: int | None = None):
        """Task ``t``'s forward pass (0-based): one network's, a stack's for every model at once (``(S, B, ...)``
        inputs), or with ``model`` that model's alone (plain inputs)."""
        if model is None and isinstance(self.team, CLNPStack):
            return self.team.forward_for(t + 1)
        return self._one(model).forward_for(t + 1)

    def parameters_kept(self, model: int | None = None) -> float:
        """Non-zero parameters of the units some task owns (and of the heads), plus each unit's owner at its bits
        (``model``: one model of a stack; None: the whole network, a stack's summed over its models).

        The weights into free units serve no task and are left out; those from free units into owned ones
        are zero already (CLNP's interference weights).
        """
        if model is None and len(self.team.members) > 1:
            return sum(self.parameters_kept(s) for s in range(len(self.team.members)))
        clnp = self._one(model)
        total = sum(int(torch.count_nonzero(t.detach())) for h in clnp.model.heads for t in (h.weight, h.bias))
        for i, u in enumerate(clnp.units):
            owned = clnp.owner(i) > 0
            w = u.layer.weight.detach()
            total += int(torch.count_nonzero(w * unit_rows(owned, w)))
            if u.layer.bias is not None:
                total += int(torch.count_nonzero(u.layer.bias.detach() * owned))
        bits = max(1, math.ceil(math.log2(clnp.num_tasks + 1)))
        return total + sum(u.num_units for u in clnp.units) * bits / 32

    def capacity(self, model: int | None = None) -> float:
        """The share of the hidden units some task owns (``model``: one model of a stack; None: the whole network)."""
        members = self.team.members if model is None else [self._one(model)]
        owned = sum(int((c.owner(i) > 0).sum()) for c in members for i in range(len(c.units)))
        return owned / sum(u.num_units for c in members for u in c.units)


def run_sequence(clnp: CLNP, tasks: Sequence[Task], settings: TrainSettings, **options) -> dict:
    """Learn ``tasks`` in order by :class:`CLNPSchedule` (``options``: its keywords); after each, measure every task
    so far on its test split.

    Returns ``acc[i][j]`` (task ``j`` after task ``i``), the per-task records (theta, new and free units) and
    the final free units per layer.
    """
    return _run(CLNPSchedule(clnp, settings, **options), [tasks])[0]


def run_stacked_sequence(stack: CLNPStack, streams: Sequence[Sequence[Task]], settings: TrainSettings,
                         **options) -> list[dict]:  # fmt: skip
    """:func:`run_sequence` for every model of ``stack``, model ``s`` on ``streams[s]`` (streams of one length and
    equal training sizes): one result per model, each as :func:`run_sequence`'s."""
    if len(streams) != len(stack.members):
        raise ValueError(f"{len(stack.members)} models need {len(stack.members)} streams, got {len(streams)}")
    if len({len(stream) for stream in streams}) > 1:
        raise ValueError(f"the streams must have one length, got {[len(stream) for stream in streams]}")
    return _run(CLNPSchedule(stack, settings, **options), streams)


def _run(schedule: CLNPSchedule, streams: Sequence[Sequence[Task]]) -> list[dict]:
    members = schedule.team.members
    acc: list[list[list[float]]] = [[] for _ in members]
    for t in range(len(streams[0])):
        schedule.learn(t, [stream[t] for stream in streams])
        for s, (c, stream) in enumerate(zip(members, streams)):
            acc[s].append(evaluate_tasks(c.model, stream[: t + 1], forward_for=partial(schedule.forward_for, model=s)))
    return [{"acc": a, "steps": steps, "free_units": c.free_units()}
            for a, steps, c in zip(acc, schedule.member_steps, members)]  # fmt: skip

"""Continual Learning via Neural Pruning (Golkar, Kagan & Cho, 2019).

CLNP works on *units*: the neurons of fully connected layers and the channels
of conv layers, each followed by a ReLU. After a task is trained (with an L1
weight penalty that makes many units go quiet), every unit whose mean
post-ReLU activity on the task's data is at most a threshold θ is *inactive*;
the rest are *active* and now belong to the task. The weights of each layer
then split three ways (§3.1):

* **active** weights (active → active): the task's function; frozen for good;
* **free** weights (anything → inactive unit): re-initialised and trained by the next task;
* **interference** weights (inactive → active unit): set to zero and kept at zero,
  so whatever later tasks do to the free part cannot reach an old task's output.

That gives zero forgetting by construction, which :class:`CLNP` enforces
bit-exactly with :class:`~cl_utils.masks.FrozenEntries`.

*Graceful forgetting* (§3.2) picks θ: the largest threshold whose pruned network
stays within a margin ``m`` (accuracy points) of the best validation accuracy
(:mod:`cl_utils.graceful_forgetting`). :func:`~cl_utils.clnp_schedule.select_by_graceful_forgetting`
implements the paper's hyperparameter selection over a grid of (α, learning rate): keep the models
within ``m`` of the best, sparsify each with its largest admissible θ, and pick the sparsest.

This module is the mechanism only, and :class:`CLNP` is one piece (about 340 lines) because every
method of it reads or writes the same ownership state: which task owns each unit, the masks a task's
forward uses, the weights frozen or zeroed when a task ends.

Outputs: *multi-head* (one head per task, reading every unit of the last hidden
layer that is active when the task is trained) or *single-head* (one shared
output layer; task ``t`` reads only the last-layer units it owns, through a
task-dependent mask).

No public code exists for this paper; unstated details are decided here and
named in the docstrings (and in the chapter).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from .graceful_forgetting import ThetaChoice, select_theta
from .masks import FrozenEntries, unit_columns, unit_rows
from .models import MultiHeadNet
from .train import EpochStats, TrainSettings, evaluate, fit

__all__ = ["CLNP", "UnitLayer"]


@dataclass
class UnitLayer:
    """One hidden layer of units: its weight layer, its ReLU, and how its inputs map to the previous units."""

    name: str
    layer: nn.Module  # nn.Linear or nn.Conv2d
    relu: nn.ReLU
    input_repeat: int  # how many input columns each unit of the previous layer feeds (>1 after a flatten)

    @property
    def num_units(self) -> int:
        return self.layer.out_features if isinstance(self.layer, nn.Linear) else self.layer.out_channels


def _unit_layers(body: nn.Sequential) -> list[UnitLayer]:
    """Find the (weight layer, ReLU) pairs of a body, in order, and the flatten expansion factors."""
    mods = list(body.named_children())
    out: list[UnitLayer] = []
    prev_units: int | None = None
    for i, (name, m) in enumerate(mods):
        if not isinstance(m, (nn.Linear, nn.Conv2d)):
            continue
        relu = next((r for _, r in mods[i + 1 : i + 2] if isinstance(r, nn.ReLU)), None)
        if relu is None:
            raise ValueError(f"layer {name} must be followed directly by nn.ReLU for CLNP")
        in_features = m.in_features if isinstance(m, nn.Linear) else m.in_channels
        repeat = 1 if prev_units is None else in_features // prev_units
        if prev_units is not None and repeat * prev_units != in_features:
            raise ValueError(f"layer {name}: {in_features} inputs is not a multiple of {prev_units} units")
        out.append(UnitLayer(name, m, relu, repeat))
        prev_units = m.out_features if isinstance(m, nn.Linear) else m.out_channels
    if not out:
        raise ValueError("the body has no Linear/Conv2d + ReLU layers")
    return out


def _fresh_like(layer: nn.Module) -> nn.Module:
    """A copy of ``layer`` with newly drawn weights (PyTorch's default initialisation for its type), drawn as a
    deep copy's ``reset_parameters`` draws them, without copying the weights (the weights of one model of a stack
    view the whole stack's storage, which a deep copy would copy)."""
    fresh = copy.copy(layer)
    fresh._parameters = {k: None if v is None else nn.Parameter(torch.empty_like(v)) for k, v in layer._parameters.items()}
    fresh._buffers = {k: None if v is None else torch.empty_like(v) for k, v in layer._buffers.items()}
    fresh.reset_parameters()
    return fresh


class CLNP:
    """CLNP state for a :class:`~cl_utils.models.MultiHeadNet` whose body is Linear/Conv2d + ReLU layers.

    :param model: the network. Multi-head: task ``t`` (1-based) uses ``heads[t - 1]``.
        Single-head: every task uses ``heads[0]``.
    :param single_head: share one output layer, masking the last hidden layer per task.

    ``unit_owner[l]`` (a buffer ``clnp_owner_<l>`` on the model, so it is in
    ``state_dict``) holds, per unit of hidden layer ``l``, the task that made it
    active (0 = free).
    """

    def __init__(self, model: MultiHeadNet, *, single_head: bool = False):
        if not isinstance(model.body, nn.Sequential):
            raise TypeError("CLNP needs the body to be an nn.Sequential")
        self.model = model
        self.single_head = single_head
        self.units = _unit_layers(model.body)
        for i, u in enumerate(self.units):
            name = f"clnp_owner_{i}"
            if not hasattr(model, name):
                model.register_buffer(name, torch.zeros(u.num_units, dtype=torch.uint8, device=u.layer.weight.device))
        if not hasattr(model, "clnp_num_tasks"):
            model.register_buffer("clnp_num_tasks", torch.zeros((), dtype=torch.long))
        self._unit_masks: list[torch.Tensor] | None = None
        self._released: list[torch.Tensor] | None = None  # see release_current_task
        for u in self.units:
            u.relu.register_forward_hook(self._mask_hook(u))

    # ----------------------------------------------------------------- state
    @property
    def num_tasks(self) -> int:
        return int(self.model.clnp_num_tasks)

    def owner(self, layer: int) -> torch.Tensor:
        return getattr(self.model, f"clnp_owner_{layer}")

    def free_units(self) -> list[int]:
        """Free units left per hidden layer."""
        return [int((self.owner(i) == 0).sum()) for i in range(len(self.units))]

    def open_units(self, layer: int) -> torch.Tensor:
        """Free units of ``layer`` that pruning may make active now.

        Every free unit, except between :meth:`release_current_task` and the next
        :meth:`start_task`: then only the released units, so that units pruned before
        a fine-tuning round stay pruned.
        """
        free = self.owner(layer) == 0
        return free if self._released is None else free & self._released[layer]

    def owned_units(self, task: int) -> list[torch.Tensor]:
        """Per hidden layer, which units ``task`` owns (what a fine-tuning round of it retrains)."""
        return [self.owner(i) == task for i in range(len(self.units))]

    def units_of(self, task: int) -> list[int]:
        """Units made active by ``task`` per hidden layer (the paper's new neurons per task)."""
        return [int(owned.sum()) for owned in self.owned_units(task)]

    def head_index(self, task: int) -> int:
        return 0 if self.single_head else task - 1

    # ---------------------------------------------------------------- forward
    def _mask_hook(self, unit: UnitLayer):
        index = self.units.index(unit)

        def hook(module, inputs, output):
            if self._unit_masks is None:
                return output
            mask = self._unit_masks[index]
            return output * mask.view(1, -1, *([1] * (output.dim() - 2))).to(output.dtype)

        return hook

    def task_unit_masks(self, task: int) -> list[torch.Tensor]:
        """Units task ``task`` reads once pruned: owned by tasks ≤ task; single-head: last layer only its own."""
        masks = [(self.owner(i) > 0) & (self.owner(i) <= task) for i in range(len(self.units))]
        if self.single_head:
            masks[-1] = self.owner(len(self.units) - 1) == task
        return masks

    def forward_with_units(self, masks: Sequence[torch.Tensor] | None, head: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """Forward pass with hidden units multiplied by ``masks`` (None: all units)."""

        def forward(x: torch.Tensor) -> torch.Tensor:
            self._unit_masks = list(masks) if masks is not None else None
            try:
                return self.model(x, head)
            finally:
                self._unit_masks = None

        return forward

    def forward_for(self, task: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """Task ``task``'s forward pass (1-based): its units and its head."""
        if not 1 <= task <= self.num_tasks:
            raise ValueError(f"task {task} has not been trained (the network has {self.num_tasks} task(s))")
        return self.forward_with_units(self.task_unit_masks(task), self.head_index(task))

    def training_masks(self) -> list[torch.Tensor]:
        """The units a task reads while it trains: old units are read, free ones are trained; single-head: the last
        layer's free units only."""
        masks = [torch.ones_like(self.owner(i), dtype=torch.bool) for i in range(len(self.units))]
        if self.single_head:
            masks[-1] = self.owner(len(self.units) - 1) == 0
        return masks

    def training_forward(self, task: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """Task ``task``'s forward pass while it trains (:meth:`training_masks`)."""
        return self.forward_with_units(self.training_masks(), self.head_index(task))

    def phase_masks(self, task: int, finetune: bool) -> list[torch.Tensor]:
        """The units task ``task`` reads in a training phase: :meth:`training_masks`, or in a fine-tuning round
        :meth:`task_unit_masks`."""
        return self.task_unit_masks(task) if finetune else self.training_masks()

    def trainable_entries(self, task: int, units: Sequence[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Which entries of each parameter (by name) task ``task`` may change: every free entry while it trains
        (``units`` None), or with ``units`` a fine-tuning round's (:meth:`_finetune_trainable`)."""
        return self._trainable(task) if units is None else self._finetune_trainable(task, units)

    # --------------------------------------------------------------- training
    @torch.no_grad()
    def start_task(self) -> int:
        """Begin a new task: re-initialise the free weights (incoming weights of free units)."""
        task = self.num_tasks + 1
        if not self.single_head and task > len(self.model.heads):
            raise ValueError(f"task {task} needs head {task - 1}; the model has {len(self.model.heads)}")
        self._released = None
        if task > 1:
            for i, u in enumerate(self.units):
                free = self.owner(i) == 0
                fresh = _fresh_like(u.layer)
                w = u.layer.weight
                w.copy_(torch.where(unit_rows(free, w), fresh.weight.to(w.device), w))
                if u.layer.bias is not None:
                    u.layer.bias.copy_(torch.where(free, fresh.bias.to(w.device), u.layer.bias))
        self.model.clnp_num_tasks.fill_(task)
        return task

    def _trainable(self, task: int) -> dict[str, torch.Tensor]:
        """Which entries task ``task`` may change (everything else is frozen bit-exactly)."""
        params = dict(self.model.named_parameters())
        out: dict[str, torch.Tensor] = {}
        prefix = "body."
        for i, u in enumerate(self.units):
            free = self.owner(i) == 0
            out[f"{prefix}{u.name}.weight"] = unit_rows(free, u.layer.weight).clone()
            if u.layer.bias is not None:
                out[f"{prefix}{u.name}.bias"] = free.clone()
        last_free = self.owner(len(self.units) - 1) == 0
        for h, head in enumerate(self.model.heads):
            if self.single_head:  # shared head: only the columns of free last-layer units; bias with task 1
                out[f"heads.{h}.weight"] = unit_columns(last_free, head.weight).clone()
                out[f"heads.{h}.bias"] = torch.full_like(head.bias, task == 1, dtype=torch.bool)
            else:
                mine = h == task - 1
                out[f"heads.{h}.weight"] = torch.full_like(head.weight, mine, dtype=torch.bool)
                out[f"heads.{h}.bias"] = torch.full_like(head.bias, mine, dtype=torch.bool)
        missing = set(params) - set(out)
        if missing:
            raise ValueError(f"CLNP cannot handle parameters {sorted(missing)} (only Linear/Conv2d + ReLU bodies)")
        return out

    def _finetune_trainable(self, task: int, units: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """What a fine-tuning round of ``task`` may change: the surviving weights into ``units``.

        ``units[l]`` are units the task owns (normally all of them). Their incoming
        weights from units the task reads (its own and earlier tasks'; the input
        for the first layer) and their biases are trained, and so is the task's
        head on the last-layer units it reads (the shared head: only its own units'
        columns, its bias with task 1 alone). Frozen: every weight into an earlier
        task's unit, every interference weight (from a free unit, which stays
        zero), and every free unit.
        """
        reads = self.task_unit_masks(task)
        out: dict[str, torch.Tensor] = {}
        for i, u in enumerate(self.units):
            mine = units[i] & (self.owner(i) == task)
            w = u.layer.weight
            inputs = unit_columns(reads[i - 1], w) if i > 0 else torch.ones_like(w, dtype=torch.bool)
            out[f"body.{u.name}.weight"] = unit_rows(mine, w) & inputs
            if u.layer.bias is not None:
                out[f"body.{u.name}.bias"] = mine.clone()
        for h, head in enumerate(self.model.heads):
            own = h == self.head_index(task)
            out[f"heads.{h}.weight"] = unit_columns(reads[-1], head.weight) & own
            out[f"heads.{h}.bias"] = torch.full_like(head.bias, own and (task == 1 or not self.single_head), dtype=torch.bool)
        return out

    def l1_penalty(self, alphas: Sequence[float]) -> Callable[[], torch.Tensor]:
        """``Σ_l α_l Σ|W_l|`` over the hidden layers then the output layer (len(alphas) = layers + 1)."""
        if len(alphas) != len(self.units) + 1:
            raise ValueError(f"need {len(self.units) + 1} alphas (hidden layers + output), got {len(alphas)}")
        layers = [u.layer.weight for u in self.units]

        def penalty() -> torch.Tensor:
            heads = self.model.heads[self.head_index(self.num_tasks)].weight
            total = sum(a * w.abs().sum() for a, w in zip(alphas[:-1], layers) if a)
            return total + alphas[-1] * heads.abs().sum() if alphas[-1] else total

        return penalty

    def train_task(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        settings: TrainSettings,
        *,
        alphas: Sequence[float],
        trainable_units: Sequence[torch.Tensor] | None = None,
        val: tuple[torch.Tensor, torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
        show_progress: bool = True,
        desc: str = "train",
    ) -> list[EpochStats]:
        """Train the free part on the current task with the L1 penalty ``alphas``.

        ``trainable_units`` (fine-tuning after pruning): train only the listed units'
        incoming weights from the units the task reads, with the forward restricted
        to the task's units (:meth:`_finetune_trainable`).
        """
        task = self.num_tasks
        if task < 1:
            raise RuntimeError("call start_task() before train_task()")
        params = dict(self.model.named_parameters())
        if not params:
            raise RuntimeError("this network has no parameters of its own (one model of a stack, "
                               "cl_utils.clnp_stack.CLNPStack): train it through its stack")
        trainable = self.trainable_entries(task, trainable_units)
        forward = self.forward_with_units(self.phase_masks(task, trainable_units is not None), self.head_index(task))
        guard = FrozenEntries(params, trainable)
        movable = [p for n, p in params.items() if bool(trainable[n].any())]
        if not movable:  # capacity exhausted: nothing left to train
            return []
        optimizer = settings.make_optimizer(movable)
        return fit(
            self.model, x, y, epochs=settings.epochs, batch_size=settings.batch_size, optimizer=optimizer,
            forward=forward, penalty=self.l1_penalty(alphas) if any(alphas) else None, guards=[guard], val=val, generator=generator,
            show_progress=show_progress, desc=desc,
        )  # fmt: skip

    # ---------------------------------------------------------------- pruning
    @torch.no_grad()
    def activity(self, x: torch.Tensor, batch_size: int = 1024) -> list[torch.Tensor]:
        """Mean post-ReLU activation of every unit (channels: over positions too) on ``x``, current task's view."""
        sums = [torch.zeros(u.num_units, device=x.device) for u in self.units]
        handles = []
        for i, u in enumerate(self.units):

            def hook(module, inputs, output, i=i):
                dims = [0] + list(range(2, output.dim()))
                sums[i] += output.sum(dims) / (output[0, 0].numel() if output.dim() > 2 else 1)

            handles.append(u.relu.register_forward_hook(hook))
        was_training = self.model.training
        self.model.eval()
        try:
            forward = self.training_forward(self.num_tasks)
            for start in range(0, len(x), batch_size):
                forward(x[start : start + batch_size])
        finally:
            for h in handles:
                h.remove()
            self.model.train(was_training)
        return [s / max(len(x), 1) for s in sums]

    def units_above(self, layer: int, activity: torch.Tensor, theta: float) -> torch.Tensor:
        """The rule that makes a unit the current task's: open (:meth:`open_units`) and mean activity above θ."""
        return self.open_units(layer) & (activity > theta)

    def candidate_masks(self, activity: Sequence[torch.Tensor], thetas: Sequence[float]) -> list[torch.Tensor]:
        """Units the current task would read if open units with activity ≤ ``thetas[l]`` were pruned."""
        task, last = self.num_tasks, len(self.units) - 1
        masks = []
        for i, (act, theta) in enumerate(zip(activity, thetas)):
            new = self.units_above(i, act, theta)
            owner = self.owner(i)
            masks.append(new if self.single_head and i == last else ((owner > 0) & (owner < task)) | new)
        return masks

    @torch.no_grad()
    def prune(self, activity: Sequence[torch.Tensor], thetas: Sequence[float]) -> list[int]:
        """Make open units with activity > ``thetas[l]`` active for the current task; zero interference weights.

        Interference weights are those from units that stay free into any active unit
        (of any task, including the output of this task's head). Returns the number of
        new units per layer.
        """
        task = self.num_tasks
        grown = []
        for i, (act, theta) in enumerate(zip(activity, thetas)):
            new = self.units_above(i, act, theta)
            self.owner(i)[new] = task
            grown.append(int(new.sum()))
        for i, u in enumerate(self.units[1:], start=1):
            inactive_in = self.owner(i - 1) == 0
            active_out = self.owner(i) > 0
            w = u.layer.weight
            w[unit_rows(active_out, w) & unit_columns(inactive_in, w)] = 0.0
        # the task's output nodes are active too: zero what reaches them from units that stay free
        # (a shared single head keeps other tasks' columns: the task mask already hides them)
        head = self.model.heads[self.head_index(task)]
        last_free = self.owner(len(self.units) - 1) == 0
        head.weight[unit_columns(last_free, head.weight)] = 0.0
        return grown

    @torch.no_grad()
    def normalise_units(self, x: torch.Tensor, target: float = 1.0) -> list[torch.Tensor]:
        """Rescale the current task's units to mean activity ``target`` on ``x``, leaving every task's function as is.

        Why: graceful forgetting keeps a task's most active units and fine-tuning (without the L1 penalty) grows
        them further, so an old unit's mean activity can be tens of times a freshly initialised unit's (measured:
        5.0 against 0.12 after two tasks). A later task's new units read those units through weights initialised
        for inputs of unit scale, and under SGD with momentum every new unit of the next layer can die (ReLU at zero
        on all data) within an epoch, leaving the task only its head on old features. ReLU is positively
        homogeneous, so dividing a unit's incoming weights and bias by ``s > 0`` and multiplying what reads it by
        ``s`` changes no output beyond rounding; done before the task is frozen, it only conditions later tasks.
        What reads a unit of the current task: units of the next layer that the task owns (earlier tasks' units read
        zero from it, its interference weights) and free ones (re-initialised by the next task), and the task's head.
        Returns the factors ``s`` per hidden layer (1 for units the task does not own).
        """
        task = self.num_tasks
        activity = self.activity(x)
        factors = []
        for i, u in enumerate(self.units):
            mine = (self.owner(i) == task) & (activity[i] > 0)
            s = torch.where(mine, activity[i] / target, torch.ones_like(activity[i]))
            w = u.layer.weight
            w.div_(s.view(-1, *([1] * (w.dim() - 1))))
            if u.layer.bias is not None:
                u.layer.bias.div_(s)
            reader = self.units[i + 1].layer.weight if i + 1 < len(self.units) else self.model.heads[self.head_index(task)].weight
            readers = self.owner(i + 1) == task if i + 1 < len(self.units) else torch.ones(reader.shape[0], dtype=torch.bool, device=s.device)
            scale = torch.where(unit_rows(readers, reader) & unit_columns(mine, reader),
                                s.repeat_interleave(reader.shape[1] // len(s)).view(1, -1, *([1] * (reader.dim() - 2))), 1.0)
            reader.mul_(scale)
            factors.append(s)
        return factors

    def sparsify(
        self,
        x_activity: torch.Tensor,
        val: tuple[torch.Tensor, torch.Tensor],
        *,
        reference_acc: float,
        margin: float,
        per_layer: bool = False,
        num_candidates: int = 40,
    ) -> ThetaChoice:
        """Graceful forgetting: prune at the threshold(s) :func:`select_theta` picks."""
        activity = self.activity(x_activity)
        choice = select_theta(self, activity, val, reference_acc=reference_acc, margin=margin, per_layer=per_layer,
                              num_candidates=num_candidates)  # fmt: skip
        grown = self.prune(activity, choice.thetas)
        return ThetaChoice(choice.thetas, choice.val_acc, grown)

    @torch.no_grad()
    def release_current_task(self) -> None:
        """Return the current task's units to the free pool (before re-sparsifying after fine-tuning).

        Until the next task starts, only these released units can become active
        again: units pruned earlier stay pruned (:meth:`open_units`).
        """
        released = []
        for i in range(len(self.units)):
            owner = self.owner(i)
            released.append(owner == self.num_tasks)
            owner[released[-1]] = 0
        self._released = released

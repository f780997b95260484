"""CLNP on several networks trained as one stacked network (Golkar, Kagan & Cho, 2019; the mechanism is
:mod:`cl_utils.clnp`).

A :class:`CLNPStack` holds ``S`` models of one :func:`~cl_utils.models.stacked_mlp` (e.g. the repetitions of an
experiment, each with its own initial weights and its own data). Each model is also a plain network whose weights
are views of its slice of the stack (:func:`~cl_utils.models.member_network`), with its own :class:`~cl_utils.clnp.CLNP`
state (``members``): ownership, pruning, the threshold search, re-initialisation and the unit rescaling run on each
model as they do on one network, and write into the stack. Only the training phases are stacked
(:meth:`CLNPStack.train_phase`): each model trains its own free (or fine-tuned) entries, with its own unit masks in
the forward pass, its own L1 strengths and its own learning rate, on its own data in its own order.

Why views instead of a stacked mechanism: CLNP's state differs per model in every respect (which units each task
owns, a threshold per model, the grid point task 1 keeps), so a stack could carry it only as masks; the views keep
one implementation of the mechanism, tested on one network, and stack the part that costs (the epochs).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator, Sequence

import torch
from torch import nn

from .clnp import CLNP
from .masks import FrozenEntries
from .models import MultiHeadNet, member_network, mlp, num_models
from .train import EpochStats, TrainSettings, fit

__all__ = ["CLNPStack", "PerModelRates"]


Data = tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]  # a task's (x, y, (x_val, y_val))


class PerModelRates:
    """Give each model of a stack its own learning rate under one optimiser: a guard for
    :func:`~cl_utils.train.fit` that scales model ``s``'s update of every step by ``factors[s]``.

    The optimiser runs at the largest rate; ``factors[s]`` is model ``s``'s rate over it. Adam's and SGD's updates
    are proportional to the learning rate (for fixed moments), so the scaled update is the update at model ``s``'s
    rate, up to rounding. List it before the :class:`~cl_utils.masks.FrozenEntries` guard, which then restores frozen
    entries last (an entry the step did not move stays bit-exact here too: ``lerp`` of equal values).
    """

    def __init__(self, params: Sequence[nn.Parameter], factors: Sequence[float]):
        self.params = list(params)
        # per parameter, 1 - factor shaped to broadcast over its model dimension, on its device, made once
        self._weights = [(1 - torch.tensor(factors, dtype=p.dtype, device=p.device)).view(-1, *([1] * (p.dim() - 1)))
                         for p in self.params]  # fmt: skip
        self._before: list[torch.Tensor] = []

    @contextmanager
    def holding(self) -> Iterator["PerModelRates"]:
        yield self

    @torch.no_grad()
    def mask_gradients(self) -> None:
        """(Called before the step.) Remember the values the step starts from."""
        self._before = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def restore(self) -> None:
        """(Called after the step.) ``before + factor × (after − before)``, per model."""
        for p, before, weight in zip(self.params, self._before, self._weights):
            p.lerp_(before, weight)
        self._before = []


class CLNPStack:
    """``S`` CLNP networks as the models of one stacked MLP; see the module's docstring.

    :param model: a :func:`~cl_utils.models.stacked_mlp` (no input permutation), already on its device: the models'
        views point into its parameters' storage, so it must not be moved (``.to``) afterwards.
    :param in_features: its input width; ``hidden``: its hidden widths; ``head_sizes``: its heads' classes (to build
        each model's plain view, :func:`~cl_utils.models.member_network`).
    :param single_head: CLNP's single-head mode for every model.
    """

    def __init__(self, model: MultiHeadNet, in_features: int, hidden: Sequence[int], head_sizes: Sequence[int], *,
                 single_head: bool = False):  # fmt: skip
        self.model = model
        self.single_head = single_head
        with torch.device("meta"):  # the plain networks' own weights are replaced by views: none is drawn or stored
            plain = [mlp(in_features, hidden, head_sizes) for _ in range(num_models(model))]
        self.members = [CLNP(member_network(model, s, net), single_head=single_head) for s, net in enumerate(plain)]
        self._masks: list[torch.Tensor] | None = None
        self._data: tuple[Sequence[Data], tuple] | None = None  # the last phase's data, and it stacked
        names = {id(m): n for n, m in self.members[0].model.body.named_children()}
        for i, unit in enumerate(self.members[0].units):
            relu = model.body.get_submodule(names[id(unit.relu)])
            relu.register_forward_hook(self._mask_hook(i))

    def _mask_hook(self, layer: int):
        def hook(module, inputs, output):  # output (S, B, units); the masks (S, units)
            return output if self._masks is None else output * self._masks[layer].unsqueeze(1).to(output.dtype)

        return hook

    @property
    def num_tasks(self) -> int:
        return self.members[0].num_tasks

    def _check_views(self) -> None:
        """Each model's weights must still view the stack's (a stack moved with ``.to`` has new storage)."""
        stacked = dict(self.model.named_parameters())
        for m in self.members:
            for name, view in m.model.named_buffers():
                if name in stacked and view.untyped_storage().data_ptr() != stacked[name].untyped_storage().data_ptr():
                    raise RuntimeError(f"model {self.members.index(m)}'s {name} no longer views the stack's: the stack "
                                       "was moved or copied after the CLNPStack was made; make the CLNPStack after .to()")

    def _stacked(self, per_member: Sequence[Sequence[torch.Tensor]]) -> list[torch.Tensor]:
        return [torch.stack(layer) for layer in zip(*per_member)]

    def forward_with_masks(self, masks: Sequence[torch.Tensor], head: int):
        """The stack's forward pass with model ``s``'s hidden units multiplied by ``masks[l][s]``: inputs
        ``(S, B, ...)``, logits ``(B, classes, S)``."""

        def forward(xb: torch.Tensor) -> torch.Tensor:
            self._masks = list(masks)
            try:
                return self.model(xb, head)
            finally:
                self._masks = None

        return forward

    def forward_for(self, task: int):
        """Task ``task``'s forward pass (1-based) for every model at once: each model's own units, their head."""
        return self.forward_with_masks(self._stacked([m.task_unit_masks(task) for m in self.members]),
                                       self.members[0].head_index(task))  # fmt: skip

    def penalty(self, alphas: Sequence[Sequence[float]]):
        """Each model's L1 penalty (:meth:`~cl_utils.clnp.CLNP.l1_penalty`: ``Σ_l α_l Σ|W_l|`` over the hidden layers
        and the current head) with its own ``alphas``, averaged over the models as the stacked loss is (each model's
        gradient is ``1/S`` of its own run's, for its penalty as for its loss); None where every α is zero."""
        layers = len(self.members[0].units) + 1
        if any(len(a) != layers for a in alphas):
            raise ValueError(f"need {layers} alphas per model (hidden layers + output), got {[len(a) for a in alphas]}")
        table = [[float(a[i]) for a in alphas] for i in range(layers)]  # per layer, each model's strength
        weights = [self.model.body.get_submodule(u.name).weight for u in self.members[0].units]
        weights.append(self.model.heads[self.members[0].head_index(self.num_tasks)].weight)
        active = [(torch.tensor(row, device=w.device, dtype=w.dtype), w) for row, w in zip(table, weights) if any(row)]
        if not active:
            return None
        n = len(self.members)

        def penalty() -> torch.Tensor:
            return sum((strength * w.abs().sum(tuple(range(1, w.dim())))).sum() for strength, w in active) / n

        return penalty

    def _per_model_data(self, data: Sequence[Data]) -> tuple:
        """``(x, y, (x_val, y_val))`` of every model stacked as ``(S, N, ...)``, made once per ``data`` (the
        schedule passes one list to every phase of a task, so the phases of a task stack it once)."""
        if self._data is None or self._data[0] is not data:
            stacked = lambda part: torch.stack([part(d) for d in data])  # noqa: E731
            self._data = data, (stacked(lambda d: d[0]), stacked(lambda d: d[1]),
                                (stacked(lambda d: d[2][0]), stacked(lambda d: d[2][1])))  # fmt: skip
        return self._data[1]

    def train_phase(
        self,
        data: Sequence[Data],
        settings: Sequence[TrainSettings],
        alphas: Sequence[Sequence[float]],
        *,
        finetune: bool = False,
        val: bool = False,
        generator: torch.Generator | None = None,
        show_progress: bool = False,
        desc: str = "train",
    ) -> list[list[EpochStats]]:
        """Train every model on its own ``data[s]`` (``(x, y, validation)``, equal sizes) for the current task, as
        :meth:`~cl_utils.clnp.CLNP.train_task` trains one network: its free entries, or with ``finetune`` the
        surviving entries of the task's units with the forward pass restricted to the task's units; model ``s``
        with ``settings[s]`` (equal but for the learning rate) and ``alphas[s]``; ``val``: each model's validation
        accuracy after every epoch. Returns each model's epochs."""
        members, n = self.members, len(self.members)
        if not len(data) == len(settings) == len(alphas) == n:
            raise ValueError(f"{n} models need {n} datasets, settings and alphas")
        task = self.num_tasks
        if task < 1 or any(m.num_tasks != task for m in members):
            raise RuntimeError("every model must have started the same task (start_task) before training")
        top = max(s.lr for s in settings)
        if any(replace(s, lr=top) != replace(settings[0], lr=top) for s in settings):
            raise ValueError("a stack's models may differ only in the learning rate")
        self._check_views()
        trainable = [m.trainable_entries(task, m.owned_units(task) if finetune else None) for m in members]
        params = dict(self.model.named_parameters())
        if set(params) != set(trainable[0]):
            raise ValueError(f"the stack's parameters {sorted(params)} are not its models' {sorted(trainable[0])}")
        guard = FrozenEntries(params, {name: torch.stack([t[name] for t in trainable]) for name in params})
        movable = {name: p for name, p in params.items() if bool(guard.trainable[name].any())}
        if not movable:  # every model's capacity exhausted
            return [[] for _ in members]
        optimizer = replace(settings[0], lr=top).for_models(n).make_optimizer(movable.values())
        if settings[0].optimizer in ("adam", "adamw"):  # the averaged loss gives each model 1/n of its gradient:
            for group in optimizer.param_groups:  # Adam's moments shrink with it, so its epsilon must too
                group["eps"] /= n
        rates = [s.lr / top for s in settings]
        guards = ([PerModelRates(list(movable.values()), rates)] if any(r != 1 for r in rates) else []) + [guard]
        masks = self._stacked([m.phase_masks(task, finetune) for m in members])
        x, y, validation = self._per_model_data(data)
        history = fit(self.model, x, y, epochs=settings[0].epochs, batch_size=settings[0].batch_size,
                      optimizer=optimizer, forward=self.forward_with_masks(masks, members[0].head_index(task)),
                      penalty=self.penalty(alphas), guards=guards, val=validation if val else None,
                      generator=generator, show_progress=show_progress, desc=desc, per_model=True,
                      per_model_data=True)  # fmt: skip
        return [[h.of_model(s) for h in history] for s in range(n)]

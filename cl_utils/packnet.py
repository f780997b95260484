"""PackNet: adding tasks to one network by iterative weight pruning (Mallya & Lazebnik, CVPR 2018).

Every weight of every conv and linear layer of the shared body has an *owner*:
0 = free, ``k`` = task ``k`` (1-based). The owners live in a ``uint8`` buffer
named ``packnet_owner`` on each layer, so they travel with ``state_dict()``.

One task goes through three steps, each a method of :class:`PackNet`:

1. :meth:`PackNet.train_task` hands every free weight to the new task ``k`` and
   trains; weights of tasks ``< k`` are kept bit-exact by gradient masking plus
   restoring after every optimiser step (:class:`~cl_utils.masks.FrozenEntries`),
   so momentum, weight decay and Adam cannot move them. Biases and batch-norm
   (parameters and running statistics) are trained with task 1 only and frozen
   afterwards, the paper's default; ``separate_biases=True`` instead learns and
   stores conv/linear biases per task (the paper's Table 5).
2. :meth:`PackNet.prune` removes, in every layer, exactly the given fraction of
   the weights task ``k`` owns, by magnitude (§3 "Pruning procedure"): they become
   free and zero. Calling it several times, with retraining in between
   (:meth:`PackNet.retrain`), is iterative pruning; the efficiency chapter uses that.
3. :meth:`PackNet.retrain` trains task ``k``'s surviving weights again, with the
   pruned ones held at zero.

Inference for task ``t`` (:meth:`PackNet.forward_for`) multiplies each weight by
the mask ``0 < owner <= t`` inside ``torch.func.functional_call``: the stored
weights are never modified (the official code masks in place, which destroys the
weights of later tasks when several tasks are evaluated on one model).

Each task has its own head (``model.heads[k - 1]``); heads are never pruned.
:func:`pack_owners` stores the ownership map with ``ceil(log2 N)`` bits per weight,
the paper's storage argument (§3), made real.

Two extensions serve the efficiency chapter (Ball et al. 2020): ``freeze_earlier=False``
keeps every used weight trainable (their "Memory" baseline: full rehearsal, masks
only expanded), and ``train_task(..., task_ids=...)`` trains on data that mixes
tasks, each sample through its own head. A :func:`~cl_utils.models.stacked_mlp`
(several seeds in one network) is pruned model by model.

Why one module (over 300 lines): the ownership map, the masked forward passes, pruning by weight or by
filter and the packed storage of owners all read and write the same per-weight owner buffers, and change together.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from .masks import FrozenEntries, _smallest, magnitude_keep_mask, prunable_weights, unit_columns
from .models import STACKED_LAYERS, MultiHeadNet, num_models
from .train import EpochStats, TrainSettings, fit, train_mode

__all__ = ["PackNet", "PackedOwners", "pack_owners", "unpack_owners", "filter_keep_mask", "free_units", "filter_prune",
           "reset_unread_batchnorm"]

OWNER = "packnet_owner"
BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)


class PackNet:
    """PackNet's ownership map and schedule for a :class:`~cl_utils.models.MultiHeadNet`.

    :param model: the network; task ``k`` uses ``model.heads[k - 1]``.
    :param separate_biases: learn conv/linear biases for every task and store them
        per task (Table 5), instead of freezing them after task 1.
    :param batchnorm_per_task: every task trains its own batch-norm (scale, shift and running statistics) and
        keeps a copy, instead of using task 1's frozen ones: the per-task batch-norm the paper reports "further
        improved performance" (section 4, Table 4), and the like-for-like match of an individual network, which
        re-fits batch-norm too. The shared weights stay PackNet's; earlier tasks stay bit-identical.
    :param max_tasks: room for per-task biases and batch-norm in ``state_dict`` (those options only).
    :param freeze_earlier: PackNet's weight freezing. ``False`` lets task ``k`` train
        every weight any task uses (and biases, batch-norm and every head):
        the "Memory" baseline of Ball et al., which rehearses all earlier data.

    To restore a saved model, build the same architecture, wrap it in a new
    ``PackNet`` (which registers the buffers) and call :meth:`load_state_dict`.
    """

    def __init__(
        self, model: MultiHeadNet, *, separate_biases: bool = False, batchnorm_per_task: bool = False,
        max_tasks: int = 8, freeze_earlier: bool = True,
    ):  # fmt: skip
        if max_tasks > 255:
            raise ValueError("ownership is stored as uint8: at most 255 tasks")
        if separate_biases and not freeze_earlier:
            raise ValueError("separate_biases needs freeze_earlier=True (per-task biases of shared, changing weights)")
        if batchnorm_per_task and not freeze_earlier:
            raise ValueError("batchnorm_per_task needs freeze_earlier=True (per-task batch-norm of shared, changing "
                             "weights)")  # fmt: skip
        self.model = model
        self.separate_biases = separate_biases
        self.batchnorm_per_task = batchnorm_per_task
        self.freeze_earlier = freeze_earlier
        self.weights: dict[str, nn.Parameter] = prunable_weights(model)
        modules = dict(model.named_modules())
        self.layers: dict[str, nn.Module] = {n: modules[n.rsplit(".", 1)[0]] for n in self.weights}
        for layer in self.layers.values():
            if not hasattr(layer, OWNER):
                layer.register_buffer(OWNER, torch.zeros_like(layer.weight, dtype=torch.uint8))
        if not hasattr(model, "packnet_num_tasks"):
            model.register_buffer("packnet_num_tasks", torch.zeros((), dtype=torch.long))
        biases = [n.rsplit(".", 1)[0] + ".bias" for n, layer in self.layers.items() if layer.bias is not None]
        batchnorm = [f"{n}.{t}" for n, m in model.named_modules() if isinstance(m, BN_TYPES)
                     for t in ("weight", "bias", "running_mean", "running_var")]  # fmt: skip
        #: the tensors each task keeps its own copy of, by the buffer that holds one flat row of them per task
        self.own: dict[str, list[str]] = {rows: names for rows, names, wanted in (
            ("packnet_biases", biases, separate_biases), ("packnet_batchnorm", batchnorm, batchnorm_per_task)) if wanted}
        ref = next(model.parameters())
        for rows, names in self.own.items():
            if not hasattr(model, rows):
                width = sum(self._live(n).numel() for n in names)
                model.register_buffer(rows, torch.zeros(max_tasks, width, dtype=ref.dtype, device=ref.device))
        self._mask_cache: dict[int, dict[str, torch.Tensor]] = {}
        self._float_mask_cache: dict[int, dict[str, torch.Tensor]] = {}

    # ------------------------------------------------------------------ state
    @property
    def num_tasks(self) -> int:
        """Number of tasks trained so far (the current one included)."""
        return int(self.model.packnet_num_tasks)

    def owners(self, model: int | None = None) -> dict[str, torch.Tensor]:
        """The ownership map, one uint8 tensor per prunable weight (views, not copies); ``model``: stacked model
        ``model``'s own slice of each (a stacked network's layers are all stacked)."""
        owners = {n: getattr(self.layers[n], OWNER) for n in self.weights}
        return owners if model is None else {n: o[model] for n, o in owners.items()}

    def masks_for(self, task: int) -> dict[str, torch.Tensor]:
        """Boolean masks of the weights task ``task`` uses: owned by tasks ``1..task``."""
        if task not in self._mask_cache:
            self._mask_cache[task] = {n: (o > 0) & (o <= task) for n, o in self.owners().items()}
        return self._mask_cache[task]

    def _forward_masks(self, task: int) -> dict[str, torch.Tensor]:
        """Float masks to multiply weights by in task ``task``'s forward pass, only where one is needed.

        A free weight (owner 0) is always zero (:meth:`prune` zeroes what it frees and
        :meth:`start_task` hands out every free weight of a layer it trains), so masking by
        ``owner <= task`` gives exactly the products ``masks_for(task)`` gives. For the newest
        task that mask is all true in every layer: no layer is masked and its forward is the
        model's own (no ``functional_call``, no products), bit-identical to the masked one.
        Cached as ready float tensors until the ownership changes.
        """
        if task not in self._float_mask_cache:
            owners = self.owners() if task < self.num_tasks else {}  # the newest task: nothing to mask
            self._float_mask_cache[task] = {n: (o <= task).to(self.weights[n].dtype) for n, o in owners.items()
                                            if bool((o > task).any())}  # fmt: skip
        return self._float_mask_cache[task]

    def call(self, task: int, *args, overrides: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """``model(*args)`` with the weights task ``task`` may use (owned by tasks ``1..task``).

        A plain call when no layer needs masking (always for the newest task: see
        :meth:`_forward_masks`); ``overrides`` replaces further parameters outright (a task's own biases).
        """
        masks = self._forward_masks(task)
        if not masks and not overrides:
            return self.model(*args)
        replaced = {n: self.weights[n] * m for n, m in masks.items()}
        replaced.update(overrides or {})
        return functional_call(self.model, replaced, args, strict=False)

    def _changed(self) -> None:
        self._mask_cache.clear()
        self._float_mask_cache.clear()

    def load_state_dict(self, state_dict: Mapping[str, torch.Tensor], strict: bool = True) -> None:
        """Load weights, heads and ownership into the wrapped model (``strict=False`` to
        load a state saved without per-task biases into a model that keeps them)."""
        self.model.load_state_dict(state_dict, strict=strict)
        self._changed()

    def usage(self, model: int | None = None) -> dict[str, dict[int, float]]:
        """Per layer, the fraction of weights owned by each task (0 = free); of stacked model ``model`` only."""
        out = {}
        for n, o in self.owners(model).items():
            counts = torch.bincount(o.flatten().long(), minlength=self.num_tasks + 1)
            out[n] = {k: float(c) / o.numel() for k, c in enumerate(counts.tolist())}
        return out

    # -------------------------------------------------------------- inference
    def _live(self, name: str) -> torch.Tensor:
        """The model's parameter or buffer ``name`` ("features.1.running_mean")."""
        module, attr = name.rsplit(".", 1)
        return getattr(self.model.get_submodule(module), attr)

    def _own_overrides(self, task: int) -> dict[str, torch.Tensor]:
        """Task ``task``'s own biases and batch-norm, where it keeps them (the newest task's are the live ones)."""
        if task == self.num_tasks:
            return {}
        out = {}
        for rows, names in self.own.items():
            row, start = getattr(self.model, rows)[task - 1], 0
            for n in names:
                live = self._live(n)
                out[n] = row[start : start + live.numel()].view_as(live)
                start += live.numel()
        return out

    def forward_for(self, task: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """The forward pass of task ``task`` (1-based): masked weights, its biases, its head."""
        if not 1 <= task <= self.num_tasks:
            raise ValueError(f"task {task} has not been trained (the network has {self.num_tasks} task(s))")

        def forward(x: torch.Tensor) -> torch.Tensor:
            return self.call(task, x, task - 1, overrides=self._own_overrides(task))

        return forward

    # --------------------------------------------------------------- training
    def start_task(self, trainable_layers: str = "all", *, reinit_free_units: bool = False) -> int:
        """Hand the free weights to a new task; return its number (1-based).

        :param trainable_layers: whose free weights the task may train: ``"all"``
            prunable layers (default), ``"fc"`` (the body's linear layers only) or
            ``"none"`` (its head only, i.e. classifier only): the paper's Figure 5.
            Task 1 always takes every weight.
        :param reinit_free_units: draw fresh weights (the layer's default
            initialisation) for units whose incoming weights are all free.

        Free weights start from their current value, which is 0 for pruned weights
        (as in the official code). That is fine after weight pruning, where every
        unit keeps some live weights, but not after :func:`filter_prune`: a freed
        unit then has zero weights in and out, so both gradients are zero and it
        can never learn. ``reinit_free_units=True`` breaks that symmetry.
        """
        if trainable_layers not in ("all", "fc", "none"):
            raise ValueError(f"trainable_layers must be 'all', 'fc' or 'none', got {trainable_layers!r}")
        task = self.num_tasks + 1
        if task > len(self.model.heads):
            raise ValueError(f"task {task} needs head {task - 1}; the model has {len(self.model.heads)} head(s)")
        for rows in self.own:
            if task > len(getattr(self.model, rows)):
                raise ValueError(f"task {task} needs a row of {rows}; this PackNet keeps "
                                 f"{len(getattr(self.model, rows))} (pass a larger max_tasks)")  # fmt: skip
        for n, o in self.owners().items():
            takes = trainable_layers == "all" or (trainable_layers == "fc" and isinstance(self.layers[n], nn.Linear))
            if takes and reinit_free_units and task > 1:
                self._reinit_free_rows(n, o)
            if takes or task == 1:
                o[o == 0] = task
        self.model.packnet_num_tasks.fill_(task)
        self._changed()
        return task

    @torch.no_grad()
    def _reinit_free_rows(self, name: str, owner: torch.Tensor) -> None:
        """Fresh default-initialised incoming weights for the units of ``name`` that no task owns."""
        w = self.weights[name]
        free_rows = (owner == 0).flatten(1).all(1)
        if free_rows.any():
            fresh = copy.deepcopy(self.layers[name])
            fresh.reset_parameters()
            w[free_rows] = fresh.weight.to(w.device)[free_rows]

    def _guards(self, task: int) -> list[FrozenEntries]:
        """Freeze everything task ``task`` may not change, bit-exactly."""
        params = dict(self.model.named_parameters())
        if not self.freeze_earlier:  # only pruned weights stay (at zero) where they are
            trainable = {n: o > 0 for n, o in self.owners().items()}
            return [FrozenEntries({n: params[n] for n in trainable}, trainable)]
        trainable: dict[str, torch.Tensor] = {n: o == task for n, o in self.owners().items()}
        own = {n for names in self.own.values() for n in names}
        for n, p in params.items():
            if n in trainable or n.startswith("heads."):
                continue
            # biases and batch-norm parameters: trained with task 1, then frozen,
            # except those each task keeps its own copy of
            trainable[n] = torch.full_like(p, task == 1 or n in own, dtype=torch.bool)
        guarded = {n: params[n] for n in trainable}
        return [FrozenEntries(guarded, trainable)]

    def _optimizer_params(self, task: int) -> list[nn.Parameter]:
        heads = self.model.heads if not self.freeze_earlier else [self.model.heads[task - 1]]
        return list(self.model.body.parameters()) + [p for h in heads for p in h.parameters()]

    def train_task(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        settings: TrainSettings,
        *,
        val: tuple[torch.Tensor, torch.Tensor] | None = None,
        scheduler_fn: Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler] | None = None,
        generator: torch.Generator | None = None,
        show_progress: bool = True,
        desc: str = "train",
        task_ids: torch.Tensor | None = None,
        samples_per_epoch: int | None = None,
    ) -> list[EpochStats]:
        """Train the current task's weights (call :meth:`start_task` first).

        :param task_ids: 0-based head of each sample of ``x``, for data that mixes
            tasks (multitask training, rehearsal); ``val`` is then ``((x, ids), y)``.
            By default every sample goes through the current task's head.
        :param samples_per_epoch: passed to :func:`~cl_utils.train.fit` (``None``: every sample each epoch).
        """
        task = self.num_tasks
        if task < 1:
            raise RuntimeError("call start_task() before train_task()")
        optimizer = settings.make_optimizer(self._optimizer_params(task))
        if task_ids is None:
            inputs, forward = x, self.forward_for(task)
        else:
            inputs = (x, task_ids)
            forward = lambda xb, ids: self.call(task, xb, ids)  # noqa: E731
        history = fit(
            self.model,
            inputs,
            y,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            optimizer=optimizer,
            forward=forward,
            guards=self._guards(task),
            scheduler=scheduler_fn(optimizer) if scheduler_fn else None,
            val=val,
            generator=generator,
            show_progress=show_progress,
            desc=desc,
            set_train_mode=train_mode(self.model, freeze_batchnorm_stats=task > 1 and self.freeze_earlier
                                      and not self.batchnorm_per_task),  # fmt: skip
            samples_per_epoch=samples_per_epoch,
        )
        self.store_own(task)
        return history

    retrain = train_task  # retraining after pruning is training the same task's surviving weights

    @torch.no_grad()
    def store_own(self, task: int) -> None:
        """Record the live conv/linear biases and batch-norm as task ``task``'s own (where each task keeps them)."""
        for rows, names in self.own.items():
            getattr(self.model, rows)[task - 1].copy_(torch.cat([self._live(n).detach().flatten() for n in names]))

    @torch.no_grad()
    def prune(self, fraction: float | Sequence[float], keep_fn: Callable[..., torch.Tensor] | None = None) -> dict[str, int]:
        """Free exactly ``round(fraction × n)`` of the current task's ``n`` weights in every layer
        (of every stacked model; a sequence gives each stacked model its own fraction).

        The smallest-magnitude weights go (``keep_fn`` may replace the rule, e.g.
        :func:`filter_keep_mask`); they become free (owner 0) and zero. Returns the
        number of weights freed per layer.
        """
        task = self.num_tasks
        keep_fn = keep_fn or magnitude_keep_mask
        models = num_models(self.model)
        fractions = [float(fraction)] * models if isinstance(fraction, (int, float)) else list(fraction)
        if len(fractions) != models:
            raise ValueError(f"{len(fractions)} prune fractions for {models} stacked model(s)")
        freed = {}
        for n, w in self.weights.items():
            owner = getattr(self.layers[n], OWNER)
            if isinstance(self.layers[n], STACKED_LAYERS):  # each stacked model on its own
                keep = torch.stack([keep_fn(w[s], fractions[s], owner[s] == task) for s in range(len(w))])
            else:
                keep = keep_fn(w, fractions[0], owner == task)
            drop = ~keep
            owner[drop] = 0
            w[drop] = 0.0
            freed[n] = int(drop.sum())
        self._changed()
        return freed


def filter_keep_mask(weight: torch.Tensor, fraction: float, eligible: torch.Tensor) -> torch.Tensor:
    """Structured alternative to magnitude pruning: drop whole output units (filters or neurons).

    Ranks every output unit that has ``eligible`` weights (the units the task
    owns, even when some of their inputs were freed already) by the L2 norm of
    those weights, and frees all eligible weights of the ``round(fraction × units)``
    weakest (the paper's Table 6 compares such filter pruning with weight pruning;
    its ranking is Molchanov et al.'s Taylor criterion, ours the weight norm: see
    the chapter). Entries outside ``eligible`` are kept.
    """
    rows = weight.detach().flatten(1)
    elig = eligible.flatten(1).bool()
    units = elig.any(1).nonzero().squeeze(1)
    norms = (rows[units] * elig[units]).norm(dim=1)
    k = int(round(fraction * len(units)))
    drop_units = units[_smallest(norms, k)]  # the weakest k (ties: the earlier units), as magnitude pruning picks
    keep = torch.ones_like(elig)
    keep[drop_units] = ~elig[drop_units]
    return keep.view_as(weight)


@torch.no_grad()
def free_units(packnet: PackNet, choose: Callable[[str, torch.Tensor, torch.Tensor], torch.Tensor]) -> dict[str, int]:
    """Free whole output units of the current task, layer by layer, and the next layer's weights that read them.

    In each prunable layer, first the weights that read a unit freed in the layer before are freed (so the task's
    surviving units never see what later tasks build there); then ``choose(name, weight, mine)`` (``mine``: the
    weights the task owns now) names the layer's units to free, a boolean mask over its output units, and their
    weights the task owns are freed. Returns the number of units per layer the task no longer owns any weight of.
    """
    task = packnet.num_tasks
    freed_units: dict[str, int] = {}
    dropped_prev: torch.Tensor | None = None
    for name, w in packnet.weights.items():
        owner = getattr(packnet.layers[name], OWNER)
        if dropped_prev is not None:
            sel = unit_columns(dropped_prev, w) & (owner == task)
            owner[sel] = 0
            w[sel] = 0.0
        mine = owner == task
        owned = mine.flatten(1).any(1)
        rows = choose(name, w, mine).view(-1, *([1] * (w.dim() - 1))).expand_as(w) & mine
        owner[rows] = 0
        w[rows] = 0.0
        dropped = owned & ~(owner == task).flatten(1).any(1)
        freed_units[name] = int(dropped.sum())
        dropped_prev = dropped
    packnet._changed()
    return freed_units


@torch.no_grad()
def filter_prune(packnet: PackNet, fraction: float) -> dict[str, int]:
    """Filter-based pruning of the current task (the paper's §5.5 / Table 6).

    In every prunable layer, ``round(fraction × units)`` of the output units (conv
    filters, fc neurons) the task owns, those with the smallest weight norm, are
    freed (:func:`filter_keep_mask`), and so are the next layer's weights that read
    them (:func:`free_units`), so that the task's surviving units never see what later
    tasks build there (the paper sets those incoming weights to zero). Call
    :func:`reset_unread_batchnorm` after retraining. Returns the number of freed units per layer.
    """
    return free_units(packnet, lambda _name, w, mine: ~filter_keep_mask(w, fraction, mine).flatten(1).all(1))


@torch.no_grad()
def reset_unread_batchnorm(packnet: PackNet) -> int:
    """Reset batch-norm channels that no task uses any more to the identity; return how many.

    A channel is unused when its filter is entirely free and every weight of the
    next layer that reads it is free too (what :func:`filter_prune` leaves). The
    statistics a dead channel gathered (variance near 0) would otherwise multiply
    the next task's new filter by about 1/sqrt(eps) and make its training diverge.
    """
    body = list(packnet.model.body.children())
    names = list(packnet.weights)
    count = 0
    for i, name in enumerate(names[:-1]):
        layer = packnet.layers[name]
        pos = next((k for k, m in enumerate(body) if m is layer), None)
        if pos is None or pos + 1 >= len(body) or not isinstance(body[pos + 1], BN_TYPES):
            continue
        bn = body[pos + 1]
        own = getattr(layer, OWNER).flatten(1)
        nxt = getattr(packnet.layers[names[i + 1]], OWNER)
        reads = (nxt != 0).transpose(0, 1).reshape(own.shape[0], -1).any(1)
        unused = (own == 0).all(1) & ~reads
        bn.running_mean[unused], bn.running_var[unused] = 0.0, 1.0
        bn.weight[unused], bn.bias[unused] = 1.0, 0.0
        count += int(unused.sum())
    return count


# ---------------------------------------------------------------- mask storage
@dataclass(frozen=True)
class PackedOwners:
    """An ownership map packed at ``bits`` bits per weight."""

    data: np.ndarray  # uint8 bytes
    bits: int
    shapes: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)


def _bits_needed(num_values: int) -> int:
    return max(1, math.ceil(math.log2(num_values)))


def pack_owners(owners: dict[str, torch.Tensor], num_tasks: int) -> PackedOwners:
    """Pack the ownership map at ``ceil(log2 N)`` bits per weight for ``N`` tasks.

    A weight that no task owns (pruned after the last task) is zero, so it can
    be assigned to the last task without changing any task's function; that
    leaves ``N`` values (1..N), stored as ``owner - 1``.
    """
    flat = torch.cat([o.detach().flatten().cpu() for o in owners.values()]).numpy().astype(np.int64)
    if flat.size and flat.max() > num_tasks:
        raise ValueError(f"owner {flat.max()} exceeds num_tasks={num_tasks}")
    values = np.where(flat == 0, num_tasks, flat) - 1
    bits = _bits_needed(num_tasks)
    bit_planes = ((values[:, None] >> np.arange(bits)) & 1).astype(np.uint8)
    shapes = tuple((n, tuple(o.shape)) for n, o in owners.items())
    return PackedOwners(np.packbits(bit_planes.reshape(-1)), bits, shapes)


def unpack_owners(packed: PackedOwners) -> dict[str, torch.Tensor]:
    """Inverse of :func:`pack_owners` (pruned-after-last-task weights come back as the last task's)."""
    count = sum(math.prod(shape) for _, shape in packed.shapes)
    bit_planes = np.unpackbits(packed.data)[: count * packed.bits].reshape(count, packed.bits).astype(np.int64)
    values = (bit_planes << np.arange(packed.bits)).sum(1) + 1
    out, start = {}, 0
    for name, shape in packed.shapes:
        size = math.prod(shape)
        out[name] = torch.from_numpy(values[start : start + size].astype(np.uint8)).view(shape)
        start += size
    return out

"""Progressive networks with lateral adapters (Rusu et al. 2016) and their pruning (Nicholls & Dasgupta).

A :class:`ProgressiveNet` is a list of fully connected *columns*, one per task.
Column ``k``'s hidden layer ``i`` (and its output layer) also reads the
previous layer's activations of every earlier column ``j < k`` through a
lateral adapter ``a_{j,k}`` (Rusu et al. 2016, Eq. 2)::

    z_i^(k) = W_i^(k) h_{i-1}^(k) + b_i^(k) + Σ_{j<k} a_{j,k}( h_{i-1}^(j) )

The first layer has no laterals: its input, the image, is the same for every
column. Earlier columns and their adapters are frozen while a new column trains
(they are simply left out of the optimiser), so old tasks' outputs stay
bit-identical.

Adapter kinds (``adapter=``), the comparisons of Nicholls & Dasgupta's Fig. 2:

* ``"none"``: unlinked columns (independent networks).
* ``"unlearned"``: zero learnable parameters; the earlier column's activations
  are average-pooled to the width of the layer they feed (:class:`PooledAdapter`).
* ``"learned"``: Rusu et al.'s dense adapter: a learned scalar ``α``, then an MLP
  with one hidden layer, ``U·relu(V·αh)`` (:class:`LearnedAdapter`). One adapter
  per earlier column, as in the pseudo-code's ``a_{k,i} (∀k < i)``.
* ``"random"``: the same learned adapters, fed white noise ``N(0, 1)`` instead of
  the earlier columns' activations (fresh noise at every call).

Progressive pruning (Nicholls & Dasgupta, Algorithm 1): train column ``k`` for
E epochs, prune the column's weights *together with the adapters that feed it*
by magnitude, then retrain E epochs with the pruned weights held at zero.
The pytorch-weights_pruning code the paper builds on uses one global threshold
over every weight matrix (biases excluded); we do the same over the column and
its adapters (``scope="global"``; ``"layer"`` prunes each matrix separately).

Several seeds train as one *stacked* network (``models=S``): every layer is a
:class:`~cl_utils.models.StackedLinear`, inputs are ``(S, B, ...)``, logits ``(B, classes, S)``, each
model's column pruned by its own threshold; the frozen columns then run in every batch (their activations
differ per model, so they are not computed once per split).

Why one module (over 300 lines): the network, its adapter kinds, pruning a column and training it share
the indexing of columns and laterals.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .masks import FrozenEntries, ParameterCount, count_parameters, global_keep_masks, layerwise_keep_masks
from .models import StackedLinear
from .streams import Task
from .train import EpochStats, TrainSettings, accuracy_per_model, evaluate, fit, set_seed

__all__ = [
    "ADAPTER_KINDS",
    "PRUNING_SCOPES",
    "LearnedAdapter",
    "PooledAdapter",
    "Column",
    "ProgressiveNet",
    "prune_column",
    "train_column",
    "matched_unlinked_fractions",
]

ADAPTER_KINDS = ("none", "unlearned", "learned", "random")
PRUNING_SCOPES = ("global", "layer")


class LearnedAdapter(nn.Module):
    """``up(relu(down(α·h)))``: Rusu et al.'s dense lateral adapter (their Eq. 2, with biases).

    :param width: width of the hidden projection (Rusu et al.: a projection onto
        a subspace of the width of the layer it feeds).
    :param alpha_init: initial value of the learned scalar ``α`` (Rusu et al. draw it
        from {1, 0.1, 0.01}).
    """

    def __init__(self, in_features: int, out_features: int, width: int, alpha_init: float = 0.1, models: int = 1):
        super().__init__()
        alpha = torch.full((models,), float(alpha_init)) if models > 1 else torch.tensor(float(alpha_init))
        self.alpha = nn.Parameter(alpha)  # a stacked model's own alpha each
        self.down, self.up = _linear(in_features, width, models), _linear(width, out_features, models)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha.view(-1, 1, 1) if self.alpha.dim() else self.alpha  # a stacked model's own alpha
        return self.up(F.relu(self.down(alpha * h)))


def _linear(in_features: int, out_features: int, models: int) -> nn.Module:
    """``nn.Linear``, or ``models`` of them stacked."""
    return nn.Linear(in_features, out_features) if models == 1 else StackedLinear(models, in_features, out_features)


class PooledAdapter(nn.Module):
    """A lateral connection with no parameters: the activations, average-pooled to ``out_features``.

    Nicholls & Dasgupta's "unlearned Conn" injects the previous column's
    activations without learning anything, but does not say how widths are
    matched. Adaptive average pooling is the identity when the widths agree and
    otherwise keeps the activations' mean scale.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.in_features == self.out_features:
            return h
        pooled = F.adaptive_avg_pool1d(h.reshape(-1, 1, h.shape[-1]), self.out_features)  # (..., F): any models
        return pooled.view(*h.shape[:-1], self.out_features)


class Column(nn.Module):
    """One task's fully connected network: ``Linear → ReLU`` per hidden width, then the output layer."""

    def __init__(self, in_features: int, hidden: Sequence[int], num_classes: int, models: int = 1):
        super().__init__()
        widths = [in_features, *hidden, num_classes]
        self.layers = nn.ModuleList(_linear(a, b, models) for a, b in zip(widths[:-1], widths[1:]))
        self.num_models = models
        self.hidden = tuple(int(h) for h in hidden)
        self.num_classes = num_classes


class ProgressiveNet(nn.Module):
    """Columns added one task at a time, linked by lateral adapters (see the module docstring).

    :param in_features: size of a flattened input image.
    :param adapter: one of :data:`ADAPTER_KINDS`.
    :param alpha_init: initial ``α`` of learned adapters.
    :param adapter_width: hidden width of learned adapters; ``None`` = the width of the layer fed.
    :param models: independent networks stacked in one (each seed of a configuration): inputs ``(S, B, ...)``,
        logits ``(B, classes, S)``.
    """

    def __init__(
        self, in_features: int, adapter: str = "learned", *, alpha_init: float = 0.1, adapter_width: int | None = None,
        models: int = 1,
    ):  # fmt: skip
        super().__init__()
        if adapter not in ADAPTER_KINDS:
            raise ValueError(f"adapter must be one of {ADAPTER_KINDS}, got {adapter!r}")
        if models < 1:
            raise ValueError(f"models must be >= 1, got {models}")
        self.num_models = models
        self.in_features = in_features
        self.adapter = adapter
        self.alpha_init = alpha_init
        self.adapter_width = adapter_width
        self.columns = nn.ModuleList()
        # laterals[k][i - 1][j]: the adapter from column j's layer i-1 into column k's layer i
        self.laterals = nn.ModuleList()

    def _make_adapter(self, in_features: int, out_features: int) -> nn.Module:
        if self.adapter == "unlearned":
            return PooledAdapter(in_features, out_features)
        width = self.adapter_width or out_features
        return LearnedAdapter(in_features, out_features, width, self.alpha_init, self.num_models)

    def add_column(self, hidden: Sequence[int], num_classes: int) -> int:
        """Append a column (and the adapters that feed it); return its index."""
        if self.columns and len(hidden) != len(self.columns[0].hidden):
            raise ValueError(f"every column needs {len(self.columns[0].hidden)} hidden layers, got {list(hidden)}")
        if not hidden or any(h < 1 for h in hidden):
            raise ValueError(f"hidden widths must be positive, got {list(hidden)}")
        column = Column(self.in_features, hidden, num_classes, self.num_models)
        links = nn.ModuleList()
        if self.adapter != "none":
            fed = [*column.hidden, num_classes]  # widths of layers 1..L (layer 0 reads the image)
            for i in range(1, len(fed)):
                links.append(nn.ModuleList(self._make_adapter(prev.hidden[i - 1], fed[i]) for prev in self.columns))
        ref = next(self.parameters(), None)
        if ref is not None:
            column.to(ref.device)
            links.to(ref.device)
        self.columns.append(column)
        self.laterals.append(links)
        return len(self.columns) - 1

    def column_parameters(self, k: int) -> dict[str, nn.Parameter]:
        """Column ``k``'s own parameters and those of the adapters feeding it, by full name."""
        return {
            n: p for n, p in self.named_parameters() if n.startswith((f"columns.{k}.", f"laterals.{k}."))
        }

    def column_weights(self, k: int) -> dict[str, nn.Parameter]:
        """The prunable part of :meth:`column_parameters`: every weight matrix (no biases, no ``α``)."""
        matrix = 2 if self.num_models == 1 else 3  # a stacked matrix has the model first
        return {n: p for n, p in self.column_parameters(k).items() if p.dim() == matrix}

    def column_count(self, k: int, model: int | None = None) -> ParameterCount:
        """Dense and non-zero parameter counts of column ``k`` plus the adapters that feed it (of stacked model
        ``model`` alone, else of the whole network)."""
        params = self.column_parameters(k)
        return count_parameters(params if model is None else {n: p[model] for n, p in params.items()})

    def _column(self, k: int, x: torch.Tensor, earlier: Sequence[Sequence[torch.Tensor]] | None):
        """Column ``k``'s logits and hidden activations, given earlier columns' hidden activations."""
        column = self.columns[k]
        h = x.flatten(1) if self.num_models == 1 else x.flatten(2)  # (S, B, features) for a stack
        hidden: list[torch.Tensor] = []
        last = len(column.layers) - 1
        for i, layer in enumerate(column.layers):
            z = layer(h)
            if i > 0 and k > 0 and self.adapter != "none":
                for j, adapter in enumerate(self.laterals[k][i - 1]):
                    if self.adapter == "random":
                        source = torch.randn(*h.shape[:-1], self.columns[j].hidden[i - 1], device=x.device,
                                             dtype=x.dtype)  # fmt: skip
                    else:
                        source = earlier[j][i - 1]
                    z = z + adapter(source)
            if i < last:
                h = F.relu(z)
                hidden.append(h)
        return (z if self.num_models == 1 else z.permute(1, 2, 0)), hidden

    def needs_laterals(self, k: int) -> bool:
        """Whether column ``k``'s forward pass reads earlier columns' activations."""
        return k > 0 and self.adapter in ("unlearned", "learned")

    def earlier_activations(self, x: torch.Tensor, k: int) -> list[list[torch.Tensor]]:
        """Hidden activations of columns ``0..k-1`` on ``x`` (what column ``k``'s adapters read)."""
        acts: list[list[torch.Tensor]] = []
        for j in range(k):
            acts.append(self._column(j, x, acts if self.needs_laterals(j) else None)[1])
        return acts

    def column_logits(
        self, x: torch.Tensor, k: int, earlier: Sequence[Sequence[torch.Tensor]] | None = None
    ) -> torch.Tensor:
        """Column ``k``'s logits; ``earlier`` = precomputed :meth:`earlier_activations` (else computed)."""
        if earlier is None and self.needs_laterals(k):
            earlier = self.earlier_activations(x, k)
        return self._column(k, x, earlier)[0]

    def forward(self, x: torch.Tensor, task: int = -1) -> torch.Tensor:
        """Logits of column ``task`` (default: the newest)."""
        if not -len(self.columns) <= task < len(self.columns):
            raise IndexError(f"task {task} has no column (the network has {len(self.columns)})")
        return self.column_logits(x, task % len(self.columns))


def prune_column(net: ProgressiveNet, k: int, fraction: float, scope: str = "global") -> dict[str, torch.Tensor]:
    """Zero the ``fraction`` smallest-magnitude weights of column ``k`` and its adapters; return keep masks.

    Exactly ``round(fraction × n)`` of the ``n`` weights go with ``scope="global"``
    (one threshold over the column); ``"layer"`` prunes each matrix by ``fraction``.
    """
    if scope not in PRUNING_SCOPES:
        raise ValueError(f"scope must be one of {PRUNING_SCOPES}, got {scope!r}")
    weights = net.column_weights(k)
    keep = global_keep_masks if scope == "global" else layerwise_keep_masks
    if net.num_models == 1:
        masks = keep(weights, fraction)
    else:  # each stacked model by its own threshold
        own = [keep({n: w[s] for n, w in weights.items()}, fraction) for s in range(net.num_models)]
        masks = {n: torch.stack([m[n] for m in own]) for n in weights}
    with torch.no_grad():
        for name, w in weights.items():
            w.mul_(masks[name].to(w.dtype))
    return masks


def _lateral_inputs(net: ProgressiveNet, k: int, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(x, *flattened earlier activations)``: the frozen columns run once per split, not once per batch."""
    if not net.needs_laterals(k):
        return (x,)
    with torch.no_grad():
        acts = net.earlier_activations(x, k)
    return (x, *[a for column in acts for a in column])


def _column_forward(net: ProgressiveNet, k: int):
    """A forward over ``(x, *flat activations)`` batches, for :func:`~cl_utils.train.fit`."""
    depth = len(net.columns[0].hidden)

    def forward(x: torch.Tensor, *flat: torch.Tensor) -> torch.Tensor:
        earlier = [list(flat[j * depth : (j + 1) * depth]) for j in range(k)] if flat else None
        return net.column_logits(x, k, earlier)

    return forward


def train_column(
    net: ProgressiveNet,
    k: int,
    task: Task,
    settings: TrainSettings,
    *,
    initial_epochs: bool = True,
    prune_fraction: float = 0.0,
    retrain_epochs: int = 0,
    scope: str = "global",
    seed: int = 0,
    show_progress: bool = True,
) -> dict:
    """Train column ``k`` on ``task`` (earlier columns frozen); optionally prune and retrain it.

    :param initial_epochs: False when the column already holds its trained weights
        (e.g. a checkpoint shared by several runs): only pruning and retraining run.
    :param prune_fraction: fraction of the column's and its adapters' weights to prune (0 = none).
    :param retrain_epochs: epochs after pruning, pruned weights held at exactly zero (with
        ``prune_fraction=0`` they simply continue training: the paper's unpruned baseline
        trains 2E epochs).
    :param seed: the initial phase is seeded with ``(seed, k)``, retraining separately,
        so a run that loads the initial phase from a checkpoint continues identically.
    :returns: epoch histories, validation and test accuracy, dense and non-zero counts; of a stacked network,
        ``per_model``: each model's (:func:`column_record`).
    """
    for j in range(len(net.columns)):
        net.columns[j].requires_grad_(j == k)
        net.laterals[j].requires_grad_(j == k)
    params = net.column_parameters(k)
    stacked = net.num_models > 1
    if stacked:  # every model's frozen columns differ: they run in each batch (no grad: frozen)
        forward = lambda x: net.column_logits(x, k)  # noqa: E731
        inputs = {s: task.split(s)[0] for s in ("train", "val", "test")}
    else:
        forward = _column_forward(net, k)
        inputs = {s: _lateral_inputs(net, k, task.split(s)[0]) for s in ("train", "val", "test")}
    val = (inputs["val"], task.y_val)

    def phase(epochs: int, phase_seed: int, guards: Sequence[FrozenEntries], desc: str) -> list[EpochStats]:
        generator = set_seed(phase_seed)
        return fit(
            net, inputs["train"], task.y_train, epochs=epochs, batch_size=settings.batch_size,
            optimizer=settings.make_optimizer(params.values()), forward=forward, guards=guards, val=val,
            generator=generator, show_progress=show_progress, desc=desc, per_model=stacked,
        )  # fmt: skip

    history = phase(settings.epochs, 1000 * seed + 2 * k, (), f"column {k + 1}") if initial_epochs else []
    retrain: list[EpochStats] = []
    if prune_fraction > 0 or retrain_epochs > 0:
        masks = prune_column(net, k, prune_fraction, scope)
        guard = FrozenEntries(net.column_weights(k), masks)  # pruned entries were zeroed: they stay zero
        retrain = phase(retrain_epochs, 1000 * seed + 2 * k + 1, (guard,), f"column {k + 1} retrain")
    if not stacked:
        count = net.column_count(k)
        return {
            "history": [h.as_dict() for h in history],
            "retrain_history": [h.as_dict() for h in retrain],
            "val_acc": evaluate(net, *val, forward=forward)[1],
            "test_acc": evaluate(net, inputs["test"], task.y_test, forward=forward)[1],
            "params_total": count.total,
            "params_nonzero": count.nonzero,
        }
    acc = {split: accuracy_per_model(net, *data, forward=forward)
           for split, data in (("val", val), ("test", (inputs["test"], task.y_test)))}  # fmt: skip
    return {"per_model": [column_record(net, k, s, history, retrain, acc["val"][s], acc["test"][s])
                          for s in range(net.num_models)]}  # fmt: skip


def column_record(net: ProgressiveNet, k: int, s: int, history: Sequence[EpochStats], retrain: Sequence[EpochStats],
                  val_acc: float, test_acc: float) -> dict:  # fmt: skip
    """Stacked model ``s``'s record of column ``k``, in the form :func:`train_column` gives one network's (its
    epochs' times are the stack's)."""
    count = net.column_count(k, s)
    return {"history": [h.of_model(s).as_dict() for h in history],
            "retrain_history": [h.of_model(s).as_dict() for h in retrain], "val_acc": val_acc, "test_acc": test_acc,
            "params_total": count.total, "params_nonzero": count.nonzero}  # fmt: skip


def matched_unlinked_fractions(
    in_features: int,
    hidden_sizes: Sequence[Sequence[int]],
    num_classes: Sequence[int],
    fraction: float,
    *,
    adapter: str = "learned",
    adapter_width: int | None = None,
) -> list[float]:
    """Per-column pruning fractions of an unlinked network that match a progressive one's size.

    The progressive network prunes ``fraction`` of each column's weights together
    with its adapters' (one global threshold per column). The unlinked column ``k``
    is given the fraction that leaves it with exactly as many non-zero parameters
    (weights, biases, ``α``) as progressive column ``k`` plus its adapters, so that
    the two networks have the same total (Nicholls & Dasgupta: "prune to an equal
    number of final parameters"). Returns 0 for a column the unlinked network
    cannot match without growing (only at small fractions).
    """
    progressive = ProgressiveNet(in_features, adapter, adapter_width=adapter_width)
    unlinked = ProgressiveNet(in_features, "none")
    out = []
    for k, (hidden, classes) in enumerate(zip(hidden_sizes, num_classes)):
        progressive.add_column(hidden, classes)
        unlinked.add_column(hidden, classes)
        p_weights = sum(w.numel() for w in progressive.column_weights(k).values())
        p_other = sum(p.numel() for p in progressive.column_parameters(k).values()) - p_weights
        target = p_weights - round(fraction * p_weights) + p_other
        u_weights = sum(w.numel() for w in unlinked.column_weights(k).values())
        u_other = sum(p.numel() for p in unlinked.column_parameters(k).values()) - u_weights
        keep = target - u_other
        out.append(max(0.0, (u_weights - keep) / u_weights))
    return out

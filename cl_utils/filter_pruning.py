"""Iterative convolution-filter pruning (Salcedo & Sharma), with filters physically removed.

The paper's Algorithms 1-3, in four pieces:

* :class:`FilterNet`: a VGG-style network (conv features → adaptive average pool →
  fully connected classifier) whose conv layers can lose filters;
  :func:`vgg16_filter_net` builds torchvision's VGG-16 layout (4,224 filters),
  optionally with its ImageNet weights.
* :class:`FilterScores`: per-filter scores accumulated at every training iteration
  between two prunes (``TrackConv2DNorms``): the 2-norm of each filter's
  post-ReLU activations over batch and space (``ComputeConv2DActNorms``), or of its
  weights over input channels and kernel (``ComputeConv2DWeightNorms``), each
  optionally divided by the layer's maximum.
* :func:`remove_filters` (``PruneConvLayers``): drops output channels of one conv,
  the matching entries of its batch-norm, and the matching inputs of the next conv
  or of the first linear layer (``pool_size**2`` inputs per filter).
* :func:`prune_step` (``PruneAllConv2DLayers``) with :func:`filters_to_prune`, the
  paper's Eq. (1) read per layer: ``N_p = floor(p/100 * filters now in the layer)``.
  This reading reproduces the paper's count exactly (4,224 → 3,136 filters after six
  steps of 5 %, :func:`filter_count_trajectory`); 5 % of the network's total (211)
  could not be taken from a 64-filter layer.

:func:`train_with_filter_pruning` is the driver (Algorithms 3 and 4): train, and
every ``every`` epochs prune and (optionally) switch to the next block of data.
The optimiser is rebuilt after each prune (its momentum buffers refer to removed
filters); it is kept across data switches without a prune. The control :data:`RESTART`
prunes nothing but rebuilds the optimiser where a pruned run prunes, to tell the effect
of the prune from that of the restart.

Several seeds train as one *stacked* network (:func:`stacked_filter_net`: grouped convolutions, inputs
``(S, B, ...)``, each model its own data block): every model loses the same number of filters per layer
(Eq. 1 depends only on the count), each its own lowest-scoring ones, so the stack keeps one shape.

Why one module (over 300 lines): the ranking, the physical removal of filters and the driver share the
bookkeeping of which filters each layer keeps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn
from tqdm import tqdm  # text bars everywhere: tqdm.auto warns (with a local path) without ipywidgets

from .models import (StackedConv2d, StackedLinear, _init_like_torchvision_vgg, num_models, stacked_layer,
                     stacked_state, vgg16_conv_layers)  # fmt: skip
from .train import TrainSettings, fit

__all__ = [
    "CRITERIA",
    "RESTART",
    "FilterNet",
    "vgg16_filter_net",
    "stacked_filter_net",
    "FilterScores",
    "filters_to_prune",
    "filter_count_trajectory",
    "remove_filters",
    "prune_step",
    "PruningSchedule",
    "Block",
    "train_with_filter_pruning",
]

CRITERIA = ("none", "activation", "weight")
#: the control: no pruning, the optimiser rebuilt at every block end where a pruned run rebuilds it after its prune
RESTART = "restart"


class FilterNet(nn.Module):
    """``features`` (convs, optional batch-norms, ReLUs, pools) → ``AdaptiveAvgPool2d(pool_size)`` → ``classifier``.

    The classifier is an ``nn.Sequential`` whose first module is the ``nn.Linear`` that
    reads the ``channels * pool_size**2`` pooled features (torchvision's VGG layout).
    ``num_models`` > 1: a stack of that many networks (:func:`stacked_filter_net`).
    """

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential, pool_size: int, num_models: int = 1):
        super().__init__()
        if not isinstance(classifier[0], (nn.Linear, StackedLinear)):
            raise ValueError("the classifier must start with the nn.Linear that reads the conv features")
        self.features, self.classifier, self.pool_size = features, classifier, pool_size
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size)
        self.num_models = num_models

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.num_models == 1:
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))
        s, b = x.shape[:2]  # (S, B, C, H, W) -> the grouped layout (B, S x C, H, W), and per model back out
        pooled = self.avgpool(self.features(x.transpose(0, 1).reshape(b, s * x.shape[2], *x.shape[3:])))
        return self.classifier(pooled.reshape(b, s, -1).transpose(0, 1))  # each model's (channel, row, col)

    def conv_layers(self) -> list[nn.Conv2d | StackedConv2d]:
        return [m for m in self.features if isinstance(m, (nn.Conv2d, StackedConv2d))]

    def filter_counts(self) -> list[int]:
        """Number of filters (output channels) of every conv layer, in order (of each stacked model)."""
        return [c.weight.shape[1] if isinstance(c, StackedConv2d) else c.out_channels for c in self.conv_layers()]

    def _follower(self, conv: nn.Conv2d, kind: type[nn.Module]) -> nn.Module | None:
        """The first module of type ``kind`` after ``conv`` and before the next conv (None if none)."""
        modules = list(self.features)
        for m in modules[modules.index(conv) + 1 :]:
            if isinstance(m, kind):
                return m
            if isinstance(m, nn.Conv2d):
                return None
        return None

    def activation_after(self, conv: nn.Conv2d) -> nn.Module:
        """The ReLU that follows ``conv`` (after its batch-norm, if any): where activations are read."""
        relu = self._follower(conv, nn.ReLU)
        if relu is None:
            raise ValueError("every conv must be followed by a ReLU")
        return relu


def vgg16_filter_net(
    num_classes: int,
    *,
    pretrained: bool = False,
    batch_norm: bool = False,
    pool_size: int = 7,
    fc_widths: Sequence[int] = (4096, 4096),
    dropout: float = 0.5,
) -> FilterNet:
    """torchvision's VGG-16 (cfg "D": 13 convs, 4,224 filters) with a ``num_classes``-way output.

    :param pretrained: start from torchvision's ImageNet weights (needs them downloaded
        or in the torch hub cache); the last layer is replaced. Requires ``pool_size=7``
        and ``fc_widths=(4096, 4096)``, the layout the weights were trained with.
    :param pool_size: side of the adaptive average pool before the classifier. torchvision
        uses 7; on 32 px inputs the conv output is 1×1, so 7 only repeats each value 49
        times, and ``pool_size=1`` gives the same function class with 49× fewer fc6 weights.
    """
    if pretrained:
        return _pretrained_vgg16(num_classes, batch_norm, pool_size, fc_widths)
    layers, channels = vgg16_conv_layers(batch_norm=batch_norm)
    head: list[nn.Module] = []
    width = channels * pool_size**2
    for w in fc_widths:
        head += [nn.Linear(width, w), nn.ReLU(), nn.Dropout(dropout)]
        width = w
    head.append(nn.Linear(width, num_classes))
    model = FilterNet(nn.Sequential(*layers), nn.Sequential(*head), pool_size)
    _init_like_torchvision_vgg(model)
    return model


def _pretrained_vgg16(num_classes: int, batch_norm: bool, pool_size: int, fc_widths: Sequence[int]) -> FilterNet:
    if pool_size != 7 or tuple(fc_widths) != (4096, 4096):
        raise ValueError("pretrained=True needs torchvision's layout: pool_size=7 and fc_widths=(4096, 4096)")
    import torchvision

    builder = torchvision.models.vgg16_bn if batch_norm else torchvision.models.vgg16
    try:
        tv = builder(weights="DEFAULT")
    except Exception as err:  # no internet and no cached weights
        raise RuntimeError(
            "pretrained=True needs torchvision's ImageNet VGG-16 weights, which could not be loaded "
            f"({err.__class__.__name__}: {err}). Connect to the internet once (they are cached in "
            "$TORCH_HOME), or set pretrained=False to start from a random initialisation."
        ) from err
    classifier = tv.classifier
    last = classifier[-1]
    classifier[-1] = nn.Linear(last.in_features, num_classes)
    for m in tv.features:  # plain ReLUs: activation hooks must see the output, not an in-place alias
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return FilterNet(tv.features, classifier, pool_size)


def stacked_filter_net(nets: Sequence[FilterNet]) -> FilterNet:
    """The networks ``nets`` (one layout, e.g. one per seed, each initialised as its run initialises it) as one
    stacked :class:`FilterNet`: grouped convolutions, :class:`~cl_utils.models.StackedBatchNorm2d`, batched fc
    layers, the last one's logits ``(B, classes, S)``; the layers keep their names, model ``s`` holds ``nets[s]``."""
    s, first = len(nets), nets[0]
    features = nn.Sequential(*(stacked_layer(m, s) for m in first.features))
    last = len(first.classifier) - 1
    classifier = nn.Sequential(*(stacked_layer(m, s, models_last=i == last) for i, m in enumerate(first.classifier)))
    ref = next(first.parameters())
    model = FilterNet(features, classifier, first.pool_size, num_models=s).to(ref.device, ref.dtype)
    model.load_state_dict(stacked_state(model, [net.state_dict() for net in nets]))
    return model


def filters_to_prune(num_filters: int, percent: float) -> int:
    """Eq. (1) per layer: ``floor(percent/100 * num_filters)``, leaving at least one filter."""
    n = math.floor(num_filters * percent / 100 + 1e-9)
    return max(0, min(n, num_filters - 1))


def filter_count_trajectory(counts: Sequence[int], percent: float, steps: int) -> list[int]:
    """Total filters before any prune and after each of ``steps`` prunes (``steps + 1`` numbers)."""
    counts = list(counts)
    totals = [sum(counts)]
    for _ in range(steps):
        counts = [n - filters_to_prune(n, percent) for n in counts]
        totals.append(sum(counts))
    return totals


def _keep_rows(param: nn.Parameter | torch.Tensor, keep: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """``param``'s entries ``keep`` along ``dim``; ``keep`` ``(S, k)``: each stacked model's own (``dim`` counted
    within a model's slice)."""
    if keep.dim() == 1:
        return param.detach().index_select(dim, keep.to(param.device)).clone()
    return torch.stack([p.detach().index_select(dim, k.to(param.device)) for p, k in zip(param, keep)])


def _keep_of(drop: Sequence[int] | torch.Tensor, filters: int, layer: int) -> torch.Tensor | None:
    """The filters one network keeps when it drops ``drop`` (None: it drops none); bad indices are errors."""
    drop_set = {int(i) for i in (drop.tolist() if isinstance(drop, torch.Tensor) else drop)}
    if any(not 0 <= i < filters for i in drop_set):
        raise IndexError(f"filter index out of range for conv {layer} with {filters} filters")
    if len(drop_set) >= filters:
        raise ValueError(f"cannot remove all {filters} filters of conv {layer}")
    return torch.tensor([i for i in range(filters) if i not in drop_set], dtype=torch.long) if drop_set else None


@torch.no_grad()
def remove_filters(model: FilterNet, layer: int, drop: Sequence[int] | torch.Tensor | Sequence[Sequence[int]]) -> None:
    """Remove filters ``drop`` of conv layer ``layer`` and every weight that reads them (``PruneConvLayers``).

    The conv loses those output channels (weights and biases), its batch-norm the
    matching affine parameters and running statistics, and the next conv (or the
    classifier's first linear layer, ``pool_size**2`` columns per filter) the matching
    inputs. Parameters are replaced by new ``nn.Parameter`` objects: rebuild the optimiser.
    A stacked network takes one list of filters per model, all of one length (the stack keeps one shape).
    """
    convs = model.conv_layers()
    conv, filters = convs[layer], model.filter_counts()[layer]
    if model.num_models == 1:
        keep = _keep_of(drop, filters, layer)
    else:
        kept = [_keep_of(d, filters, layer) for d in drop]
        if len(kept) != model.num_models or len({None if k is None else len(k) for k in kept}) != 1:
            raise ValueError(f"a stack of {model.num_models} networks drops as many filters in each: got "
                             f"{[filters - (filters if k is None else len(k)) for k in kept]}")  # fmt: skip
        keep = None if kept[0] is None else torch.stack(kept)
    if keep is None:
        return
    stacked, k = keep.dim() == 2, keep.shape[-1]
    conv.weight = nn.Parameter(_keep_rows(conv.weight, keep))
    if conv.bias is not None:
        conv.bias = nn.Parameter(_keep_rows(conv.bias, keep))
    if not stacked:
        conv.out_channels = k
    bn = model._follower(conv, nn.BatchNorm2d)
    if bn is not None:
        bn.weight = nn.Parameter(_keep_rows(bn.weight, keep))
        bn.bias = nn.Parameter(_keep_rows(bn.bias, keep))
        bn.running_mean = _keep_rows(bn.running_mean, keep)
        bn.running_var = _keep_rows(bn.running_var, keep)
        bn.num_features = k * model.num_models
        if stacked:
            bn.features_per_model = k
    nxt = convs[layer + 1] if layer + 1 < len(convs) else None
    if nxt is not None:
        nxt.weight = nn.Parameter(_keep_rows(nxt.weight, keep, dim=1))
        if not stacked:
            nxt.in_channels = k
        return
    fc: nn.Linear | StackedLinear = model.classifier[0]
    per_filter = model.pool_size**2  # flatten order is (channel, row, col)
    columns = (keep.unsqueeze(-1) * per_filter + torch.arange(per_filter)).flatten(-2)
    fc.weight = nn.Parameter(_keep_rows(fc.weight, columns, dim=1))
    fc.in_features = columns.shape[-1]


class FilterScores:
    """Per-filter scores of every conv layer, summed over training iterations until :meth:`reset`.

    ``criterion="activation"``: at each training forward pass, the 2-norm of each filter's
    post-ReLU activations over batch and space; ``"weight"``: the 2-norm of each filter's
    weights over input channels and kernel. With ``normalize`` each iteration's vector is
    divided by its maximum, so every iteration weighs the same. Forward passes in eval
    mode (validation) are not counted. Call :meth:`close` to remove the hooks.
    """

    def __init__(self, model: FilterNet, criterion: str, normalize: bool = False):
        if criterion not in ("activation", "weight"):
            raise ValueError(f"criterion must be 'activation' or 'weight', got {criterion!r}")
        self.model, self.criterion, self.normalize = model, criterion, normalize
        self.iterations = 0
        self._scores: list[torch.Tensor | None] = []
        self._hooks = []
        for i, conv in enumerate(model.conv_layers()):
            module = model.activation_after(conv) if criterion == "activation" else conv
            self._hooks.append(module.register_forward_hook(self._make_hook(i, conv)))
        self.reset()

    def _make_hook(self, index: int, conv: nn.Conv2d | StackedConv2d):
        models = self.model.num_models

        def hook(module: nn.Module, inputs, output: torch.Tensor) -> None:
            if not module.training:
                return
            if self.criterion == "activation":  # a stack's (S x C) channels: each model's C
                norms = output.detach().pow(2).sum((0, 2, 3)).sqrt()
                norms = norms if models == 1 else norms.view(models, -1)
            else:
                norms = conv.weight.detach().flatten(1 if models == 1 else 2).norm(dim=-1)
            if self.normalize:
                top = norms.max() if models == 1 else norms.amax(-1, keepdim=True)  # each model by its own maximum
                norms = norms / top.clamp_min(1e-12)
            current = self._scores[index]
            self._scores[index] = norms if current is None else current + norms
            if index == 0:
                self.iterations += 1

        return hook

    def reset(self) -> None:
        self._scores = [None] * len(self._hooks)
        self.iterations = 0

    def scores(self) -> list[torch.Tensor]:
        """The accumulated score of every filter of every conv layer (raises if nothing was accumulated); of a stack,
        ``(S, filters)`` per layer."""
        if any(s is None for s in self._scores):
            raise RuntimeError("no training iteration has been scored since the last reset")
        return list(self._scores)

    def close(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []


def prune_step(model: FilterNet, scores: Sequence[torch.Tensor], percent: float) -> list[int]:
    """Remove the ``filters_to_prune`` lowest-scoring filters of every conv layer; return the new counts.

    Ties are broken by filter index (stable sort), so the step is deterministic. A stack's scores are
    ``(S, filters)``: each model drops its own lowest-scoring filters, as many as the others.
    """
    convs = model.conv_layers()
    if len(scores) != len(convs):
        raise ValueError(f"expected {len(convs)} score vectors, got {len(scores)}")
    for layer, (filters, score) in enumerate(zip(model.filter_counts(), scores)):
        if score.shape[-1] != filters:
            raise ValueError(f"conv {layer}: {score.shape[-1]} scores for {filters} filters")
        n = filters_to_prune(filters, percent)
        if n:
            remove_filters(model, layer, torch.sort(score.cpu(), stable=True).indices[..., :n])
    return model.filter_counts()


@dataclass(frozen=True)
class PruningSchedule:
    """When and how much to prune: ``percent`` of each layer's filters every ``every`` epochs."""

    criterion: str = "weight"  # "none" (baseline), "activation", "weight" or RESTART (the control)
    percent: float = 5.0
    every: int = 7
    normalize: bool = False

    def __post_init__(self) -> None:
        if self.criterion not in (*CRITERIA, RESTART):
            raise ValueError(f"criterion must be one of {(*CRITERIA, RESTART)}, got {self.criterion!r}")
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")

    @property
    def prunes(self) -> bool:
        """Whether the schedule removes filters (a criterion that scores them)."""
        return self.criterion not in ("none", RESTART)

    def prunes_after(self, epoch: int, epochs: int) -> bool:
        """Prune after ``epoch`` (1-based) if it ends a block and training goes on."""
        return self.prunes and self.restarts_after(epoch, epochs)

    def restarts_after(self, epoch: int, epochs: int) -> bool:
        """Rebuild the optimiser after ``epoch``: where a pruned run prunes (a pruned run, or the control)."""
        return self.criterion != "none" and epoch % self.every == 0 and epoch < epochs


@dataclass(frozen=True)
class Block:
    """The data of one block of ``every`` epochs: training images and a validation split."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


def train_with_filter_pruning(
    model: FilterNet,
    block_data: Callable[[int], Block],
    *,
    epochs: int,
    settings: TrainSettings,
    schedule: PruningSchedule,
    generator: torch.Generator | None = None,
    show_progress: bool = True,
    desc: str = "epochs",
) -> list[dict]:
    """Train for ``epochs`` epochs; block ``b = (epoch - 1) // every`` trains on ``block_data(b)``.

    After every ``schedule.every``-th epoch (not the last), the lowest-scoring filters are
    removed (:func:`prune_step`), the scores reset and the optimiser rebuilt (the control
    :data:`RESTART`: only rebuilt). A new
    block's data (a resample, or another dataset) is fetched at the first epoch of the block.
    Returns one dict per epoch: losses, accuracies (in [0, 1]), the block's data name,
    the total filter count the epoch trained with, and the epoch's wall time in seconds. A stacked network
    (:func:`stacked_filter_net`) trains each model on its own block (``block_data`` gives ``(S, N, ...)`` tensors)
    and returns one such history per model (its epochs' times are the stack's).
    """
    models = num_models(model)
    scores = FilterScores(model, schedule.criterion, schedule.normalize) if schedule.prunes else None
    optimizer = settings.make_optimizer(model.parameters())
    history: list[list[dict]] = [[] for _ in range(models)]
    block: Block | None = None
    try:
        for epoch in tqdm(range(1, epochs + 1), desc=desc, disable=not show_progress, leave=False):
            index = (epoch - 1) // schedule.every
            if (epoch - 1) % schedule.every == 0:
                block = block_data(index)
            stats = fit(
                model, block.x_train, block.y_train, epochs=1, batch_size=settings.batch_size,
                optimizer=optimizer, val=(block.x_val, block.y_val), generator=generator, show_progress=False,
                per_model=models > 1, per_model_data=models > 1,
            )[0]  # fmt: skip
            filters = sum(model.filter_counts())  # each model's: they drop as many
            for s, own in enumerate([stats] if models == 1 else [stats.of_model(s) for s in range(models)]):
                history[s].append({
                    "epoch": epoch, "block": index, "data": block.name, "filters": filters,
                    "train_loss": own.train_loss, "train_acc": own.train_acc,
                    "val_loss": own.val_loss, "val_acc": own.val_acc, "seconds": own.seconds,
                })  # fmt: skip
            if scores is not None and schedule.prunes_after(epoch, epochs):
                prune_step(model, scores.scores(), schedule.percent)
                scores.reset()
            if schedule.restarts_after(epoch, epochs):  # after a prune, or where the control would have pruned
                optimizer = settings.make_optimizer(model.parameters())
    finally:
        if scores is not None:
            scores.close()
    return history[0] if models == 1 else history

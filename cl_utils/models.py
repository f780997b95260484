"""The networks the papers use, all as a shared body plus one head per task.

:class:`MultiHeadNet` is the common shape: ``body`` maps inputs to features,
``heads[t]`` maps features to task ``t``'s logits, and ``forward(x, task)``
picks the head. A single-head network is the same class with one head.

Bodies provided:

* :func:`mlp`: fully connected ReLU layers of any widths (Zenke et al. 2017;
  Golkar et al. 2019; Ball et al. 2020; Nicholls & Dasgupta).
* :func:`zenke_cnn`: the split-CIFAR conv net of Zenke et al. (2017), used by CLNP.
* :func:`ball_cnn`: the CIFAR-10 conv net of Ball et al. (2020, App. A).
* :func:`vgg16`: torchvision's VGG-16 layout ("D") for 32 px inputs: 13 conv
  layers with 4,224 filters at width 1, optional batch-norm, a width multiplier.
* :func:`stacked_mlp`: ``S`` independent MLPs (e.g. one per seed) evaluated as one
  network with batched matrix products (:class:`StackedLinear`), so that many
  small runs share each kernel launch and each Python step; :func:`stacked_ball_cnn`,
  :func:`stacked_zenke_cnn` and :func:`stacked_vgg16` do the same for the conv nets (grouped
  convolutions, :class:`StackedBatchNorm2d`). Every parameter of a stacked network has the model as its
  first dimension (:func:`model_parameters`); :func:`stacked_state` loads plain networks' states into one.

Why one module (over 300 lines): the book's networks are short builders that share the
:class:`MultiHeadNet` and stacked-layer conventions; a reader finds every architecture in one place.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from functools import partial
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "MultiHeadNet", "StackedLinear", "StackedConv2d", "StackedPermutation", "ToGrouped", "FromGrouped", "STACKED_LAYERS", "mlp",
    "stacked_mlp", "stacked_ball_cnn", "stacked_zenke_cnn", "num_models", "per_model", "model_parameters", "zenke_cnn", "ball_cnn", "vgg16", "vgg16_conv_layers",
    "VGG16_LAYOUT", "StackedBatchNorm2d", "stacked_vgg16", "stacked_state", "stacked_layer", "member_network",
]  # fmt: skip

VGG16_LAYOUT: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class StackedLinear(nn.Module):
    """``num_models`` independent ``nn.Linear`` layers applied with one batched matrix product.

    ``weight`` is ``(S, out, in)`` and ``bias`` ``(S, out)``; each slice is
    initialised like ``nn.Linear``. Input ``(B, in)`` (shared by every model) or
    ``(S, B, in)``; output ``(S, B, out)``, or ``(B, out, S)`` with
    ``models_last=True`` (the layout :func:`~cl_utils.train.cross_entropy` and the
    accuracy of :func:`~cl_utils.train.fit` read: class dimension second).
    """

    def __init__(self, num_models: int, in_features: int, out_features: int, *, models_last: bool = False):
        super().__init__()
        if num_models < 1:
            raise ValueError(f"num_models must be >= 1, got {num_models}")
        self.in_features, self.out_features, self.models_last = in_features, out_features, models_last
        self.weight = nn.Parameter(torch.empty(num_models, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(num_models, out_features))
        bound = 1.0 / in_features**0.5  # nn.Linear's default: U(-1/sqrt(in), 1/sqrt(in)) for both
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.matmul(x, self.weight.transpose(1, 2)) + self.bias.unsqueeze(1)  # (S, B, out)
        return out.permute(1, 2, 0) if self.models_last else out


class StackedConv2d(nn.Module):
    """``num_models`` independent ``nn.Conv2d`` layers run as one grouped convolution.

    ``weight`` is ``(S, out, in, k, k)`` and ``bias`` ``(S, out)``; each slice is initialised
    like ``nn.Conv2d``. Input and output are in the grouped layout ``(B, S × channels, H, W)``
    (model ``s`` owns channels ``s × C .. (s + 1) × C − 1``), so ReLU, pooling and dropout
    between stacked convolutions need no reshaping; :class:`ToGrouped` and :class:`FromGrouped`
    enter and leave it.
    """

    def __init__(self, num_models: int, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0):
        super().__init__()
        if num_models < 1:
            raise ValueError(f"num_models must be >= 1, got {num_models}")
        self.num_models, self.padding = num_models, padding
        convs = [nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding) for _ in range(num_models)]
        self.weight = nn.Parameter(torch.stack([c.weight.detach() for c in convs]))
        self.bias = nn.Parameter(torch.stack([c.bias.detach() for c in convs]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, out, c, kh, kw = self.weight.shape
        return F.conv2d(x, self.weight.reshape(s * out, c, kh, kw), self.bias.reshape(-1), padding=self.padding,
                        groups=s)  # fmt: skip


class StackedPermutation(nn.Module):
    """Each stacked model reads its own fixed permutation of the input features: ``(S, B, F)`` in, model ``s``'s
    slice ``x[s][:, perms[s]]`` out (a permuted-MNIST task per model on one shared image tensor)."""

    def __init__(self, perms: torch.Tensor):
        super().__init__()
        self.register_buffer("perms", perms.long())  # (S, F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.gather(x, 2, self.perms.unsqueeze(1).expand(-1, x.shape[1], -1))


class ToGrouped(nn.Module):
    """``(S, B, C, H, W)`` per-model images to the grouped layout ``(B, S × C, H, W)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, b, c, h, w = x.shape
        return x.transpose(0, 1).reshape(b, s * c, h, w)


class FromGrouped(nn.Module):
    """The grouped layout ``(B, S × C, H, W)`` back to per-model flat features ``(S, B, C × H × W)``."""

    def __init__(self, num_models: int):
        super().__init__()
        self.num_models = num_models

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        return x.reshape(b, self.num_models, -1).transpose(0, 1)


class StackedBatchNorm2d(nn.BatchNorm2d):
    """``num_models`` independent ``nn.BatchNorm2d`` layers on the grouped layout ``(B, S × C, H, W)``.

    Scale, shift and running statistics are ``(S, C)`` (the model first, as every stacked parameter); the
    normalisation runs as one ``BatchNorm2d`` over the ``S × C`` channels, each channel with its own batch
    statistics, so the models stay independent. A subclass of ``nn.BatchNorm2d``: whatever freezes or resets
    batch-norm layers (``train_mode``, PackNet) treats it as one.
    """

    def __init__(self, num_models: int, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        if momentum is None:
            raise ValueError("StackedBatchNorm2d keeps running averages with a momentum; a cumulative average "
                             "(momentum=None) is not supported")  # fmt: skip
        super().__init__(num_models * num_features, eps=eps, momentum=momentum)
        self.num_models, self.features_per_model = num_models, num_features
        shape = (num_models, num_features)
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))
        self.register_buffer("running_mean", torch.zeros(shape))
        self.register_buffer("running_var", torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if self.training:
            self.num_batches_tracked.add_(1)
        # views of the (S, C) buffers: the running statistics are updated in place, as nn.BatchNorm2d's
        return F.batch_norm(x, self.running_mean.view(-1), self.running_var.view(-1), self.weight.reshape(-1),
                            self.bias.reshape(-1), self.training, self.momentum, self.eps)  # fmt: skip


#: layers that hold one weight slice per stacked model (pruned model by model)
STACKED_LAYERS = (StackedLinear, StackedConv2d)


class MultiHeadNet(nn.Module):
    """A body shared by all tasks and a list of task heads (``nn.Linear`` by default).

    :param body: maps a batch of inputs to ``feature_dim`` features.
    :param feature_dim: width of the body's output.
    :param head_sizes: number of classes of each task's head; one entry = single head.
    :param make_head: builds a head from ``(feature_dim, num_classes)``.
    :param num_models: independent models the body and heads stack (:func:`stacked_mlp`,
        :func:`stacked_ball_cnn`); their inputs are then ``(S, B, ...)``.
    """

    def __init__(
        self,
        body: nn.Module,
        feature_dim: int,
        head_sizes: Sequence[int],
        make_head: Callable[[int, int], nn.Module] = nn.Linear,
        num_models: int = 1,
    ):
        super().__init__()
        if not head_sizes:
            raise ValueError("need at least one head")
        self.body = body
        self.feature_dim = feature_dim
        self.make_head = make_head
        self.heads = nn.ModuleList(make_head(feature_dim, n) for n in head_sizes)
        self.num_models = num_models

    def add_head(self, num_classes: int) -> int:
        """Append a head for a new task; return its index."""
        ref = next(self.parameters())
        self.heads.append(self.make_head(self.feature_dim, num_classes).to(ref.device, ref.dtype))
        return len(self.heads) - 1

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward_tasks(self, x: torch.Tensor, task_ids: torch.Tensor) -> torch.Tensor:
        """Logits of a batch that mixes tasks: row ``i`` comes from head ``task_ids[i]``.

        Heads narrower than the widest are padded with ``-inf`` (zero probability),
        so cross-entropy and argmax only see the sample's own head. Used for
        joint (multitask) training and rehearsal; ``forward(x, task_ids)`` calls it.
        """
        features = self.body(x)
        sizes = {h.out_features for h in self.heads}
        if len(sizes) == 1:  # one batched gather, no host synchronisation
            logits = torch.stack([h(features) for h in self.heads], 1)  # (B, T, C), stacked: (B, T, C, S)
            if self.num_models == 1:
                return logits[torch.arange(len(x), device=x.device), task_ids]
            index = task_ids.t()[:, None, None, :].expand(-1, 1, logits.shape[2], -1)  # task_ids (S, B)
            return logits.gather(1, index).squeeze(1)
        if self.num_models > 1:
            raise ValueError("a stacked network needs heads of one size to mix tasks in a batch")
        out = features.new_full((len(x), max(sizes)), float("-inf"))
        for t, head in enumerate(self.heads):
            sel = task_ids == t
            out[sel, : head.out_features] = head(features[sel])
        return out

    def forward(self, x: torch.Tensor, task: int | torch.Tensor = 0) -> torch.Tensor:
        """Logits of head ``task``, or, given a tensor of per-sample task ids, of each sample's head."""
        if isinstance(task, torch.Tensor):
            return self.forward_tasks(x, task)
        if not 0 <= task < len(self.heads):
            raise IndexError(f"task {task} has no head (the model has {len(self.heads)})")
        return self.heads[task](self.body(x))


def mlp(
    in_features: int,
    hidden: Sequence[int],
    head_sizes: Sequence[int],
    dropout: float = 0.0,
) -> MultiHeadNet:
    """Flatten, then ``Linear → ReLU (→ Dropout)`` per hidden width, then the heads."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    return MultiHeadNet(nn.Sequential(*layers), width, head_sizes)


def stacked_mlp(num_models: int, in_features: int, hidden: Sequence[int], head_sizes: Sequence[int],
                input_permutations: torch.Tensor | None = None) -> MultiHeadNet:
    """``num_models`` independent copies of :func:`mlp` (ReLU, no dropout) in one network.

    Every layer is a :class:`StackedLinear`. Inputs are ``(S, B, ...)``, one batch per model
    (:func:`~cl_utils.train.fit` gives each model its own data order; the evaluation functions
    expand a shared batch with :func:`per_model`), and the logits come out as
    ``(B, classes, num_models)``. PackNet prunes each model separately. ``input_permutations``
    (``(S, in_features)``): each model first permutes its flat input (:class:`StackedPermutation`).
    """
    layers: list[nn.Module] = [nn.Flatten(start_dim=2)]
    if input_permutations is not None:
        layers.append(StackedPermutation(input_permutations))
    width = in_features
    for h in hidden:
        layers += [StackedLinear(num_models, width, h), nn.ReLU()]
        width = h
    head = partial(StackedLinear, num_models, models_last=True)
    return MultiHeadNet(nn.Sequential(*layers), width, head_sizes, make_head=head, num_models=num_models)


def num_models(model: nn.Module) -> int:
    """How many independent models ``model`` stacks (1 for a plain network)."""
    return getattr(model, "num_models", 1)


def per_model(x: torch.Tensor, models: int) -> torch.Tensor:
    """A batch shared by ``models`` stacked models, as their ``(S, B, ...)`` input (a view, no copy)."""
    return x if models == 1 else x.unsqueeze(0).expand(models, *x.shape)


def model_parameters(model: nn.Module, s: int) -> dict[str, torch.Tensor]:
    """Stacked model ``s``'s parameters (views, by name): slice ``s`` of every parameter, whose first dimension is
    the model in the stacked networks of this module; a plain network (``s`` = 0) gives its parameters whole."""
    models = num_models(model)
    if not 0 <= s < models:
        raise IndexError(f"model {s} of a network that stacks {models}")
    named = dict(model.named_parameters())
    if models == 1:
        return named
    wrong = [n for n, p in named.items() if p.shape[0] != models]
    if wrong:
        raise ValueError(f"parameters {wrong} are not stacked over the {models} models")
    return {n: p[s] for n, p in named.items()}


def stacked_ball_cnn(num_models: int, head_sizes: Sequence[int], in_channels: int = 3) -> MultiHeadNet:
    """``num_models`` independent copies of :func:`ball_cnn` in one network (grouped convolutions).

    Inputs are ``(S, B, C, 32, 32)``, logits ``(B, classes, S)``, as for :func:`stacked_mlp`.
    """
    s = num_models
    body = nn.Sequential(
        ToGrouped(),
        StackedConv2d(s, in_channels, 32, 3, padding=1), nn.ReLU(),
        StackedConv2d(s, 32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        StackedConv2d(s, 64, 128, 3, padding=1), nn.ReLU(),
        StackedConv2d(s, 128, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.1),
        FromGrouped(s), StackedLinear(s, 128 * 8 * 8, 1024), nn.ReLU(), nn.Dropout(0.1),
    )  # fmt: skip
    return MultiHeadNet(body, 1024, head_sizes, make_head=partial(StackedLinear, s, models_last=True), num_models=s)


def zenke_cnn(head_sizes: Sequence[int], in_channels: int = 3, width: float = 1.0) -> MultiHeadNet:
    """conv32-conv32(valid)-pool-drop.25-conv64-conv64(valid)-pool-drop.25-fc512-drop.5 (32 px input).

    ``width`` multiplies every layer's width (CLNP's Fig. 3b uses a wider net).
    """
    a, b, f = (max(1, int(round(c * width))) for c in (32, 64, 512))
    body = nn.Sequential(
        nn.Conv2d(in_channels, a, 3, padding=1), nn.ReLU(),
        nn.Conv2d(a, a, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Conv2d(a, b, 3, padding=1), nn.ReLU(),
        nn.Conv2d(b, b, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(b * 6 * 6, f), nn.ReLU(), nn.Dropout(0.5),
    )  # fmt: skip
    return MultiHeadNet(body, f, head_sizes)


def stacked_zenke_cnn(num_models: int, head_sizes: Sequence[int], in_channels: int = 3,
                      width: float = 1.0) -> MultiHeadNet:
    """``num_models`` independent copies of :func:`zenke_cnn` in one network (grouped convolutions).

    Inputs are ``(S, B, C, 32, 32)``, logits ``(B, classes, S)``, as for :func:`stacked_mlp`.
    """
    s = num_models
    a, b, f = (max(1, int(round(c * width))) for c in (32, 64, 512))
    body = nn.Sequential(
        ToGrouped(),
        StackedConv2d(s, in_channels, a, 3, padding=1), nn.ReLU(),
        StackedConv2d(s, a, a, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        StackedConv2d(s, a, b, 3, padding=1), nn.ReLU(),
        StackedConv2d(s, b, b, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        FromGrouped(s), StackedLinear(s, b * 6 * 6, f), nn.ReLU(), nn.Dropout(0.5),
    )  # fmt: skip
    return MultiHeadNet(body, f, head_sizes, make_head=partial(StackedLinear, s, models_last=True), num_models=s)


def ball_cnn(head_sizes: Sequence[int], in_channels: int = 3) -> MultiHeadNet:
    """conv32-conv64-pool-conv128-conv128-pool-drop.1-fc(8192→1024)-drop.1 (32 px input)."""
    body = nn.Sequential(
        nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
        nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.1),
        nn.Flatten(), nn.Linear(128 * 8 * 8, 1024), nn.ReLU(), nn.Dropout(0.1),
    )  # fmt: skip
    return MultiHeadNet(body, 1024, head_sizes)


def vgg16_conv_layers(
    *, width: float = 1.0, batch_norm: bool = False, in_channels: int = 3
) -> tuple[list[nn.Module], int]:
    """The 13 convs and 5 max-pools of torchvision's cfg "D" (each conv → optional batch-norm → ReLU).

    Returns the layers and the number of channels of the last conv.
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for item in VGG16_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        out = max(1, int(round(int(item) * width)))
        layers.append(nn.Conv2d(channels, out, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU())
        channels = out
    return layers, channels


def vgg16(
    head_sizes: Sequence[int],
    *,
    width: float = 1.0,
    batch_norm: bool = False,
    fc_widths: Sequence[int] = (4096, 4096),
    dropout: float = 0.5,
    in_channels: int = 3,
    image_size: int = 32,
) -> MultiHeadNet:
    """VGG-16 layout for small images: the 13 convs of torchvision's cfg "D", then fc layers.

    At ``width=1`` the convs have 4,224 filters, as torchvision's VGG-16. After
    five 2×2 pools a 32 px image is 1×1×512, so fc6 reads 512 features (not
    torchvision's 7×7×512 = 25,088, which only repeats the same value 49 times).
    """
    layers, channels = vgg16_conv_layers(width=width, batch_norm=batch_norm, in_channels=in_channels)
    layers.append(nn.Flatten())
    features = channels * (image_size // 32) ** 2
    for w in fc_widths:
        layers += [nn.Linear(features, w), nn.ReLU(), nn.Dropout(dropout)]
        features = w
    model = MultiHeadNet(nn.Sequential(*layers), features, head_sizes)
    _init_like_torchvision_vgg(model)
    return model


def stacked_vgg16(num_models: int, head_sizes: Sequence[int], **kwargs) -> MultiHeadNet:
    """``num_models`` independent copies of :func:`vgg16` (same ``kwargs``) in one network: grouped
    convolutions, :class:`StackedBatchNorm2d`, batched fc layers and heads.

    Each model is initialised as :func:`vgg16` initialises one (they are drawn one after another), and the
    stacked layers keep the plain network's names (``body.0.weight`` is the first conv's in both), so
    :func:`stacked_state` loads plain checkpoints. Inputs are ``(S, B, C, H, W)``, logits ``(B, classes, S)``.
    """
    s = num_models
    plain = [vgg16(head_sizes, **kwargs) for _ in range(s)]
    layers: list[tuple[str, nn.Module]] = [("grouped", ToGrouped())]  # the plain layers keep their names after it
    for name, layer in plain[0].body.named_children():
        layers.append((name, FromGrouped(s) if isinstance(layer, nn.Flatten) else stacked_layer(layer, s)))
    body = nn.Sequential(OrderedDict(layers))
    model = MultiHeadNet(body, plain[0].feature_dim, head_sizes, make_head=partial(StackedLinear, s, models_last=True),
                         num_models=s)  # fmt: skip
    model.load_state_dict(stacked_state(model, [m.state_dict() for m in plain]))
    return model


def stacked_layer(layer: nn.Module, models: int, *, models_last: bool = False) -> nn.Module:
    """The stacked form of one plain layer, for ``models`` networks (fresh parameters: load them with
    :func:`stacked_state`): ``nn.Conv2d`` -> :class:`StackedConv2d`, ``nn.BatchNorm2d`` ->
    :class:`StackedBatchNorm2d`, ``nn.Linear`` -> :class:`StackedLinear` (``models_last``: logits
    ``(B, out, S)``); a parameter-free layer (ReLU, pooling, dropout) is copied, as it acts on every model's
    channels alike (its own module: hooks on the plain network's layers stay there)."""
    if isinstance(layer, nn.Conv2d):
        return StackedConv2d(models, layer.in_channels, layer.out_channels, layer.kernel_size[0],
                             padding=layer.padding[0])  # fmt: skip
    if isinstance(layer, nn.BatchNorm2d):
        return StackedBatchNorm2d(models, layer.num_features, eps=layer.eps, momentum=layer.momentum)
    if isinstance(layer, nn.Linear):
        return StackedLinear(models, layer.in_features, layer.out_features, models_last=models_last)
    if any(True for _ in layer.parameters()):
        raise ValueError(f"no stacked form of {type(layer).__name__}")
    return copy.deepcopy(layer)


def stacked_state(model: nn.Module, states: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The state of the stacked ``model`` whose model ``s`` is the plain network of ``states[s]`` (names as the
    stacked network's, e.g. :func:`stacked_vgg16`'s): every stacked tensor is the plain ones stacked; a tensor the
    models share (a step counter, PackNet's task count) must be equal in every state. Keys that ``states`` lack
    keep ``model``'s own values (e.g. buffers a wrapper registered later); keys ``model`` lacks are an error."""
    s, own = num_models(model), model.state_dict()
    if len(states) != s:
        raise ValueError(f"{len(states)} states for a network that stacks {s} models")
    extra = sorted(set(states[0]) - set(own))
    if extra:
        raise ValueError(f"the states hold tensors the stacked network has not: {extra[:5]}")
    out = dict(own)
    for name, mine in own.items():
        if name not in states[0]:
            continue
        parts = [st[name] for st in states]
        if any(p.shape != parts[0].shape for p in parts):
            raise ValueError(f"{name}: the states' shapes differ ({sorted({tuple(p.shape) for p in parts})})")
        if tuple(mine.shape) == (s, *parts[0].shape):
            out[name] = torch.stack([p.to(mine.device, mine.dtype) for p in parts])
        elif mine.shape == parts[0].shape and all(torch.equal(parts[0], p) for p in parts[1:]):
            out[name] = parts[0].to(mine.device, mine.dtype)
        else:
            raise ValueError(f"{name}: plain {tuple(parts[0].shape)} does not stack into {tuple(mine.shape)} (or the "
                             "models' values of a shared tensor differ)")  # fmt: skip
    return out


def member_network(stacked: nn.Module, s: int, plain: nn.Module) -> nn.Module:
    """Model ``s`` of ``stacked`` as the plain network ``plain`` (same architecture, names as the stack's), whose
    weights are views of the stack's: ``plain``'s parameters become buffers that view slice ``s`` of the stacked
    ones, so whatever is written into them in place (pruning, re-initialisation, ``load_state_dict``) is written
    into the stack, and its forward pass computes model ``s`` alone. It has no parameters of its own: it is
    trained through the stack. Why: a mechanism written for one network (CLNP's pruning, its threshold search)
    then works on each model of a stack unchanged, and only the training is stacked."""
    stacked_params = dict(stacked.named_parameters())
    for name, param in list(plain.named_parameters()):
        if name not in stacked_params:
            raise ValueError(f"the stack has no parameter {name} (its names must be the plain network's)")
        view = stacked_params[name].detach()[s]
        if view.shape != param.shape:
            raise ValueError(f"{name}: plain {tuple(param.shape)}, the stack's model {s} {tuple(view.shape)}")
        owner_name, _, leaf = name.rpartition(".")
        owner = plain.get_submodule(owner_name) if owner_name else plain
        del owner._parameters[leaf]
        owner.register_buffer(leaf, view)
    return plain


def _init_like_torchvision_vgg(model: nn.Module) -> None:
    """torchvision's VGG initialisation: Kaiming-normal convs, N(0, 0.01) linears, zero biases.

    PyTorch's default initialisation leaves a 16-layer net without batch-norm
    nearly untrainable from scratch; this one trains.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
        else:
            continue
        nn.init.zeros_(m.bias)

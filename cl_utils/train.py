"""One training loop for the whole book: device-resident batches, optional penalty, guards.

:func:`fit` trains for a fixed number of epochs (the epoch budget) and returns
one :class:`EpochStats` per epoch with its wall time, so chapters can report
time as well as accuracy. :func:`evaluate` and :func:`evaluate_tasks` measure
without changing the model's mode for the caller.

Logits are ``(B, classes)``, or ``(B, classes, S)`` for a stack of ``S``
independent models trained together (:func:`~cl_utils.models.stacked_mlp`):
:func:`cross_entropy` and the accuracies then average over the models, and
:func:`accuracy_per_model` gives each model's own accuracy. :func:`fit` gives each
stacked model its own data order (its batches are ``(S, B, ...)``); evaluation shows
every model the same data.

Why one module (over 300 lines): the training loop, evaluation and the stacked-model shapes
(``(S, B, ...)`` batches, ``(B, classes, S)`` logits) are one convention and change together.
"""
from __future__ import annotations

import random
import time
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm  # text bars everywhere: tqdm.auto warns (with a local path) without ipywidgets

from .batches import iterate_batches
from .masks import FrozenEntries
from .models import num_models, per_model
from .streams import Task

__all__ = [
    "EpochStats",
    "TrainSettings",
    "set_seed",
    "resolve_device",
    "make_optimizer",
    "fit",
    "evaluate",
    "evaluate_tasks",
    "cross_entropy",
    "accuracy_per_model",
    "train_mode",
    "accelerated",
    "ACCELERATIONS",
]

Forward = Callable[..., torch.Tensor]
Inputs = torch.Tensor | tuple[torch.Tensor, ...]


def _as_tuple(x: Inputs) -> tuple[torch.Tensor, ...]:
    return x if isinstance(x, tuple) else (x,)


OPTIMIZERS = ("sgd", "adam", "adamw")
OPTIMIZER_IMPLEMENTATIONS = ("auto", "single", "foreach", "fused")


def _labels_like(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Labels for ``(B, C, *S)`` logits: shared ``(B,)`` labels broadcast over the models, or
    each model's own ``(B, *S)`` labels as they are."""
    if y.dim() == logits.dim() - 1:
        return y
    return y.view(len(y), *([1] * (logits.dim() - 2))).expand(len(y), *logits.shape[2:])


def cross_entropy(logits: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """``F.cross_entropy`` that also takes ``(B, C, S)`` logits of ``S`` stacked models, with shared
    ``(B,)`` labels or each model's own ``(B, S)``.

    Per sample, the loss is averaged over the models, so ``"sum"`` and ``"mean"``
    mean the same as for one model. Each model's parameters get only their own
    loss's gradient, scaled by ``1/S``: Adam's update does not change (up to its
    ε); for SGD multiply the learning rate by ``S``.
    """
    if logits.dim() == 2:
        return F.cross_entropy(logits, y, reduction=reduction)
    per_sample = F.cross_entropy(logits, _labels_like(logits, y), reduction="none").flatten(1).mean(1)
    return per_sample.sum() if reduction == "sum" else per_sample.mean()


def _correct(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Number of correct predictions in the batch, averaged over stacked models (a float tensor)."""
    hits = logits.argmax(1) == _labels_like(logits, y)
    return hits.flatten(1).float().mean(1).sum() if hits.dim() > 1 else hits.sum().float()


def _eval_logits(model: nn.Module, x: Inputs, y: torch.Tensor, forward: Forward | None, batch_size: int,
                 per_model_data: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:  # fmt: skip
    """``(logits, labels)`` of every batch of ``(x, y)``, in eval mode (restored after).

    A stacked model sees each batch as its ``(S, B, ...)`` input (:func:`~cl_utils.models.per_model`), or, with
    ``per_model_data``, each model its own dataset's batch (``x`` ``(S, N, ...)``, ``y`` ``(S, N)``; labels
    come out ``(B, S)``, as the logits' models).
    """
    forward = forward or model
    models = num_models(model)
    was_training = model.training
    model.eval()
    try:
        for *xb, yb in iterate_batches((*_as_tuple(x), y), batch_size, shuffle=False, models=models,
                                       per_model_data=per_model_data):  # fmt: skip
            if per_model_data:
                yield forward(*xb), yb.t()
                continue
            yield forward(*(per_model(t, models) for t in xb)), yb
    finally:
        model.train(was_training)


@torch.no_grad()
def accuracy_per_model(
    model: nn.Module, x: Inputs, y: torch.Tensor, *, forward: Forward | None = None, batch_size: int = 2048,
    per_model_data: bool = False,
) -> list[float]:
    """Accuracy (in [0, 1]) of each stacked model on ``(x, y)``, in eval mode (one value for a plain model);
    ``per_model_data``: each model on its own dataset (``(S, N, ...)``, :func:`fit`)."""
    own, seen = _PerModel(with_loss=False), False
    for logits, yb in _eval_logits(model, x, y, forward, batch_size, per_model_data):
        own.add(logits if logits.dim() > 2 else logits.unsqueeze(-1), yb)  # one network: a stack of one
        seen = True
    return own.result(max(y.shape[-1] if per_model_data else len(y), 1), "val")["val_acc"] if seen else []


#: opt-in speed-ups that change the arithmetic (so the experiments layer keys their records apart)
ACCELERATIONS = ("compile", "bf16", "tf32")
_active: tuple[str, ...] = ()


@contextmanager
def accelerated(*names: str) -> Iterator[None]:
    """Train inside the block with opt-in speed-ups (each changes the arithmetic, none the method):

    * ``"compile"``: :func:`fit` compiles the forward pass with ``torch.compile`` (on CUDA in the
      ``reduce-overhead`` mode, which captures fixed-shape steps as CUDA graphs);
    * ``"bf16"``: the forward pass runs under bfloat16 autocast (weights, gradients and the
      optimizer stay float32);
    * ``"tf32"``: TensorFloat-32 matrix products and convolutions on Ampere or newer GPUs.

    Freezing is untouched: gradients are masked and frozen entries restored after every step
    as always, so zero forgetting stays bit-exact (tested with each of them).
    """
    global _active
    unknown = [n for n in names if n not in ACCELERATIONS]
    if unknown:
        raise ValueError(f"unknown acceleration(s) {unknown}; choose from {ACCELERATIONS}")
    before = (_active, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    _active = tuple(names)
    if "tf32" in names:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        _active, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def _accelerated_step(forward: Forward, device: torch.device) -> tuple[Forward, Callable[[], Any]]:
    """The training forward and the context a step runs in, under the active accelerations."""
    if "compile" in _active:
        forward = torch.compile(forward, mode="reduce-overhead" if device.type == "cuda" else None)
    if "bf16" in _active:
        return forward, lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return forward, nullcontext


@dataclass(frozen=True)
class EpochStats:
    """Metrics of one epoch; ``val_*`` are None when no validation data was given.

    A stacked network's (:func:`fit` with ``S`` > 1 models) losses and accuracies are the means over its
    models, and ``per_model`` holds each model's own (``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``:
    lists of ``S``, or None where not measured; a loss only for :func:`cross_entropy` with no penalty);
    :meth:`of_model` gives one model's epoch. One network: ``per_model`` is None, absent from :meth:`as_dict`.
    """

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    seconds: float
    per_model: dict[str, list[float] | None] | None = None

    def as_dict(self) -> dict:
        out = asdict(self)
        if self.per_model is None:
            del out["per_model"]
        return out

    def of_model(self, s: int) -> "EpochStats":
        """Stacked model ``s``'s epoch: its own losses and accuracies (a mean where it has none), the stack's time."""
        if self.per_model is None:
            raise ValueError("the epoch of one network has no per-model metrics")
        own = {k: v if v is None else v[s] for k, v in self.per_model.items()}
        return EpochStats(self.epoch, *(own[k] if own.get(k) is not None else getattr(self, k) for k in
                                        ("train_loss", "train_acc", "val_loss", "val_acc")), self.seconds)  # fmt: skip


@dataclass(frozen=True)
class TrainSettings:
    """Optimiser and schedule of one training phase (the settings every chapter shares)."""

    epochs: int
    batch_size: int
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    implementation: str = "auto"  # see make_optimizer; not part of any run's key (auto is bit-exact on the CPU)

    def make_optimizer(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        return make_optimizer(params, self.optimizer, self.lr, self.momentum, self.weight_decay,
                              implementation=self.implementation)  # fmt: skip

    def for_models(self, models: int) -> "TrainSettings":
        """These settings for ``models`` networks stacked as one, whose loss averages over them (each model's
        gradient is ``1/models`` of its own run's): SGD's rate times ``models`` and its L2 weight decay divided by
        it, Adam's weight decay divided by it (Adam's step does not depend on the gradient's scale, up to its
        epsilon), AdamW as it is; each model then steps as its own run would."""
        if models == 1 or self.optimizer == "adamw":
            return self
        if self.optimizer == "sgd":
            return replace(self, lr=self.lr * models, weight_decay=self.weight_decay / models)
        return replace(self, weight_decay=self.weight_decay / models)


def set_seed(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA); return a CPU generator for shuffling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; an explicit CUDA request fails loudly without one."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} was requested but CUDA is not available; use device='auto' or 'cpu'")
    return dev


_kernel: str | None = None  # what "auto" means inside optimizer_kernel(); None: by device


@contextmanager
def optimizer_kernel(implementation: str | None) -> Iterator[None]:
    """Inside the block, ``make_optimizer(..., implementation="auto")`` builds ``implementation``
    optimizers on every device (``None``: the device's default, as outside any block).

    Why: the fused kernel is up to 1.2x faster per step on the CPU for the book's Adam MLPs
    (``benchmarks/cpu_numerics.py``) but rounds differently from foreach, so the experiments
    choose it per run kind, key it into the run's config and train the run inside this block;
    a record made under one kernel is then never reused for another.
    """
    global _kernel
    kernels = [i for i in OPTIMIZER_IMPLEMENTATIONS if i != "auto"]
    if implementation is not None and implementation not in kernels:
        raise ValueError(f"optimizer kernel must be one of {kernels} or None, got {implementation!r}")
    before, _kernel = _kernel, implementation
    try:
        yield
    finally:
        _kernel = before


def make_optimizer(
    params: Iterable[nn.Parameter],
    name: str,
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    *,
    implementation: str = "auto",
) -> torch.optim.Optimizer:
    """``"sgd"`` (with ``momentum``), ``"adam"`` or ``"adamw"``, with the given weight decay.

    ``implementation``: ``"single"`` (one tensor at a time), ``"foreach"`` (multi-tensor
    operators) or ``"fused"`` (one kernel per parameter for the whole update). ``"auto"`` is
    ``"foreach"`` on the CPU, bit-identical there to ``"single"`` (which the book's CPU records
    used) with less Python per step, and ``"fused"`` on CUDA, the fewest kernel launches (its
    rounding differs from the others in the last bits); inside :func:`optimizer_kernel` it is
    that block's choice on every device (how the experiments key their numerics).
    """
    if implementation not in OPTIMIZER_IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {OPTIMIZER_IMPLEMENTATIONS}, got {implementation!r}")
    params = [p for p in params if p.requires_grad]
    if implementation == "auto":
        implementation = _kernel or ("fused" if params and params[0].device.type == "cuda" else "foreach")
    speed = {"fused": {"fused": True}, "foreach": {"foreach": True}, "single": {"foreach": False}}[implementation]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, **speed)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **speed)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **speed)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: Inputs,
    y: torch.Tensor,
    *,
    forward: Forward | None = None,
    loss_fn: Callable = cross_entropy,
    batch_size: int = 2048,
    per_model_data: bool = False,
) -> tuple[float, float]:
    """Mean loss and accuracy (in [0, 1]) of ``forward`` (default ``model``) on ``(x, y)``, in eval mode.

    ``x`` may be a tuple of tensors (e.g. images and task ids), passed to ``forward`` as arguments;
    ``per_model_data``: a stacked model's own datasets (:func:`fit`), the means over its models.
    """
    loss, acc, _ = _evaluate(model, x, y, forward=forward, loss_fn=loss_fn, batch_size=batch_size,
                             per_model_data=per_model_data)  # fmt: skip
    return loss, acc


@torch.no_grad()
def _evaluate(model: nn.Module, x: Inputs, y: torch.Tensor, *, forward: Forward | None, loss_fn: Callable,
              batch_size: int = 2048, per_model: bool = False, per_model_data: bool = False,
              ) -> tuple[float, float, dict[str, list[float] | None] | None]:  # fmt: skip
    """:func:`evaluate`'s loss and accuracy, and with ``per_model`` a stacked network's per-model ones from the
    same logits (``val_loss``, ``val_acc``; None for one network)."""
    total_loss = torch.zeros((), dtype=torch.float64, device=y.device)  # summed on the device: one sync at the end
    correct = torch.zeros((), dtype=torch.float64, device=y.device)
    models = num_models(model)
    own = _PerModel(loss_fn is cross_entropy) if per_model and models > 1 else None
    for logits, yb in _eval_logits(model, x, y, forward, batch_size, per_model_data):
        total_loss += loss_fn(logits, yb, reduction="sum")
        correct += _correct(logits, yb)
        if own is not None:
            own.add(logits, yb)
    n = max(y.shape[-1] if per_model_data else len(y), 1)
    return float(total_loss) / n, float(correct) / n, None if own is None else own.result(n, "val")


class _PerModel:
    """Each stacked model's summed cross-entropy (where ``with_loss``) and correct predictions, on the device."""

    def __init__(self, with_loss: bool):
        self.loss: torch.Tensor | float | None = 0.0 if with_loss else None
        self.correct: torch.Tensor | int = 0

    @torch.no_grad()
    def add(self, logits: torch.Tensor, y: torch.Tensor) -> None:
        labels = _labels_like(logits, y)
        if self.loss is not None:
            self.loss = self.loss + F.cross_entropy(logits.float(), labels, reduction="none").flatten(1).sum(0)
        self.correct = self.correct + (logits.argmax(1) == labels).flatten(1).sum(0)

    def result(self, n: int, prefix: str) -> dict[str, list[float] | None]:
        loss = None if self.loss is None else (self.loss.double() / n).tolist()
        return {f"{prefix}_loss": loss, f"{prefix}_acc": (torch.as_tensor(self.correct).double() / n).tolist()}


def train_mode(model: nn.Module, *, freeze_batchnorm_stats: bool) -> Callable[[], None]:
    """A ``set_train_mode`` for :func:`fit`: ``model.train()``, with batch-norm layers back in
    eval mode when their running statistics must not change (an earlier task relies on them)."""

    def set_mode() -> None:
        model.train()
        if freeze_batchnorm_stats:
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

    return set_mode


def fit(
    model: nn.Module,
    x: Inputs,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    optimizer: torch.optim.Optimizer,
    forward: Forward | None = None,
    loss_fn: Callable = cross_entropy,
    penalty: Callable[[], torch.Tensor] | None = None,
    guards: Sequence[FrozenEntries] = (),
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
    show_progress: bool = True,
    desc: str = "train",
    set_train_mode: Callable[[], None] | None = None,
    samples_per_epoch: int | None = None,
    per_model: bool = False,
    per_model_data: bool = False,
) -> list[EpochStats]:
    """Train ``model`` for ``epochs`` epochs over ``(x, y)`` in shuffled minibatches.

    ``x`` may be a tuple of tensors (e.g. images and task ids), passed to ``forward`` as arguments.

    :param forward: maps a batch to logits (default ``model``); e.g. a task's head
        or a masked forward pass.
    :param penalty: extra loss term added to each batch's loss (e.g. an L1 weight penalty).
    :param guards: :class:`~cl_utils.masks.FrozenEntries` kept bit-exact around every step.
    :param scheduler: stepped once per epoch.
    :param val: validation data evaluated after every epoch (never the test split).
    :param set_train_mode: called instead of ``model.train()`` at the start of every epoch
        (e.g. to keep frozen batch-norm layers in eval mode).
    :param samples_per_epoch: an epoch of this many samples, drawn afresh from all of ``(x, y)`` every
        epoch (e.g. rehearsal on all tasks seen at the gradient steps of one task); ``None``: every sample.
    :param per_model: a stacked network's epochs also hold each model's own metrics (``EpochStats.per_model``).
    :param per_model_data: a stacked network's models each train on their own dataset: ``x`` is ``(S, N, ...)``,
        ``y`` ``(S, N)`` (and ``val`` likewise), each model in its own order.
    :returns: one :class:`EpochStats` per epoch.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    forward = forward or model
    models = num_models(model)
    step_forward, step_context = _accelerated_step(forward, y.device)  # once per phase: compiles once
    history: list[EpochStats] = []
    bar = tqdm(range(1, epochs + 1), desc=desc, disable=not show_progress, leave=False)
    with ExitStack() as held:
        for g in guards:  # wholly frozen parameters get no gradient during the phase
            held.enter_context(g.holding())
        for epoch in bar:
            start = time.perf_counter()
            if set_train_mode is None:
                model.train()
            else:
                set_train_mode()
            loss_sum = torch.zeros((), device=y.device)  # sums stay on the device: no step waits for it
            correct = torch.zeros((), device=y.device)
            own = _PerModel(loss_fn is cross_entropy and penalty is None) if per_model and models > 1 else None
            for *xb, yb in iterate_batches((*_as_tuple(x), y), batch_size, generator=generator, models=models,
                                           limit=samples_per_epoch, per_model_data=per_model_data):  # fmt: skip
                if models > 1:  # (S, B, ...) inputs, one data order per model; labels (B, S) as the logits
                    yb = yb.t()
                with step_context():
                    logits = step_forward(*xb)
                    loss = loss_fn(logits, yb)
                    if penalty is not None:
                        loss = loss + penalty()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                for g in guards:
                    g.mask_gradients()
                optimizer.step()
                for g in guards:
                    g.restore()
                loss_sum += loss.detach() * len(yb)
                correct += _correct(logits.detach(), yb)
                if own is not None:
                    own.add(logits.detach(), yb)
            if scheduler is not None:
                scheduler.step()
            n = max(samples_per_epoch or (y.shape[-1] if per_model_data else len(y)), 1)
            val_loss, val_acc, val_own = (_evaluate(model, *val, forward=forward, loss_fn=loss_fn, per_model=per_model,
                                                    per_model_data=per_model_data)
                                          if val is not None else (None, None, None))  # fmt: skip
            own_metrics = None if own is None else own.result(n, "train") | (val_own or {"val_loss": None,
                                                                                        "val_acc": None})
            stats = EpochStats(epoch, float(loss_sum) / n, float(correct) / n, val_loss, val_acc,
                               time.perf_counter() - start, own_metrics)  # fmt: skip
            history.append(stats)
            bar.set_postfix(loss=f"{stats.train_loss:.3f}", val_acc="-" if val_acc is None else f"{val_acc:.3f}")
    return history


def evaluate_tasks(
    model: nn.Module,
    tasks: Sequence[Task],
    *,
    forward_for: Callable[[int], Forward] | None = None,
    split: str = "test",
) -> list[float]:
    """Accuracy on each task's ``split``; ``forward_for(t)`` gives task ``t``'s forward (default: head ``t``)."""
    accs = []
    for t, task in enumerate(tasks):
        fwd = forward_for(t) if forward_for is not None else (lambda xb, t=t: model(xb, t))
        accs.append(evaluate(model, *task.split(split), forward=fwd)[1])
    return accs

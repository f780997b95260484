"""Learning without Forgetting (Li & Hoiem, ECCV 2016), as PackNet's baseline.

Before a new task is trained, the network's responses on the new task's
training images are recorded for every old head. Training then minimises the
new task's cross-entropy plus, for each old head, the KL divergence between the
recorded and the current responses softened by a temperature ``T`` (2) with unit
weight, as in PackNet's re-implementation (Mallya & Lazebnik 2018, §4; no T²
factor). The first ``warmup_epochs`` train only the new head, as Li & Hoiem
recommend. No weight is frozen, so old tasks drift: that is what the comparison shows.

Batch-norm running statistics are a different matter: in training mode every
batch of the new task overwrites the statistics the old heads were trained
with, a change no distillation term can undo. ``freeze_batchnorm_stats=True``
(the book's default, as PackNet freezes them after task 1) keeps batch-norm
layers in evaluation mode while LwF trains; their affine parameters still train
like every other shared weight. The paper's VGG-16 has no batch-norm, so the
question does not arise there.

Recording the responses once equals recomputing them per batch here, because
the book uses no data augmentation and records them with dropout off.

``train_old_heads=False`` is a diagnostic, not LwF as Li & Hoiem define it (they
train the old tasks' parameters too): the old heads are left out of the
optimiser, so they keep their weights bit for bit, while their distillation
loss still flows back into the shared body. Chapter 06 uses it to test whether
LwF's collapse under Adam comes from training the old heads.

:class:`LwF` is the method as a :class:`~cl_utils.methods.ContinualMethod` (chapter 06): the first task
is fine-tuned, every later one is added by :func:`lwf_train_task`.

A stacked network (``S`` models, :func:`~cl_utils.models.stacked_mlp`) learns with LwF too: each model's soft
targets are its own responses, stored ``(N, S, classes)`` so that each model's minibatch of its own order picks
its own (:func:`_own_targets`), and its distillation is averaged over the models as the stacked cross-entropy is.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .baselines import FineTune, finetune_task
from .models import MultiHeadNet, num_models, per_model
from .streams import Task
from .train import EpochStats, TrainSettings, fit, train_mode

__all__ = ["record_soft_targets", "lwf_train_task", "LwF"]


@torch.no_grad()
def record_soft_targets(
    model: MultiHeadNet, x: torch.Tensor, heads: Sequence[int], temperature: float, batch_size: int = 1024
) -> torch.Tensor:
    """Softened responses ``softmax(logits / T)`` of each head in ``heads``, concatenated along dim 1: ``(N,
    classes)``; a stacked network's ``(N, S, classes)``, each model's own (its input the shared images)."""
    was_training = model.training
    models = num_models(model)
    model.eval()
    try:
        chunks = []
        for start in range(0, len(x), batch_size):
            feats = model.features(per_model(x[start : start + batch_size], models))
            soft = torch.cat([F.softmax(model.heads[h](feats) / temperature, 1) for h in heads], 1)
            chunks.append(soft if models == 1 else soft.transpose(1, 2))  # stacked: (B, classes, S) -> (B, S, classes)
        return torch.cat(chunks) if chunks else x.new_zeros(0, 0)
    finally:
        model.train(was_training)


class _Distillation:
    """Forward pass that returns the new head's logits and keeps the distillation loss for ``penalty``."""

    def __init__(self, model: MultiHeadNet, task: int, old_heads: Sequence[int], temperature: float, weight: float):
        self.model, self.task, self.old_heads = model, task, list(old_heads)
        self.sizes = [model.heads[h].out_features for h in self.old_heads]
        self.temperature, self.weight = temperature, weight
        self._loss = torch.zeros(())

    def forward(self, x: torch.Tensor, soft_targets: torch.Tensor) -> torch.Tensor:
        feats = self.model.features(x)
        models = num_models(self.model)
        targets = soft_targets if models == 1 else _own_targets(soft_targets)
        loss, start = 0.0, 0
        for h, size in zip(self.old_heads, self.sizes):
            log_p = F.log_softmax(self.model.heads[h](feats) / self.temperature, 1)
            # per sample summed over the classes, averaged over the batch (PyTorch's "batchmean") and a stack's models
            loss = loss + F.kl_div(log_p, targets[:, start : start + size], reduction="sum") / (len(log_p) * models)
            start += size
        self._loss = self.weight * loss
        return self.model.heads[self.task](feats)

    def penalty(self) -> torch.Tensor:
        return self._loss


def _own_targets(batch: torch.Tensor) -> torch.Tensor:
    """A stacked minibatch of soft targets, ``(S, B, S, classes)`` (model ``s``'s rows, every model's targets),
    as each model's own ``(B, classes, S)``: model ``s``'s rows of its own targets (the logits' layout)."""
    return torch.diagonal(batch, dim1=0, dim2=2)  # (B, classes, S)


def lwf_train_task(
    model: MultiHeadNet,
    task: int,
    x: torch.Tensor,
    y: torch.Tensor,
    settings: TrainSettings,
    *,
    old_heads: Sequence[int],
    warmup_epochs: int = 5,
    temperature: float = 2.0,
    distill_weight: float = 1.0,
    scheduler_fn: Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler] | None = None,
    freeze_batchnorm_stats: bool = True,
    train_old_heads: bool = True,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
    show_progress: bool = True,
) -> list[EpochStats]:
    """Add task ``task`` (0-based head index) with LwF; ``settings.epochs`` counts the warm-up too.

    :param freeze_batchnorm_stats: keep batch-norm running statistics as they are
        (see the module docstring); ``False`` lets the new task's batches update them.
    :param scheduler_fn: ``scheduler_fn(optimizer, first_epoch)`` builds the learning-rate
        schedule of each phase, knowing at which overall epoch the phase starts.
    :param train_old_heads: ``False`` (a diagnostic, not Li & Hoiem's LwF) leaves the old heads out of
        the optimiser and stops their weights' gradients, so they stay bit-identical while the
        distillation through them still trains the body; the default trains them as LwF does.
    """
    if not 0 <= warmup_epochs <= settings.epochs:
        raise ValueError(f"warmup_epochs must be in [0, {settings.epochs}], got {warmup_epochs}")
    targets = record_soft_targets(model, x, old_heads, temperature)
    set_mode = train_mode(model, freeze_batchnorm_stats=freeze_batchnorm_stats)
    head_params = list(model.heads[task].parameters())
    history: list[EpochStats] = []
    if warmup_epochs:
        opt = settings.make_optimizer(head_params)
        history += fit(
            model, x, y, epochs=warmup_epochs, batch_size=settings.batch_size, optimizer=opt,
            forward=lambda xb: model(xb, task), val=val, generator=generator, show_progress=show_progress,
            scheduler=scheduler_fn(opt, 0) if scheduler_fn else None, desc="LwF warm-up", set_train_mode=set_mode,
        )  # fmt: skip
    distill = _Distillation(model, task, old_heads, temperature, distill_weight)
    trained_heads = [*old_heads, task] if train_old_heads else [task]
    params = list(model.body.parameters()) + [p for h in trained_heads for p in model.heads[h].parameters()]
    frozen = [] if train_old_heads else [p for h in old_heads for p in model.heads[h].parameters() if p.requires_grad]
    for p in frozen:  # no gradient kept for weights no optimiser steps; the body's gradient is unchanged
        p.requires_grad_(False)
    opt = settings.make_optimizer(params)
    try:
        history += fit(
            model, (x, targets), y, epochs=settings.epochs - warmup_epochs, batch_size=settings.batch_size,
            optimizer=opt, forward=distill.forward, penalty=distill.penalty, generator=generator,
            val=((val[0], record_soft_targets(model, val[0], old_heads, temperature)), val[1]) if val else None,
            scheduler=scheduler_fn(opt, warmup_epochs) if scheduler_fn else None,
            show_progress=show_progress, desc="LwF", set_train_mode=set_mode,
        )  # fmt: skip
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return history


class LwF(FineTune):
    """LwF as a :class:`~cl_utils.methods.ContinualMethod`: task 1 fine-tuned, each later task trained with
    the distillation of every earlier head (``warmup_epochs`` of head-only training first); nothing frozen,
    so the whole network is what it keeps. ``train_old_heads=False`` is the diagnostic of :func:`lwf_train_task`
    (old heads frozen), not Li & Hoiem's LwF."""

    def __init__(self, model: MultiHeadNet, settings: TrainSettings, *, warmup_epochs: int, temperature: float = 2.0,
                 train_old_heads: bool = True, generator: torch.Generator | None = None,
                 show_progress: bool = True):  # fmt: skip
        super().__init__(model, settings, multi_head=True, generator=generator, show_progress=show_progress)
        self.warmup_epochs, self.temperature, self.train_old_heads = warmup_epochs, temperature, train_old_heads

    def learn(self, t: int, task: Task) -> None:
        if t == 0:
            finetune_task(self.model, task, 0, self.settings, generator=self.generator,
                          show_progress=self.show_progress, desc="task 1")  # fmt: skip
            return
        lwf_train_task(self.model, t, task.x_train, task.y_train, self.settings, old_heads=list(range(t)),
                       warmup_epochs=self.warmup_epochs, temperature=self.temperature, val=task.split("val"),
                       train_old_heads=self.train_old_heads, generator=self.generator,
                       show_progress=self.show_progress)  # fmt: skip

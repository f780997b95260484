"""Task streams for continual learning, built from whole-tensor operations.

A :class:`Task` holds train / validation / test tensors (float NCHW images,
int64 labels) already on the compute device. The stream builders return lists
of tasks in the forms the five papers use:

* :func:`permuted_tasks`: one fixed pixel permutation per task (permuted MNIST).
* :func:`split_tasks`: disjoint class groups, e.g. five binary tasks (split MNIST).
* :func:`flipped_task`: random horizontal and vertical flips fixed per image (Flip-SVHN).
* :func:`dataset_sequence`: different datasets, one task (and head) each.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import torch

from .data import RawDataset, load_dataset
from .transforms import center_crop, class_balanced_subset, grey_to_rgb, pad_to, resize, to_float, train_val_split

__all__ = ["Task", "make_task", "permutations", "permuted_tasks", "split_tasks", "flipped_task", "dataset_sequence", "concat_tasks"]

_SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Task:
    """One task of a stream: tensors for each split plus what the task is called."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def split(self, which: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(x, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if which not in _SPLITS:
            raise ValueError(f"split must be one of {_SPLITS}, got {which!r}")
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}")

    def to(self, device: torch.device | str) -> "Task":
        """Copy every tensor to ``device`` (a no-op for tensors already there)."""
        moved = {f"{k}_{s}": getattr(self, f"{k}_{s}").to(device) for k in "xy" for s in _SPLITS}
        return replace(self, **moved)

    def map_images(self, fn) -> "Task":
        """Apply ``fn`` to the images of every split (labels unchanged)."""
        return replace(self, **{f"x_{s}": fn(getattr(self, f"x_{s}")) for s in _SPLITS})


def _fit_size(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    if x.shape[-1] == size:
        return x
    if mode == "bilinear":
        return resize(x, size)
    return pad_to(x, size) if x.shape[-1] < size else center_crop(x, size)


def make_task(
    raw: RawDataset,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    value_range: str = "unit",
    rgb: bool = False,
    size: int | None = None,
    resize_mode: str = "pad_or_crop",
    train_from_test: float = 0.0,
    standardize: bool = False,
    train_per_class: int = 0,
    test_per_class: int = 0,
    device: torch.device | str = "cpu",
) -> Task:
    """Turn a raw dataset into a :class:`Task` with a held-out validation split.

    :param val_fraction: fraction of each class of the training split held out for validation.
    :param value_range: ``"unit"`` ([0, 1]) or ``"symmetric"`` ([-1, 1]).
    :param rgb: repeat grey images to three channels.
    :param size: pad (28 → 32) or centre-crop (32 → 28) to this size, or resize when
        ``resize_mode="bilinear"``.
    :param train_from_test: if > 0, carve the training split out of the test split,
        keeping this fraction of it for training (for datasets we only have a test split of).
    :param train_per_class: if > 0, a class-balanced subset of the training pool
        (before the validation split) with this many images per class.
    :param test_per_class: if > 0, a class-balanced subset of the test split.
    :param standardize: shift and scale each channel to zero mean and unit variance,
        with statistics of the training part only (applied to every split).
    """
    if resize_mode not in ("pad_or_crop", "bilinear"):
        raise ValueError(f"resize_mode must be 'pad_or_crop' or 'bilinear', got {resize_mode!r}")
    x_pool, y_pool, x_test, y_test = raw.x_train, raw.y_train, raw.x_test, raw.y_test
    if train_from_test > 0:
        train_idx, test_idx = train_val_split(y_test, 1.0 - train_from_test, seed)
        x_pool, y_pool, x_test, y_test = x_test[train_idx], y_test[train_idx], x_test[test_idx], y_test[test_idx]
    if len(y_pool) == 0:
        raise ValueError(
            f"dataset {raw.name!r} has no training split here; pass train_from_test (e.g. 0.8) "
            "to carve one out of its test split, and say so where results are shown"
        )
    if train_per_class > 0:
        keep = class_balanced_subset(y_pool, train_per_class, seed)
        x_pool, y_pool = x_pool[keep], y_pool[keep]
    if test_per_class > 0:
        keep = class_balanced_subset(y_test, test_per_class, seed)
        x_test, y_test = x_test[keep], y_test[keep]
    train_idx, val_idx = train_val_split(y_pool, val_fraction, seed)

    def prep(x: torch.Tensor) -> torch.Tensor:
        out = to_float(x, value_range)
        if rgb:
            out = grey_to_rgb(out)
        if size is not None:
            out = _fit_size(out, size, resize_mode)
        return out.to(device)

    task = Task(
        name=raw.name,
        x_train=prep(x_pool[train_idx]),
        y_train=y_pool[train_idx].to(device),
        x_val=prep(x_pool[val_idx]),
        y_val=y_pool[val_idx].to(device),
        x_test=prep(x_test),
        y_test=y_test.to(device),
        classes=raw.classes,
        source=raw.source,
    )
    if standardize:
        mean = task.x_train.mean((0, 2, 3), keepdim=True)
        std = task.x_train.std((0, 2, 3), keepdim=True).clamp_min(1e-6)
        task = task.map_images(lambda x: (x - mean) / std)
    return task


def permutations(n_features: int, num_tasks: int, seed: int, first_identity: bool = True) -> list[torch.Tensor]:
    """The input permutations of :func:`permuted_tasks`: drawn from one generator seeded by ``seed``; with
    ``first_identity`` the first is the identity (the unpermuted data, as in Zenke et al. 2017)."""
    g = torch.Generator().manual_seed(seed)
    return [torch.arange(n_features) if (t == 0 and first_identity) else torch.randperm(n_features, generator=g)
            for t in range(num_tasks)]  # fmt: skip


def permuted_tasks(task: Task, num_tasks: int, seed: int, first_identity: bool = True) -> list[Task]:
    """``num_tasks`` copies of ``task``, each with its own fixed permutation of all input values
    (:func:`permutations`)."""
    n_features = int(torch.tensor(task.input_shape).prod())
    tasks = []
    for t, perm in enumerate(permutations(n_features, num_tasks, seed, first_identity)):
        perm = perm.to(task.x_train.device)

        def apply(x: torch.Tensor, perm: torch.Tensor = perm) -> torch.Tensor:
            return x.reshape(len(x), -1)[:, perm].reshape(x.shape)

        tasks.append(replace(task.map_images(apply), name=f"{task.name} perm {t + 1}"))
    return tasks


def split_tasks(task: Task, class_groups: Sequence[Sequence[int]], relabel: bool = True) -> list[Task]:
    """One task per group of classes, e.g. ``[(0, 1), (2, 3), ...]`` for split MNIST.

    With ``relabel`` (multi-head), labels become positions within the group
    (0, 1, ...); without it (single shared head) the original labels are kept.
    """
    seen: set[int] = set()
    for group in class_groups:
        if seen & set(group):
            raise ValueError(f"class groups overlap: {class_groups}")
        seen |= set(group)
    tasks = []
    for group in class_groups:
        group_t = torch.tensor(list(group), device=task.y_train.device)
        fields = {}
        for s in _SPLITS:
            x, y = task.split(s)
            keep = torch.isin(y, group_t)
            y_kept = y[keep]
            if relabel:
                y_kept = (y_kept.unsqueeze(1) == group_t).int().argmax(1)
            fields[f"x_{s}"], fields[f"y_{s}"] = x[keep], y_kept
        classes = tuple(task.classes[c] for c in group) if relabel else task.classes
        name = f"{task.name} {'/'.join(str(c) for c in group)}"
        tasks.append(replace(task, name=name, classes=classes, **fields))
    return tasks


def flipped_task(task: Task, seed: int) -> Task:
    """Flip each image horizontally with probability 1/2 and vertically with probability 1/2.

    The coin tosses are fixed per image by ``seed`` (a different stream per split),
    so the task is deterministic: Flip-SVHN of Nicholls & Dasgupta.
    """
    g = torch.Generator().manual_seed(seed)

    def apply(x: torch.Tensor) -> torch.Tensor:
        coins = torch.rand(len(x), 2, generator=g).to(x.device) < 0.5
        h = coins[:, 0].view(-1, 1, 1, 1)
        v = coins[:, 1].view(-1, 1, 1, 1)
        x = torch.where(h, x.flip(-1), x)
        return torch.where(v, x.flip(-2), x)

    return replace(task.map_images(apply), name=f"flip-{task.name}")


def dataset_sequence(
    names: Sequence[str],
    *,
    data_source: str = "auto",
    rgb: bool = True,
    size: int = 32,
    device: torch.device | str = "cpu",
    **task_kwargs,
) -> list[Task]:
    """One task per dataset, harmonised to a common image shape (default 32 px RGB).

    Each task keeps its own labels, so a model needs one head per task.
    Extra keyword arguments go to :func:`make_task`.
    """
    return [
        make_task(load_dataset(n, data_source), rgb=rgb, size=size, device=device, **task_kwargs) for n in names
    ]


def concat_tasks(tasks: Sequence[Task], split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x, y, task_ids)``: one split of several tasks stacked, with each sample's 0-based task index.

    The data of multitask training and of full rehearsal; pass ``task_ids`` to
    :meth:`~cl_utils.models.MultiHeadNet.forward` so that each sample uses its task's head.
    """
    xs, ys = zip(*(task.split(split) for task in tasks))
    ids = torch.cat([torch.full((len(y),), t, device=y.device, dtype=torch.long) for t, y in enumerate(ys)])
    return torch.cat(xs), torch.cat(ys), ids

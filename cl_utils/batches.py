"""Minibatches as index slices of device-resident tensors.

The whole dataset already lives on the device, so a batch is ``x[idx]`` for a
slice ``idx`` of one random permutation per epoch: no DataLoader, no worker
processes, no per-sample Python. ``benchmarks/train_loop.py`` measures the gain.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import torch

__all__ = ["batch_indices", "iterate_batches"]


def batch_indices(
    n: int,
    batch_size: int,
    *,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    drop_last: bool = False,
    models: int = 1,
    limit: int | None = None,
) -> Iterator[torch.Tensor]:
    """Yield index tensors covering ``range(n)`` in batches (shuffled with ``generator``).

    With ``models > 1`` (stacked models) each model draws its own permutation, one after
    another from ``generator``, and each batch is an ``(models, batch)`` index tensor.
    ``limit`` keeps the first ``limit`` indices of the (shuffled) order: an epoch of ``limit``
    samples drawn afresh, without replacement, from all ``n`` (``None``: all of them).
    """
    starts = _batch_starts(n, batch_size, drop_last, limit)
    if models > 1 and shuffle:
        order = torch.stack([torch.randperm(n, generator=generator) for _ in range(models)])
    else:
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    if limit is not None:
        order = order[..., :limit]
    order = order.to(device, non_blocking=True)
    for start in starts:
        yield order[..., start : start + batch_size]


def _batch_starts(n: int, batch_size: int, drop_last: bool, limit: int | None) -> range:
    """Where each batch of an epoch starts: ``limit`` of the ``n`` samples (all with ``None``), in steps of
    ``batch_size``, the last partial batch dropped with ``drop_last``; bad sizes are errors."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if limit is not None and not 1 <= limit <= n:
        raise ValueError(f"limit must be in [1, {n}] (the samples there are), got {limit}")
    size = n if limit is None else limit
    return range(0, size - size % batch_size if drop_last else size, batch_size)


def iterate_batches(
    tensors: Sequence[torch.Tensor],
    batch_size: int,
    *,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
    models: int = 1,
    limit: int | None = None,
    per_model_data: bool = False,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield ``tuple(t[idx] for t in tensors)`` batches; unshuffled batches are plain views.

    All tensors share their first dimension and device (e.g. images, labels, task ids).
    With ``models > 1`` and shuffling, every batch is ``(models, batch, ...)``: each stacked
    model gets its own data order (:func:`batch_indices`). ``limit``: each pass takes that many
    samples of a fresh shuffle (:func:`batch_indices`). ``per_model_data``: every tensor holds one
    dataset per model, ``(models, n, ...)``, and model ``s``'s batch comes from its own (in its own order
    when shuffled); batches are ``(models, batch, ...)``.
    """
    axis = 1 if per_model_data else 0
    n = tensors[0].shape[axis]
    if any(t.shape[axis] != n for t in tensors) or (per_model_data and any(len(t) != models for t in tensors)):
        raise ValueError("all tensors must have the same length" + (f" and {models} datasets" if per_model_data else ""))
    if not shuffle:  # views in order; ``limit`` and ``drop_last`` as in the shuffled path
        for start in _batch_starts(n, batch_size, drop_last, limit):
            stop = min(start + batch_size, n if limit is None else limit)
            yield tuple(t[:, start:stop] if per_model_data else t[start:stop] for t in tensors)
        return
    for idx in batch_indices(n, batch_size, generator=generator, device=tensors[0].device, drop_last=drop_last,
                             models=models, limit=limit):  # fmt: skip
        # index_select of the flat indices: the same rows as t[idx], several times faster on the CPU
        if per_model_data:  # model s's rows of its own dataset: offsets s x n into the flattened (models x n) rows
            flat = (idx.view(models, -1) + n * torch.arange(models, device=idx.device).view(-1, 1)).reshape(-1)
            yield tuple(t.reshape(models * n, *t.shape[2:]).index_select(0, flat).view(models, -1, *t.shape[2:])
                        for t in tensors)  # fmt: skip
            continue
        flat = idx.reshape(-1)
        yield tuple(t.index_select(0, flat).view(*idx.shape, *t.shape[1:]) for t in tensors)

"""Tensor transforms the papers need, applied to whole datasets at once.

All functions take and return tensors; none loops over samples in Python.
Images enter as uint8 ``(N, H, W, C)`` (the cache format) and leave
:func:`to_float` as float32 ``(N, C, H, W)``, the layout PyTorch layers expect.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "VALUE_RANGES",
    "to_float",
    "grey_to_rgb",
    "pad_to",
    "center_crop",
    "resize",
    "class_balanced_subset",
    "train_val_split",
]

VALUE_RANGES = ("unit", "symmetric")


def to_float(x: torch.Tensor, value_range: str = "unit") -> torch.Tensor:
    """uint8 NHWC → float32 NCHW in [0, 1] (``"unit"``) or [-1, 1] (``"symmetric"``)."""
    if value_range not in VALUE_RANGES:
        raise ValueError(f"value_range must be one of {VALUE_RANGES}, got {value_range!r}")
    out = x.permute(0, 3, 1, 2).float().div_(255.0)
    if value_range == "symmetric":
        out.mul_(2.0).sub_(1.0)
    return out.contiguous()


def grey_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Repeat a single channel three times (NCHW); RGB input is returned as is."""
    if x.shape[1] == 3:
        return x
    if x.shape[1] != 1:
        raise ValueError(f"expected 1 or 3 channels, got {x.shape[1]}")
    return x.expand(-1, 3, -1, -1).contiguous()


def pad_to(x: torch.Tensor, size: int, value: float = 0.0) -> torch.Tensor:
    """Zero-pad (or ``value``-pad) NCHW images symmetrically to ``size``×``size`` (e.g. 28 → 32)."""
    h, w = x.shape[-2:]
    if h > size or w > size:
        raise ValueError(f"cannot pad {h}x{w} images to {size}x{size}")
    top, left = (size - h) // 2, (size - w) // 2
    return F.pad(x, (left, size - w - left, top, size - h - top), value=value)


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """Crop the central ``size``×``size`` window of NCHW images (e.g. 32 → 28)."""
    h, w = x.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"cannot crop {h}x{w} images to {size}x{size}")
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top : top + size, left : left + size].contiguous()


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of NCHW float images to ``size``×``size``."""
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def class_balanced_subset(y: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Indices of ``per_class`` random examples of every class in ``y`` (sorted).

    Raises if a class has fewer than ``per_class`` examples.
    """
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=g)
    shuffled = y[order]
    picks = []
    for c in torch.unique(y).tolist():
        members = order[shuffled == c]
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than per_class={per_class}")
        picks.append(members[:per_class])
    return torch.cat(picks).sort().values


def train_val_split(y: torch.Tensor, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stratified split of indices into (train, validation); each class gives ``val_fraction``.

    The validation part is held out from training so that epochs and
    hyperparameters are chosen without touching the test split.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=g)
    shuffled = y[order]
    train_parts, val_parts = [], []
    for c in torch.unique(y).tolist():
        members = order[shuffled == c]
        n_val = int(round(val_fraction * len(members)))
        val_parts.append(members[:n_val])
        train_parts.append(members[n_val:])
    return torch.cat(train_parts).sort().values, torch.cat(val_parts).sort().values

"""cl_utils.transforms: ranges, channels, sizes, subsets, validation splits."""
from __future__ import annotations

import pytest
import torch

from cl_utils import transforms as T


def test_to_float_ranges_and_layout():
    x = torch.tensor([0, 255, 51], dtype=torch.uint8).view(1, 1, 3, 1)  # NHWC
    unit = T.to_float(x, "unit")
    assert unit.shape == (1, 1, 1, 3) and unit.dtype == torch.float32
    assert unit.flatten().tolist() == pytest.approx([0.0, 1.0, 0.2])
    assert T.to_float(x, "symmetric").flatten().tolist() == pytest.approx([-1.0, 1.0, -0.6])
    with pytest.raises(ValueError):
        T.to_float(x, "imagenet")


def test_grey_to_rgb_and_sizes():
    x = torch.rand(2, 1, 28, 28)
    rgb = T.grey_to_rgb(x)
    assert rgb.shape == (2, 3, 28, 28) and torch.equal(rgb[:, 2], x[:, 0])
    padded = T.pad_to(x, 32)
    assert padded.shape == (2, 1, 32, 32) and torch.equal(padded[..., 2:30, 2:30], x)
    assert padded[..., :2, :].abs().sum() == 0
    assert torch.equal(T.center_crop(padded, 28), x)
    assert T.resize(x, 32).shape == (2, 1, 32, 32)


def test_class_balanced_subset():
    y = torch.arange(100) % 4
    idx = T.class_balanced_subset(y, 7, seed=1)
    assert torch.bincount(y[idx]).tolist() == [7, 7, 7, 7]
    assert torch.equal(idx, T.class_balanced_subset(y, 7, seed=1))
    with pytest.raises(ValueError, match="fewer than"):
        T.class_balanced_subset(y, 26, seed=0)


def test_train_val_split_is_disjoint_stratified_and_seeded():
    y = torch.arange(1000) % 10
    tr, va = T.train_val_split(y, 0.2, seed=3)
    assert len(set(tr.tolist()) & set(va.tolist())) == 0 and len(tr) + len(va) == 1000
    assert torch.bincount(y[va]).tolist() == [20] * 10
    assert torch.equal(va, T.train_val_split(y, 0.2, seed=3)[1])
    assert not torch.equal(va, T.train_val_split(y, 0.2, seed=4)[1])

"""cl_utils.streams: permuted, split, flipped and multi-dataset streams."""
from __future__ import annotations

import pytest
import torch

import cl_utils as cl


def test_make_task_shapes_and_validation_split(synthetic_mnist_task):
    t = synthetic_mnist_task
    assert t.input_shape == (1, 28, 28) and t.num_classes == 10
    assert len(t.y_train) == 1800 and len(t.y_val) == 200 and len(t.y_test) == 500
    rgb32 = cl.make_task(cl.load_dataset("mnist", "synthetic"), rgb=True, size=32, value_range="symmetric")
    assert rgb32.input_shape == (3, 32, 32) and rgb32.x_train.min() >= -1
    small = cl.make_task(cl.load_dataset("mnist", "synthetic"), train_per_class=20, test_per_class=5, val_fraction=0.1)
    assert torch.bincount(small.y_train).tolist() == [18] * 10 and torch.bincount(small.y_test).tolist() == [5] * 10
    std = cl.make_task(cl.load_dataset("cifar10", "synthetic"), standardize=True)
    assert torch.allclose(std.x_train.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(std.x_train.std((0, 2, 3)), torch.ones(3), atol=1e-4)


def test_make_task_needs_a_training_split():
    raw = cl.load_dataset("kmnist", "synthetic")
    empty = cl.RawDataset(raw.name, raw.x_train[:0], raw.y_train[:0], raw.x_test, raw.y_test, raw.classes, "cache")
    with pytest.raises(ValueError, match="train_from_test"):
        cl.make_task(empty)
    carved = cl.make_task(empty, train_from_test=0.8, val_fraction=0.1)
    assert len(carved.y_train) + len(carved.y_val) == 400 and len(carved.y_test) == 100


def test_permuted_tasks_are_deterministic_by_seed(synthetic_mnist_task):
    a = cl.permuted_tasks(synthetic_mnist_task, 3, seed=5)
    b = cl.permuted_tasks(synthetic_mnist_task, 3, seed=5)
    c = cl.permuted_tasks(synthetic_mnist_task, 3, seed=6)
    assert torch.equal(a[0].x_train, synthetic_mnist_task.x_train)  # task 1 unpermuted
    assert all(torch.equal(p.x_test, q.x_test) for p, q in zip(a, b))
    assert not torch.equal(a[1].x_train, c[1].x_train)
    assert not torch.equal(a[1].x_train, a[2].x_train)
    # a permutation moves pixels around but keeps each image's values
    assert torch.equal(a[1].x_train.flatten(1).sort(1).values, a[0].x_train.flatten(1).sort(1).values)
    assert torch.equal(a[1].y_train, a[0].y_train)


def test_split_tasks_relabel_and_keep(synthetic_mnist_task):
    groups = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    multi = cl.split_tasks(synthetic_mnist_task, groups, relabel=True)
    single = cl.split_tasks(synthetic_mnist_task, groups, relabel=False)
    assert len(multi) == 5 and multi[2].classes == ("synthetic-4", "synthetic-5")
    assert set(multi[2].y_train.tolist()) == {0, 1} and set(single[2].y_train.tolist()) == {4, 5}
    assert torch.equal(multi[2].y_test, single[2].y_test - 4)
    assert sum(len(t.y_train) for t in multi) == len(synthetic_mnist_task.y_train)
    with pytest.raises(ValueError, match="overlap"):
        cl.split_tasks(synthetic_mnist_task, [(0, 1), (1, 2)])


def test_flipped_task_is_deterministic_and_flips_only(synthetic_mnist_task):
    a, b = cl.flipped_task(synthetic_mnist_task, 1), cl.flipped_task(synthetic_mnist_task, 1)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.x_test, b.x_test)
    assert not torch.equal(a.x_train, cl.flipped_task(synthetic_mnist_task, 2).x_train)
    x = synthetic_mnist_task.x_train
    options = torch.stack([x, x.flip(-1), x.flip(-2), x.flip(-1).flip(-2)])  # (4, N, C, H, W)
    matches = (options == a.x_train.unsqueeze(0)).flatten(2).all(2)  # (4, N)
    assert matches.any(0).all()
    assert 0.6 < (~matches[0]).float().mean() < 0.9  # about 3/4 of images are flipped some way


def test_dataset_sequence_harmonises_shapes():
    tasks = cl.dataset_sequence(["mnist", "cifar10"], data_source="synthetic")
    assert [t.input_shape for t in tasks] == [(3, 32, 32), (3, 32, 32)]
    assert [t.name for t in tasks] == ["mnist", "cifar10"]

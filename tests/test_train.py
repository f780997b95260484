"""cl_utils.train and cl_utils.baselines: learning, determinism, penalties, guards, histories."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cl_utils as cl


def _fit(task, seed, **kwargs):
    gen = cl.set_seed(seed)
    model = cl.mlp(784, [32], [10])
    opt = cl.make_optimizer(model.parameters(), "adam", 1e-3)
    hist = cl.fit(
        model, task.x_train, task.y_train, epochs=3, batch_size=64, optimizer=opt,
        val=task.split("val"), generator=gen, show_progress=False, **kwargs,
    )  # fmt: skip
    return model, hist


def test_fit_learns_and_records_history(synthetic_mnist_task):
    model, hist = _fit(synthetic_mnist_task, 0)
    assert [h.epoch for h in hist] == [1, 2, 3]
    assert all(h.seconds > 0 for h in hist)
    assert hist[-1].train_loss < hist[0].train_loss
    _, acc = cl.evaluate(model, *synthetic_mnist_task.split("test"))
    assert acc > 0.9 and hist[-1].val_acc > 0.9


def test_fit_is_deterministic_by_seed(synthetic_mnist_task):
    a, _ = _fit(synthetic_mnist_task, 1)
    b, _ = _fit(synthetic_mnist_task, 1)
    c, _ = _fit(synthetic_mnist_task, 2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_penalty_is_applied(synthetic_mnist_task):
    plain, _ = _fit(synthetic_mnist_task, 0)
    l1 = None

    def penalty():
        return 1e-2 * sum(p.abs().sum() for p in l1.parameters())

    cl.set_seed(0)
    l1 = cl.mlp(784, [32], [10])
    cl.fit(l1, synthetic_mnist_task.x_train, synthetic_mnist_task.y_train, epochs=3, batch_size=64,
           optimizer=cl.make_optimizer(l1.parameters(), "adam", 1e-3), penalty=penalty,
           generator=torch.Generator().manual_seed(0), show_progress=False)  # fmt: skip
    assert sum(p.abs().sum() for p in l1.parameters()) < 0.5 * sum(p.abs().sum() for p in plain.parameters())


def test_fit_with_guard_keeps_frozen_weights(synthetic_mnist_task):
    cl.set_seed(0)
    model = cl.mlp(784, [32], [10])
    w = model.body[1].weight
    trainable = torch.zeros_like(w, dtype=torch.bool)
    trainable[:16] = True
    before = w.detach().clone()
    guard = cl.FrozenEntries({"w": w}, {"w": trainable})
    opt = cl.make_optimizer(model.parameters(), "sgd", 0.1, momentum=0.9, weight_decay=1e-3)
    cl.fit(model, synthetic_mnist_task.x_train, synthetic_mnist_task.y_train, epochs=2, batch_size=64,
           optimizer=opt, guards=[guard], show_progress=False)  # fmt: skip
    assert torch.equal(w[16:], before[16:]) and not torch.equal(w[:16], before[:16])


def test_evaluate_restores_training_mode(synthetic_mnist_task):
    model = cl.mlp(784, [8], [10])
    model.train()
    cl.evaluate(model, *synthetic_mnist_task.split("test"))
    assert model.training


def test_optimizer_and_device_errors():
    with pytest.raises(ValueError, match="optimizer"):
        cl.make_optimizer(cl.mlp(4, [2], [2]).parameters(), "lbfgs", 0.1)
    assert cl.resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert cl.resolve_device("auto").type == "cpu"
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            cl.resolve_device("cuda")


def test_finetune_forgets_single_head_and_joint_does_not(synthetic_mnist_task):
    groups = [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]
    tasks = cl.split_tasks(synthetic_mnist_task, groups, relabel=False)
    settings = cl.TrainSettings(epochs=3, batch_size=32, optimizer="adam", lr=1e-3)
    cl.set_seed(0)
    seq = cl.finetune_sequence(cl.mlp(784, [32], [10]), tasks, settings, multi_head=False, show_progress=False)
    acc = np.asarray(seq["acc"])
    assert acc.shape == (2, 2) and len(seq["history"]) == 2 and len(seq["history"][0]) == 3
    assert acc[0, 0] > 0.9 and acc[1, 1] > 0.9 and acc[1, 0] < 0.5  # task 1 forgotten
    joint = cl.train_jointly(cl.mlp(784, [32], [10]), tasks, settings, multi_head=False, show_progress=False)
    assert min(joint["acc"]) > 0.9
    multi = cl.split_tasks(synthetic_mnist_task, groups, relabel=True)
    jm = cl.train_jointly(cl.mlp(784, [32], [5, 5]), multi, settings, multi_head=True, show_progress=False)
    assert min(jm["acc"]) > 0.9
    with pytest.raises(ValueError, match="head"):
        cl.finetune_sequence(cl.mlp(784, [8], [5]), multi, settings, multi_head=True)


def test_metrics():
    acc = [[0.9, 0.1], [0.5, 0.8]]
    assert cl.average_accuracy(acc) == pytest.approx(0.65)
    assert cl.backward_transfer(acc) == pytest.approx(-0.4)
    mean, sem = cl.mean_sem([1.0, 2.0, 3.0])
    assert mean == 2.0 and sem == pytest.approx(1 / np.sqrt(3))
    assert cl.mean_sem([4.0]) == (4.0, 0.0)


def test_format_mean_spread():
    assert cl.format_mean_spread([1.0, 2.0, 3.0]) == f"2.00 ± {1 / np.sqrt(3):.2f}"
    assert cl.format_mean_spread([1.0, 2.0, 3.0], spread="std") == "2.00 ± 1.00"
    assert cl.format_mean_spread([97.777]) == "97.78 (1 run)"  # no "± 0.00" for a single run
    with pytest.raises(ValueError, match="spread"):
        cl.format_mean_spread([1.0, 2.0], spread="var")


def test_fit_steps_the_scheduler_once_per_epoch(synthetic_mnist_task):
    task = synthetic_mnist_task
    model = cl.mlp(784, [16], [10])
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    cl.fit(model, task.x_train[:256], task.y_train[:256], epochs=3, batch_size=64, optimizer=opt, scheduler=scheduler,
           show_progress=False)  # fmt: skip
    assert opt.param_groups[0]["lr"] == 0.125 and scheduler.last_epoch == 3


def test_the_optimizer_kernel_block_decides_what_auto_builds_on_the_cpu():
    """Inside optimizer_kernel("fused") an "auto" optimizer is fused on the CPU too; outside, foreach again."""
    params = list(cl.mlp(4, [3], [2]).parameters())
    with cl.train.optimizer_kernel("fused"):
        inside = cl.make_optimizer(params, "adam", 1e-3)
        with cl.train.optimizer_kernel(None):  # None: the device's default
            nested = cl.make_optimizer(params, "sgd", 1e-3)
        explicit = cl.make_optimizer(params, "adam", 1e-3, implementation="foreach")  # an explicit choice wins
    outside = cl.make_optimizer(params, "adam", 1e-3)
    assert inside.defaults["fused"] and not inside.defaults["foreach"]
    assert nested.defaults["foreach"] and not nested.defaults["fused"]
    assert explicit.defaults["foreach"] and not explicit.defaults["fused"]
    assert outside.defaults["foreach"] and not outside.defaults["fused"]
    with pytest.raises(ValueError, match="optimizer kernel"):
        with cl.train.optimizer_kernel("fast"):
            pass


def test_optimizer_implementations_agree_bit_for_bit_on_the_cpu():
    """'auto' (foreach on the CPU) takes exactly the steps of the one-tensor loop the records used."""
    x, y = torch.rand(64, 20), torch.randint(0, 3, (64,))
    finals = {}
    for implementation in ("single", "foreach", "auto"):
        for name in ("adam", "sgd", "adamw"):
            torch.manual_seed(0)
            model = cl.mlp(20, [16], [3])
            opt = cl.make_optimizer(model.parameters(), name, 1e-2, momentum=0.9, weight_decay=1e-3,
                                    implementation=implementation)  # fmt: skip
            for _ in range(20):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            finals[implementation, name] = [p.detach().clone() for p in model.parameters()]
    for name in ("adam", "sgd", "adamw"):
        for implementation in ("foreach", "auto"):
            assert all(torch.equal(a, b) for a, b in zip(finals["single", name], finals[implementation, name]))
    with pytest.raises(ValueError, match="implementation"):
        cl.make_optimizer(cl.mlp(4, [], [2]).parameters(), "adam", 1e-3, implementation="fast")

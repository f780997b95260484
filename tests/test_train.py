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


# -- stacked models, each with its own dataset (chapter 05's seeds) and its own epoch metrics ---------------------
def test_each_stacked_model_draws_every_row_of_its_own_dataset_once_per_epoch():
    from cl_utils.batches import iterate_batches

    x = torch.stack([torch.arange(10) + 1000 * s for s in range(3)]).float()  # (3 models, 10 rows)
    seen = [[] for _ in range(3)]
    for (xb,) in iterate_batches([x], 4, generator=torch.Generator().manual_seed(0), models=3, per_model_data=True):
        assert xb.shape[0] == 3
        for s in range(3):
            seen[s] += xb[s].tolist()
    assert [sorted(v) for v in seen] == [list(range(1000 * s, 1000 * s + 10)) for s in range(3)]
    assert seen[0] != [v - 1000 for v in seen[1]]  # each model its own order
    (first,) = next(iterate_batches([x], 4, shuffle=False, models=3, per_model_data=True))
    assert torch.equal(first, x[:, :4])
    with pytest.raises(ValueError, match="3 datasets"):
        next(iterate_batches([x[:2]], 4, models=3, per_model_data=True))


def test_a_stacked_model_fits_its_own_labels_and_reports_each_models_metrics():
    """Model 0's labels are the sign of feature 0, model 1's of feature 1: each learns its own rule, and each
    model's accuracy is measured on its own data."""
    torch.manual_seed(0)
    x = torch.randn(2, 400, 2)
    y = torch.stack([(x[0, :, 0] > 0).long(), (x[1, :, 1] > 0).long()])
    model = cl.models.stacked_mlp(2, 2, [8], [2])
    opt = cl.make_optimizer(model.parameters(), "adam", 0.05)
    history = cl.fit(model, x, y, epochs=20, batch_size=50, optimizer=opt, val=(x, y), show_progress=False,
                     per_model=True, per_model_data=True)  # fmt: skip
    own = cl.train.accuracy_per_model(model, x, y, per_model_data=True)
    crossed = cl.train.accuracy_per_model(model, x.flip(0), y.flip(0), per_model_data=True)
    assert min(own) > 0.95 and max(crossed) < 0.8
    assert history[-1].per_model["val_acc"] == pytest.approx(own)
    assert cl.evaluate(model, x, y, per_model_data=True)[1] == pytest.approx(sum(own) / 2)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_settings_for_a_stack_step_each_model_as_its_own_run_would(optimizer):
    """Two identical models stacked, one batch: the stacked loss averages over them, and ``for_models(2)`` makes
    each model's two steps (momentum, weight decay) those of the plain model with the plain settings."""
    torch.manual_seed(0)
    plain = cl.mlp(6, [5], [3])
    stack = cl.models.stacked_mlp(2, 6, [5], [3])
    stack.load_state_dict({n: torch.stack([p, p]) for n, p in plain.state_dict().items()})
    x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
    settings = cl.TrainSettings(1, 8, optimizer, lr=0.05, momentum=0.9, weight_decay=0.1)
    opt_plain = settings.make_optimizer(plain.parameters())
    opt_stack = settings.for_models(2).make_optimizer(stack.parameters())
    for _ in range(2):
        for model, opt, inputs in ((plain, opt_plain, x), (stack, opt_stack, cl.models.per_model(x, 2))):
            opt.zero_grad()
            cl.train.cross_entropy(model(inputs), y).backward()
            opt.step()
    for name, p in plain.named_parameters():
        for s in range(2):
            torch.testing.assert_close(dict(stack.named_parameters())[name][s], p, rtol=1e-5, atol=1e-6)

"""cl_utils.efficiency (Ball et al. 2020), its schedule in the experiments layer, and the stacked-seed machinery."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

import cl_utils as cl
from cl_utils import packnet as packnet_module
from cl_utils.efficiency import (
    compression_ratio,
    free_fraction_per_model,
    match_free_fraction,
    prune_per_round,
)
from cl_utils.efficiency import run_method
from cl_utils.masks import magnitude_keep_mask
from cl_utils.models import per_model, stacked_mlp
from cl_utils.packnet import PackNet

ADAM = cl.TrainSettings(epochs=2, batch_size=64, optimizer="adam", lr=5e-3)


@pytest.fixture(scope="module")
def pairs() -> list[cl.Task]:
    """Three binary tasks from class pairs of synthetic MNIST (multi-head, labels 0/1)."""
    base = cl.make_task(cl.load_dataset("mnist", "synthetic"), seed=0)
    return cl.split_tasks(base, [(0, 1), (2, 3), (4, 5)])


@pytest.mark.parametrize("rounds,num_tasks,free", [(1, 5, 0.95), (3, 5, 0.99), (8, 5, 0.995), (2, 3, 0.8), (6, 1, 0.9)])
def test_algorithm_2_leaves_exactly_the_final_free_fraction(rounds, num_tasks, free):
    z = prune_per_round(rounds, num_tasks, free)
    assert math.isclose((1 - (1 - z) ** rounds) ** num_tasks, free, rel_tol=1e-12)
    # and a real network pruned on that schedule ends with that fraction free (no training needed)
    torch.manual_seed(0)
    model = cl.mlp(784, [256, 256], [2] * num_tasks)
    packnet = PackNet(model, max_tasks=num_tasks)
    for _ in range(num_tasks):
        packnet.start_task()
        for _ in range(rounds):
            packnet.prune(z)
    assert free_fraction_per_model(packnet)[0] == pytest.approx(free, abs=2e-4)


def test_algorithm_2_rejects_bad_inputs():
    for args in [(0, 5, 0.9), (2, 0, 0.9), (2, 5, 1.0), (2, 5, 0.0)]:
        with pytest.raises(ValueError):
            prune_per_round(*args)


def test_stacked_mlp_equals_independent_mlps():
    torch.manual_seed(0)
    stack = stacked_mlp(3, 784, [32, 16], [2, 2])
    x = torch.randn(7, 1, 28, 28)
    out = stack(per_model(x, 3), 1)
    assert out.shape == (7, 2, 3)
    for s in range(3):
        plain = cl.mlp(784, [32, 16], [2, 2])
        with torch.no_grad():
            for (name, p), (_, q) in zip(plain.named_parameters(), stack.named_parameters()):
                p.copy_(q[s])
            torch.testing.assert_close(plain(x, 1), out[..., s], rtol=0, atol=1e-5)


def test_stacked_models_get_only_their_own_gradient(pairs):
    torch.manual_seed(0)
    stack = stacked_mlp(2, 784, [16], [2])
    x, y = pairs[0].x_train[:64], pairs[0].y_train[:64]

    def grads():
        stack.zero_grad()
        cl.train.cross_entropy(stack(per_model(x, 2), 0), y).backward()
        return [p.grad[0].clone() for p in stack.parameters()]

    before = grads()
    with torch.no_grad():
        for p in stack.parameters():
            p[1].mul_(-2.0)  # change model 2 only
    assert all(torch.equal(a, b) for a, b in zip(before, grads()))


def test_fit_and_accuracy_average_over_stacked_models(pairs):
    torch.manual_seed(0)
    stack = stacked_mlp(3, 784, [16], [2])
    history = cl.fit(stack, pairs[0].x_train, pairs[0].y_train, epochs=2, batch_size=64,
                     optimizer=torch.optim.Adam(stack.parameters(), 1e-3), val=pairs[0].split("val"),
                     show_progress=False)  # fmt: skip
    assert 0.5 < history[-1].train_acc <= 1.0 and 0.5 < history[-1].val_acc <= 1.0
    per_model = cl.train.accuracy_per_model(stack, *pairs[0].split("val"), forward=lambda x: stack(x, 0))
    assert len(per_model) == 3
    assert sum(per_model) / 3 == pytest.approx(history[-1].val_acc)


def test_each_stacked_model_has_its_own_data_order(pairs):
    """Model s of a stack trained by fit equals a plain MLP trained on model s's batches (orders differ)."""
    x, y = pairs[0].x_train[:200], pairs[0].y_train[:200]
    torch.manual_seed(0)
    stack = stacked_mlp(3, 784, [16], [2])
    init = copy.deepcopy(stack)
    cl.fit(stack, x, y, epochs=2, batch_size=32, optimizer=torch.optim.SGD(stack.parameters(), lr=0.3),
           generator=torch.Generator().manual_seed(5), show_progress=False)  # fmt: skip
    orders = torch.Generator().manual_seed(5)  # what fit drew: per epoch one permutation per model, in turn
    perms = [[torch.randperm(len(y), generator=orders) for _ in range(3)] for _ in range(2)]
    assert not torch.equal(perms[0][0], perms[0][1])
    for s in range(3):
        plain = cl.mlp(784, [16], [2])
        with torch.no_grad():
            for p, q in zip(plain.parameters(), init.parameters()):
                p.copy_(q[s])
        opt = torch.optim.SGD(plain.parameters(), lr=0.3 / 3)  # the stacked loss averages over 3 models
        for epoch in range(2):
            for idx in perms[epoch][s].split(32):
                opt.zero_grad()
                cl.train.cross_entropy(plain(x[idx], 0), y[idx]).backward()
                opt.step()
        for p, q in zip(plain.parameters(), stack.parameters()):
            torch.testing.assert_close(p, q[s], rtol=1e-4, atol=1e-5)


def test_stacked_packnet_prunes_each_model_separately_and_forgets_nothing(pairs):
    torch.manual_seed(0)
    stack = stacked_mlp(3, 784, [32, 32], [2] * 3)
    with torch.no_grad():
        stack.body[1].weight[2].mul_(100.0)  # model 3's weights are much larger: a pooled threshold would spare them
    packnet = PackNet(stack, max_tasks=3)
    probe = per_model(torch.cat([t.x_test[:16] for t in pairs]), 3)
    recorded = []
    for k, task in enumerate(pairs, start=1):
        packnet.start_task()
        packnet.train_task(task.x_train, task.y_train, ADAM, show_progress=False)
        w = stack.body[1].weight.detach().clone()
        eligible = stack.body[1].packnet_owner == k
        packnet.prune(0.5)
        for s in range(3):
            expected = magnitude_keep_mask(w[s], 0.5, eligible[s])
            assert torch.equal((stack.body[1].packnet_owner[s] == k), expected & eligible[s])
        packnet.retrain(task.x_train, task.y_train, ADAM, show_progress=False)
        with torch.no_grad():
            recorded.append(packnet.forward_for(k)(probe).clone())
    with torch.no_grad():
        for k, before in enumerate(recorded, start=1):
            assert torch.equal(packnet.forward_for(k)(probe), before)
    free = free_fraction_per_model(packnet)
    assert len(free) == 3 and all(f == pytest.approx(0.125, abs=0.01) for f in free)


def test_packnet_iterative_reports_every_task_and_model(pairs):
    torch.manual_seed(0)
    out = run_method("packnet", stacked_mlp(2, 784, [32, 32], [2] * 3), pairs, ADAM, retrain_budget=2, rounds=2,
                     final_free=0.5, show_progress=False)  # fmt: skip
    assert len(out["acc"]) == 3 and all(len(row) == 2 for row in out["acc"])
    assert all(a > 0.6 for row in out["acc"] for a in row)
    assert out["free"] == pytest.approx([0.5, 0.5], abs=0.01)
    with pytest.raises(ValueError, match="divide"):
        run_method("packnet", cl.mlp(784, [8], [2] * 3), pairs, ADAM, retrain_budget=3, rounds=2, final_free=0.5)
    with pytest.raises(ValueError, match="method"):
        run_method("ewc", cl.mlp(784, [8], [2] * 3), pairs, ADAM, retrain_budget=2, rounds=2, final_free=0.5)


def test_memory_trains_old_weights_but_keeps_pruned_ones_at_zero_and_only_expands(pairs):
    torch.manual_seed(0)
    model = cl.mlp(784, [32, 32], [2] * 3)
    packnet = PackNet(model, max_tasks=3, freeze_earlier=False)
    packnet.start_task()
    packnet.train_task(pairs[0].x_train, pairs[0].y_train, ADAM, show_progress=False)
    packnet.prune(0.5)
    task1_weights = model.body[1].weight.detach().clone()
    used_after_1 = model.body[1].packnet_owner > 0
    packnet.start_task()
    x, y, ids = cl.streams.concat_tasks(pairs[:2], "train")
    packnet.train_task(x, y, ADAM, task_ids=ids, show_progress=False)
    owner = model.body[1].packnet_owner
    assert (owner[used_after_1] == 1).all(), "the used set only grows"
    assert not torch.equal(model.body[1].weight[used_after_1], task1_weights[used_after_1]), "nothing is frozen"
    packnet.prune(0.5)
    zeros = model.body[1].weight[owner == 0]
    packnet.train_task(x, y, ADAM, task_ids=ids, show_progress=False)
    assert torch.equal(model.body[1].weight[owner == 0], torch.zeros_like(zeros)), "pruned weights stay zero"


def test_memory_and_multinet_end_at_the_free_fraction_and_learn(pairs):
    for method in ("memory", "multinet"):
        torch.manual_seed(0)
        out = run_method(method, stacked_mlp(2, 784, [32, 32], [2] * 3), pairs, ADAM, retrain_budget=1, rounds=1,
                         final_free=0.8, show_progress=False)  # fmt: skip
        assert out["free"] == pytest.approx([0.8, 0.8], abs=0.01), method
        assert all(a > 0.6 for row in out["acc"] for a in row), method


def test_matching_finds_the_free_fraction_of_equal_performance():
    calls = []

    def performance(free: float) -> float:  # accuracy falls as more of the network is free
        calls.append(free)
        return 1.0 - 0.01 / (1.0 - free) ** 0.5

    target = performance(0.99)
    found = match_free_fraction(target, performance, bounds=(0.5, 0.9999), xatol=1e-4)
    assert found["free"] == pytest.approx(0.99, abs=1e-3)
    assert len(set(calls)) == len(calls), "each point is evaluated once"
    assert compression_ratio(0.6, 0.9) == pytest.approx(4.0)  # the paper's worked example


def test_dense_parameters_count_in_the_ratio_and_are_measured_per_model():
    from cl_utils.efficiency import dense_fraction
    from cl_utils.models import stacked_mlp

    body = 784 * 256 + 256 * 256
    dense = 2 * 256 + 5 * (256 * 2 + 2)  # hidden biases, then five 2-way heads with their biases
    assert dense_fraction(cl.mlp(784, [256, 256], [2] * 5)) == pytest.approx(dense / body)
    assert dense_fraction(stacked_mlp(3, 784, [256, 256], [2] * 5)) == pytest.approx(dense / body)
    d = dense / body
    assert compression_ratio(0.995, 0.9993, dense=d) == pytest.approx((0.005 * body + dense) / (0.0007 * body + dense))
    assert compression_ratio(0.995, 0.9993, dense=d) < 0.5 * compression_ratio(0.995, 0.9993)  # heads dominate at p = 0.995


def test_stacked_conv_net_equals_independent_conv_nets():
    from cl_utils.models import ball_cnn, stacked_ball_cnn

    torch.manual_seed(0)
    stack = stacked_ball_cnn(2, [2, 2]).eval()
    x = torch.randn(2, 3, 3, 32, 32)  # (models, batch, C, H, W): each model its own images
    out = stack(x, 1)
    assert out.shape == (3, 2, 2)
    for s in range(2):
        plain = ball_cnn([2, 2]).eval()
        with torch.no_grad():
            for p, q in zip(plain.parameters(), stack.parameters()):
                p.copy_(q[s])
            torch.testing.assert_close(plain(x[s], 1), out[..., s], rtol=1e-4, atol=1e-5)


def test_stacked_conv_packnet_prunes_each_model_and_forgets_nothing():
    from cl_utils.models import stacked_ball_cnn

    torch.manual_seed(0)
    tasks = [cl.make_task(cl.load_dataset("cifar10", "synthetic"), train_per_class=8, val_fraction=0.0, seed=k)
             for k in range(2)]  # fmt: skip
    tasks = [cl.split_tasks(t, [[0, 1]])[0] for t in tasks]
    stack = stacked_ball_cnn(2, [2, 2])
    packnet = PackNet(stack, max_tasks=2)
    probe = per_model(tasks[0].x_test[:8], 2)
    for k, task in enumerate(tasks, start=1):
        packnet.start_task()
        packnet.train_task(task.x_train, task.y_train, cl.TrainSettings(1, 8, "adam", 1e-3), show_progress=False)
        packnet.prune([0.5, 0.75])  # each stacked model its own fraction
        if k == 1:
            stack.eval()  # no dropout while probing
            with torch.no_grad():
                before = packnet.forward_for(1)(probe).clone()
    owner = stack.body[1].packnet_owner
    owned_by_1 = [(owner[s] == 1).sum().item() / owner[s].numel() for s in range(2)]
    assert owned_by_1 == pytest.approx([0.5, 0.25], abs=1e-3)
    stack.eval()
    with torch.no_grad():
        after = packnet.forward_for(1)(probe)
    assert before.abs().sum() > 0 and torch.equal(after, before)


def test_grid_matching_finds_the_searched_free_fraction():
    """On a smooth accuracy curve the grid's interpolated p̄ and the Brent search agree closely."""
    from cl_utils.efficiency import grid_frees, match_on_grid

    def accuracy(free: float) -> float:  # falls smoothly with u = -log10(1 - free)
        u = -math.log10(1 - free)
        return 99.0 - 4.0 * max(0.0, u - 1.0) ** 2

    target = 95.0
    frees = grid_frees(16, (0.5, 0.9999))
    assert frees[0] == pytest.approx(0.5) and frees[-1] == pytest.approx(0.9999)
    grid = match_on_grid(target, frees, [accuracy(f) for f in frees])
    searched = match_free_fraction(target, accuracy, bounds=(0.5, 0.9999), xatol=0.01)
    exact = 1 - 10 ** -2.0  # 99 - 4 (u - 1)^2 = 95 at u = 2
    assert grid["bracketed"]
    assert -math.log10(1 - grid["free"]) == pytest.approx(2.0, abs=0.05)
    assert -math.log10(1 - searched["free"]) == pytest.approx(2.0, abs=0.05)
    assert searched["free"] == pytest.approx(exact, abs=1e-3)
    # outside the grid's range: its nearest end, flagged
    assert match_on_grid(100.0, frees, [accuracy(f) for f in frees]) == {**grid, "free": frees[0], "bracketed": False}
    assert match_on_grid(0.0, frees, [accuracy(f) for f in frees])["free"] == frees[-1]


def test_run_method_gives_each_stacked_model_its_free_fraction(pairs):
    torch.manual_seed(0)
    out = run_method("memory", stacked_mlp(3, 784, [32, 32], [2] * 3), pairs, ADAM, retrain_budget=1, rounds=1,
                     final_free=[0.5, 0.9, 0.99], show_progress=False)  # fmt: skip
    assert out["free"] == pytest.approx([0.5, 0.9, 0.99], abs=2e-3)


@pytest.mark.parametrize("speed", [("bf16",), ("compile",)])
def test_zero_forgetting_stays_bit_exact_with_accelerations_and_stacked_models(pairs, speed):
    """The opt-in speed-ups change the arithmetic of training, never the freezing: earlier tasks keep every bit."""
    torch.manual_seed(0)
    stack = stacked_mlp(2, 784, [32, 32], [2] * 2)
    packnet = PackNet(stack, max_tasks=2)
    probe = per_model(pairs[0].x_test[:32], 2)
    with cl.train.accelerated(*speed):
        packnet.start_task()
        packnet.train_task(pairs[0].x_train, pairs[0].y_train, ADAM, show_progress=False)
        packnet.prune(0.5)
        packnet.retrain(pairs[0].x_train, pairs[0].y_train, ADAM, show_progress=False)
        with torch.no_grad():
            before = packnet.forward_for(1)(probe).clone()
        packnet.start_task()
        packnet.train_task(pairs[1].x_train, pairs[1].y_train, ADAM, show_progress=False)
    with torch.no_grad():
        assert before.abs().sum() > 0 and torch.equal(packnet.forward_for(1)(probe), before)
        assert packnet.forward_for(2)(probe).abs().sum() > 0


def test_accelerations_enter_the_key_only_when_on():
    from cl_utils import experiments as ex
    from cl_utils.experiments.runs import requests

    chapter = ex.load("00")
    plain = chapter.Params.from_values({}, ex.preset("00", "smoke"))
    fast = chapter.Params.from_values({"acceleration": ["bf16"]}, ex.preset("00", "smoke"))
    (_, r_plain), (_, r_fast) = requests(chapter, plain)[0], requests(chapter, fast)[0]
    assert "acceleration" not in r_plain["config"] and r_fast["config"]["acceleration"] == ["bf16"]
    with pytest.raises(ex.ParameterError, match="acceleration"):
        chapter.Params.from_values({"acceleration": ["turbo"]})


def _steps_and_samples(method: str, pairs: list[cl.Task], memory_steps: str) -> tuple[int, int]:
    """Optimizer steps and the samples they saw over a three-task run of ``method``."""
    steps, samples = [0], [0]

    def count(optimizer, args, kwargs):
        steps[0] += 1

    real_fit = packnet_module.fit

    def counting_fit(model, x, y, **kw):  # every sample an epoch shows, from the indices it is given
        n = kw.get("samples_per_epoch") or len(y)
        samples[0] += n * kw["epochs"]
        return real_fit(model, x, y, **kw)

    handle = register_optimizer_step_post_hook(count)
    packnet_module.fit = counting_fit
    try:
        torch.manual_seed(0)
        run_method(method, cl.mlp(784, [16], [2] * 3), pairs, ADAM, retrain_budget=2, rounds=2, final_free=0.5,
                   show_progress=False, memory_steps=memory_steps)  # fmt: skip
    finally:
        handle.remove()
        packnet_module.fit = real_fit
    return steps[0], samples[0]


def test_memory_at_packnets_steps_takes_packnets_gradient_steps_and_the_default_three_times_as_many(pairs):
    """Ball et al. compare at 'the same time budget'. With the same epochs Memory rehearses 1 + 2 + 3 tasks' data
    over three tasks (twice PackNet's 3 here), with ``memory_steps="packnet"`` exactly PackNet's steps."""
    packnet, seen = _steps_and_samples("packnet", pairs, "epochs")
    same_epochs, _ = _steps_and_samples("memory", pairs, "epochs")
    same_steps, seen_steps = _steps_and_samples("memory", pairs, "packnet")
    assert packnet > 0 and same_steps == packnet and seen_steps == seen
    assert same_epochs >= 1.9 * packnet  # 6 tasks' worth of batches against 3 (batches round up per phase)
    with pytest.raises(ValueError, match="memory_steps"):
        run_method("memory", cl.mlp(784, [8], [2] * 3), pairs, ADAM, retrain_budget=1, rounds=1, final_free=0.5,
                   memory_steps="time")  # fmt: skip


def test_an_epoch_of_fewer_samples_draws_them_afresh_from_all_of_them():
    from cl_utils.batches import batch_indices

    g = torch.Generator().manual_seed(0)
    epochs = [torch.cat(list(batch_indices(100, 8, generator=g, limit=30))) for _ in range(20)]
    assert all(len(e) == 30 and len(set(e.tolist())) == 30 for e in epochs)  # 30 distinct samples an epoch
    assert len(set(torch.cat(epochs).tolist())) == 100  # every sample drawn over the epochs: not a fixed subset
    assert not torch.equal(epochs[0], epochs[1])
    full = torch.cat(list(batch_indices(100, 8, generator=torch.Generator().manual_seed(0))))
    limited = torch.cat(list(batch_indices(100, 8, generator=torch.Generator().manual_seed(0), limit=100)))
    assert torch.equal(full, limited)  # a limit of all the samples changes nothing
    stacked = list(batch_indices(100, 8, generator=g, models=3, limit=30))
    assert sum(b.shape[1] for b in stacked) == 30 and all(b.shape[0] == 3 for b in stacked)
    with pytest.raises(ValueError, match="limit"):
        next(batch_indices(100, 8, limit=101))


def test_unshuffled_batches_are_views_in_order_and_honour_limit_and_drop_last():
    from cl_utils.batches import iterate_batches

    x, y = torch.arange(20.0).reshape(10, 2), torch.arange(10)
    batches = list(iterate_batches((x, y), 4, shuffle=False))
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].data_ptr() == x.data_ptr()  # a view, not a copy
    assert [b[1].tolist() for b in iterate_batches((x, y), 4, shuffle=False, limit=6)] == [[0, 1, 2, 3], [4, 5]]
    assert [b[1].tolist() for b in iterate_batches((x, y), 4, shuffle=False, drop_last=True)] == [[0, 1, 2, 3],
                                                                                                 [4, 5, 6, 7]]
    with pytest.raises(ValueError, match="limit"):
        next(iterate_batches((x, y), 4, shuffle=False, limit=11))

"""cl_utils.clnp: zero forgetting (multi- and single-head, MLP and conv), interference, θ, capacity."""
from __future__ import annotations

import pytest
import torch

import cl_utils as cl
from cl_utils.clnp import CLNP
from cl_utils.graceful_forgetting import select_theta
from cl_utils.clnp_schedule import learn_task, learn_task_with_grid, select_by_graceful_forgetting

SETTINGS = cl.TrainSettings(epochs=1, batch_size=64, optimizer="adam", lr=2e-3)


@pytest.fixture(scope="module")
def permuted() -> list[cl.Task]:
    base = cl.make_task(cl.load_dataset("mnist", "synthetic"), val_fraction=0.1, seed=0)
    return cl.permuted_tasks(base, 10, seed=1)


def _run(clnp: CLNP, tasks, margin=0.05, alphas=(1e-5, 1e-4, 1e-5), finetune_iterations=0):
    probe = torch.cat([t.x_test[:20] for t in tasks])
    recorded, results = [], []
    for t in tasks:
        results.append(learn_task(clnp, t.x_train, t.y_train, t.split("val"), SETTINGS, alphas=alphas, margin=margin,
                                  finetune_iterations=finetune_iterations, finetune=SETTINGS, show_progress=False))  # fmt: skip
        clnp.model.eval()
        with torch.no_grad():
            recorded.append(clnp.forward_for(clnp.num_tasks)(probe).clone())
    return probe, recorded, results


@pytest.mark.parametrize("single_head", [False, True], ids=["multi-head", "single-head"])
def test_ten_tasks_leave_every_earlier_task_bit_identical(permuted, single_head):
    torch.manual_seed(0)
    model = cl.mlp(784, [64, 64], [10] if single_head else [10] * 10)
    clnp = CLNP(model, single_head=single_head)
    probe, recorded, results = _run(clnp, permuted)
    model.eval()
    with torch.no_grad():
        for k, before in enumerate(recorded, start=1):
            assert torch.equal(clnp.forward_for(k)(probe), before), f"task {k} changed"
    assert results[0]["val_acc"] > 0.5  # the method learns
    # interference weights are exactly zero: inactive (free) inputs into active units
    for i, unit in enumerate(clnp.units[1:], start=1):
        w = unit.layer.weight
        rows, cols = clnp.owner(i) > 0, clnp.owner(i - 1) == 0
        assert torch.all(w[rows][:, cols] == 0)
    # capacity accounting adds up, layer by layer
    for i, unit in enumerate(clnp.units):
        grown = sum(r["new_units"][i] for r in results)
        assert grown + results[-1]["free_units"][i] == unit.num_units


def test_fine_tuning_iterations_keep_zero_forgetting(permuted):
    torch.manual_seed(1)
    model = cl.mlp(784, [48, 48], [10] * 3)
    clnp = CLNP(model)
    probe, recorded, results = _run(clnp, permuted[:3], margin=0.1, finetune_iterations=2)
    assert all(len(r["rounds"]) == 2 for r in results)  # prune, fine-tune, prune, fine-tune
    model.eval()
    with torch.no_grad():
        for k, before in enumerate(recorded, start=1):
            assert torch.equal(clnp.forward_for(k)(probe), before)


def test_the_fused_optimizer_kernel_keeps_zero_forgetting(permuted):
    """Chapter 03 trains its MLPs with the fused Adam kernel (keyed): earlier tasks stay bit-identical under it."""
    torch.manual_seed(2)
    model = cl.mlp(784, [48, 48], [10] * 3)
    clnp = CLNP(model)
    with cl.train.optimizer_kernel("fused"):
        probe, recorded, results = _run(clnp, permuted[:3], margin=0.1, finetune_iterations=1)
    assert results[0]["val_acc"] > 0.5
    model.eval()
    with torch.no_grad():
        for k, before in enumerate(recorded, start=1):
            assert torch.equal(clnp.forward_for(k)(probe), before), f"task {k} changed"


def test_conv_net_tasks_are_bit_identical():
    tasks = cl.split_tasks(cl.make_task(cl.load_dataset("cifar10", "synthetic"), val_fraction=0.1),
                           [(0, 1), (2, 3), (4, 5)])  # fmt: skip
    torch.manual_seed(0)
    model = cl.zenke_cnn([2, 2, 2])
    clnp = CLNP(model)
    assert [u.input_repeat for u in clnp.units] == [1, 1, 1, 1, 36]
    probe, recorded, results = _run(clnp, tasks, margin=0.1, alphas=(1e-5,) * 6)
    model.eval()
    with torch.no_grad():
        for k, before in enumerate(recorded, start=1):
            assert torch.equal(clnp.forward_for(k)(probe), before)
    fc = clnp.units[-1].layer.weight
    inactive_channels = (clnp.owner(3) == 0).repeat_interleave(36)
    assert torch.all(fc[clnp.owner(4) > 0][:, inactive_channels] == 0)


def _trained_first_task(task: cl.Task, width: int, seed: int):
    """A single-head CLNP MLP with task 1 trained, not yet pruned: (model, clnp, val, reference acc, activity)."""
    torch.manual_seed(seed)
    model = cl.mlp(784, [width, width], [10])
    clnp = CLNP(model)
    clnp.start_task()
    clnp.train_task(task.x_train, task.y_train, SETTINGS, alphas=(1e-5, 1e-4, 1e-5), show_progress=False)
    val = task.split("val")
    reference = cl.evaluate(model, *val, forward=clnp.training_forward(1))[1]
    return model, clnp, val, reference, clnp.activity(task.x_train)


def test_theta_is_the_largest_within_the_margin(permuted):
    model, clnp, val, reference, activity = _trained_first_task(permuted[0], 64, seed=0)
    margin = 0.02
    choice = select_theta(clnp, activity, val, reference_acc=reference, margin=margin)
    assert choice.val_acc >= reference - margin
    larger = sorted({float(v) for a in activity for v in a.tolist() if v > choice.theta})
    for theta in larger[:: max(1, len(larger) // 25)]:  # every larger candidate breaks the margin
        masks = clnp.candidate_masks(activity, [theta] * 2)
        acc = cl.evaluate(model, *val, forward=clnp.forward_with_units(masks, 0))[1]
        assert acc < reference - margin, theta
    assert sum(choice.active_units) < 128  # something was pruned


def test_hyperparameter_choice_picks_the_sparsest_within_margin():
    cands = [
        {"val_acc": 0.980, "pruned_acc": 0.978, "active": 300},
        {"val_acc": 0.979, "pruned_acc": 0.977, "active": 120},  # within 0.2 points: eligible, sparsest
        {"val_acc": 0.950, "pruned_acc": 0.949, "active": 50},  # too far from the best
    ]
    assert select_by_graceful_forgetting(cands, margin=0.002) == 1
    assert select_by_graceful_forgetting(cands, margin=0.0005) == 0


def test_grid_selection_keeps_the_chosen_point_and_its_pruning(permuted):
    torch.manual_seed(0)
    model = cl.mlp(784, [48, 48], [10])
    clnp = CLNP(model, single_head=True)
    task = permuted[0]
    grid = [(cl.TrainSettings(1, 64, "adam", lr), [1e-5, 1e-4, 1e-5]) for lr in (1e-3, 5e-3)]
    record = learn_task_with_grid(clnp, task.x_train, task.y_train, task.split("val"), grid, margin=0.05,
                                  show_progress=False)  # fmt: skip
    assert clnp.num_tasks == 1 and len(record["grid"]) == 2 and record["chosen"] in (0, 1)
    best = max(g["val_acc"] for g in record["grid"])
    assert record["reference_val_acc"] == best
    assert record["val_acc"] >= best - 0.05 or record["rounds"][0]["theta"] == 0.0
    assert sum(record["new_units"]) == record["grid"][record["chosen"]]["active"]


def _interference_blocks(clnp: CLNP) -> list[torch.Tensor]:
    """Weights from free units into active units, per layer after the first (plus the current head)."""
    blocks = []
    for i, unit in enumerate(clnp.units[1:], start=1):
        w = unit.layer.weight
        blocks.append(w[clnp.owner(i) > 0][:, clnp.owner(i - 1) == 0])
    head = clnp.model.heads[clnp.head_index(clnp.num_tasks)].weight
    blocks.append(head[:, clnp.owner(len(clnp.units) - 1) == 0])
    return blocks


@pytest.mark.parametrize("single_head", [False, True], ids=["multi-head", "single-head"])
def test_interference_weights_are_zero_after_every_task(permuted, single_head):
    torch.manual_seed(2)
    model = cl.mlp(784, [48, 48], [10] if single_head else [10] * 4)
    clnp = CLNP(model, single_head=single_head)
    for t in permuted[:4]:
        learn_task(clnp, t.x_train, t.y_train, t.split("val"), SETTINGS, alphas=(1e-5, 1e-4, 1e-5), margin=0.1,
                   finetune_iterations=1, finetune=SETTINGS, show_progress=False)  # fmt: skip
        blocks = _interference_blocks(clnp)
        assert sum(b.numel() for b in blocks[:-1]) > 0, "the checked block is empty: the test would prove nothing"
        for b in blocks:
            assert torch.all(b == 0)


def test_fine_tuning_retrains_the_task_units_and_nothing_else(permuted):
    torch.manual_seed(3)
    model = cl.mlp(784, [48, 48], [10] * 3)
    clnp = CLNP(model)
    for t in permuted[:2]:  # task 1, then task 2 pruned but not yet fine-tuned
        learn_task(clnp, t.x_train, t.y_train, t.split("val"), SETTINGS, alphas=(1e-5, 1e-4, 1e-5), margin=0.05,
                   show_progress=False)  # fmt: skip
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    task = permuted[1]
    mine = [clnp.owner(i) == 2 for i in range(len(clnp.units))]
    assert all(m.any() for m in mine)
    clnp.train_task(task.x_train, task.y_train, SETTINGS, alphas=(1e-5, 1e-4, 1e-5), trainable_units=mine,
                    show_progress=False)  # fmt: skip
    for i, unit in enumerate(clnp.units):
        w, old = unit.layer.weight, before[f"body.{unit.name}.weight"]
        reads = (clnp.owner(i - 1) > 0) if i else torch.ones(w.shape[1], dtype=torch.bool)
        assert not torch.equal(w[mine[i]][:, reads], old[mine[i]][:, reads]), f"layer {i}: the task's weights did not train"
        assert torch.equal(w[~mine[i]], old[~mine[i]]), f"layer {i}: weights into other units moved"
        assert torch.equal(w[:, ~reads], old[:, ~reads]), f"layer {i}: weights from free units moved"
    assert torch.equal(model.heads[0].weight, before["heads.0.weight"])
    assert not torch.equal(model.heads[1].weight, before["heads.1.weight"])
    for b in _interference_blocks(clnp):
        assert torch.all(b == 0)


def _spy_on_fine_tuning(monkeypatch, clnp: CLNP) -> list[tuple[str, object]]:
    """Record, in order, each sparsify and each fine-tuning round's L1 penalty (None: no penalty)."""
    events: list[tuple[str, object]] = []
    sparsify, train_task = clnp.sparsify, clnp.train_task

    def spy_sparsify(*args, **kwargs):
        events.append(("prune", None))
        return sparsify(*args, **kwargs)

    def spy_train(*args, **kwargs):
        if kwargs.get("trainable_units") is not None:
            events.append(("fine-tune", tuple(kwargs["alphas"])))
        return train_task(*args, **kwargs)

    monkeypatch.setattr(clnp, "sparsify", spy_sparsify)
    monkeypatch.setattr(clnp, "train_task", spy_train)
    return events


@pytest.mark.parametrize("rounds", [1, 2])
def test_a_task_ends_on_a_fine_tune_without_the_l1_penalty(permuted, monkeypatch, rounds):
    """Golkar et al. iterate prune and fine-tune: the task ends on a fine-tune, which retrains without L1."""
    torch.manual_seed(7)
    clnp = CLNP(cl.mlp(784, [48, 48], [10] * 2))
    events = _spy_on_fine_tuning(monkeypatch, clnp)
    t = permuted[0]
    record = learn_task(clnp, t.x_train, t.y_train, t.split("val"), SETTINGS, alphas=(1e-5, 1e-4, 1e-5), margin=0.1,
                        finetune_iterations=rounds, finetune=SETTINGS, show_progress=False)  # fmt: skip
    assert [e for e, _ in events] == ["prune", "fine-tune"] * rounds
    assert all(not any(alphas) for e, alphas in events if e == "fine-tune"), "fine-tuning kept the L1 penalty"
    assert len(record["rounds"]) == rounds
    # the recorded validation accuracy is the fine-tuned network's
    assert record["val_acc"] == cl.evaluate(clnp.model, *t.split("val"), forward=clnp.forward_for(1))[1]


def test_the_first_reading_re_prunes_after_each_fine_tune_with_l1(permuted, monkeypatch):
    torch.manual_seed(7)
    clnp = CLNP(cl.mlp(784, [48, 48], [10] * 2))
    events = _spy_on_fine_tuning(monkeypatch, clnp)
    t = permuted[0]
    learn_task(clnp, t.x_train, t.y_train, t.split("val"), SETTINGS, alphas=(1e-5, 1e-4, 1e-5), margin=0.1,
               finetune_iterations=2, finetune=SETTINGS, show_progress=False, finetune_l1=True,
               end_on_finetune=False)  # fmt: skip
    assert [e for e, _ in events] == ["prune", "fine-tune", "prune", "fine-tune", "prune"]
    assert all(alphas == (1e-5, 1e-4, 1e-5) for e, alphas in events if e == "fine-tune")


def test_units_pruned_before_fine_tuning_stay_pruned(permuted):
    torch.manual_seed(4)
    model = cl.mlp(784, [48, 48], [10] * 2)
    clnp = CLNP(model)
    t = permuted[0]
    learn_task(clnp, t.x_train, t.y_train, t.split("val"), SETTINGS, alphas=(1e-5, 1e-4, 1e-5), margin=0.1,
               show_progress=False)  # fmt: skip
    kept = [clnp.owner(i) == 1 for i in range(len(clnp.units))]
    assert any(not k.all() for k in kept)
    clnp.release_current_task()
    assert all(torch.equal(clnp.open_units(i), kept[i]) for i in range(len(kept)))
    clnp.sparsify(t.x_train, t.split("val"), reference_acc=1.0, margin=1.0)  # any accuracy will do: prune maximally
    assert all(not (clnp.owner(i) == 1)[~kept[i]].any() for i in range(len(kept)))
    clnp.start_task()
    assert all(torch.equal(clnp.open_units(i), clnp.owner(i) == 0) for i in range(len(kept)))


def test_per_layer_thresholds_keep_fewer_units_than_a_shared_one(permuted):
    model, clnp, val, reference, activity = _trained_first_task(permuted[0], 48, seed=5)
    shared = select_theta(clnp, activity, val, reference_acc=reference, margin=0.03)
    per_layer = select_theta(clnp, activity, val, reference_acc=reference, margin=0.03, per_layer=True)
    assert shared.theta is not None and len(per_layer.thetas) == 2
    assert per_layer.val_acc >= reference - 0.03
    assert sum(per_layer.active_units) <= sum(shared.active_units)
    masks = clnp.candidate_masks(activity, per_layer.thetas)
    assert [int(m.sum()) for m in masks] == per_layer.active_units


def test_run_sequence_measures_every_task_after_every_task_without_forgetting(permuted):
    from cl_utils.clnp_schedule import run_sequence

    torch.manual_seed(6)
    model = cl.mlp(784, [48, 48], [10] * 3)
    grid = [(cl.TrainSettings(1, 64, "adam", lr), [1e-5, 1e-4, 1e-5]) for lr in (1e-3, 3e-3)]
    out = run_sequence(CLNP(model), permuted[:3], SETTINGS, alphas=(1e-5, 1e-4, 1e-5), margin=0.05,
                       first_task_grid=grid, per_layer=True, finetune_iterations=1, finetune=SETTINGS,
                       show_progress=False)  # fmt: skip
    acc = out["acc"]
    assert [len(row) for row in acc] == [1, 2, 3] and len(out["steps"]) == 3
    for j in range(3):  # zero forgetting: each task's test accuracy is the same in every later row
        assert len({row[j] for row in acc[j:]}) == 1
    assert "grid" in out["steps"][0] and all(len(s["rounds"]) == 1 for s in out["steps"])  # prune, fine-tune
    assert all(len(r["thetas"]) == 2 for s in out["steps"] for r in s["rounds"])
    assert out["free_units"] == out["steps"][-1]["free_units"]


SGD = cl.TrainSettings(epochs=3, batch_size=64, optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4)


def _later_task_against_fresh(permuted, normalise: bool) -> tuple[float, float, list[int]]:
    """Task 3's unpruned validation accuracy after two CLNP tasks, and a fresh network's of the free units' widths."""
    torch.manual_seed(0)
    clnp = CLNP(cl.mlp(784, [63, 47], [10] * 3))
    for t in permuted[:3]:
        free = clnp.free_units()
        step = learn_task(clnp, t.x_train, t.y_train, t.split("val"), SGD, alphas=(1e-4,) * 3, margin=0.02,
                          finetune_iterations=1, finetune=SGD, show_progress=False, normalise_units=normalise)  # fmt: skip
    torch.manual_seed(123)
    fresh = CLNP(cl.mlp(784, free, [10]))
    fresh.start_task()
    history = fresh.train_task(t.x_train, t.y_train, SGD, alphas=(1e-4,) * 3, val=t.split("val"), show_progress=False)
    return step["unpruned_val_acc"], history[-1].val_acc, free


def test_a_later_task_with_free_units_learns_as_well_as_a_fresh_network_of_their_size(permuted):
    """Issue 26, point 6: old units' large activity killed every new unit of the next layer (SGD with momentum).

    Without :meth:`CLNP.normalise_units` task 3 reaches 0.49 here, a fresh network of its free widths 1.0.
    """
    later, fresh, free = _later_task_against_fresh(permuted, normalise=True)
    assert min(free) >= 5  # units are free in both layers
    assert fresh > 0.9
    assert later >= fresh - 0.05, (later, fresh, free)


def test_without_normalised_units_the_later_task_falls_behind(permuted):
    """The fault the normalisation removes, kept visible: the same run without it learns far worse."""
    later, fresh, free = _later_task_against_fresh(permuted, normalise=False)
    assert min(free) >= 5 and later < fresh - 0.2, (later, fresh, free)


def test_normalise_units_changes_no_output_and_leaves_earlier_tasks_bit_identical(permuted):
    torch.manual_seed(2)
    clnp = CLNP(cl.mlp(784, [48, 40], [10] * 2))
    probe = permuted[0].x_test[:64]
    learn_task(clnp, permuted[0].x_train, permuted[0].y_train, permuted[0].split("val"), SETTINGS,
               alphas=(1e-4,) * 3, margin=0.05, show_progress=False, normalise_units=True)  # fmt: skip
    clnp.model.eval()
    with torch.no_grad():
        first = clnp.forward_for(1)(probe).clone()
    t = permuted[1]
    learn_task(clnp, t.x_train, t.y_train, t.split("val"), SETTINGS, alphas=(1e-4,) * 3, margin=0.05,
               show_progress=False)  # fmt: skip
    frozen = {n: p.detach().clone() for n, p in clnp.model.named_parameters()}
    with torch.no_grad():
        before = clnp.forward_for(2)(probe).clone()
        factors = clnp.normalise_units(t.x_train)
        after = clnp.forward_for(2)(probe)
        assert torch.equal(clnp.forward_for(1)(probe), first)  # task 1 untouched, bit for bit
    assert torch.allclose(after, before, rtol=1e-4, atol=1e-5)  # task 2's function: rounding only
    mine = [clnp.owner(i) == 2 for i in range(2)]
    assert all(int(m.sum()) > 0 for m in mine) and any(bool((f[m] != 1).any()) for f, m in zip(factors, mine))
    for i, act in enumerate(clnp.activity(t.x_train)):  # the task's units now have mean activity 1
        assert torch.allclose(act[mine[i]], torch.ones_like(act[mine[i]]), rtol=1e-4)
    for i, u in enumerate(clnp.units):  # rows of task 1's units unchanged
        rows = clnp.owner(i) == 1
        assert torch.equal(u.layer.weight[rows], frozen[f"body.{u.name}.weight"][rows])


def test_the_single_task_baseline_stacks_a_repetitions_tasks_and_off_keeps_one_run_per_task():
    from cl_utils import experiments as ex
    from cl_utils.experiments import clnp_runs as C
    from cl_utils.experiments.runs import RunContext

    smoke = ex.preset("03_clnp", "smoke")
    stacked = [r for r in C.plan(C.Params.from_values({}, smoke)) if r.kind == "single_task"]
    alone = [r for r in C.plan(C.Params.from_values({"stack_tasks": False}, smoke)) if r.kind == "single_task"]
    tasks = smoke["num_tasks"]
    assert len(alone) == tasks * len(stacked) and not [r for r in alone if "tasks" in r.config]
    assert all(r.config["tasks"] == list(range(tasks)) and r.config["task"] == 0 for r in stacked)
    ctx = RunContext(torch.device("cpu"), "synthetic", None, C.CODE_VERSION)  # type: ignore[arg-type]
    out = C.run_single_task(C.SingleTaskRun.from_config(dict(stacked[0].config)), ctx)
    assert len(out["test_acc"]) == tasks and all(a > 0.6 for a in out["test_acc"])  # each model learns its task

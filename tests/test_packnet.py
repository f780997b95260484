"""cl_utils.packnet: zero forgetting, exact pruning, ownership, state_dict, packed masks."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import cl_utils as cl
from cl_utils.packnet import PackNet, filter_keep_mask, pack_owners, unpack_owners

NAMES = ["cifar10", "mnist", "fashion_mnist", "kmnist"]


@pytest.fixture(scope="module")
def tasks() -> list[cl.Task]:
    return cl.dataset_sequence(NAMES, data_source="synthetic", val_fraction=0.1)


def _model(batch_norm: bool = True) -> cl.MultiHeadNet:
    torch.manual_seed(0)
    return cl.vgg16([10] * len(NAMES), width=1 / 16, batch_norm=batch_norm, fc_widths=(32,), dropout=0.0)


def _first_task(tasks, batch_norm: bool = True) -> PackNet:
    """A PackNet whose task 1 (the first synthetic dataset) has been trained, unpruned."""
    pn = PackNet(_model(batch_norm))
    pn.start_task()
    pn.train_task(tasks[0].x_train, tasks[0].y_train, SGD, show_progress=False)
    return pn


SGD = cl.TrainSettings(epochs=1, batch_size=64, optimizer="sgd", lr=1e-2, momentum=0.9)


def _train_sequence(model, tasks, *, fractions=(0.5, 0.75, 0.75, None), separate_biases=False, optimizer="sgd",
                    batchnorm_per_task=False):  # fmt: skip
    """PackNet over the tasks; return the PackNet, fixed probe inputs and each task's logits right after it."""
    pn = PackNet(model, separate_biases=separate_biases, batchnorm_per_task=batchnorm_per_task)
    probe = cl.models.per_model(torch.cat([t.x_test[:16] for t in tasks]), cl.models.num_models(model))
    settings = cl.TrainSettings(epochs=1, batch_size=64, optimizer=optimizer, lr=1e-2, momentum=0.9, weight_decay=1e-3)
    recorded = []
    for task, fraction in zip(tasks, fractions):
        k = pn.start_task()
        pn.train_task(task.x_train, task.y_train, settings, show_progress=False)
        if fraction is not None:
            pn.prune(fraction)
            pn.retrain(task.x_train, task.y_train, settings, show_progress=False)
        model.eval()
        with torch.no_grad():
            recorded.append(pn.forward_for(k)(probe).clone())
    return pn, probe, recorded


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_earlier_tasks_are_bit_identical_after_later_tasks(tasks, optimizer):
    model = _model()
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    pn, probe, recorded = _train_sequence(model, tasks, optimizer=optimizer)
    model.eval()
    with torch.no_grad():
        for k, before in enumerate(recorded, start=1):
            assert torch.equal(pn.forward_for(k)(probe), before), f"task {k} changed"
    assert bn.num_batches_tracked.item() > 0


@pytest.mark.parametrize("batchnorm_per_task", [False, True])
def test_a_stacked_vgg16_keeps_every_models_earlier_tasks_bit_identical(tasks, batchnorm_per_task):
    """Chapter 01's stacked runs: two VGG-16-BN in one network, batch-norm frozen after task 1 (or per task)."""
    torch.manual_seed(0)
    model = cl.models.stacked_vgg16(2, [10] * len(NAMES), width=1 / 16, batch_norm=True, fc_widths=(32,), dropout=0.0)
    pn, probe, recorded = _train_sequence(model, tasks[:3], fractions=(0.5, 0.5, None),
                                          batchnorm_per_task=batchnorm_per_task)  # fmt: skip
    model.eval()
    with torch.no_grad():
        for k, before in enumerate(recorded, start=1):
            assert before.shape[-1] == 2 and all(before[..., s].abs().sum() > 0 for s in range(2))
            assert torch.equal(pn.forward_for(k)(probe), before), f"task {k} changed"
    assert not torch.equal(recorded[0][..., 0], recorded[0][..., 1])  # two models, each its own data order
    for s in range(2):  # each model pruned on its own: half of its task-1 weights in every layer
        assert all(float((o == 1).float().mean()) == pytest.approx(0.5, abs=0.01) for o in pn.owners(s).values())


def test_separate_biases_keep_old_tasks_and_differ(tasks):
    model = _model(batch_norm=False)
    pn, probe, recorded = _train_sequence(model, tasks[:3], fractions=(0.5, 0.5, None), separate_biases=True)
    model.eval()
    with torch.no_grad():
        for k, before in enumerate(recorded, start=1):
            assert torch.equal(pn.forward_for(k)(probe), before)
    rows = model.packnet_biases[:3]
    assert not torch.equal(rows[0], rows[1]) and not torch.equal(rows[1], rows[2])


@pytest.mark.parametrize("separate_biases", [False, True])
def test_per_task_batchnorm_keeps_old_tasks_bit_identical_and_each_task_fits_its_own(tasks, separate_biases):
    """Each task trains batch-norm (scale, shift, statistics) and keeps a copy; task 1's are not task 2's."""
    model = _model()
    pn, probe, recorded = _train_sequence(model, tasks[:3], fractions=(0.5, 0.5, None), separate_biases=separate_biases,
                                          batchnorm_per_task=True)  # fmt: skip
    model.eval()
    with torch.no_grad():
        for k, before in enumerate(recorded, start=1):
            assert torch.equal(pn.forward_for(k)(probe), before), f"task {k} changed"
    rows = model.packnet_batchnorm[:3]
    assert rows.abs().sum() > 0 and not torch.equal(rows[0], rows[1]) and not torch.equal(rows[1], rows[2])
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    width = bn.num_features  # the first layer's statistics come third in its row: weight, bias, mean, var
    assert torch.equal(rows[2][2 * width:3 * width], bn.running_mean)  # the live statistics are the newest task's
    assert not torch.equal(rows[0][2 * width:3 * width], bn.running_mean)


def test_per_task_batchnorm_refuses_rehearsal_and_a_task_beyond_max_tasks(tasks):
    with pytest.raises(ValueError, match="batchnorm_per_task needs freeze_earlier"):
        PackNet(_model(), batchnorm_per_task=True, freeze_earlier=False)
    pn = PackNet(_model(), batchnorm_per_task=True, max_tasks=1)
    pn.start_task()
    with pytest.raises(ValueError, match="packnet_batchnorm"):
        pn.start_task()


def test_ownership_is_a_partition_and_free_weights_are_zero(tasks):
    model = _model()
    pn, _, _ = _train_sequence(model, tasks, fractions=(0.5, 0.75, 0.75, 0.5))
    total_owned = 0
    for name, owner in pn.owners().items():
        weight = pn.weights[name]
        assert owner.dtype == torch.uint8 and int(owner.max()) <= 4
        assert torch.all(weight[owner == 0] == 0)
        per_task = [(owner == k) for k in range(5)]
        assert int(sum(m.sum() for m in per_task)) == owner.numel()  # every weight has exactly one owner
        total_owned += int((owner > 0).sum())
    assert total_owned > 0
    usage = pn.usage()
    assert all(abs(sum(fracs.values()) - 1) < 1e-9 for fracs in usage.values())


def test_pruning_removes_the_exact_fraction_of_the_current_task_per_layer(tasks):
    pn = _first_task(tasks)
    model, settings = pn.model, SGD
    freed = pn.prune(0.5)
    for name, w in pn.weights.items():
        assert freed[name] == round(0.5 * w.numel())
    pn.start_task()
    owned = {n: int((o == 2).sum()) for n, o in pn.owners().items()}
    pn.train_task(tasks[1].x_train, tasks[1].y_train, settings, show_progress=False)
    freed = pn.prune(0.75)
    for name, owner in pn.owners().items():
        assert freed[name] == round(0.75 * owned[name])
        assert int((owner == 1).sum()) == pn.weights[name].numel() - round(0.5 * pn.weights[name].numel())


def test_inference_does_not_modify_stored_weights(tasks):
    model = _model()
    pn, probe, _ = _train_sequence(model, tasks[:2], fractions=(0.5, None))
    before = {n: p.detach().clone() for n, p in model.state_dict().items()}
    with torch.no_grad():
        pn.forward_for(1)(probe), pn.forward_for(2)(probe), pn.forward_for(1)(probe)
    assert all(torch.equal(before[n], p) for n, p in model.state_dict().items())


def test_batch_norm_statistics_frozen_after_task_one(tasks):
    pn = _first_task(tasks)
    model, settings = pn.model, SGD
    bn = {n: b.clone() for n, b in model.state_dict().items() if "running" in n}
    pn.start_task()
    pn.train_task(tasks[1].x_train, tasks[1].y_train, settings, show_progress=False)
    assert all(torch.equal(model.state_dict()[n], b) for n, b in bn.items())


def test_state_dict_round_trip_reproduces_every_task(tasks):
    model = _model()
    pn, probe, recorded = _train_sequence(model, tasks)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    assert any(k.endswith("packnet_owner") for k in state)
    fresh = _model()
    torch.manual_seed(123)
    for p in fresh.parameters():
        nn.init.normal_(p)
    restored = PackNet(fresh)
    restored.load_state_dict(state)
    fresh.eval()
    assert restored.num_tasks == 4
    with torch.no_grad():
        for k, before in enumerate(recorded, start=1):
            assert torch.equal(restored.forward_for(k)(probe), before)


def test_classifier_only_layers_leave_the_body_untouched(tasks):
    pn = _first_task(tasks)
    model, settings = pn.model, SGD
    pn.prune(0.5)
    body = {n: p.detach().clone() for n, p in model.body.named_parameters()}
    head = model.heads[1].weight.detach().clone()
    pn.start_task(trainable_layers="none")
    pn.train_task(tasks[1].x_train, tasks[1].y_train, settings, show_progress=False)
    assert all(torch.equal(body[n], p) for n, p in model.body.named_parameters())
    assert not torch.equal(head, model.heads[1].weight)
    pn2 = PackNet(_model())
    pn2.start_task()
    pn2.prune(0.5)
    pn2.start_task(trainable_layers="fc")
    conv_owner = next(o for n, o in pn2.owners().items() if isinstance(pn2.layers[n], nn.Conv2d))
    fc_owner = next(o for n, o in pn2.owners().items() if isinstance(pn2.layers[n], nn.Linear))
    assert int((conv_owner == 2).sum()) == 0 and int((fc_owner == 2).sum()) > 0


def test_errors_on_misuse():
    pn = PackNet(_model())
    with pytest.raises(RuntimeError, match="start_task"):
        pn.train_task(torch.zeros(2, 3, 32, 32), torch.zeros(2, dtype=torch.long), cl.TrainSettings(1, 2))
    with pytest.raises(ValueError, match="not been trained"):
        pn.forward_for(1)
    with pytest.raises(ValueError, match="trainable_layers"):
        pn.start_task("conv")


def test_filter_pruning_ranks_units_whose_inputs_were_partly_freed():
    torch.manual_seed(0)
    w = torch.randn(10, 6)
    eligible = torch.ones_like(w, dtype=torch.bool)
    eligible[:, :2] = False  # two input columns already freed: no unit is wholly eligible any more
    keep = filter_keep_mask(w, 0.3, eligible)
    dropped = ~keep[:, 2:].any(1)
    assert int(dropped.sum()) == 3 and bool(keep[:, :2].all())  # ineligible entries are never touched


def test_separate_biases_refuse_a_task_beyond_max_tasks_before_training(tasks):
    model = cl.vgg16([10] * 3, width=1 / 16, batch_norm=False, fc_widths=(32,), dropout=0.0)
    pn = PackNet(model, separate_biases=True, max_tasks=2)
    pn.start_task()
    pn.start_task()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    with pytest.raises(ValueError, match="max_tasks"):
        pn.start_task()
    assert pn.num_tasks == 2 and all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_filter_pruning_drops_whole_units():
    torch.manual_seed(0)
    w = torch.randn(20, 8, 3, 3)
    keep = filter_keep_mask(w, 0.3, torch.ones_like(w, dtype=torch.bool))
    rows = keep.flatten(1)
    assert int((~rows.all(1)).sum()) == 6 and bool(((rows.all(1)) | (~rows.any(1))).all())
    dropped_norms = w.flatten(1).norm(dim=1)[~rows.all(1)]
    assert dropped_norms.max() <= w.flatten(1).norm(dim=1)[rows.all(1)].min()


@pytest.mark.parametrize("num_tasks", [1, 2, 3, 4, 5, 9])
def test_packed_owners_round_trip_at_log2_bits(num_tasks):
    g = torch.Generator().manual_seed(num_tasks)
    owners = {
        "a": torch.randint(1, num_tasks + 1, (7, 5, 3, 3), generator=g, dtype=torch.uint8),
        "b": torch.randint(0, num_tasks + 1, (11, 13), generator=g, dtype=torch.uint8),
    }
    packed = pack_owners(owners, num_tasks)
    bits = max(1, math.ceil(math.log2(num_tasks)))
    assert packed.bits == bits
    assert packed.nbytes == math.ceil((7 * 5 * 9 + 11 * 13) * bits / 8)
    back = unpack_owners(packed)
    assert torch.equal(back["a"], owners["a"])
    expected_b = torch.where(owners["b"] == 0, torch.tensor(num_tasks, dtype=torch.uint8), owners["b"])
    assert torch.equal(back["b"], expected_b)  # unowned (zero) weights go to the last task


def test_packed_owners_preserve_every_tasks_function(tasks):
    model = _model()
    pn, probe, recorded = _train_sequence(model, tasks, fractions=(0.5, 0.75, 0.75, 0.75))
    unpacked = unpack_owners(pack_owners(pn.owners(), pn.num_tasks))
    for name, owner in pn.owners().items():
        owner.copy_(unpacked[name])
    pn.load_state_dict(model.state_dict())  # clears cached masks
    model.eval()
    with torch.no_grad():
        for k, before in enumerate(recorded, start=1):
            assert torch.equal(pn.forward_for(k)(probe), before)


def test_filter_pruning_frees_units_and_their_readers_and_keeps_task_one(tasks):
    from cl_utils.packnet import filter_prune, reset_unread_batchnorm

    pn = _first_task(tasks)
    model, settings = pn.model, SGD
    freed = filter_prune(pn, 0.3)
    assert len(freed) == len(pn.weights) > 2
    for name, w in pn.weights.items():  # every conv and linear layer, not only those whose inputs are all kept
        assert freed[name] == round(0.3 * w.shape[0]), name
        dropped = (pn.owners()[name] == 0).flatten(1).all(1)
        assert int(dropped.sum()) == freed[name] and torch.all(w[dropped] == 0), name
    pn.retrain(tasks[0].x_train, tasks[0].y_train, settings, show_progress=False)
    probe = tasks[0].x_test[:16]
    model.eval()
    with torch.no_grad():
        before = pn.forward_for(1)(probe).clone()
    assert reset_unread_batchnorm(pn) > 0
    with torch.no_grad():
        assert torch.equal(pn.forward_for(1)(probe), before)  # nobody read the reset channels
    pn.start_task()
    pn.train_task(tasks[1].x_train, tasks[1].y_train, settings, show_progress=False)
    model.eval()
    with torch.no_grad():
        assert torch.equal(pn.forward_for(1)(probe), before)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_add_task_trains_prunes_retrains_and_reports_every_task(tasks):
    from cl_utils.experiments.packnet_runs import add_task

    pn = _first_task(tasks)
    probe = tasks[0].x_test[:16]
    pn.model.eval()
    with torch.no_grad():
        first = pn.forward_for(1)(probe).clone()
    before = {n: int((o == 0).sum()) for n, o in pn.owners().items()}
    out = add_task(pn, tasks[1], finetune=SGD, retrain=SGD, prune_fraction=0.5, earlier=[tasks[0]], show_progress=False)
    assert pn.num_tasks == 2 and len(out["accuracies"]) == 2 and len(out["history"]) == len(out["retrain_history"]) == 1
    assert all(0.0 <= out[k] <= 1.0 for k in ("before_prune", "after_prune", "after_retrain"))
    assert out["accuracies"][1] == out["after_retrain"]
    for n, o in pn.owners().items():  # task 2 got the free weights, then lost half of them
        assert int((o == 2).sum()) == before[n] - round(0.5 * before[n]), n
    pn.model.eval()
    with torch.no_grad():
        assert torch.equal(pn.forward_for(1)(probe), first)
    unpruned = add_task(pn, tasks[2], finetune=SGD, retrain=SGD, prune_fraction=None, show_progress=False)
    assert unpruned["after_prune"] is None and unpruned["retrain_history"] == [] and len(unpruned["accuracies"]) == 1


@pytest.mark.parametrize("reinit", [False, True], ids=["zero-start", "reinit"])
def test_units_freed_by_filter_pruning_learn_only_when_reinitialised(tasks, reinit):
    """A freed unit has zero weights in and out: both gradients vanish unless its inputs are redrawn."""
    from cl_utils.packnet import filter_prune, reset_unread_batchnorm

    pn = _first_task(tasks)
    filter_prune(pn, 0.3)
    reset_unread_batchnorm(pn)
    probe = tasks[0].x_test[:16]
    pn.model.eval()
    with torch.no_grad():
        first = pn.forward_for(1)(probe).clone()
    name = list(pn.weights)[1]  # a layer whose inputs were partly freed too
    freed = (pn.owners()[name] == 0).flatten(1).all(1)
    assert freed.any()
    pn.start_task(reinit_free_units=reinit)
    pn.train_task(tasks[1].x_train, tasks[1].y_train, SGD, show_progress=False)
    rows = pn.weights[name][freed]
    assert bool((rows != 0).any()) == reinit
    pn.model.eval()
    with torch.no_grad():
        assert torch.equal(pn.forward_for(1)(probe), first)


def test_newest_task_runs_the_plain_forward_and_earlier_tasks_the_masked_one(tasks):
    """The fast path: no mask for the newest task (its forward is the model's own), the reference
    masked forward (weights times 0 < owner <= t) for earlier ones, equal to it bit for bit."""
    pn, probe, _ = _train_sequence(_model(), tasks[:3], fractions=(0.5, 0.5, 0.5))
    assert pn._forward_masks(3) == {}
    assert pn._forward_masks(1) and pn._forward_masks(2)
    pn.model.eval()
    with torch.no_grad():
        for k in (1, 2, 3):
            reference = cl.masked_forward(pn.model, pn.masks_for(k), probe, k - 1)
            assert torch.equal(pn.forward_for(k)(probe), reference), k
        assert torch.equal(pn.forward_for(3)(probe), pn.model(probe, 2))

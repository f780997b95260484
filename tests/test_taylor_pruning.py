"""cl_utils.taylor_pruning: Molchanov et al.'s Taylor ranking, the global choice of units, and PackNet's freeing of
them (Table 6 of Mallya & Lazebnik), with task 1 unchanged bit for bit."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import cl_utils as cl
from cl_utils.masks import unit_columns
from cl_utils.packnet import PackNet, reset_unread_batchnorm
from cl_utils.taylor_pruning import free_units, lowest_units, taylor_filter_prune, taylor_scores

SGD = cl.TrainSettings(epochs=1, batch_size=64, optimizer="sgd", lr=1e-2, momentum=0.9)


@pytest.fixture(scope="module")
def tasks() -> list[cl.Task]:
    return cl.dataset_sequence(["cifar10", "mnist"], data_source="synthetic", val_fraction=0.1)


def _network() -> PackNet:
    torch.manual_seed(0)
    return PackNet(cl.vgg16([10, 10], width=1 / 16, batch_norm=True, fc_widths=(32,), dropout=0.0))


@pytest.fixture(scope="module")
def first_task_state(tasks) -> dict:
    """Task 1 trained once (on 256 images: the tests need a trained network, not a good one)."""
    pn = _network()
    pn.start_task()
    pn.train_task(tasks[0].x_train[:256], tasks[0].y_train[:256], SGD, show_progress=False)
    return {k: v.clone() for k, v in pn.model.state_dict().items()}


@pytest.fixture
def trained(first_task_state) -> PackNet:
    pn = _network()
    pn.load_state_dict(first_task_state)
    return pn


def test_the_score_is_the_taylor_criterion_normalised_per_layer(tasks, trained):
    """Brute force on the last hidden layer: |mean over examples of a * dL/da| per unit, unit-normalised per layer.
    A unit that nothing downstream reads changes no loss and scores 0."""
    pn = trained
    x, y = tasks[0].x_train[:96], tasks[0].y_train[:96]
    last = list(pn.weights)[-1]
    with torch.no_grad():
        pn.model.heads[0].weight[:, 3] = 0.0  # unit 3 of the last hidden layer is read by nobody
    scores = taylor_scores(pn, x, y, batch_size=32)
    assert set(scores) == set(pn.weights)
    for s in scores.values():
        assert torch.isclose(s.norm(), torch.tensor(1.0))
    assert scores[last][3] == 0 and (scores[last] > 0).sum() > 1
    assert all(p.grad is None for p in pn.model.parameters()), "scoring leaves no gradient behind"
    captured = {}
    def capture(_module, _inputs, out):
        out.retain_grad()
        captured["a"] = out

    hook = pn.layers[last].register_forward_hook(capture)
    pn.model.eval()
    total = torch.zeros(pn.weights[last].shape[0])
    for k in range(0, 96, 32):
        pn.model.zero_grad()
        nn.functional.cross_entropy(pn.forward_for(1)(x[k:k + 32]), y[k:k + 32]).backward()
        total += (captured["a"] * captured["a"].grad).detach().abs().sum(0)
    hook.remove()
    expected = total / 96
    assert torch.allclose(scores[last], expected / expected.norm(), atol=1e-6)


def test_the_lowest_units_are_chosen_over_the_whole_network_among_the_owned():
    class Fake:  # two layers: scores chosen so the lowest three span both layers
        weights = {"a": torch.zeros(3, 2), "b": torch.zeros(2, 3)}
        num_tasks = 1
        layers = {"a": nn.Module(), "b": nn.Module()}

    Fake.layers["a"].packnet_owner = torch.tensor([[1, 1], [1, 1], [0, 0]])  # unit a2 is free already
    Fake.layers["b"].packnet_owner = torch.ones(2, 3, dtype=torch.long)
    scores = {"a": torch.tensor([0.5, 0.1, 0.0]), "b": torch.tensor([0.2, 0.05])}
    chosen = lowest_units(Fake, scores, 3)
    assert chosen["a"].tolist() == [False, True, False] and chosen["b"].tolist() == [True, True]
    with pytest.raises(ValueError, match="owns 4"):
        lowest_units(Fake, scores, 5)


def test_taylor_pruning_frees_the_share_of_units_and_keeps_task_one_bit_exact(tasks, trained):
    pn = trained
    units = sum(w.shape[0] for w in pn.weights.values())
    rounds = []
    freed = taylor_filter_prune(pn, tasks[0].x_train[:256], tasks[0].y_train[:256], 0.3, 3,
                                lambda: rounds.append(1), batch_size=64)  # fmt: skip
    assert len(rounds) == 3 and sum(freed.values()) == round(0.3 * units)
    names = list(pn.weights)
    for i, (name, w) in enumerate(pn.weights.items()):
        dropped = (pn.owners()[name] == 0).flatten(1).all(1)
        assert int(dropped.sum()) == freed[name] and torch.all(w[dropped] == 0), name
        if i + 1 < len(names) and dropped.any():  # the next layer no longer reads them for task 1
            nxt = pn.weights[names[i + 1]]
            assert torch.all(pn.owners()[names[i + 1]][unit_columns(dropped, nxt)] == 0), name
    assert len({n for n, k in freed.items() if k}) > 1, "the ranking spans layers"
    probe = tasks[0].x_test[:16]
    pn.model.eval()
    reset_unread_batchnorm(pn)
    with torch.no_grad():
        before = pn.forward_for(1)(probe).clone()
    pn.start_task(reinit_free_units=True)
    pn.train_task(tasks[1].x_train[:256], tasks[1].y_train[:256], SGD, show_progress=False)
    pn.model.eval()
    with torch.no_grad():
        assert torch.equal(pn.forward_for(1)(probe), before)


def test_free_units_frees_exactly_the_units_asked(trained):
    pn = trained
    first = list(pn.weights)[0]
    drop = {n: torch.zeros(w.shape[0], dtype=torch.bool) for n, w in pn.weights.items()}
    drop[first][[0, 2]] = True
    freed = free_units(pn, drop)
    assert freed[first] == 2 and sum(freed.values()) == 2
    assert (pn.owners()[first] == 0).flatten(1).all(1).nonzero().flatten().tolist() == [0, 2]

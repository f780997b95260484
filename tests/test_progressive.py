"""cl_utils.progressive: the paper's parameter count, frozen columns, adapters in use, pruning."""
from __future__ import annotations

import pytest
import torch

import cl_utils as cl
from cl_utils.progressive_schedule import ProgressivePrune, run_progressive, train_first_column
from cl_utils.progressive import ProgressiveNet, matched_unlinked_fractions, prune_column, train_column

SGD = cl.TrainSettings(epochs=1, batch_size=64, optimizer="sgd", lr=0.1, momentum=0.5)


@pytest.fixture(scope="module")
def tasks() -> list[cl.Task]:
    """Three small 28x28 RGB tasks in [-1, 1], as in the paper's Fig. 2(b) (synthetic stand-ins)."""
    raw = [cl.load_dataset(n, "synthetic") for n in ("mnist", "fashion_mnist", "kmnist")]
    return [cl.make_task(r, value_range="symmetric", rgb=True, seed=0) for r in raw]


def _net(adapter: str, columns: int = 3, hidden=(16, 8), in_features: int = 3 * 28 * 28) -> ProgressiveNet:
    torch.manual_seed(0)
    net = ProgressiveNet(in_features, adapter)
    for _ in range(columns):
        net.add_column(hidden, 10)
    return net


def test_unlinked_three_columns_have_the_papers_930270_parameters():
    net = _net("none", hidden=(128, 64))
    assert cl.count_parameters(net).total == 930_270
    assert sum(net.column_count(k).total for k in range(3)) == 930_270


def test_learned_adapters_feed_every_layer_after_the_first():
    net = _net("learned", hidden=(128, 64))
    # column 3: hidden layer 2 reads both earlier columns' layer 1, the output reads their layer 2
    assert [len(layer) for layer in net.laterals[2]] == [2, 2]
    assert all(len(layer) == 0 for layer in net.laterals[0])  # column 1 reads no earlier column
    adapters = sum(p.numel() for n, p in net.named_parameters() if n.startswith("laterals."))
    one_pair = (1 + 128 * 64 + 64 + 64 * 64 + 64) + (1 + 64 * 10 + 10 + 10 * 10 + 10)  # α, V, U into layer 2 / output
    assert adapters == 3 * one_pair  # column 2 has one pair, column 3 two
    assert cl.count_parameters(net).total == 930_270 + adapters
    assert sum(p.numel() for p in _net("unlearned").parameters()) == sum(p.numel() for p in _net("none").parameters())


@pytest.mark.parametrize("adapter", ["learned", "unlearned"])
def test_adapters_change_the_output(adapter, tasks):
    """Guard against adapters that are built but never called in forward."""
    x = tasks[0].x_test[:32]
    net = _net(adapter)
    unlinked = _net("none")
    unlinked.load_state_dict({k: v for k, v in net.state_dict().items() if k.startswith("columns.")})
    with torch.no_grad():
        assert torch.equal(net(x, 0), unlinked(x, 0))  # column 1 has no laterals
        assert not torch.allclose(net(x, 1), unlinked(x, 1))
        assert not torch.allclose(net(x, 2), unlinked(x, 2))
        if adapter == "learned":
            before, column2 = net(x, 2).clone(), net(x, 1).clone()
            net.laterals[2][0][1].up.weight.add_(0.5)  # adapter from column 2's layer 1 into column 3's layer 2
            assert not torch.allclose(net(x, 2), before)
            assert torch.equal(net(x, 1), column2)  # an adapter into column 3 cannot reach column 2


def test_random_input_adapters_read_noise_not_earlier_columns(tasks):
    x = tasks[0].x_test[:32]
    net = _net("random")
    with torch.no_grad():
        torch.manual_seed(1)
        a = net(x, 2)
        net.columns[0].layers[0].weight.mul_(-3.0)  # changing column 1 cannot reach column 3 ...
        torch.manual_seed(1)
        assert torch.equal(net(x, 2), a)
        assert not torch.equal(net(x, 2), a)  # ... but fresh noise does


@pytest.mark.parametrize("adapter", ["learned", "unlearned", "random", "none"])
def test_training_a_new_column_leaves_earlier_columns_bit_identical(adapter, tasks):
    net = ProgressiveNet(3 * 28 * 28, adapter)
    probe = torch.cat([t.x_test[:16] for t in tasks])

    def outputs(k: int) -> torch.Tensor:
        torch.manual_seed(123)  # the random adapters draw their noise here: the same noise every call
        with torch.no_grad():
            return net(probe, k).clone()

    recorded, snapshot = [], {}
    for k, task in enumerate(tasks[:3]):
        if k == 2:  # everything that exists before the last column is added and trained
            snapshot = {n: v.clone() for n, v in net.state_dict().items()}
        torch.manual_seed(k)
        net.add_column((16, 8), 10)
        train_column(net, k, task, SGD, prune_fraction=0.5, retrain_epochs=1, seed=0, show_progress=False)
        recorded.append(outputs(k))
    assert len(snapshot) > 0 and any(n.startswith("columns.1.") for n in snapshot)
    for k, before in enumerate(recorded):
        assert torch.equal(outputs(k), before), f"column {k + 1} changed"
    for n, v in snapshot.items():
        assert torch.equal(net.state_dict()[n], v), n


def test_precomputed_laterals_match_the_full_forward(tasks):
    net = _net("learned")
    x = tasks[1].x_test[:64]
    with torch.no_grad():
        earlier = net.earlier_activations(x, 2)
        torch.testing.assert_close(net.column_logits(x, 2, earlier), net(x, 2), rtol=0, atol=1e-6)


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_pruning_is_exact_and_pruned_weights_stay_zero_through_retraining(scope, tasks):
    net = _net("learned", columns=2)
    masks = prune_column(net, 1, 0.75, scope)
    weights = net.column_weights(1)
    n = sum(w.numel() for w in weights.values())
    dropped = sum(int((~m).sum()) for m in masks.values())
    if scope == "global":
        assert dropped == round(0.75 * n)
    else:
        assert all(int((~masks[k]).sum()) == round(0.75 * w.numel()) for k, w in weights.items())
    assert any(k.startswith("laterals.1.") for k in masks), "the adapters feeding the column are pruned too"
    net2 = _net("learned", columns=2)
    train_column(net2, 0, tasks[0], SGD, seed=0, show_progress=False)
    record = train_column(net2, 1, tasks[1], SGD, prune_fraction=0.75, retrain_epochs=2, scope=scope, seed=0,
                          show_progress=False)  # fmt: skip
    assert len(record["retrain_history"]) == 2
    zeros = sum(int((w == 0).sum()) for w in net2.column_weights(1).values())
    others = sum(p.numel() for p in net2.column_parameters(1).values()) - n
    assert zeros == dropped
    assert record["params_nonzero"] == n - dropped + others
    assert record["params_total"] == n + others


def test_unlinked_matched_fractions_give_equal_totals():
    hidden, classes = [(128, 64)] * 3, [10, 10, 10]
    for fraction in (0.5, 0.9, 0.98):
        fu = matched_unlinked_fractions(2352, hidden, classes, fraction)
        progressive, unlinked = _net("learned", hidden=(128, 64)), _net("none", hidden=(128, 64))
        for k in range(3):
            prune_column(progressive, k, fraction)
            prune_column(unlinked, k, fu[k])
            assert unlinked.column_count(k).nonzero == progressive.column_count(k).nonzero
    assert matched_unlinked_fractions(2352, hidden, classes, 0.0)[1] == 0.0  # cannot grow: left dense


def test_shared_first_column_gives_the_same_run(tasks):
    kwargs = dict(adapter="learned", prune_fractions=[0.5, 0.5], retrain_epochs=1, seed=3, show_progress=False)
    inline = run_progressive(tasks[:2], [(16, 8)] * 2, SGD, **kwargs)
    state = train_first_column(tasks[0], (16, 8), SGD, seed=3, show_progress=False)
    shared = run_progressive(tasks[:2], [(16, 8)] * 2, SGD, first_column_state=state, **kwargs)
    assert shared["final_test_acc"] == inline["final_test_acc"]
    assert shared["params_nonzero"] == inline["params_nonzero"]
    assert inline["columns"][0]["history"] and not shared["columns"][0]["history"]
    assert [c["test_acc"] for c in inline["columns"]] == inline["final_test_acc"]  # nothing forgotten


def test_state_dict_round_trip(tasks):
    net = _net("learned")
    fresh = _net("learned")
    for p in fresh.parameters():
        torch.nn.init.normal_(p)
    fresh.load_state_dict(net.state_dict())
    x = tasks[0].x_test[:16]
    with torch.no_grad():
        assert all(torch.equal(net(x, k), fresh(x, k)) for k in range(3))


def test_bad_arguments_are_refused(tasks):
    with pytest.raises(ValueError, match="adapter"):
        ProgressiveNet(10, "lateral")
    net = _net("learned", columns=1)
    with pytest.raises(ValueError, match="hidden layers"):
        net.add_column((16,), 10)
    with pytest.raises(ValueError, match="scope"):
        prune_column(net, 0, 0.5, "column")
    with pytest.raises(IndexError):
        net(tasks[0].x_test[:2], 3)
    with pytest.raises(ValueError, match="prune_fractions"):
        run_progressive(tasks[:2], [(8, 4)] * 2, SGD, adapter="none", prune_fractions=[1.0, 0.5])


# -- seeds stacked as one network (issue 27, point 2) --------------------------------------------------------
def _stacked_and_plain(adapter: str, models: int = 2) -> tuple[ProgressiveNet, list[ProgressiveNet]]:
    """A stacked network of ``models`` and the plain networks it holds (each loaded with its model's slices)."""
    torch.manual_seed(0)
    stack = ProgressiveNet(3 * 28 * 28, adapter, models=models)
    for _ in range(3):
        stack.add_column((16, 8), 10)
    plain = []
    for s in range(models):
        net = _net(adapter)
        net.load_state_dict({n: t[s] for n, t in stack.state_dict().items()})
        plain.append(net)
    return stack, plain


@pytest.mark.parametrize("adapter", ["learned", "unlearned", "none"])
def test_a_stacked_progressive_network_is_its_models_networks(adapter, tasks):
    stack, plain = _stacked_and_plain(adapter)
    x = tasks[1].x_test[:16]
    with torch.no_grad():
        for k in range(3):
            out = stack(cl.models.per_model(x, 2), k)
            assert out.shape == (16, 10, 2)
            for s, net in enumerate(plain):
                torch.testing.assert_close(out[..., s], net(x, k), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(plain[0](x, 2), plain[1](x, 2))  # two models, each its own weights


@pytest.mark.parametrize("adapter", ["learned", "random"])
def test_a_stacked_network_keeps_every_models_earlier_columns_bit_identical_and_prunes_each_exactly(adapter, tasks):
    """Columns 1-2 of both models after column 3 is trained, pruned and retrained: torch.equal; each model's column
    loses exactly 50 % of its weights by its own threshold; the adapters change each model's output."""
    torch.manual_seed(0)
    net = ProgressiveNet(3 * 28 * 28, adapter, models=2)
    probe = cl.models.per_model(torch.cat([t.x_test[:16] for t in tasks]), 2)

    def outputs(k: int) -> torch.Tensor:
        torch.manual_seed(123)
        with torch.no_grad():
            return net(probe, k).clone()

    recorded, records = [], []
    for k, task in enumerate(tasks[:3]):
        net.add_column((16, 8), 10)
        records.append(train_column(net, k, task, SGD, prune_fraction=0.5, retrain_epochs=1, seed=0,
                                    show_progress=False))  # fmt: skip
        recorded.append(outputs(k))
    for k, before in enumerate(recorded):
        assert all(before[..., s].abs().sum() > 0 for s in range(2))
        assert torch.equal(outputs(k), before), f"column {k + 1} changed"
    for s in range(2):
        own = {n: w[s] for n, w in net.column_weights(2).items()}
        n = sum(w.numel() for w in own.values())
        assert sum(int((w == 0).sum()) for w in own.values()) == round(0.5 * n)
        column = records[2]["per_model"][s]
        assert column["params_nonzero"] == net.column_count(2, s).nonzero and len(column["retrain_history"]) == 1
        assert set(column["history"][0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"}
    assert records[2]["per_model"][0]["history"] != records[2]["per_model"][1]["history"]  # each model's own
    if adapter == "learned":
        with torch.no_grad():
            before = outputs(2)
            net.laterals[2][0][1].up.weight[1].add_(0.5)  # model 2's adapter into column 3
            after = outputs(2)
        assert torch.equal(after[..., 0], before[..., 0]) and not torch.allclose(after[..., 1], before[..., 1])


def test_stacked_seeds_start_from_their_own_first_columns_and_give_a_record_each(tasks):
    states = [train_first_column(tasks[0], (16, 8), SGD, seed=s, show_progress=False) for s in (0, 1)]
    out = run_progressive(tasks, [(16, 8)] * 3, SGD, adapter="learned", prune_fractions=[0.5] * 3, retrain_epochs=1,
                          seed=0, first_column_state=states, models=2, show_progress=False)  # fmt: skip
    alone = run_progressive(tasks, [(16, 8)] * 3, SGD, adapter="learned", prune_fractions=[0.5] * 3,
                            retrain_epochs=1, seed=0, first_column_state=states[1], show_progress=False)  # fmt: skip
    assert len(out["per_seed"]) == 2
    for own in out["per_seed"]:
        assert own.keys() == alone.keys() and len(own["final_test_acc"]) == 3
        assert own["params_nonzero"] == alone["params_nonzero"] and own["params_total"] == alone["params_total"]
        assert [c["params_nonzero"] for c in own["columns"]] == [c["params_nonzero"] for c in alone["columns"]]
    method = ProgressivePrune(3 * 28 * 28, [(16, 8)] * 3, SGD, adapter="learned", first_column_state=states,
                              models=2, show_progress=False)  # fmt: skip
    method.learn(0, tasks[0])  # unpruned: column 1 is each seed's checkpoint, untouched
    for s, state in enumerate(states):
        assert all(torch.equal(method.model.columns[0].state_dict()[n][s], v) for n, v in state.items())
    assert not torch.equal(states[0]["layers.0.weight"], states[1]["layers.0.weight"])

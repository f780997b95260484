"""Filter pruning (Salcedo & Sharma): physical removal, scores, Eq. (1) counts, the driver."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import cl_utils as cl
from cl_utils.filter_pruning import (
    Block,
    FilterNet,
    FilterScores,
    RESTART,
    PruningSchedule,
    filter_count_trajectory,
    filters_to_prune,
    prune_step,
    remove_filters,
    stacked_filter_net,
    train_with_filter_pruning,
    vgg16_filter_net,
)

VGG16_COUNTS = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]


def small_net(batch_norm: bool, pool_size: int = 2, seed: int = 0) -> FilterNet:
    """Three convs (8, 6, 5 filters) on 8 px inputs, then a linear classifier: cheap and float64."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    channels = 3
    for i, out in enumerate((8, 6, 5)):
        layers.append(nn.Conv2d(channels, out, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU())
        if i == 1:
            layers.append(nn.MaxPool2d(2))
        channels = out
    classifier = nn.Sequential(nn.Linear(channels * pool_size**2, 7), nn.ReLU(), nn.Linear(7, 4))
    net = FilterNet(nn.Sequential(*layers), classifier, pool_size).double()
    if batch_norm:  # non-trivial running statistics and affine parameters
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


def silence_filters(net: FilterNet, layer: int, filters: list[int]) -> None:
    """Make the chosen filters output exactly zero after their ReLU (for every input)."""
    conv = net.conv_layers()[layer]
    with torch.no_grad():
        conv.weight[filters] = 0.0
        conv.bias[filters] = 0.0
        bn = net._follower(conv, nn.BatchNorm2d)
        if bn is not None:  # BN(0) = bias - mean * weight / sqrt(var + eps): make it 0
            bn.running_mean[filters] = 0.0
            bn.bias[filters] = 0.0


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("layer", [0, 1, 2])
def test_removing_silent_filters_preserves_the_output(batch_norm: bool, layer: int):
    net = small_net(batch_norm)
    x = torch.randn(16, 3, 8, 8, dtype=torch.float64)
    drop = [1, 3]
    silence_filters(net, layer, drop)
    before = net(x)
    remove_filters(net, layer, drop)
    after = net(x)
    assert net.conv_layers()[layer].out_channels == [8, 6, 5][layer] - 2
    # exact up to the order of float64 summation (the removed terms were exact zeros)
    torch.testing.assert_close(after, before, rtol=0, atol=1e-12)


def test_removing_live_filters_changes_the_output():
    """The control of the test above: the equality is not vacuous."""
    net = small_net(batch_norm=False)
    x = torch.randn(16, 3, 8, 8, dtype=torch.float64)
    before = net(x)
    remove_filters(net, 2, [0])
    assert not torch.allclose(net(x), before)


def test_removal_keeps_the_surviving_weights():
    net = small_net(batch_norm=True)
    conv0, conv1 = net.conv_layers()[:2]
    w0, w1, bn_mean = conv0.weight.clone(), conv1.weight.clone(), net.features[1].running_mean.clone()
    remove_filters(net, 0, torch.tensor([0, 5]))
    keep = [1, 2, 3, 4, 6, 7]
    assert torch.equal(conv0.weight, w0[keep])
    assert torch.equal(conv1.weight, w1[:, keep])
    assert torch.equal(net.features[1].running_mean, bn_mean[keep])
    assert net.features[1].num_features == 6 and conv1.in_channels == 6


def test_last_conv_removal_drops_pool_size_squared_columns_of_fc():
    net = small_net(batch_norm=False, pool_size=2)
    fc = net.classifier[0]
    w = fc.weight.clone()  # (7, 5 * 4)
    remove_filters(net, 2, [1])
    keep_cols = [c for c in range(20) if c // 4 != 1]
    assert fc.in_features == 16 and torch.equal(fc.weight, w[:, keep_cols])


def test_removal_rejects_bad_indices():
    net = small_net(batch_norm=False)
    with pytest.raises(IndexError):
        remove_filters(net, 0, [8])
    with pytest.raises(ValueError, match="all 8 filters"):
        remove_filters(net, 0, list(range(8)))


def test_vgg16_has_4224_filters_and_shapes_stay_consistent_through_pruning():
    net = vgg16_filter_net(10, batch_norm=True, pool_size=1, fc_widths=(32,))
    assert net.filter_counts() == VGG16_COUNTS and sum(net.filter_counts()) == 4224
    x = torch.randn(2, 3, 32, 32)
    net.eval()
    for step in range(3):
        scores = [torch.rand(n) for n in net.filter_counts()]
        counts = prune_step(net, scores, 5.0)
        assert net(x).shape == (2, 10)
    assert sum(counts) == filter_count_trajectory(VGG16_COUNTS, 5.0, 3)[-1]
    assert net.classifier[0].in_features == counts[-1]


def test_torchvision_layout_pool7_classifier_reads_49_values_per_filter():
    net = vgg16_filter_net(10, pool_size=7, fc_widths=(16, 16))
    assert net.classifier[0].in_features == 512 * 49
    prune_step(net, [torch.rand(n) for n in net.filter_counts()], 5.0)
    assert net.classifier[0].in_features == net.filter_counts()[-1] * 49
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_eq1_per_layer_counts_match_the_formula_and_the_paper():
    assert [filters_to_prune(n, 5.0) for n in (64, 128, 256, 512)] == [3, 6, 12, 25]
    assert filters_to_prune(1, 50.0) == 0  # never the last filter
    totals = filter_count_trajectory(VGG16_COUNTS, 5.0, 6)
    assert totals[0] == 4224 and totals[6] == 3136  # the paper: 4,224 filters, 3,136 after 49 epochs
    counts = list(VGG16_COUNTS)
    for k in range(1, 7):
        counts = [n - (n * 5) // 100 for n in counts]
        assert totals[k] == sum(counts)


def test_prune_step_removes_the_lowest_scoring_filters():
    net = small_net(batch_norm=False)
    w = net.conv_layers()[0].weight.clone()
    scores = [torch.arange(8.0).flip(0), torch.arange(6.0), torch.arange(5.0)]  # layer 0: filter 7 lowest
    counts = prune_step(net, scores, 20.0)  # floor(0.2 * [8, 6, 5]) = [1, 1, 1]
    assert counts == [7, 5, 4]
    assert torch.equal(net.conv_layers()[0].weight, w[:7])


@pytest.mark.parametrize("criterion", ["activation", "weight"])
def test_scores_accumulate_in_training_only_and_reset(criterion: str):
    net = small_net(batch_norm=False)
    tracker = FilterScores(net, criterion)
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    net.eval()
    net(x)
    assert tracker.iterations == 0
    net.train()
    net(x)
    first = [s.clone() for s in tracker.scores()]
    net(x)
    second = tracker.scores()
    assert tracker.iterations == 2
    for a, b in zip(first, second):
        torch.testing.assert_close(b, 2 * a)  # same input, same weights: twice the score
    if criterion == "weight":
        torch.testing.assert_close(first[1], net.conv_layers()[1].weight.flatten(1).norm(dim=1))
    else:
        relu_out = net.features[:2](x)
        torch.testing.assert_close(first[0], relu_out.pow(2).sum((0, 2, 3)).sqrt())
    tracker.reset()
    with pytest.raises(RuntimeError):
        tracker.scores()
    tracker.close()
    net(x)
    assert tracker.iterations == 0


def test_normalized_scores_have_maximum_one_per_iteration():
    net = small_net(batch_norm=False).train()
    tracker = FilterScores(net, "weight", normalize=True)
    net(torch.randn(2, 3, 8, 8, dtype=torch.float64))
    assert all(float(s.max()) == pytest.approx(1.0) for s in tracker.scores())


def test_schedule_prunes_after_every_block_but_not_after_the_last_epoch():
    schedule = PruningSchedule("weight", 5.0, 7)
    assert [e for e in range(1, 51) if schedule.prunes_after(e, 50)] == [7, 14, 21, 28, 35, 42, 49]
    assert not any(PruningSchedule("none").prunes_after(e, 50) for e in range(1, 51))
    with pytest.raises(ValueError):
        PruningSchedule("l1")


@pytest.mark.parametrize("criterion", ["none", "activation", "weight"])
def test_driver_prunes_on_schedule_and_switches_blocks(criterion: str):
    net = small_net(batch_norm=True).float()
    g = torch.Generator().manual_seed(0)
    blocks = []

    def block_data(b: int) -> Block:
        blocks.append(b)
        x = torch.randn(32, 3, 8, 8, generator=g)
        y = torch.randint(0, 4, (32,), generator=g)
        return Block(f"data{b}", x, y, x[:8], y[:8])

    schedule = PruningSchedule(criterion, percent=20.0, every=2)
    history = train_with_filter_pruning(
        net, block_data, epochs=5, settings=cl.TrainSettings(5, 8, "sgd", 0.01, 0.9),
        schedule=schedule, generator=torch.Generator().manual_seed(0), show_progress=False,
    )  # fmt: skip
    assert blocks == [0, 1, 2] and [h["data"] for h in history] == ["data0"] * 2 + ["data1"] * 2 + ["data2"]
    filters = [h["filters"] for h in history]
    expected = filter_count_trajectory([8, 6, 5], 20.0, 2)  # prunes after epochs 2 and 4
    assert filters == ([19] * 5 if criterion == "none" else [expected[0]] * 2 + [expected[1]] * 2 + [expected[2]])
    assert all(0.0 <= h["train_acc"] <= 1.0 and h["seconds"] > 0 for h in history)
    # the hooks are gone: a training forward pass after the run accumulates nothing
    assert all(not m._forward_hooks for m in net.modules())


def _control_run(criterion: str, momentum: float) -> tuple[list[dict], list[torch.Tensor]]:
    """A small net trained 5 epochs in blocks of 2 under ``criterion``: its history and final weights."""
    torch.manual_seed(0)
    net = small_net(batch_norm=False).float()
    g = torch.Generator().manual_seed(1)
    data = [(torch.randn(32, 3, 8, 8, generator=g), torch.randint(0, 4, (32,), generator=g)) for _ in range(3)]
    history = train_with_filter_pruning(
        net, lambda b: Block(f"data{b}", *data[b], data[b][0][:8], data[b][1][:8]), epochs=5,
        settings=cl.TrainSettings(5, 8, "sgd", 0.05, momentum), schedule=PruningSchedule(criterion, 20.0, 2),
        generator=torch.Generator().manual_seed(0), show_progress=False,
    )  # fmt: skip
    return history, [p.detach().clone() for p in net.parameters()]


def test_the_restart_control_prunes_nothing_and_only_rebuilds_the_optimiser_where_a_pruned_run_prunes():
    """Without momentum SGD keeps no state, so rebuilding it changes nothing: the control equals the baseline
    bit for bit. With momentum the two agree through the first block and part after its end (epoch 2), where the
    control's momentum restarts."""
    (base, w_base), (ctrl, w_ctrl) = _control_run("none", 0.0), _control_run(RESTART, 0.0)
    assert base == [{**h, "seconds": b["seconds"]} for h, b in zip(ctrl, base)]  # (wall times aside)
    assert all(torch.equal(a, b) for a, b in zip(w_base, w_ctrl))
    (base, _), (ctrl, _) = _control_run("none", 0.9), _control_run(RESTART, 0.9)
    assert [h["filters"] for h in ctrl] == [h["filters"] for h in base] == [19] * 5
    assert [h["train_loss"] for h in ctrl[:2]] == [h["train_loss"] for h in base[:2]]
    assert ctrl[2]["train_loss"] != base[2]["train_loss"]
    restart = PruningSchedule(RESTART, 5.0, 7)
    assert not restart.prunes and [e for e in range(1, 51) if restart.restarts_after(e, 50)] == [7, 14, 21, 28, 35,
                                                                                                 42, 49]  # fmt: skip


def test_blocks_fixed_resample_and_dataset_cycle():
    from cl_utils.experiments.filter_runs import load_pools, make_blocks

    pools = load_pools(["cifar10", "mnist"], 20, data_source="synthetic", train_from_test=0.8, seed=0,
                       device=torch.device("cpu"))
    assert [len(p.y_val) for p in pools] == [20, 20] and pools[1].x_train.shape[1:] == (3, 32, 32)
    fixed = make_blocks("fixed", pools[:1], 50, seed=0)
    assert fixed(0) is fixed(3)
    resample = make_blocks("resample", pools[:1], 3000, seed=0)
    a, b = resample(0), resample(1)
    assert len(a.y_train) == 3000 > len(pools[0].y_train)  # with replacement: more than the pool holds
    assert not torch.equal(a.x_train, b.x_train) and torch.equal(a.x_val, b.x_val)
    cycle = make_blocks("datasets", pools, 30, seed=0)
    assert [cycle(i).name for i in range(4)] == ["cifar10", "mnist", "cifar10", "mnist"]
    assert not torch.equal(cycle(0).x_train, cycle(2).x_train)  # a fresh sample at each visit
    with pytest.raises(ValueError, match="train_images"):
        make_blocks("fixed", pools[:1], 10**6, seed=0)
    with pytest.raises(ValueError, match="one dataset"):
        make_blocks("fixed", pools, 10, seed=0)


def test_a_pretrained_state_is_loaded_into_every_layer_but_the_last():
    """The stand-in for ImageNet weights: features, batch-norm statistics and hidden fc layers come from the
    pretrained state, the output layer keeps the run's own fresh initialisation (the paper replaces ImageNet's)."""
    from cl_utils.experiments.filter_runs import load_pretrained

    pretrained, fresh = small_net(batch_norm=True, seed=0), small_net(batch_norm=True, seed=1)
    own_last = {k: v.clone() for k, v in fresh.classifier[-1].state_dict().items()}
    load_pretrained(fresh, pretrained.state_dict())
    loaded, kept = fresh.state_dict(), pretrained.state_dict()
    last = [k for k in loaded if k.startswith("classifier.2.")]
    assert last == ["classifier.2.weight", "classifier.2.bias"]
    assert all(torch.equal(loaded[k], kept[k]) for k in loaded if k not in last)
    assert all(torch.equal(loaded[k], own_last[k.split(".")[-1]]) for k in last)
    assert not torch.equal(own_last["weight"], kept["classifier.2.weight"])  # a real difference to keep
    with pytest.raises(ValueError, match="does not fit"):
        load_pretrained(fresh, {k: v for k, v in kept.items() if not k.startswith("features.0.")})


def test_the_stand_ins_images_come_from_the_test_split_only(monkeypatch):
    """No block or validation image of the chapter (all from the training split) is a pretraining image: here
    the training split holds only class 0, so a pretraining label 0 would be an image taken from it."""
    from cl_utils.data import RawDataset
    from cl_utils.experiments import filter_runs

    g = torch.Generator().manual_seed(0)
    images = lambda n: torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=g)  # noqa: E731
    raw = RawDataset("cifar10", images(300), torch.zeros(300, dtype=torch.long), images(200),
                     torch.arange(200) % 9 + 1, tuple(str(i) for i in range(10)), "synthetic")  # fmt: skip
    monkeypatch.setattr(filter_runs, "raw_dataset", lambda name, source: raw)
    stage = filter_runs.PretrainRun(dataset="cifar10", images=150, val_images=50, epochs=1, batch_norm=True,
                                    pool_size=1, fc_widths=[8], dropout=0.0, optimizer="sgd", lr=0.01, momentum=0.9,
                                    weight_decay=0.0, batch_size=32, seed=0)  # fmt: skip
    task = filter_runs.pretrain_task(stage, data_source="synthetic", device=torch.device("cpu"))
    assert len(task.y_train) + len(task.y_val) == 200 and abs(len(task.y_val) - 50) < 9  # held out per class
    assert bool((task.y_train > 0).all()) and bool((task.y_val > 0).all())
    with pytest.raises(ValueError, match="test split holds 200 images here"):
        filter_runs.pretrain_task(stage.replace(images=190), data_source="synthetic", device=torch.device("cpu"))
    monkeypatch.setattr(filter_runs, "raw_dataset", lambda name, source: RawDataset(
        "kmnist", raw.x_train[:0], raw.y_train[:0], raw.x_test, raw.y_test, raw.classes, "synthetic"))
    with pytest.raises(ValueError, match="fig2_dataset"):  # its blocks are carved from its test split
        filter_runs.pretrain_task(stage, data_source="synthetic", device=torch.device("cpu"))


def test_a_stand_in_run_starts_from_its_planned_stage_with_only_the_output_layer_fresh(monkeypatch):
    """The run function, not only the loader: each stand-in run asks for the planned pretraining stage's checkpoint
    and trains a network holding that state in every layer but the output one, which is the fresh layer its seed
    draws (the random-init run of the same seed starts from the same output layer)."""
    from cl_utils.experiments import filter_runs
    from cl_utils.train import set_seed

    p = filter_runs.Params(data_source="synthetic", pretrained=False, batch_norm=True, pool_size=1, fc_widths=[8],
                           fig2_train_images=40, fig2_val_images=20, fig2_seeds=[0, 1], pretrain_images=100,
                           pretrain_val_images=20, pretrain_seed=7, stack_seeds=False)  # fmt: skip
    runs = filter_runs.plan(p)
    stage = next(r for r in runs if r.kind == "pretrain")
    build = lambda seed: (set_seed(seed), filter_runs.vgg16_filter_net(  # noqa: E731
        10, batch_norm=True, pool_size=1, fc_widths=[8]))[1]
    known = build(123).state_dict()
    asked, trained = [], []

    class Context:
        data_source, device, show_progress = "synthetic", torch.device("cpu"), False

        def checkpoint(self, kind, config, datasets, make):
            asked.append((kind, config.as_config(), datasets))
            return known

    def capture(model, *args, **kwargs):
        trained.append(model)
        return []

    monkeypatch.setattr(filter_runs, "train_with_filter_pruning", capture)
    for run in (r for r in runs if r.config.get("figure") == "fig2_standin" and r.config["criterion"] == "none"):
        c = filter_runs.FilterRun.from_config(dict(run.config))
        filter_runs.train(c, Context())
        state, fresh = trained[-1].state_dict(), build(c.seed).state_dict()
        last = [k for k in state if k.startswith("classifier.3.")]  # Linear, ReLU, Dropout, then the output layer
        assert last and all(torch.equal(state[k], fresh[k]) for k in last)
        assert all(torch.equal(state[k], known[k]) for k in state if k not in last)
        assert asked[-1] == (stage.kind, dict(stage.config), stage.datasets)
    assert len(trained) == 2  # seeds 0 and 1, one stage


# -- seeds stacked as one network (issue 27, point 2) --------------------------------------------------------
def _stack(batch_norm: bool = True) -> tuple[FilterNet, list[FilterNet]]:
    nets = [small_net(batch_norm, seed=s) for s in range(2)]
    return stacked_filter_net(nets).eval(), nets


@pytest.mark.parametrize("batch_norm", [False, True])
def test_a_stacked_filter_net_is_its_models_and_loses_each_models_own_filters(batch_norm: bool):
    stack, nets = _stack(batch_norm)
    x = torch.randn(2, 5, 3, 8, 8, dtype=torch.float64)
    for drops in ([[0, 3], [5, 7]], [[2, 4], [0, 1]], [[1, 4], [0, 2]]):  # conv 1, 2 and the last (read by the fc)
        layer = [[0, 3], [2, 4], [1, 4]].index(drops[0])
        remove_filters(stack, layer, drops)
        for net, drop in zip(nets, drops):
            remove_filters(net, layer, drop)
        out = stack(x)
        assert stack.filter_counts() == nets[0].filter_counts() and out.shape == (5, 4, 2)
        for s, net in enumerate(nets):
            torch.testing.assert_close(out[..., s], net(x[s]), rtol=1e-9, atol=1e-10)
    with pytest.raises(ValueError, match="as many filters in each"):
        remove_filters(stack, 0, [[0], [1, 2]])


@pytest.mark.parametrize("criterion", ["activation", "weight"])
@pytest.mark.parametrize("normalize", [False, True])
def test_a_stack_scores_each_models_filters_on_its_own_batch_and_prunes_its_own_lowest(criterion, normalize):
    stack, nets = _stack()
    x = torch.randn(2, 6, 3, 8, 8, dtype=torch.float64)
    stacked_scores, plain_scores = FilterScores(stack, criterion, normalize), [FilterScores(n, criterion, normalize)
                                                                               for n in nets]  # fmt: skip
    stack.train()
    stack(x)
    for s, net in enumerate(nets):
        net.train()
        net(x[s])
    for layer, score in enumerate(stacked_scores.scores()):
        assert score.shape == (2, nets[0].filter_counts()[layer])
        for s in range(2):
            torch.testing.assert_close(score[s], plain_scores[s].scores()[layer], rtol=1e-9, atol=1e-12)
    prune_step(stack, stacked_scores.scores(), 40.0)
    for s, net in enumerate(nets):
        prune_step(net, plain_scores[s].scores(), 40.0)
    stack.eval()
    out = stack(x)
    for s, net in enumerate(nets):
        net.eval()
        torch.testing.assert_close(out[..., s], net(x[s]), rtol=1e-9, atol=1e-10)


def test_the_driver_trains_each_stacked_model_on_its_own_blocks_and_gives_a_history_each():
    stack = stacked_filter_net([small_net(True, seed=s).float() for s in range(2)])
    g = torch.Generator().manual_seed(0)

    def block_data(b: int) -> Block:
        x = torch.randn(2, 32, 3, 8, 8, generator=g)
        y = torch.stack([torch.zeros(32, dtype=torch.long), torch.randint(0, 4, (32,), generator=g)])  # model 0: easy
        return Block(f"data{b}", x, y, x[:, :8], y[:, :8])

    histories = train_with_filter_pruning(
        stack, block_data, epochs=5, settings=cl.TrainSettings(5, 8, "sgd", 0.02, 0.9),
        schedule=PruningSchedule("activation", percent=20.0, every=2), generator=torch.Generator().manual_seed(0),
        show_progress=False,
    )  # fmt: skip
    assert len(histories) == 2 and all(len(h) == 5 for h in histories)
    expected = filter_count_trajectory([8, 6, 5], 20.0, 2)
    assert [h["filters"] for h in histories[1]] == [expected[0]] * 2 + [expected[1]] * 2 + [expected[2]]
    assert histories[0][-1]["val_acc"] == 1.0 and histories[1][-1]["val_acc"] < 1.0  # each on its own labels
    assert all(not m._forward_hooks for m in stack.modules())


def test_a_stacked_run_gives_each_seed_its_own_initial_weights_blocks_and_record(monkeypatch):
    """Model ``s`` of a stacked stand-in run holds the stage's state and seed ``s``'s own fresh output layer (as
    seed ``s``'s own run), trains on seed ``s``'s blocks, and its result reads as that seed's record."""
    from cl_utils.experiments import filter_runs
    from cl_utils.experiments import filter_report
    from cl_utils.experiments.runs import Records
    from cl_utils.train import set_seed

    p = filter_runs.Params(data_source="synthetic", pretrained=False, batch_norm=True, pool_size=1, fc_widths=[8],
                           fig2_train_images=40, fig2_val_images=20, fig2_epochs=2, fig2_every=1, fig2_seeds=[0, 1],
                           pretrain_images=100, pretrain_val_images=20, pretrain_seed=7)  # fmt: skip
    run = next(r for r in filter_runs.plan(p) if r.config.get("figure") == "fig2_standin"
               and r.config["criterion"] == "activation")  # fmt: skip
    assert run.config["seeds"] == [0, 1] and run.config["seed"] == 0
    build = lambda seed: (set_seed(seed), filter_runs.vgg16_filter_net(  # noqa: E731
        10, batch_norm=True, pool_size=1, fc_widths=[8]))[1]
    known = build(123).state_dict()
    seen = []

    class Context:
        data_source, device, show_progress = "synthetic", torch.device("cpu"), False

        def checkpoint(self, kind, config, datasets, make):
            return known

    real = filter_runs.train_with_filter_pruning

    def capture(model, block_data, **kwargs):
        state = {k: v.clone() for k, v in model.state_dict().items()}  # before training moves them
        seen.append((state, block_data(0), block_data(1)))
        return real(model, block_data, **kwargs)

    monkeypatch.setattr(filter_runs, "train_with_filter_pruning", capture)
    c = filter_runs.FilterRun.from_config(dict(run.config))
    out = filter_runs.train(c, Context())
    state, first, second = seen[0]
    for s in (0, 1):
        fresh = build(s).state_dict()
        assert all(torch.equal(state[k][s], fresh[k]) for k in state if k.startswith("classifier.3."))
        assert all(torch.equal(state[k][s], known[k]) for k in state
                   if not k.startswith("classifier.3.") and state[k].dim() and k in known)  # fmt: skip
    assert first.x_train.shape[:2] == (2, 40) and not torch.equal(first.x_train[0], first.x_train[1])
    assert torch.equal(first.x_train, second.x_train)  # Fig. 2: one fixed subset per seed, the same every block
    assert len(out["per_seed"]) == 2 and all(len(o["history"]) == 2 for o in out["per_seed"])
    assert out["per_seed"][0]["end_filter_counts"] == out["per_seed"][1]["end_filter_counts"]
    assert out["per_seed"][0]["history"] != out["per_seed"][1]["history"]
    unpruned = sum(q.numel() for q in build(0).parameters())
    assert out["per_seed"][0]["parameters"] == out["per_seed"][1]["parameters"] < unpruned  # one pruned network's
    record = {"kind": "train", "key": "k", "config": dict(run.config), "metrics": out,
              "data": [{"dataset": d, "source": "synthetic"} for d in run.datasets]}  # fmt: skip
    views = filter_report.trained(Records([record]), figure="fig2_standin", criterion="activation",
                                  normalize=False)  # fmt: skip
    assert [v["config"]["seed"] for v in views] == [0, 1] and [v["metrics"] for v in views] == out["per_seed"]
    assert filter_report.filter_run(views[1]["config"]).seed == 1


def test_stacking_groups_a_criterions_seeds_and_off_keeps_every_key():
    from cl_utils.experiments import filter_runs

    kw = dict(data_source="synthetic", pretrained=False, pool_size=1, fc_widths=[8], fig2_seeds=[0, 1, 2],
              seeds=[0, 1, 2], pretrain_images=100, pretrain_val_images=20)  # fmt: skip
    stacked = [r for r in filter_runs.plan(filter_runs.Params(**kw)) if r.kind == "train"]
    off = [r for r in filter_runs.plan(filter_runs.Params(**kw, stack_seeds=False)) if r.kind == "train"]
    assert all(r.config["seeds"] == [0, 1, 2] and r.config["seed"] == 0 for r in stacked)
    assert not [r for r in off if "seeds" in r.config] and len(off) == 3 * len(stacked)
    one = lambda c: repr(sorted((k, v) for k, v in c.items() if k != "seeds"))  # noqa: E731
    assert {one(r.config) for r in stacked} <= {repr(sorted(r.config.items())) for r in off}
    assert sum(r.cost for r in stacked) == pytest.approx(sum(r.cost for r in off))

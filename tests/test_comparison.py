"""Chapter 06: the comparison's plan, what each method keeps, the forgetting measurement, the Pareto front."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

import cl_utils as cl
from cl_utils import experiments as ex
from cl_utils.baselines import FineTune
from cl_utils.clnp import CLNP
from cl_utils.clnp_schedule import CLNPSchedule
from cl_utils.efficiency import PackingSchedule
from cl_utils.experiments import comparison_runs as C
from cl_utils.experiments import comparison_report as R
from cl_utils.experiments.runs import RunContext
from cl_utils.models import mlp
from cl_utils.packnet import PackNet
from cl_utils.progressive import ProgressiveNet
from cl_utils.progressive_schedule import ProgressivePrune

SMOKE = ex.preset("06", "smoke")
SGD = cl.TrainSettings(epochs=1, batch_size=32, optimizer="sgd", lr=0.1)


def smoke_params(**values) -> C.Params:
    return C.Params.from_values(values, SMOKE)


def run(stream: str, method: str, **values) -> dict:
    """One smoke-scale run (synthetic data), trained now."""
    p = smoke_params(streams=[stream], methods=[method], seeds=[0], **values)
    (first, *_), ctx = C.plan(p), RunContext(torch.device("cpu"), "synthetic", None, C.CODE_VERSION)  # type: ignore[arg-type]
    return C.run_train(C.StreamRun.from_config(first.config), ctx)


def test_plan_has_every_configuration_and_seed_and_a_shared_budget():
    p = smoke_params(seeds=[0, 1, 2], packnet_free=[0.5, 0.9], progressive_fractions=[0.5, 0.9], stack_seeds=False)
    runs = [r for r in C.plan(p) if r.kind == "train"]
    per_stream = 2 + 1 + 2 + 2 + 2 + 1 + 2  # fine-tune x2 (Adam, SGD), joint, LwF x2, PackNet x2, iterative x2, CLNP,
    assert len(runs) == 3 * per_stream * 3  # Progressive x2
    assert len({r.label for r in runs}) == len(runs)
    for stream in C.STREAMS:
        b = C.budget(p, stream)
        assert b % p.packnet_rounds == 0 and b >= p.packnet_rounds  # one-shot and iterative share it
        budgets = {r.config["budget"] for r in runs if r.config["stream"] == stream and "budget" in r.config}
        assert budgets == {b}


def test_fine_tuning_and_lwf_run_with_each_optimiser_and_adam_keeps_the_first_readings_keys():
    p = smoke_params(baseline_optimizers=["adam", "sgd"], baseline_sgd_lr=0.02, baseline_sgd_momentum=0.8)
    for method in ("fine-tune", "lwf"):
        adam, sgd = C.configurations(p, "split_mnist", method)
        typed = lambda extra: C.StreamRun.from_config({**C.stream_config(p, "split_mnist"), "method": method,  # noqa: E731
                                                       **extra, "seed": 0})  # fmt: skip
        assert "optimizer" not in adam and C._settings(typed(adam)).optimizer == "adam"
        settings = C._settings(typed(sgd))
        assert (settings.optimizer, settings.lr, settings.momentum) == ("sgd", 0.02, 0.8)
        assert C.label(method, sgd).endswith("(SGD)")


def test_rounds_grid_shares_one_budget_over_every_n_and_p():
    p = smoke_params(rounds_streams=["split_mnist", "split_cifar10"], rounds_grid=[1, 2, 3], rounds_free=[0.9, 0.99],
                     rounds_budget=6, rounds_seeds=[0, 1], stack_seeds=False)  # fmt: skip
    runs = [r for r in C.plan(p) if r.kind == "rounds"]
    assert len(runs) == 2 * 3 * 2 * 2 and {r.config["budget"] for r in runs} == {6}
    assert {(r.config["method"], r.config["rounds"]) for r in runs} == {("packnet", 1), ("packnet-iterative", 2),
                                                                        ("packnet-iterative", 3)}  # fmt: skip
    with pytest.raises(ex.ParameterError, match="rounds_budget"):
        smoke_params(rounds_grid=[1, 4], rounds_budget=6)


def test_bad_parameters_stop_with_the_name():
    with pytest.raises(ex.ParameterError, match="streams"):
        smoke_params(streams=["split_svhn"])
    with pytest.raises(ex.ParameterError, match="clnp_cifar_alphas"):
        smoke_params(clnp_cifar_alphas=[1e-6, 1e-6])
    with pytest.raises(ex.ParameterError, match="methods"):
        smoke_params(methods=["ewc"])
    stream = smoke_params().streams[0]
    for without in ({"baseline_optimizers": ["sgd"]}, {"streams": [s for s in C.STREAMS if s != stream][:1]},
                    {"methods": [m for m in C.METHODS if m != "lwf"]}):
        with pytest.raises(ex.ParameterError, match="lwf_frozen_heads_streams"):  # a diagnostic with no partner
            smoke_params(lwf_frozen_heads_streams=[stream], **without)
    assert smoke_params(lwf_frozen_heads_streams=[stream]).lwf_frozen_heads_streams == [stream]


def test_kept_counts_dense_networks_whole_and_clnp_only_owned_units():
    model = mlp(4, [3], [2, 2])
    assert FineTune(model, SGD).parameters_kept() == sum(p.numel() for p in model.parameters())
    clnp = CLNP(model)
    method = CLNPSchedule(clnp, SGD, alphas=[0.0, 0.0], margin=0.0)
    clnp.start_task()
    heads = sum(int(torch.count_nonzero(p)) for p in model.heads.parameters())
    owner_bits = 3 * 1 / 32  # 3 units, 1 bit each for one task
    assert method.parameters_kept() == pytest.approx(heads + owner_bits)  # no unit owned: only the heads
    assert method.capacity() == 0.0
    clnp.owner(0)[1] = 1
    assert method.parameters_kept() == pytest.approx(heads + 4 + 1 + owner_bits)  # one row of 4 weights and its bias
    assert method.capacity() == pytest.approx(1 / 3)


def test_kept_packnet_adds_packed_owner_bits_and_progressive_a_keep_bit_per_weight():
    method = PackingSchedule("packnet", mlp(4, [3], [2, 2]), SGD, 2, retrain_budget=1, rounds=1, final_free=0.5)
    method.packnet.start_task()
    weights = 4 * 3  # the prunable body weight
    nonzero = sum(int(torch.count_nonzero(p)) for p in method.model.parameters())
    assert method.parameters_kept() == pytest.approx(nonzero + math.ceil(weights / 8) * 8 / 32)
    for fraction, masks in ((0.0, 0), (0.5, 4 * 3 + 3 * 2)):
        progressive = ProgressivePrune(4, [[3]], SGD, adapter="learned", prune_fractions=[fraction], reference_size=10.0)
        progressive.model.add_column([3], 2)
        dense = sum(int(torch.count_nonzero(p)) for p in progressive.model.parameters())
        assert progressive.parameters_kept() == dense + masks / 32
        assert progressive.capacity() == progressive.parameters_kept() / 10.0


@pytest.mark.parametrize("method", ["packnet", "packnet-iterative", "clnp", "progressive"])
def test_pruning_methods_show_exactly_zero_change_of_earlier_tasks(method):
    out = run("split_mnist", method)
    assert len(out["acc"]) == 5 and [len(r) for r in out["acc"]] == [1, 2, 3, 4, 5]
    assert R.largest_change(out["acc"]) == 0.0
    assert len(out["capacity"]) == 5 and out["capacity"][-1] > 0


def test_the_measurement_sees_forgetting_when_a_mechanism_is_broken(monkeypatch):
    assert R.largest_change(run("split_mnist", "fine-tune")["acc"]) > 0
    # PackNet without its masks: earlier tasks read the later tasks' weights
    monkeypatch.setattr(PackNet, "_forward_masks", lambda self, task: {})
    assert R.largest_change(run("split_mnist", "packnet")["acc"]) > 0


def test_pareto_front_leaves_joint_out_and_keeps_the_undominated():
    index = pd.MultiIndex.from_tuples([("S", n) for n in "abcdj"], names=["stream", "configuration"])
    table = pd.DataFrame({"method": ["x", "x", "x", "x", "joint"], "mean accuracy": [90, 80, 95, 85, 99],
                          "kept parameters": [100, 50, 200, 150, 10]}, index=index)  # fmt: skip
    flags = R.pareto_front(table)
    assert flags.to_dict() == {("S", "a"): True, ("S", "b"): True, ("S", "c"): True, ("S", "d"): False,
                               ("S", "j"): False}  # fmt: skip


# -- stacked seeds (issue 27, point 2) ---------------------------------------------------------------------
def test_stacking_groups_the_seeds_of_stackable_methods_only_and_off_keeps_every_key():
    p = smoke_params(seeds=[0, 1, 2], stack_seeds=True)
    runs = C.plan(p)
    stacked = [r for r in runs if "seeds" in r.config]
    assert stacked and all(r.config["seeds"] == [0, 1, 2] and r.config["seed"] == 0 for r in stacked
                           if r.kind == "train")  # fmt: skip
    assert {r.config["method"] for r in stacked} == set(C.STACKABLE)
    assert not [r for r in stacked if r.config["stream"] == "permuted_mnist"]  # each seed its own permutations
    assert not [r for r in stacked if r.config["method"] == "clnp" and r.config["stream"] == "split_cifar10"]
    per_seed = [r for r in runs if "seeds" not in r.config and r.kind == "train"]
    assert not [r for r in per_seed if r.config["stream"] == "split_mnist"]  # every method stacks there
    assert {r.config["stream"] for r in per_seed if r.config["method"] in C.STACKABLE
            and r.config["method"] not in C.MLP_ONLY_STACKS} == {"permuted_mnist"}  # fmt: skip
    unstacked = C.plan(smoke_params(seeds=[0, 1, 2], stack_seeds=False))
    assert not [r for r in unstacked if "seeds" in r.config]
    one_seed = lambda config: {k: v for k, v in config.items() if k != "seeds"}  # noqa: E731
    assert {repr(sorted(one_seed(r.config).items())) for r in stacked} <= {
        repr(sorted(r.config.items())) for r in unstacked}  # a stack's first seed is that seed's own config


def test_a_stacked_sgd_run_steps_each_model_as_its_own_run_would():
    """The stacked loss averages over the S models (each gets 1/S of its gradient): SGD's rate is S times."""
    p = smoke_params(seeds=[0, 1, 2], stack_seeds=True, baseline_sgd_lr=0.02)
    sgd = next(r for r in C.plan(p) if r.config["method"] == "fine-tune" and r.config.get("optimizer") == "sgd"
               and "seeds" in r.config)  # fmt: skip
    assert C._settings(C.StreamRun.from_config(sgd.config)).lr == pytest.approx(0.06)
    one = C.StreamRun.from_config({k: v for k, v in sgd.config.items() if k != "seeds"})
    assert C._settings(one).lr == pytest.approx(0.02)


@pytest.mark.parametrize("stream, method", [("split_mnist", "packnet"), ("split_cifar10", "packnet"),
                                            ("split_mnist", "clnp"), ("split_mnist", "progressive")])  # fmt: skip
def test_stacked_pruning_keeps_every_seeds_earlier_tasks_bit_exact(stream, method, monkeypatch):
    """Each stacked model's task-1 logits after every later task equal those right after task 1 (torch.equal);
    with PackNet's masks skipped, every CLNP entry left trainable, or Progressive Prune's earlier columns left
    trainable, they change."""

    def task1_logits_after_each_task() -> list[torch.Tensor]:
        p = smoke_params(streams=[stream], methods=[method], seeds=[0, 1], stack_seeds=True)
        (first, *_) = [r for r in C.plan(p) if r.kind == "train"]
        c = C.StreamRun.from_config(first.config)
        ctx = RunContext(torch.device("cpu"), "synthetic", None, C.CODE_VERSION)  # type: ignore[arg-type]
        tasks = C.stream_tasks(c, "synthetic")
        built = C.BUILDERS[c.method](c, tasks, ctx)
        probe = cl.models.per_model(tasks[0].x_test[:64], 2)
        seen = []
        for t, task in enumerate(tasks):
            built.learn(t, task)
            built.model.eval()
            with torch.no_grad():
                seen.append(built.forward_for(0)(probe))
        return seen

    seen = task1_logits_after_each_task()
    assert seen[0].shape[-1] == 2 and seen[0].abs().sum() > 0  # both models, not an empty block
    assert all(torch.equal(seen[0], later) for later in seen[1:])
    if method == "packnet":
        monkeypatch.setattr(PackNet, "_forward_masks", lambda self, task: {})
    elif method == "clnp":
        unfrozen = lambda self, task, units=None: {n: torch.ones_like(w, dtype=torch.bool)  # noqa: E731
                                                   for n, w in self.model.named_buffers() if "clnp" not in n}
        monkeypatch.setattr(CLNP, "trainable_entries", unfrozen)
    else:
        monkeypatch.setattr(ProgressiveNet, "column_parameters", lambda self, k: dict(self.named_parameters()))
        monkeypatch.setattr(torch.nn.Module, "requires_grad_", lambda self, requires_grad=True: self)
    broken = task1_logits_after_each_task()
    assert not all(torch.equal(broken[0], later) for later in broken[1:])


def test_a_stacked_run_measures_each_seed_as_a_run_of_its_own():
    p = smoke_params(streams=["split_mnist"], methods=["fine-tune", "lwf", "packnet", "clnp", "progressive"],
                     baseline_optimizers=["adam"], seeds=[0, 1], stack_seeds=True)  # fmt: skip
    ctx = RunContext(torch.device("cpu"), "synthetic", None, C.CODE_VERSION)  # type: ignore[arg-type]
    plain = cl.mlp(784, p.mlp_hidden, [2] * 5)
    for r in [r for r in C.plan(p) if r.kind == "train"]:
        out = C.run_train(C.StreamRun.from_config(r.config), ctx)
        assert len(out["per_seed"]) == 2 and out["train_seconds"] > 0
        for one in out["per_seed"]:
            assert [len(row) for row in one["acc"]] == [1, 2, 3, 4, 5]
            if r.config["method"] in ("fine-tune", "lwf"):  # every weight kept: one plain network's worth
                assert one["kept"] == sum(q.numel() for q in plain.parameters()) and "capacity" not in one
            elif r.config["method"] == "progressive":  # a column per task: one seed's columns, grown past one MLP
                assert one["kept"] == pytest.approx(one["capacity"][-1] * sum(q.numel() for q in plain.parameters()))
                assert R.largest_change(one["acc"]) == 0.0 and len(one["capacity"]) == 5
            else:  # PackNet, CLNP: its own share of one network, at most one network and its owner bits
                assert 0 < one["kept"] <= sum(q.numel() for q in plain.parameters()) * (1 + 1 / 32)
                assert R.largest_change(one["acc"]) == 0.0 and len(one["capacity"]) == 5
        record = {"kind": "train", "key": "k", "config": r.config, "metrics": out}
        views = C.seed_views([record])
        assert [v["config"]["seed"] for v in views] == [0, 1] and all("seeds" not in v["config"] for v in views)
        assert [v["metrics"]["acc"] for v in views] == [o["acc"] for o in out["per_seed"]]
        assert sum(v["metrics"]["train_seconds"] for v in views) == pytest.approx(out["train_seconds"])
        frame = R.runs_frame(ex.Records([record]))
        assert list(frame["seed"]) == [0, 1] and set(frame["key"]) == {"k"}

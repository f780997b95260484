"""The method contract (:mod:`cl_utils.methods`): every method of the comparison meets it, ``learn_stream``
measures what it promises, and each method learned one task at a time is its chapter's schedule."""
from __future__ import annotations

import pytest
import torch

import cl_utils as cl
from cl_utils import experiments as ex
from cl_utils.baselines import FineTune, Joint, finetune_sequence, finetune_task, train_jointly
from cl_utils.clnp import CLNP
from cl_utils.clnp_schedule import CLNPSchedule
from cl_utils.efficiency import PackingSchedule, run_method
from cl_utils.lwf import LwF, lwf_train_task
from cl_utils.experiments import comparison_runs as C
from cl_utils.experiments.runs import RunContext
from cl_utils.methods import ContinualMethod, learn_stream
from cl_utils.progressive_schedule import ProgressivePrune, run_progressive

ADAM = cl.TrainSettings(epochs=1, batch_size=64, optimizer="adam", lr=5e-3)
SGD = cl.TrainSettings(epochs=1, batch_size=64, optimizer="sgd", lr=0.05, momentum=0.5)


@pytest.fixture(scope="module")
def pairs() -> list[cl.Task]:
    """Three binary tasks from class pairs of synthetic MNIST (multi-head, labels 0/1)."""
    base = cl.make_task(cl.load_dataset("mnist", "synthetic"), val_fraction=0.1, seed=0)
    return cl.split_tasks(base, [(0, 1), (2, 3), (4, 5)])


def fresh_mlp(hidden=(32,)) -> cl.MultiHeadNet:
    torch.manual_seed(0)
    return cl.mlp(784, list(hidden), [2] * 3)


class Recorder:
    """A stand-in method that records what ``learn_stream`` asks of it."""

    def __init__(self, measures_each_task: bool):
        self.measures_each_task, self.model, self.calls = measures_each_task, torch.nn.Linear(784, 2), []

    def learn(self, t, task):
        self.calls.append(("learn", t))

    def forward_for(self, t):
        self.calls.append(("answer", t))
        return lambda x: self.model(x.flatten(1))

    def parameters_kept(self):
        return 1.0

    def capacity(self):
        return None


def test_learn_stream_measures_every_task_seen_after_each_task(pairs):
    method = Recorder(measures_each_task=True)
    out = learn_stream(method, pairs)
    assert [len(row) for row in out["acc"]] == [1, 2, 3]
    assert method.calls == [("learn", 0), ("answer", 0), ("learn", 1), ("answer", 0), ("answer", 1),
                            ("learn", 2), ("answer", 0), ("answer", 1), ("answer", 2)]  # fmt: skip
    assert out["kept"] == 1.0 and "capacity" not in out


def test_a_method_that_trains_after_the_last_task_is_measured_once(pairs):
    method = Recorder(measures_each_task=False)
    out = learn_stream(method, pairs)
    assert [len(row) for row in out["acc"]] == [3]
    assert [c for c in method.calls if c[0] == "learn"] == [("learn", 0), ("learn", 1), ("learn", 2)]


@pytest.mark.parametrize("method", list(C.BUILDERS))
def test_every_method_of_the_comparison_meets_the_contract(method):
    p = C.Params.from_values(dict(streams=["split_mnist"], methods=[method], seeds=[0]), ex.preset("06", "smoke"))
    c = C.StreamRun.from_config(C.plan(p)[0].config)
    built = C.BUILDERS[method](c, C.stream_tasks(c, "synthetic"), RunContext(torch.device("cpu"), "synthetic", None, 1))
    assert isinstance(built, ContinualMethod)
    assert built.measures_each_task == (method != "joint")


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_finetune_and_joint_one_task_at_a_time_are_their_sequence_functions(pairs):
    seq_model, step_model = fresh_mlp(), fresh_mlp()
    whole = finetune_sequence(seq_model, pairs, ADAM, multi_head=True, generator=torch.Generator().manual_seed(1),
                              show_progress=False)["acc"]  # fmt: skip
    stepwise = learn_stream(FineTune(step_model, ADAM, generator=torch.Generator().manual_seed(1), show_progress=False),
                            pairs)["acc"]  # fmt: skip
    assert stepwise == [row[: i + 1] for i, row in enumerate(whole)] and same_weights(seq_model, step_model)
    seq_model, step_model = fresh_mlp(), fresh_mlp()
    joint = train_jointly(seq_model, pairs, ADAM, multi_head=True, generator=torch.Generator().manual_seed(1),
                          show_progress=False)["acc"]  # fmt: skip
    assert learn_stream(Joint(step_model, ADAM, 3, generator=torch.Generator().manual_seed(1), show_progress=False),
                        pairs)["acc"] == [joint]  # fmt: skip
    assert same_weights(seq_model, step_model)  # one training, on every task, after the last


def test_lwf_fine_tunes_task_1_and_distils_every_earlier_head_after(pairs):
    by_hand, method = fresh_mlp(), LwF(fresh_mlp(), ADAM, warmup_epochs=0, generator=torch.Generator().manual_seed(1),
                                       show_progress=False)  # fmt: skip
    generator = torch.Generator().manual_seed(1)
    finetune_task(by_hand, pairs[0], 0, ADAM, generator=generator, show_progress=False)
    for t in (1, 2):
        lwf_train_task(by_hand, t, pairs[t].x_train, pairs[t].y_train, ADAM, old_heads=list(range(t)), warmup_epochs=0,
                       val=pairs[t].split("val"), generator=generator, show_progress=False)  # fmt: skip
    learn_stream(method, pairs)
    assert same_weights(by_hand, method.model)


def test_packnet_schedule_is_run_method_and_its_capacity_is_what_the_tasks_so_far_own(pairs):
    kw = dict(retrain_budget=2, rounds=2, final_free=0.5, show_progress=False)
    whole = run_method("packnet", fresh_mlp(), pairs, ADAM, generator=torch.Generator().manual_seed(1), **kw)
    method = PackingSchedule("packnet", fresh_mlp(), ADAM, 3, generator=torch.Generator().manual_seed(1), **kw)
    out = learn_stream(method, pairs)
    assert out["acc"][-1] == [row[0] for row in whole["acc"]]
    assert all(out["acc"][i][j] == out["acc"][-1][j] for i in range(3) for j in range(i + 1))  # nothing forgotten
    owners = torch.cat([o.flatten() for o in method.packnet.owners().values()])
    assert out["capacity"] == [float(((owners >= 1) & (owners <= t)).float().mean()) for t in (1, 2, 3)]
    assert 0 < out["capacity"][0] < out["capacity"][1] < out["capacity"][2] < 1
    assert not PackingSchedule("multinet", fresh_mlp(), ADAM, 3, **kw).measures_each_task


def test_clnp_capacity_is_the_units_the_tasks_claimed(pairs):
    clnp = CLNP(fresh_mlp((16, 16)))
    method = CLNPSchedule(clnp, ADAM, alphas=[1e-4] * 3, margin=0.05, seed=0)
    out = learn_stream(method, pairs)
    claimed = [sum(step["new_units"]) for step in method.steps]
    assert claimed[0] > 0 and sum(claimed) < 32
    assert out["capacity"] == [sum(claimed[: t + 1]) / 32 for t in range(3)]


def test_progressive_prune_one_task_at_a_time_is_run_progressive(pairs):
    kw = dict(adapter="learned", prune_fractions=[0.5] * 3, retrain_epochs=1, seed=2, show_progress=False)
    whole = run_progressive(pairs, [[16]] * 3, SGD, **kw)
    out = learn_stream(ProgressivePrune(784, [[16]] * 3, SGD, reference_size=1000.0, **kw), pairs)
    assert out["acc"][-1] == whole["final_test_acc"]
    assert out["acc"][0][0] == out["acc"][-1][0]  # column 1 is frozen
    assert out["capacity"][-1] == out["kept"] / 1000.0 and out["capacity"][0] < out["capacity"][-1]

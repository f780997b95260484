"""cl_utils.clnp_stack: CLNP on the models of one stacked MLP (each model a view with its own CLNP state).

Checked: a model's view computes what the stack computes for it; a stacked training phase moves each model as
one network's phase would (its own masks, L1 strengths and learning rate); earlier tasks of every model stay
bit-exact through later tasks; the lockstep schedule keeps one record per model, each model its own grid point.
"""
from __future__ import annotations

import pytest
import torch

import cl_utils as cl
from cl_utils.clnp import CLNP
from cl_utils.clnp_schedule import learn_task, run_sequence, run_stacked_sequence
from cl_utils.clnp_stack import CLNPStack, PerModelRates
from cl_utils.models import member_network, stacked_mlp, stacked_state

HIDDEN = [32, 24]


@pytest.fixture(scope="module")
def streams() -> list[list[cl.Task]]:
    """Two repetitions' streams: each its own validation split and its own permutations."""
    out = []
    for rep in range(2):
        base = cl.make_task(cl.load_dataset("mnist", "synthetic"), val_fraction=0.1, seed=rep)
        out.append(cl.permuted_tasks(base, 3, seed=1000 + rep))
    return out


def _stack(heads: list[int], single_head: bool, seeds=(0, 1)) -> tuple[CLNPStack, list[dict]]:
    """A stack whose model s starts as the plain network drawn with ``seeds[s]``; those networks' states."""
    states = []
    for seed in seeds:
        torch.manual_seed(seed)
        states.append(cl.mlp(784, HIDDEN, heads).state_dict())
    model = stacked_mlp(len(seeds), 784, HIDDEN, heads)
    model.load_state_dict(stacked_state(model, states))
    return CLNPStack(model, 784, HIDDEN, heads, single_head=single_head), states


def test_a_member_view_computes_its_model_of_the_stack_and_writes_into_it():
    stack, states = _stack([10, 10], single_head=False)
    x = torch.randn(5, 784)
    for s, member in enumerate(stack.members):
        plain = cl.mlp(784, HIDDEN, [10, 10])
        plain.load_state_dict(states[s])
        assert list(member.model.parameters()) == []  # trained only through the stack
        assert torch.equal(member.model(x, 1), plain(x, 1))
        assert torch.allclose(stack.model(x.expand(2, -1, -1), 1)[..., s], plain(x, 1), atol=1e-6)
    with torch.no_grad():
        stack.members[1].model.body[1].weight[3] = 7.0
    assert bool((stack.model.body[1].weight[1, 3] == 7.0).all()) and not bool((stack.model.body[1].weight[0, 3] == 7.0).any())
    with pytest.raises(RuntimeError, match="through its stack"):
        stack.members[0].start_task()
        stack.members[0].train_task(torch.zeros(4, 784), torch.zeros(4, dtype=torch.long), cl.TrainSettings(1, 4),
                                    alphas=[0, 0, 0])  # fmt: skip


def test_per_model_rates_scale_each_models_step():
    for optimizer in ("sgd", "adam"):
        torch.manual_seed(0)
        w = torch.nn.Parameter(torch.randn(2, 3))
        target = torch.randn(2, 3)
        steps = {}
        for factors in ([1.0, 1.0], [1.0, 0.25]):
            p = torch.nn.Parameter(w.detach().clone())
            opt = cl.make_optimizer([p], optimizer, 0.1)
            guard = PerModelRates([p], factors)
            ((p - target) ** 2).sum().backward()
            guard.mask_gradients()
            opt.step()
            guard.restore()
            steps[factors[1]] = (p.detach() - w.detach())
        assert torch.allclose(steps[0.25][0], steps[1.0][0]) and torch.allclose(steps[0.25][1], 0.25 * steps[1.0][1])


def _plain_copy(member: CLNP, heads: list[int], single_head: bool) -> CLNP:
    """A plain network with the member's weights and ownership (a one-network run at the same point)."""
    plain = cl.mlp(784, HIDDEN, heads)
    clnp = CLNP(plain, single_head=single_head)
    plain.load_state_dict({k: v.clone() for k, v in member.model.state_dict().items()})
    return clnp


@pytest.mark.parametrize("finetune, optimizer", [(False, "sgd"), (True, "sgd"), (False, "adam")],
                         ids=["train-sgd", "fine-tune-sgd", "train-adam"])  # fmt: skip
def test_a_stacked_phase_moves_each_model_as_its_own_phase_would(streams, finetune, optimizer):
    """Task 2 of two models with different task-1 units, lr and L1: a full-batch phase (so the data order cannot
    matter) of the stack against each model's plain network, from the same state. SGD with momentum; Adam with
    the wide network's small L1 strengths, where the gradient is tiny and Adam's epsilon must shrink with it."""
    heads = [10]
    stack, _ = _stack(heads, single_head=True)
    first = [(s[0].x_train[:256], s[0].y_train[:256], s[0].split("val")) for s in streams]
    settings = cl.TrainSettings(epochs=3, batch_size=256, optimizer="adam", lr=2e-3)
    for member in stack.members:
        member.start_task()
    stack.train_phase(first, [settings] * 2, [[1e-4] * 3] * 2)
    for member, (x, _, _), s in zip(stack.members, first, streams):
        member.sparsify(x, s[0].split("val"), reference_acc=1.0, margin=0.5)
    assert not torch.equal(stack.members[0].owner(1), stack.members[1].owner(1))  # the masks differ per model
    second = [(s[1].x_train[:256], s[1].y_train[:256], s[1].split("val")) for s in streams]
    if optimizer == "sgd":
        own = [cl.TrainSettings(epochs=3, batch_size=256, optimizer="sgd", lr=0.05, momentum=0.9),
               cl.TrainSettings(epochs=3, batch_size=256, optimizer="sgd", lr=0.01, momentum=0.9)]  # fmt: skip
        alphas = [[1e-3, 1e-3, 1e-3], [0.0, 0.0, 0.0]]
    else:
        own = [cl.TrainSettings(epochs=5, batch_size=256, optimizer="adam", lr=2e-3),
               cl.TrainSettings(epochs=5, batch_size=256, optimizer="adam", lr=5e-4)]  # fmt: skip
        alphas = [[1e-7, 1e-5, 1e-6], [1e-6, 1e-6, 0.0]]
    if not finetune:
        for member in stack.members:
            member.start_task()
    plains = [_plain_copy(m, heads, single_head=True) for m in stack.members]
    start = [p.model.body[1].weight.detach().clone() for p in plains]
    stack.train_phase(second, own, alphas, finetune=finetune)
    for member, plain, (x, y, _), st, a in zip(stack.members, plains, second, own, alphas):
        task = plain.num_tasks
        units = [plain.owner(i) == task for i in range(len(plain.units))] if finetune else None
        plain.train_task(x, y, st, alphas=a, trainable_units=units, show_progress=False)
        for (name, mine), theirs in zip(member.model.state_dict().items(), plain.model.state_dict().values()):
            assert torch.allclose(mine, theirs, atol=2e-6, rtol=1e-4), name
        assert not torch.equal(member.model.body[1].weight, start[stack.members.index(member)])  # it trained


def test_every_models_earlier_tasks_stay_bit_exact_through_later_tasks(streams):
    stack, _ = _stack([10] * 3, single_head=False)
    settings = cl.TrainSettings(epochs=1, batch_size=64, optimizer="adam", lr=2e-3)
    probe = torch.cat([s[0].x_test[:20] for s in streams])
    before = []
    for t in range(3):
        for member in stack.members:
            member.start_task()
        data = [(s[t].x_train, s[t].y_train, s[t].split("val")) for s in streams]
        stack.train_phase(data, [settings] * 2, [[1e-5, 1e-4, 1e-5]] * 2)
        for member, s in zip(stack.members, streams):
            member.sparsify(s[t].x_train, s[t].split("val"), reference_acc=1.0, margin=0.05)
        stack.train_phase(data, [settings] * 2, [[0.0] * 3] * 2, finetune=True)
        if t == 0:
            with torch.no_grad():
                before = [m.forward_for(1)(probe).clone() for m in stack.members]
    for member, logits in zip(stack.members, before):
        assert member.units_of(1)[0] > 0  # the task kept units: the check is on a block that is not empty
        with torch.no_grad():
            assert torch.equal(member.forward_for(1)(probe), logits)


def test_the_stacked_schedule_keeps_each_models_own_records_and_grid_point(streams, monkeypatch):
    """Model s keeps grid point s (forced, so that the later tasks and fine-tuning rounds run at two learning rates
    and two L1 strengths in one stack); every model's records, and its earlier tasks exactly."""
    from cl_utils import clnp_schedule

    chosen = iter([0, 1])
    monkeypatch.setattr(clnp_schedule, "select_by_graceful_forgetting", lambda points, margin: next(chosen))
    stack, _ = _stack([10] * 3, single_head=False)
    settings = cl.TrainSettings(epochs=1, batch_size=64, optimizer="adam", lr=2e-3)
    grid = [(settings, [1e-5, 1e-4, 1e-5]), (cl.TrainSettings(1, 64, "adam", 5e-3), [1e-4, 1e-3, 1e-4])]
    schedule = clnp_schedule.CLNPSchedule(stack, settings, alphas=grid[0][1], margin=0.05, first_task_grid=grid,
                                          finetune_iterations=1, finetune=settings, normalise_units=True,
                                          finetune_l1=True)  # fmt: skip
    out = clnp_schedule._run(schedule, streams)
    assert [s.lr for s in schedule.settings] == [2e-3, 5e-3] and [f.lr for f in schedule.finetune] == [2e-3, 5e-3]
    assert schedule.alphas == [grid[0][1], grid[1][1]]
    assert len(out) == 2
    for s, (result, member) in enumerate(zip(out, stack.members)):
        acc = result["acc"]
        assert [len(row) for row in acc] == [1, 2, 3]
        assert all(acc[i][j] == acc[j][j] for j in range(3) for i in range(j, 3))  # zero forgetting, exactly
        assert result["free_units"] == member.free_units()
        assert len(result["steps"][0]["grid"]) == 2 and result["steps"][0]["chosen"] == s
        assert schedule.capacity(model=s) == member_capacity(member)
    assert schedule.capacity() == pytest.approx(sum(map(member_capacity, stack.members)) / 2)
    assert schedule.parameters_kept() == schedule.parameters_kept(0) + schedule.parameters_kept(1)
    with pytest.raises(ValueError, match="member_steps"):
        schedule.steps  # noqa: B018
    with pytest.raises(ValueError, match="streams"):
        run_stacked_sequence(stack, streams[:1], settings, alphas=grid[0][1], margin=0.05)
    with pytest.raises(ValueError, match="one length"):
        run_stacked_sequence(stack, [streams[0], streams[1][:2]], settings, alphas=grid[0][1], margin=0.05)


def member_capacity(member: CLNP) -> float:
    return sum(int((member.owner(i) > 0).sum()) for i in range(len(member.units))) / sum(u.num_units for u in member.units)


def test_a_stack_moved_after_its_views_were_made_is_refused(streams):
    stack, _ = _stack([10], single_head=True)
    stack.model.double()
    for member in stack.members:
        member.start_task()
    data = [(s[0].x_train[:64].double(), s[0].y_train[:64], s[0].split("val")) for s in streams]
    with pytest.raises(RuntimeError, match="no longer views"):
        stack.train_phase(data, [cl.TrainSettings(1, 64)] * 2, [[0.0] * 3] * 2)

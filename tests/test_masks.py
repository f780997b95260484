"""cl_utils.masks: exact pruning fractions, non-destructive masking, bit-exact freezing."""
from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

import cl_utils as cl


def _net() -> cl.MultiHeadNet:
    torch.manual_seed(0)
    return cl.mlp(30, [40, 20], [5, 5])


def test_prunable_weights_skip_biases_and_heads():
    names = set(cl.prunable_weights(_net()))
    assert names == {"body.1.weight", "body.3.weight"}
    assert "heads.0.weight" in cl.prunable_weights(_net(), include_heads=True)


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 0.75, 0.9, 1.0])
def test_layerwise_pruning_hits_the_fraction_exactly(fraction):
    weights = cl.prunable_weights(_net())
    keep = cl.layerwise_keep_masks(weights, fraction)
    for name, w in weights.items():
        assert int((~keep[name]).sum()) == round(fraction * w.numel())
        if 0 < fraction < 1:  # the dropped ones are the smallest
            assert w[~keep[name]].abs().max() <= w[keep[name]].abs().min()


def test_layerwise_pruning_only_touches_eligible_entries():
    w = torch.randn(10, 10)
    eligible = torch.zeros(10, 10, dtype=torch.bool)
    eligible[:5] = True
    keep = cl.magnitude_keep_mask(w, 0.5, eligible)
    assert keep[5:].all() and int((~keep[:5]).sum()) == 25


@pytest.mark.parametrize("size, fraction, pruned", [(3, 0.5, 2), (7, 0.4, 3), (9, 0.85, 8)])
def test_pruned_count_is_rounded_not_floored(size, fraction, pruned):
    """round(fraction × n), where flooring would give one fewer: 3 weights at 0.5 lose 2."""
    w = torch.arange(1.0, size + 1)
    assert int((~cl.magnitude_keep_mask(w, fraction)).sum()) == pruned
    assert int((~cl.global_keep_masks({"a": w}, fraction)["a"]).sum()) == pruned


def test_pruning_breaks_ties_exactly():
    keep = cl.magnitude_keep_mask(torch.ones(4, 5), 0.35)
    assert int((~keep).sum()) == 7


@pytest.mark.parametrize("fraction", [0.2, 0.9])
def test_global_pruning_hits_the_fraction_exactly_with_one_threshold(fraction):
    weights = cl.prunable_weights(_net())
    keep = cl.global_keep_masks(weights, fraction)
    total = sum(w.numel() for w in weights.values())
    dropped = sum(int((~m).sum()) for m in keep.values())
    assert dropped == round(fraction * total)
    largest_dropped = max(w[~keep[n]].abs().max() for n, w in weights.items())
    smallest_kept = min(w[keep[n]].abs().min() for n, w in weights.items())
    assert largest_dropped <= smallest_kept
    per_layer = {n: float((~m).float().mean()) for n, m in keep.items()}
    assert len(set(round(v, 3) for v in per_layer.values())) > 1  # not per layer


def test_fraction_out_of_range():
    with pytest.raises(ValueError, match="fraction"):
        cl.magnitude_keep_mask(torch.ones(3), 1.5)


def test_masked_forward_leaves_weights_untouched():
    model = _net()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    keep = cl.layerwise_keep_masks(cl.prunable_weights(model), 0.5)
    x = torch.rand(8, 30)
    out = cl.masked_forward(model, keep, x, 1)
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())
    with torch.no_grad():  # the same as pruning a copy in place
        for n, p in model.named_parameters():
            if n in keep:
                p.mul_(keep[n])
        assert torch.allclose(out, model(x, 1))


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-2),
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
        lambda ps: torch.optim.Adam(ps, lr=1e-2, weight_decay=1e-2),
        lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=1e-1),
    ],
    ids=["sgd-momentum-wd", "sgd-nesterov-wd", "adam-wd", "adamw"],
)
@pytest.mark.parametrize("held", [False, True], ids=["plain", "holding"])
def test_frozen_entries_stay_bit_exact_through_many_steps(make_opt, held):
    torch.manual_seed(0)
    model = cl.mlp(30, [40, 20], [5])
    params = dict(model.named_parameters())
    g = torch.Generator().manual_seed(0)
    trainable = {n: torch.rand(p.shape, generator=g) < 0.5 for n, p in params.items()}
    trainable["body.1.bias"][:] = False  # a fully frozen tensor, like biases after task 1
    opt = make_opt(model.parameters())
    # first let momentum / Adam moments build up on *all* entries, then freeze
    x, y = torch.rand(64, 30), torch.randint(0, 5, (64,))
    for _ in range(5):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    guard = cl.FrozenEntries(params, trainable)
    assert guard.frozen == ["body.1.bias"]
    frozen_before = {n: p.detach().clone() for n, p in params.items()}
    with guard.holding() if held else contextlib.nullcontext():
        for _ in range(100):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            if held:  # a wholly frozen parameter gets no gradient at all
                assert params["body.1.bias"].grad is None
            guard.mask_gradients()
            opt.step()
            guard.restore()
    assert params["body.1.bias"].requires_grad  # given back after the block
    for n, p in params.items():
        frozen = ~trainable[n]
        assert torch.equal(p[frozen], frozen_before[n][frozen]), n
        if trainable[n].any():
            assert not torch.equal(p[trainable[n]], frozen_before[n][trainable[n]]), n


def test_frozen_entries_check_masks():
    model = _net()
    with pytest.raises(KeyError):
        cl.FrozenEntries(dict(model.named_parameters()), {})
    with pytest.raises(ValueError, match="shape"):
        cl.FrozenEntries({"w": model.body[1].weight}, {"w": torch.ones(3, dtype=torch.bool)})


def test_count_parameters_total_and_nonzero():
    model = cl.mlp(10, [4], [3])
    assert cl.count_parameters(model).total == 10 * 4 + 4 + 4 * 3 + 3
    with torch.no_grad():
        model.body[1].weight.zero_()
    count = cl.count_parameters(model)
    assert count.total - count.nonzero >= 40
    keep = {"heads.0.weight": torch.zeros(3, 4, dtype=torch.bool)}
    assert cl.count_parameters(model, keep).nonzero <= count.nonzero - 12 + int((model.heads[0].weight == 0).sum())
    assert cl.count_parameters([torch.zeros(5), torch.ones(5)]) == cl.masks.ParameterCount(10, 5)


def test_restore_keeps_every_bit_of_trainable_entries():
    """restore is an in-place product and sum: trainable entries (signed zeros too) keep every bit."""
    w = nn.Parameter(torch.tensor([1.5, -0.0, 0.0, -2.25, 3.0, -0.0]))
    trainable = torch.tensor([True, True, True, False, False, True])
    guard = cl.FrozenEntries({"w": w}, {"w": trainable})
    with torch.no_grad():
        w[trainable] = torch.tensor([7.0, -0.0, 0.0, -1e-30])
        w[~trainable] = 99.0  # what an optimizer might do to frozen entries
        expected = w.detach().clone()
        expected[~trainable] = torch.tensor([-2.25, 3.0])
    guard.restore()
    assert torch.equal(w.detach().view(torch.int32), expected.view(torch.int32))


@pytest.mark.parametrize("n", [1, 7, 1000])
def test_the_smallest_scores_are_the_set_a_stable_sort_picks_ties_to_the_earlier_position(n):
    """Pruning picks the k smallest scores without sorting them all; with many ties (scores 0-4) the chosen set
    must be the one a stable sort's first k gives: ties go to the earlier position, so results stay bit-exact."""
    from cl_utils.masks import _smallest

    g = torch.Generator().manual_seed(n)
    for scores in (torch.randint(0, 5, (n,), generator=g).float(), torch.rand(n, generator=g)):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            expected = set(torch.sort(scores, stable=True).indices[:k].tolist())
            assert set(_smallest(scores, k).tolist()) == expected, (n, k)

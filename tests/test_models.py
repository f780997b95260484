"""cl_utils.models: layouts, heads and mixed-task forward passes."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import cl_utils as cl


def _conv_filters(model: nn.Module) -> int:
    return sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))


def test_vgg16_layout_has_4224_filters_and_scales():
    model = cl.vgg16([10])
    assert _conv_filters(model) == 4224
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 13
    conv_weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d))
    assert conv_weights == 14_710_464  # torchvision VGG-16's conv weights (REFERENCE_NOTES §7)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    half = cl.vgg16([10], width=0.5, batch_norm=True, fc_widths=(64,))
    assert _conv_filters(half) == 2112
    assert half(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_small_conv_nets():
    assert cl.zenke_cnn([10, 10])(torch.zeros(2, 3, 32, 32), task=1).shape == (2, 10)
    ball = cl.ball_cnn([2])
    assert ball.body[-3].in_features == 8192 and ball(torch.zeros(2, 3, 32, 32)).shape == (2, 2)


def test_mlp_heads_and_add_head():
    model = cl.mlp(784, [50, 40], [2, 3])
    x = torch.rand(4, 1, 28, 28)
    assert model(x, 0).shape == (4, 2) and model(x, 1).shape == (4, 3)
    assert model.add_head(5) == 2 and model(x, 2).shape == (4, 5)
    with pytest.raises(IndexError):
        model(x, 3)


@pytest.mark.parametrize("heads", [[2, 2, 2], [2, 5, 3]])
def test_forward_tasks_matches_per_task_heads(heads):
    torch.manual_seed(0)
    model = cl.mlp(20, [16], heads)
    x, ids = torch.rand(9, 20), torch.tensor([0, 1, 2, 2, 1, 0, 0, 1, 2])
    out = model.forward_tasks(x, ids)
    for i in range(9):
        own = model(x[i : i + 1], int(ids[i]))[0]
        assert torch.allclose(out[i, : len(own)], own)
        assert torch.isinf(out[i, len(own) :]).all()


def test_stacked_zenke_cnn_is_independent_zenke_cnns():
    torch.manual_seed(0)
    stack = cl.models.stacked_zenke_cnn(3, [2, 2], width=0.25).eval()
    x = torch.randn(5, 3, 32, 32)
    out = stack(cl.models.per_model(x, 3), 1)  # (B, classes, S)
    assert out.shape == (5, 2, 3)
    for s in range(3):
        plain = cl.models.zenke_cnn([2, 2], width=0.25).eval()
        own = cl.models.model_parameters(stack, s)
        assert list(own) == [n for n, _ in stack.named_parameters()]
        with torch.no_grad():
            for q, p in zip(plain.parameters(), own.values()):
                q.copy_(p)
        torch.testing.assert_close(plain(x, 1), out[..., s], rtol=1e-5, atol=1e-5)
    with pytest.raises(IndexError):
        cl.models.model_parameters(stack, 3)


@pytest.mark.parametrize("train", [False, True])
def test_stacked_vgg16_is_independent_vgg16s_each_with_its_own_batch_norm(train):
    """Model ``s`` of :func:`stacked_vgg16` is the ``s``-th :func:`vgg16` drawn from the same seed: its logits, and in
    training mode its batch statistics and running statistics, are that network's."""
    kwargs = dict(width=1 / 16, batch_norm=True, fc_widths=(32,), dropout=0.0)
    torch.manual_seed(0)
    stack = cl.models.stacked_vgg16(3, [10, 4], **kwargs).train(train)
    torch.manual_seed(0)
    plain = [cl.vgg16([10, 4], **kwargs).train(train) for _ in range(3)]
    x = torch.randn(3, 6, 3, 32, 32)  # each model its own batch
    out = stack(x, 1)
    assert out.shape == (6, 4, 3)
    bn = next(m for m in stack.modules() if isinstance(m, cl.models.StackedBatchNorm2d))
    for s, net in enumerate(plain):
        torch.testing.assert_close(net(x[s], 1), out[..., s], rtol=1e-4, atol=1e-5)
        own = next(m for m in net.modules() if isinstance(m, nn.BatchNorm2d))
        assert torch.equal(bn.running_mean[s], own.running_mean) if not train else torch.allclose(
            bn.running_mean[s], own.running_mean, atol=1e-6)  # fmt: skip
    assert not torch.allclose(bn.running_mean[0], bn.running_mean[1]) or not train


def test_stacked_state_loads_plain_states_and_refuses_what_does_not_fit():
    kwargs = dict(width=1 / 16, batch_norm=True, fc_widths=(32,))
    stack = cl.models.stacked_vgg16(2, [10], **kwargs)
    a, b = cl.vgg16([10], **kwargs).state_dict(), cl.vgg16([10], **kwargs).state_dict()
    stack.load_state_dict(cl.models.stacked_state(stack, [a, b]))
    assert torch.equal(stack.state_dict()["body.0.weight"][1], b["body.0.weight"])
    assert torch.equal(stack.state_dict()["heads.0.bias"][0], a["heads.0.bias"])
    with pytest.raises(ValueError, match="1 states for a network that stacks 2"):
        cl.models.stacked_state(stack, [a])
    other = cl.vgg16([10], width=1 / 8, batch_norm=True, fc_widths=(32,)).state_dict()
    with pytest.raises(ValueError, match="shapes differ"):
        cl.models.stacked_state(stack, [a, other])
    with pytest.raises(ValueError, match="does not stack"):
        cl.models.stacked_state(stack, [other, other])
    with pytest.raises(ValueError, match="has not"):
        cl.models.stacked_state(stack, [a | {"extra": torch.zeros(1)}, b])


def test_a_stacked_mlp_with_input_permutations_is_each_models_mlp_on_its_permuted_task():
    from cl_utils.streams import permutations

    perms = permutations(784, 3, seed=1000)
    assert torch.equal(perms[0], torch.arange(784)) and not torch.equal(perms[1], perms[2])
    torch.manual_seed(0)
    stack = cl.models.stacked_mlp(3, 784, [16], [10], torch.stack(perms)).eval()
    x = torch.rand(6, 1, 28, 28)
    out = stack(cl.models.per_model(x, 3), 0)
    task = cl.make_task(cl.load_dataset("mnist", "synthetic"), val_fraction=0.1, seed=0)
    permuted = cl.permuted_tasks(task, 3, seed=1000)
    for s in range(3):
        plain = cl.mlp(784, [16], [10]).eval()
        with torch.no_grad():
            for q, p in zip(plain.parameters(), cl.models.model_parameters(stack, s).values()):
                q.copy_(p)
        seen = x.reshape(6, -1)[:, perms[s]]  # what permuted_tasks does to the images of task s
        torch.testing.assert_close(plain(seen, 0), out[..., s], rtol=1e-5, atol=1e-5)
        assert torch.equal(permuted[s].x_test[:2].reshape(2, -1), task.x_test[:2].reshape(2, -1)[:, perms[s]])

"""Benchmark: 10 small models trained as one stacked model, against one model and against 10 one after another.

For each of the book's small model shapes, trains on random inputs (Adam, its batch size, each
model its own data order) for a fixed number of steps: one model; ``S`` models stacked in one network
(:func:`~cl_utils.models.stacked_mlp`, :func:`~cl_utils.models.stacked_ball_cnn`,
:func:`~cl_utils.models.stacked_zenke_cnn`, :func:`~cl_utils.models.stacked_vgg16`,
:func:`~cl_utils.filter_pruning.stacked_filter_net`); and ``S``
models one after another (``S`` times the single model's time, measured). Prints steps per
second and the ratio stacked / one model (the target: at most 2) on the CPU and on CUDA when
present. On the CPU only a very small model stands in for a small model on a GPU, where a step
waits on per-operator overhead rather than arithmetic: ten stacked copies of the book's MLPs
already make the CPU's arithmetic the bottleneck (the rows say by how much). Not a test: timings depend on the
machine. Run it with

    python benchmarks/stacked_models.py [--models 10] [--device cuda] [--steps 200] [--conv] [--only VGG]
"""
from __future__ import annotations

import argparse

import torch

import cl_utils as cl
from cl_utils.models import (ball_cnn, mlp, stacked_ball_cnn, stacked_mlp, stacked_vgg16, stacked_zenke_cnn, vgg16,
                             zenke_cnn)  # fmt: skip
from cl_utils.filter_pruning import stacked_filter_net, vgg16_filter_net
from train_loop import timed  # this folder is on sys.path when the script runs

#: name -> (build one, build S stacked, input shape, batch size, CPU by default)
SHAPES = {
    "micro MLP 784-4-2 (CPU proxy)": (lambda: mlp(784, [4], [2]), lambda s: stacked_mlp(s, 784, [4], [2]), (784,), 128,
                                      True),
    "tiny MLP 784-32-32-2": (lambda: mlp(784, [32, 32], [2]), lambda s: stacked_mlp(s, 784, [32, 32], [2]), (784,), 128,
                             True),
    "MLP 784-256-256-2 (chapters 00-03, 06)": (lambda: mlp(784, [256, 256], [2]),
                                           lambda s: stacked_mlp(s, 784, [256, 256], [2]), (784,), 128, True),
    "Ball et al.'s conv net (chapter 02)": (lambda: ball_cnn([2]), lambda s: stacked_ball_cnn(s, [2]), (3, 32, 32), 32,
                                            False),
    "Zenke et al.'s conv net x0.5 (chapter 06's committed width)": (
        lambda: zenke_cnn([2], width=0.5), lambda s: stacked_zenke_cnn(s, [2], width=0.5), (3, 32, 32), 32, False),
    "VGG-16-BN x0.25, fc 512-512 (chapter 01's committed network)": (
        lambda: vgg16([2], width=0.25, batch_norm=True, fc_widths=[512, 512]),
        lambda s: stacked_vgg16(s, [2], width=0.25, batch_norm=True, fc_widths=[512, 512]), (3, 32, 32), 32, False),
    "VGG-16-BN filter net, pool 1x1, fc 4096-4096 (chapter 05's committed network)": (
        lambda: vgg16_filter_net(2, batch_norm=True, pool_size=1),
        lambda s: stacked_filter_net([vgg16_filter_net(2, batch_norm=True, pool_size=1) for _ in range(s)]),
        (3, 32, 32), 32, False),
}  # fmt: skip


def _seconds(model: torch.nn.Module, shape: tuple[int, ...], batch: int, steps: int, device: torch.device) -> float:
    """Best of three: wall time of ``steps`` training steps through :func:`cl_utils.fit`."""
    model = model.to(device)
    x = torch.randn(steps * batch, *shape, device=device)
    y = torch.randint(0, 2, (steps * batch,), device=device)
    opt = cl.make_optimizer(model.parameters(), "adam", 1e-3)
    kw = dict(epochs=1, batch_size=batch, optimizer=opt, show_progress=False)
    cl.fit(model, x[: 5 * batch], y[: 5 * batch], **kw)  # warm-up
    return min(timed(lambda: cl.fit(model, x, y, generator=torch.Generator().manual_seed(0), **kw), device)
               for _ in range(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the CPU, and CUDA when present)")
    parser.add_argument("--conv", action="store_true", help="also the conv nets on the CPU (slow)")
    parser.add_argument("--only", default="", help="only the models whose name holds this text")
    args = parser.parse_args()
    devices = [torch.device(args.device)] if args.device else [torch.device("cpu")] + (
        [torch.device("cuda")] if torch.cuda.is_available() else [])  # fmt: skip
    s = args.models
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s); {args.steps} steps; S = {s}")
    print(f"| device | model | one: steps/s | {s} stacked: steps/s | {s} one after another: steps/s "
          f"| stacked time / one model's |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|")
    for device in devices:
        for name, (one, stacked, shape, batch, on_cpu) in SHAPES.items():
            if (device.type == "cpu" and not (on_cpu or args.conv)) or args.only not in name:
                continue
            torch.manual_seed(0)
            single = _seconds(one(), shape, batch, args.steps, device)
            together = _seconds(stacked(s), shape, batch, args.steps, device)
            print(f"| {device.type} | {name} | {args.steps / single:,.0f} | {args.steps / together:,.0f} "
                  f"| {args.steps / (s * single):,.0f} | {together / single:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

"""Benchmark: chapter 03's CLNP training phase for S repetitions as one stacked network, against one repetition
and against S one after another.

Trains task 2 of CLNP's narrow multi-head MLP (784-100-100, Adam, batch 256, L1 on every layer) after task 1
was trained and pruned, the way chapter 03 does: one network (:meth:`cl_utils.clnp.CLNP.train_task`), and ``S``
repetitions stacked (:meth:`cl_utils.clnp_stack.CLNPStack.train_phase`: each model its own data, unit masks and
frozen entries). ``--hidden 2000 2000`` times the wide network. Prints seconds per epoch and the ratio of ``S``
one after another to the stack (above 1: the stack is faster). Not a test: timings depend on the machine.

    python benchmarks/stacked_clnp.py [--models 5] [--images 6000] [--hidden 100 100] [--device cuda]
"""
from __future__ import annotations

import argparse

import torch

import cl_utils as cl
from cl_utils.clnp import CLNP
from cl_utils.clnp_stack import CLNPStack
from cl_utils.models import stacked_mlp
from train_loop import timed  # this folder is on sys.path when the script runs

ALPHAS = [1e-4, 1e-4, 1e-4]


def _epoch_seconds(models: int, x: torch.Tensor, y: torch.Tensor, hidden: list[int], device: torch.device) -> float:
    """Best of two: one epoch of task 2 for ``models`` repetitions (one network when 1), after task 1."""
    torch.manual_seed(0)
    settings = cl.TrainSettings(epochs=1, batch_size=256, optimizer="adam", lr=2e-3)
    heads = [10, 10]
    if models == 1:
        clnp = CLNP(cl.mlp(784, hidden, heads).to(device))
        members = [clnp]
        train = lambda: clnp.train_task(x, y, settings, alphas=ALPHAS, show_progress=False)  # noqa: E731
    else:
        stack = CLNPStack(stacked_mlp(models, 784, hidden, heads).to(device), 784, hidden, heads)
        members = stack.members
        data = [(x, y, (x, y))] * models
        train = lambda: stack.train_phase(data, [settings] * models, [ALPHAS] * models)  # noqa: E731
    for m in members:  # task 1: keep half of every layer's units, so task 2 trains the other half
        m.start_task()
        m.prune([torch.arange(u.num_units, device=device) % 2 == 0 for u in m.units], [0.5] * len(m.units))
        m.start_task()
    return min(timed(train, device) for _ in range(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--hidden", type=int, nargs="+", default=[100, 100])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(args.images, 784, generator=g) * 2 - 1).to(device)
    y = torch.randint(0, 10, (args.images,), generator=g).to(device)
    one = _epoch_seconds(1, x, y, args.hidden, device)
    stacked = _epoch_seconds(args.models, x, y, args.hidden, device)
    s = args.models
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s); {device.type}; {args.images} images; "
          f"S = {s}")  # fmt: skip
    print(f"| network | one repetition: s/epoch | {s} stacked: s/epoch | {s} one after another: s/epoch | "
          f"one after another / stacked |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    name = "CLNP task 2, MLP 784-" + "-".join(map(str, args.hidden)) + ", multi-head, Adam"
    print(f"| {name} | {one:.3f} | {stacked:.3f} | {s * one:.3f} | {s * one / stacked:.2f}x |")


if __name__ == "__main__":
    main()

"""Benchmark: chapter 04's progressive column trained for S seeds as one stacked network, against one seed and
against S seeds one after another.

Trains column 3 of a progressive network (learned adapters from columns 1 and 2, the paper's (128, 64) columns,
28x28x3 inputs, SGD, batch 64) for one epoch on random inputs, the way chapter 04 does
(:func:`cl_utils.progressive.train_column`): one network, whose frozen columns run once per split; and ``S``
networks stacked (``models=S``), whose frozen columns run in every batch. Prints seconds per epoch and the
ratio of ``S`` one after another to the stack (above 1: the stack is faster). Not a test: timings depend on the
machine. Run it with

    python benchmarks/stacked_progressive.py [--models 5] [--images 6000] [--device cuda]
"""
from __future__ import annotations

import argparse

import torch

import cl_utils as cl
from cl_utils.progressive import ProgressiveNet, train_column
from cl_utils.streams import Task
from train_loop import timed  # this folder is on sys.path when the script runs


def _epoch_seconds(models: int, task: Task, device: torch.device) -> float:
    """Best of two: one epoch of column 3 of a network of ``models`` stacked."""
    torch.manual_seed(0)
    net = ProgressiveNet(3 * 28 * 28, "learned", models=models).to(device)
    for _ in range(3):
        net.add_column((128, 64), 10)
    net.to(device)
    settings = cl.TrainSettings(epochs=1, batch_size=64, optimizer="sgd", lr=0.1 * models, momentum=0.5)
    return min(timed(lambda: train_column(net, 2, task, settings, seed=0, show_progress=False), device)
               for _ in range(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    n = args.images
    x = torch.rand(n, 3, 28, 28, generator=g) * 2 - 1
    y = torch.randint(0, 10, (n,), generator=g)
    cut = [0, n * 8 // 10, n * 9 // 10, n]  # train, validation, test
    parts = [t[a:b].to(device) for a, b in zip(cut, cut[1:]) for t in (x, y)]
    task = Task("random", *parts, tuple(str(c) for c in range(10)), "random")
    one = _epoch_seconds(1, task, device)
    stacked = _epoch_seconds(args.models, task, device)
    s = args.models
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s); {device.type}; {n} images; S = {s}")
    print(f"| network | one seed: s/epoch | {s} stacked: s/epoch | {s} one after another: s/epoch | "
          f"one after another / stacked |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    print(f"| progressive column 3, learned adapters, (128, 64) | {one:.3f} | {stacked:.3f} | {s * one:.3f} "
          f"| {s * one / stacked:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()

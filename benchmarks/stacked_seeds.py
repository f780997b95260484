"""Benchmark: S seeds of the efficiency chapter's MLP trained as one stacked network vs. one after another.

Runs PackNet with iterative pruning (Ball et al. 2020's Algorithm 1; MLP
784-256-256-2, Adam 1e-3, batch 128) on the five split-MNIST tasks for a short
schedule, once with ``S`` seeds stacked in one :func:`cl_utils.models.stacked_mlp`
and once as ``S`` separate networks, and prints the wall times and their ratio.
Not a test: timings depend on the machine. Run it with

    CL_DATA_DIR=../shared/data python benchmarks/stacked_seeds.py [--seeds 10] [--device cuda]
"""
from __future__ import annotations

import argparse

import torch

import cl_utils as cl
from cl_utils.efficiency import run_method
from cl_utils.models import stacked_mlp
from train_loop import timed  # this folder is on sys.path when the script runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-source", default="auto", choices=cl.data.DATA_SOURCES)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1, help="E and B per task")
    parser.add_argument("--train-per-class", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = cl.resolve_device(args.device)
    base = cl.make_task(cl.load_dataset("mnist", args.data_source), seed=0, train_per_class=args.train_per_class,
                        device=device)  # fmt: skip
    tasks = cl.split_tasks(base, [(2 * i, 2 * i + 1) for i in range(5)])
    train = cl.TrainSettings(args.epochs, 128, "adam", 1e-3)
    kw = dict(retrain_budget=args.epochs, rounds=1, final_free=0.99, show_progress=False)

    def one(num_models: int) -> None:
        model = (stacked_mlp(num_models, 784, [256, 256], [2] * 5) if num_models > 1
                 else cl.mlp(784, [256, 256], [2] * 5))  # fmt: skip
        run_method("packnet", model.to(device), tasks, train, generator=torch.Generator().manual_seed(0), **kw)

    one(1)  # warm-up
    single = timed(lambda: one(1), device)
    sequential = single * args.seeds
    stacked = timed(lambda: one(args.seeds), device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, {len(tasks)} tasks, E = B = {args.epochs}")
    print(f"1 seed: {single:.2f} s; {args.seeds} seeds one after another: {sequential:.2f} s (1 seed x {args.seeds})")
    print(f"{args.seeds} seeds stacked: {stacked:.2f} s = {stacked / single:.2f} x one seed; "
          f"speed-up over sequential {sequential / stacked:.2f} x")


if __name__ == "__main__":
    main()

"""Benchmark: the cost of one PackNet training step, in operator launches and steps per second.

A PackNet step on Split MNIST (MLP 784-256-256-2, Adam 1e-3, batch 128) is what chapters 01
and 02 repeat millions of times. On a GPU such a small step waits on kernel launches and Python,
not arithmetic; on the CPU a small model is overhead-bound the same way, so the count of
launched operators per step (profiler leaf operators: each is one kernel launch on CUDA, one
kernel call on the CPU) and steps per second are the proxy. Two steps are measured:

* ``task 1``: the first task, before any pruning (nothing frozen yet);
* ``task 2``: the second task after task 1 was pruned to half: task 1's weights, the
  biases frozen, the pruned weights held at zero (the step every later task takes).

It runs with the public API only, so the same script measures an older checkout::

    CL_DATA_DIR=../shared/data python benchmarks/packnet_step.py [--device cuda] [--steps 200]

Not a test: timings depend on the machine.
"""
from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

import cl_utils as cl
from cl_utils.models import mlp
from cl_utils.packnet import PackNet
from train_loop import timed  # this folder is on sys.path when the script runs


def _setup(device: torch.device, data_source: str):
    raw = cl.load_dataset("mnist", data_source)
    base = cl.make_task(raw, seed=0, val_fraction=0.0, device=device)
    tasks = cl.split_tasks(base, [[0, 1], [2, 3]])
    torch.manual_seed(0)
    packnet = PackNet(mlp(784, [256, 256], [2, 2]).to(device))
    return packnet, tasks


IMPLEMENTATION: dict = {}  # e.g. {"implementation": "fused"} (--optimizer); empty: the default


def _train(packnet, task, steps: int, batch: int) -> None:
    x, y = task.x_train[: steps * batch], task.y_train[: steps * batch]
    settings = cl.TrainSettings(1, batch, "adam", 1e-3, **IMPLEMENTATION)
    packnet.train_task(x, y, settings, generator=torch.Generator().manual_seed(0), show_progress=False)


#: operators that only allocate, reshape or read metadata: no arithmetic kernel of their own
METADATA = {f"aten::{name}" for name in (
    "as_strided", "view", "empty_strided", "empty", "empty_like", "resolve_conj", "resolve_neg", "expand", "t",
    "transpose", "permute", "reshape", "_unsafe_view", "unsqueeze", "squeeze", "detach", "alias", "lift_fresh",
    "_reshape_alias", "select", "slice", "unbind", "split", "narrow", "flatten", "result_type", "item",
    "_local_scalar_dense", "scalar_tensor", "is_nonzero", "contiguous", "to", "_to_copy", "resize_", "set_")}


def _kernels(event) -> int:
    """Arithmetic kernels an operator runs: its own if none of its children runs one, else theirs."""
    below = sum(_kernels(child) for child in event.cpu_children)
    if below:
        return below
    return int(event.name.startswith("aten::") and event.name not in METADATA)


def _launches(packnet, task, steps: int, batch: int, device: torch.device) -> float:
    """Kernel launches per step over ``steps`` steps: CUDA kernels on a GPU; on the CPU, the
    operators that do arithmetic (profiler events, metadata-only operators left out)."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        timed(lambda: _train(packnet, task, steps, batch), device)  # waits for the device
    events = prof.events()
    if device.type == "cuda":
        return sum(e.device_type == torch.autograd.DeviceType.CUDA for e in events) / steps
    return sum(_kernels(e) for e in events if e.cpu_parent is None) / steps


def _rate(packnet, task, steps: int, batch: int, device: torch.device, repeats: int) -> float:
    """Steps per second, the best of ``repeats`` epochs."""
    return steps / min(timed(lambda: _train(packnet, task, steps, batch), device) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-source", default="auto", choices=cl.data.DATA_SOURCES)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=80, help="steps per timed epoch (at most 90)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs (best is reported)")
    parser.add_argument("--optimizer", choices=("auto", "single", "foreach", "fused"),
                        help="the optimizer's implementation (default: the package's; absent in old checkouts)")
    args = parser.parse_args()
    if args.optimizer:
        IMPLEMENTATION["implementation"] = args.optimizer
    device = cl.resolve_device(args.device)
    packnet, tasks = _setup(device, args.data_source)
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} thread(s); batch {args.batch_size}")
    packnet.start_task()
    _train(packnet, tasks[0], 10, args.batch_size)  # warm-up
    rows = [("task 1", _launches(packnet, tasks[0], 20, args.batch_size, device),
             _rate(packnet, tasks[0], args.steps, args.batch_size, device, args.repeats))]  # fmt: skip
    packnet.prune(0.5)
    packnet.start_task()
    _train(packnet, tasks[1], 10, args.batch_size)
    rows.append(("task 2", _launches(packnet, tasks[1], 20, args.batch_size, device),
                 _rate(packnet, tasks[1], args.steps, args.batch_size, device, args.repeats)))  # fmt: skip
    print("| step | kernel launches per step | steps per second |")
    print("|---|---:|---:|")
    for name, launches, rate in rows:
        print(f"| {name} | {launches:.0f} | {rate:,.0f} |")


if __name__ == "__main__":
    main()

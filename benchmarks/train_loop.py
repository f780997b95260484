"""Benchmark: cl_utils' training loop vs. a plain DataLoader(TensorDataset) loop.

Trains the same MLP (784-256-256-10, Adam 1e-3, batch 64) for one epoch on
MNIST with both loops, from the same initial weights, and prints samples per
second and their ratio, on the CPU and on CUDA when present. Not a test:
timings depend on the machine; run it with ``make benchmark`` or

    CL_DATA_DIR=../shared/data python benchmarks/train_loop.py [--data-source synthetic]
"""
from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import cl_utils as cl


def dataloader_epoch(model, x, y, batch_size: int, lr: float) -> None:
    """The common baseline: a DataLoader over a TensorDataset, batches moved to the device."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    device = next(model.parameters()).device
    loader = DataLoader(TensorDataset(x.cpu(), y.cpu()), batch_size=batch_size, shuffle=True)
    model.train()
    for xb, yb in loader:
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def cl_utils_epoch(model, x, y, batch_size: int, lr: float) -> None:
    """The book's loop: device-resident tensors, index-slice batches."""
    opt = cl.make_optimizer(model.parameters(), "adam", lr)
    cl.fit(model, x, y, epochs=1, batch_size=batch_size, optimizer=opt,
           generator=torch.Generator().manual_seed(0), show_progress=False)  # fmt: skip


def timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-source", default="auto", choices=cl.data.DATA_SOURCES)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="epochs timed per loop (best is reported)")
    args = parser.parse_args()

    raw = cl.load_dataset("mnist", args.data_source)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"MNIST from {raw.source}: {len(raw.y_train)} training images; torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads; batch {args.batch_size}; best of {args.repeats} epoch(s)")
    for device in devices:
        task = cl.make_task(raw, val_fraction=0.0, device=device)
        x, y = task.x_train, task.y_train
        torch.manual_seed(0)
        init = cl.mlp(784, [256, 256], [10]).to(device)
        rates = {}
        for name, epoch in (("DataLoader(TensorDataset)", dataloader_epoch), ("cl_utils.fit", cl_utils_epoch)):
            model = copy.deepcopy(init)
            epoch(model, x[:2048], y[:2048], args.batch_size, 1e-3)  # warm-up
            best = min(timed(lambda: epoch(model, x, y, args.batch_size, 1e-3), device) for _ in range(args.repeats))
            rates[name] = len(y) / best
            print(f"  {device.type:4s} {name:26s} {rates[name]:10.0f} samples/s  ({best:.2f} s/epoch)")
        ratio = rates["cl_utils.fit"] / rates["DataLoader(TensorDataset)"]
        print(f"  {device.type:4s} speed-up of cl_utils.fit: {ratio:.2f}x")


if __name__ == "__main__":
    main()

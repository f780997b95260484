"""Benchmark: a whole PackNet run with the book's code against plain PyTorch loops with the same rules.

Task-incremental Split MNIST (5 tasks of 2 digits, one head each), MLP 784-256-256, Adam 1e-3, batch 128;
every task trains ``--epochs`` epochs, frees half of its weights in each layer by magnitude, retrains
``--retrain-epochs`` epochs and freezes; biases train with task 1 only. Three implementations, from the same
initial weights and data, seeds interleaved (book, plain, plain with a DataLoader, next seed, ...):

* ``book``: :class:`cl_utils.packnet.PackNet` (``start_task``, ``train_task``, ``prune``, ``retrain``), as the
  chapters run it;
* ``book, fused Adam``: the same under ``optimizer_kernel("fused")``, the kernel chapters 00 and 03 train with
  (it rounds differently from the CPU's default, so it is keyed into their records);
* ``plain``: what a careful PyTorch user writes in about 40 lines: the data as tensors, batches as index
  slices of a fresh permutation per epoch, the frozen weights' gradients multiplied by a 0/1 mask after
  ``backward`` (a fresh Adam per phase, so masked entries never move), the k smallest kept weights found with
  ``kthvalue``;
* ``plain, fused Adam``: the same with ``torch.optim.Adam(fused=True)``, what a user who knows the kernel writes;
* ``plain, DataLoader``: the plain loop, batches from ``DataLoader(TensorDataset(x, y), shuffle=True)``, the idiom
  of most tutorials.

It prints each implementation's median seconds over the seeds, the ratios, the final average accuracy (a
check that the rules are the same: the three should agree within noise) and the **FLOP floor**: the run's
training arithmetic (3 x the forward multiply-adds per sample, forward plus both backward products) at the
multiply-add rate this CPU thread reaches on one large matrix product, the time no implementation can beat.
Not a test: timings depend on the machine. ``make benchmark`` runs it::

    CL_DATA_DIR=../shared/data python benchmarks/packnet_vs_plain.py [--seeds 3] [--device cuda]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import cl_utils as cl
from cl_utils.models import mlp
from cl_utils.packnet import PackNet
from cl_utils.train import optimizer_kernel

HIDDEN, HEAD, LR, BATCH, PRUNE = [256, 256], 2, 1e-3, 128, 0.5
PAIRS = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# ----------------------------------------------------------------------------------------------------- the book
def book_fused_run(*args) -> list:
    with optimizer_kernel("fused"):
        return book_run(*args)


def book_run(model: nn.Module, tasks, epochs: int, retrain_epochs: int, seed: int) -> list:
    """The book's PackNet: returns the forward of each task for the evaluation."""
    packnet = PackNet(model)
    g = torch.Generator().manual_seed(seed)
    for task in tasks:
        packnet.start_task()
        x, y = task.split("train")
        packnet.train_task(x, y, cl.TrainSettings(epochs, BATCH, "adam", LR), generator=g, show_progress=False)
        packnet.prune(PRUNE)
        packnet.retrain(x, y, cl.TrainSettings(retrain_epochs, BATCH, "adam", LR), generator=g, show_progress=False)
    return [packnet.forward_for(t) for t in range(1, len(tasks) + 1)]


# ---------------------------------------------------------------------------------------------- the plain loops
def index_batches(x, y, generator):
    perm = torch.randperm(len(x), generator=generator).to(x.device)
    for i in range(0, len(x), BATCH):
        idx = perm[i : i + BATCH]
        yield x[idx], y[idx]


def loader_batches(x, y, generator):
    loader = DataLoader(TensorDataset(x.cpu(), y.cpu()), batch_size=BATCH, shuffle=True, generator=generator)
    for xb, yb in loader:
        yield xb.to(x.device, non_blocking=True), yb.to(x.device, non_blocking=True)


def plain_run(model: nn.Module, tasks, epochs: int, retrain_epochs: int, seed: int, batches=index_batches,
              fused: bool = False) -> list:
    """PackNet written plainly: owner maps, gradient masks, a fresh Adam per phase."""
    weights = {n: p for n, p in model.body.named_parameters() if p.dim() > 1}
    owner = {n: torch.zeros_like(w, dtype=torch.uint8) for n, w in weights.items()}
    g = torch.Generator().manual_seed(seed)

    def train(t: int, x, y, n_epochs: int) -> None:
        params = [p for p in model.body.parameters() if t == 1 or p.dim() > 1] + list(model.heads[t - 1].parameters())
        grad_mask = {n: (owner[n] == t).to(w.dtype) for n, w in weights.items()}
        opt = torch.optim.Adam(params, lr=LR, fused=fused or None)
        model.train()
        for _ in range(n_epochs):
            for xb, yb in batches(x, y, g):
                loss = F.cross_entropy(model.heads[t - 1](model.body(xb)), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                for n, w in weights.items():
                    w.grad.mul_(grad_mask[n])
                opt.step()

    for t, task in enumerate(tasks, start=1):
        x, y = task.split("train")
        for o in owner.values():
            o[o == 0] = t
        train(t, x, y, epochs)
        with torch.no_grad():
            for n, w in weights.items():
                mine = (owner[n] == t).flatten().nonzero().squeeze(1)
                k = round(PRUNE * len(mine))
                if k:
                    cut = w.flatten()[mine].abs().kthvalue(k).values
                    drop = (owner[n] == t) & (w.abs() <= cut)
                    owner[n][drop] = 0
                    w[drop] = 0.0
        train(t, x, y, retrain_epochs)

    def forward_for(t: int):
        masked = {n: w * ((owner[n] > 0) & (owner[n] <= t)) for n, w in weights.items()}

        def forward(xb):
            return model.heads[t - 1](torch.func.functional_call(model.body, masked, (xb,)))
        return forward

    return [forward_for(t) for t in range(1, len(tasks) + 1)]


# ------------------------------------------------------------------------------------------------- measurement
@torch.no_grad()
def mean_accuracy(forwards, tasks) -> float:
    accs = []
    for f, task in zip(forwards, tasks):
        x, y = task.split("test")
        accs.append(float((f(x).argmax(1) == y).float().mean()))
    return 100 * statistics.fmean(accs)


def macs_per_sample() -> int:
    widths = [784, *HIDDEN]
    return sum(a * b for a, b in zip(widths, widths[1:])) + HIDDEN[-1] * HEAD


def mac_rate(device: torch.device, n: int = 1024, repeats: int = 5) -> float:
    """Multiply-adds per second of one large square matrix product on ``device`` (the best of ``repeats``)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return n**3 / best


def sqrt_seconds(values: torch.Tensor, repeats: int = 50) -> float:
    """Seconds of one ``torch.sqrt`` over ``values`` (the best of ``repeats``): the default (foreach) Adam takes the
    square root of every second moment at every step, and a second moment is exactly zero wherever a weight has
    never had a gradient (frozen or pruned entries, input pixels that are always 0)."""
    out, best = torch.empty_like(values), float("inf")
    for _ in range(repeats):
        sync(values.device)
        start = time.perf_counter()
        torch.sqrt(values, out=out)
        sync(values.device)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-source", default="auto", choices=cl.data.DATA_SOURCES)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--retrain-epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the book's runs use 1 per core)")
    parser.add_argument("--profile", action="store_true", help="also profile one run of the book with each Adam kernel "
                        "and print the operators that take the most time")  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = cl.train.resolve_device(args.device)
    raw = cl.load_dataset("mnist", args.data_source)
    tasks = cl.split_tasks(cl.make_task(raw, seed=0, val_fraction=0.0, device=device), PAIRS)
    samples = sum(len(t.split("train")[1]) for t in tasks) * (args.epochs + args.retrain_epochs)
    rate = mac_rate(device)
    floor = 3 * macs_per_sample() * samples / rate

    runners = {"book": book_run, "book, fused Adam": book_fused_run, "plain": plain_run,
               "plain, fused Adam": lambda *a: plain_run(*a, fused=True),
               "plain, DataLoader": lambda *a: plain_run(*a, batches=loader_batches)}  # fmt: skip
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    accuracy: dict[str, list[float]] = {name: [] for name in runners}
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        initial = mlp(784, HIDDEN, [HEAD] * len(tasks)).state_dict()
        for name, run in runners.items():
            model = mlp(784, HIDDEN, [HEAD] * len(tasks)).to(device)
            model.load_state_dict(initial)
            sync(device)
            start = time.perf_counter()
            forwards = run(model, tasks, args.epochs, args.retrain_epochs, seed)
            sync(device)
            seconds[name].append(time.perf_counter() - start)
            accuracy[name].append(mean_accuracy(forwards, tasks))

    med = {name: statistics.median(s) for name, s in seconds.items()}
    print(f"PackNet, task-incremental Split MNIST, MLP 784-{'-'.join(map(str, HIDDEN))}, Adam {LR:g}, batch {BATCH}, "
          f"{args.epochs}+{args.retrain_epochs} epochs per task, prune {PRUNE:.0%}; {device}, {args.threads} "
          f"thread(s), {args.data_source} data; median of {args.seeds} seeds")  # fmt: skip
    print(f"{'implementation':<20} {'seconds':>8} {'plain / this':>13} {'x FLOP floor':>13} {'mean test acc %':>16}")
    for name in runners:
        print(f"{name:<20} {med[name]:8.2f} {med['plain'] / med[name]:13.2f} {med[name] / floor:13.1f} "
              f"{statistics.fmean(accuracy[name]):16.2f}")  # fmt: skip
    if args.profile:
        for name in ("book", "book, fused Adam"):
            torch.manual_seed(0)
            model = mlp(784, HIDDEN, [HEAD] * len(tasks)).to(device)
            with torch.profiler.profile() as prof:
                runners[name](model, tasks, args.epochs, args.retrain_epochs, 0)
            ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
            total = sum(e.self_cpu_time_total for e in ops)
            print(f"profile of {name}: " + ", ".join(f"{e.key} {100 * e.self_cpu_time_total / total:.0f} %"
                                                     for e in ops[:5]))  # fmt: skip
    n = 784 * HIDDEN[0]
    zeros, randoms = sqrt_seconds(torch.zeros(n, device=device)), sqrt_seconds(torch.rand(n, device=device))
    print(f"torch.sqrt of {n:,} zeros: {zeros * 1e6:.0f} us, of {n:,} random values: {randoms * 1e6:.0f} us "
          f"({zeros / randoms:.0f}x): the default Adam's square root of never-updated second moments")  # fmt: skip
    print(f"FLOP floor {floor:.2f} s ({3 * macs_per_sample() * samples / 1e9:.1f} G multiply-adds at "
          f"{rate / 1e9:.1f} G/s)")  # fmt: skip
    for name in ("book", "book, fused Adam"):
        print(f"{name} against plain: {med['plain'] / med[name]:.2f}x; against plain with a DataLoader: "
              f"{med['plain, DataLoader'] / med[name]:.2f}x; against plain with fused Adam: "
              f"{med['plain, fused Adam'] / med[name]:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()

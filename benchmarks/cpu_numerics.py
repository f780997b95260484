"""Benchmark: which CPU numerics pay, network by network (issue: decide the CPU numerics once).

For each network the book trains on the CPU, at its chapter's batch size and optimizer, it times
one training step (forward, loss, backward, optimizer step) of ``cl_utils.fit`` under:

* ``foreach``: multi-tensor optimizer operators (the book's CPU default so far);
* ``fused``: the fused optimizer kernel (the CUDA default; rounds differently from foreach);
* ``channels_last``: the conv nets with NHWC weights and inputs (foreach optimizer);
* ``compile``: ``torch.compile`` of the forward pass (inductor, a C compiler on the machine);

and, for foreach, the two ways of using two cores: one process with two threads against two
one-thread processes at once (the step time each of them sees, and their combined throughput). The variants' epochs alternate in one process, so a drift in the machine's speed hits all alike.
Prints a Markdown table: milliseconds per step and the ratio to ``foreach`` at one thread. Not a test: timings
depend on the machine.

    python benchmarks/cpu_numerics.py [--only mlp256,vgg] [--steps 20] [--repeats 5] [--no-compile]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from cl_utils import models
from cl_utils.train import accelerated, fit, make_optimizer


@dataclass(frozen=True)
class Network:
    """One of the book's networks at its chapter's training shape."""

    name: str
    chapters: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    batch_size: int
    optimizer: str
    lr: float
    momentum: float = 0.0


NETWORKS = {
    n.name: n
    for n in (
        Network("mlp256", "00, 02, 06 (784-256-256, Adam)", lambda: models.mlp(784, [256, 256], [10]),
                (1, 28, 28), 128, "adam", 1e-3),
        Network("clnp_wide", "03 (784-2000-2000, Adam)", lambda: models.mlp(784, [2000, 2000], [10]),
                (1, 28, 28), 256, "adam", 2e-3),
        Network("clnp_narrow", "03 (784-100-100, Adam)", lambda: models.mlp(784, [100, 100], [10]),
                (1, 28, 28), 256, "adam", 2e-3),
        Network("zenke_cnn", "03, 06 (Zenke conv net, Adam)", lambda: models.zenke_cnn([10]),
                (3, 32, 32), 256, "adam", 1e-3),
        Network("ball_cnn", "02 (Ball et al.'s conv net, Adam)", lambda: models.ball_cnn([10]),
                (3, 32, 32), 32, "adam", 1e-3),
        Network("vgg", "01, 05 (VGG-16-BN x0.25, SGD momentum)",
                lambda: models.vgg16([10], width=0.25, batch_norm=True, fc_widths=[1024, 1024]),
                (3, 32, 32), 32, "sgd", 0.01, 0.9),
    )  # fmt: skip
}
CONV = {"zenke_cnn", "ball_cnn", "vgg"}


def _setup(net: Network, variant: str, steps: int) -> Callable[[], None]:
    """One epoch of ``steps`` training steps of a fresh ``net`` under ``variant``, as a callable."""
    torch.manual_seed(0)
    model = net.build()
    x = torch.randn(steps * net.batch_size, *net.input_shape)
    y = torch.randint(0, 10, (len(x),))
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    implementation = "fused" if variant == "fused" else "foreach"
    opt = make_optimizer(model.parameters(), net.optimizer, net.lr, net.momentum, implementation=implementation)
    names = ("compile",) if variant == "compile" else ()

    def one_epoch() -> None:
        with accelerated(*names):
            fit(model, x, y, epochs=1, batch_size=net.batch_size, optimizer=opt,
                forward=lambda xb: model(xb, 0), show_progress=False)  # fmt: skip

    one_epoch()  # warm-up (and compilation)
    return one_epoch


def step_ms(net: Network, variants: list[str], steps: int, repeats: int) -> dict[str, float]:
    """Milliseconds per step of each variant: the variants' epochs interleaved round by round (so a drift of
    the machine's speed hits all of them alike), the median over ``repeats`` rounds."""
    epochs = {v: _setup(net, v, steps) for v in variants}
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(repeats):
        for v, epoch in epochs.items():
            start = time.perf_counter()
            epoch()
            times[v].append(time.perf_counter() - start)
    return {v: 1000 * statistics.median(t) / steps for v, t in times.items()}


def _child(name: str, variants: list[str], steps: int, repeats: int, threads: int) -> subprocess.Popen:
    """:func:`step_ms` in a fresh process with ``threads`` torch threads (read it with :func:`_ms`)."""
    return subprocess.Popen(
        [sys.executable, __file__, "--child", name, ",".join(variants), str(steps), str(repeats), str(threads)],
        stdout=subprocess.PIPE, text=True)  # fmt: skip


def _ms(proc: subprocess.Popen) -> dict[str, float]:
    out, _ = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"benchmark child failed ({proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(NETWORKS), help="comma-separated networks")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed epoch")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (the median is kept)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to warm up)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, variants, steps, repeats, threads = args.child
        torch.set_num_threads(int(threads))
        print(json.dumps(step_ms(NETWORKS[name], variants.split(","), int(steps), int(repeats))))
        return
    print(f"torch {torch.__version__}, {os.cpu_count()} cores. Milliseconds per training step (median of "
          f"{args.repeats} interleaved rounds of {args.steps} steps); in brackets, foreach at one thread / the variant "
          "(above 1: faster). Two processes: each one-thread process's step while the other runs too, and their "
          "combined throughput against one two-thread process.\n")  # fmt: skip
    print("| network | chapters | foreach | fused | compile | channels_last | 2 threads | 2 processes |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in args.only.split(","):
        net = NETWORKS[name]
        variants = ["foreach", "fused"] + ([] if args.no_compile else ["compile"]) + (
            ["channels_last"] if name in CONV else [])  # fmt: skip
        one = _ms(_child(name, variants, args.steps, args.repeats, 1))
        two = _ms(_child(name, ["foreach"], args.steps, args.repeats, 2))["foreach"]
        pair = [_child(name, ["foreach"], args.steps, args.repeats, 1) for _ in range(2)]
        each = statistics.mean(_ms(p)["foreach"] for p in pair)
        base = one["foreach"]
        cell = lambda ms: f"{ms:.2f} ({base / ms:.2f}x)"  # noqa: E731
        cells = [cell(one[v]) if v in one else "-" for v in ("foreach", "fused", "compile", "channels_last")]
        print(f"| {name} | {net.chapters} | {' | '.join(cells)} | {cell(two)} | {cell(each)}, "
              f"throughput {2 * two / each:.2f}x |", flush=True)


if __name__ == "__main__":
    main()

"""Benchmark: which CPU numerics pay, network by network (issue: decide the CPU numerics once).

For each network the book trains on the CPU, at its chapter's batch size and optimizer, it times
one training step (forward, loss, backward, optimizer step) of ``cl_utils.fit`` under:

* ``foreach``: multi-tensor optimizer operators (the book's CPU default so far);
* ``fused``: the fused optimizer kernel (the CUDA default; rounds differently from foreach);
* ``channels_last``: the conv nets with NHWC weights and inputs (foreach optimizer);
* ``compile``: ``torch.compile`` of the forward pass (inductor, a C compiler on the machine);

and, for the default, the two ways of using two cores: one process with two threads
(``threads2``) against two one-thread processes at once (``2 procs``: the step time each of
them sees). Prints milliseconds per step, the median of ``--repeats`` timings of ``--steps`` steps, and the ratio
to ``foreach`` at one thread. Not a test: timings depend on the machine.

    python benchmarks/cpu_numerics.py [--only mlp256,vgg] [--steps 30] [--repeats 3]
"""
from __future__ import annotations

import argparse
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
        Network("mlp256", "00, 02, 04, 06 (784-256-256, Adam)", lambda: models.mlp(784, [256, 256], [10]),
                (1, 28, 28), 128, "adam", 1e-3),
        Network("clnp_wide", "03 (784-2000-2000, Adam)", lambda: models.mlp(784, [2000, 2000], [10]),
                (1, 28, 28), 256, "adam", 2e-3),
        Network("clnp_narrow", "03 (784-100-100, Adam)", lambda: models.mlp(784, [100, 100], [10]),
                (1, 28, 28), 256, "adam", 2e-3),
        Network("zenke_cnn", "03, 06 (Zenke conv net, Adam)", lambda: models.zenke_cnn([10]),
                (3, 32, 32), 256, "adam", 1e-3),
        Network("ball_cnn", "02 (Ball et al.'s conv net, Adam)", lambda: models.ball_cnn([10]),
                (3, 32, 32), 128, "adam", 1e-3),
        Network("vgg", "01, 05 (VGG-16-BN x0.25, SGD momentum)",
                lambda: models.vgg16([10], width=0.25, batch_norm=True, fc_widths=[1024, 1024]),
                (3, 32, 32), 32, "sgd", 0.01, 0.9),
    )  # fmt: skip
}
CONV = {"zenke_cnn", "ball_cnn", "vgg"}


def step_ms(net: Network, variant: str, steps: int, repeats: int) -> float:
    """Milliseconds per training step of ``net`` under ``variant``: median of ``repeats`` timings."""
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
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        one_epoch()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times) / steps


def _child(name: str, variant: str, steps: int, repeats: int, threads: int) -> float:
    """``step_ms`` in a fresh process with ``threads`` threads (returns a process handle's output)."""
    return subprocess.Popen(
        [sys.executable, __file__, "--child", name, variant, str(steps), str(repeats), str(threads)],
        stdout=subprocess.PIPE, text=True)  # fmt: skip


def _ms(proc) -> float:
    out, _ = proc.communicate()
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(NETWORKS), help="comma-separated networks")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, variant, steps, repeats, threads = args.child
        torch.set_num_threads(int(threads))
        print(step_ms(NETWORKS[name], variant, int(steps), int(repeats)))
        return
    print(f"torch {torch.__version__}; ms per step, median of {args.repeats} x {args.steps} steps; "
          "ratio = foreach (1 thread) / variant: above 1 is faster")  # fmt: skip
    print(f"{'network':12} {'variant':14} {'ms/step':>8} {'ratio':>6}")
    for name in args.only.split(","):
        net = NETWORKS[name]
        variants = ["foreach", "fused", "compile"] + (["channels_last"] if name in CONV else [])
        base = None
        for variant in variants:
            ms = _ms(_child(name, variant, args.steps, args.repeats, 1))
            base = base or ms
            print(f"{name:12} {variant:14} {ms:8.2f} {base / ms:6.2f}", flush=True)
        ms2 = _ms(_child(name, "foreach", args.steps, args.repeats, 2))
        print(f"{name:12} {'threads2':14} {ms2:8.2f} {base / ms2:6.2f}", flush=True)
        pair = [_child(name, "foreach", args.steps, args.repeats, 1) for _ in range(2)]
        each = statistics.mean(_ms(p) for p in pair)
        print(f"{name:12} {'2 procs (each)':14} {each:8.2f} {base / each:6.2f}  "
              f"throughput vs threads2: {2 * ms2 / each:.2f}x", flush=True)


if __name__ == "__main__":
    main()

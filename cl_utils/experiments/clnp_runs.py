"""Chapter 03: Continual Learning via Neural Pruning (Golkar et al. 2019).

Runs (kinds): ``wide`` (the 2000-2000 single-head network on permuted MNIST, task-1 grid),
``single_task`` (the same network trained on one task, no L1, no pruning), ``narrow`` (the
100-100 multi-head network, its own task-1 grid, fine-tuning rounds), ``cifar`` (split CIFAR
with the Zenke et al. conv net, one run per margin, plus a wider network for Fig. 3b); each kind's
config is a typed :class:`~.run_config.RunConfig` (``WideRun``, ``SingleTaskRun``, ``NarrowRun``, ``CifarRun``).

Why one module (over 300 lines): one chapter's parameters, run configs, plan and run functions, read
together (its report is :mod:`.clnp_report`, :mod:`.clnp_figures` and :mod:`.clnp_findings`).
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Mapping

import numpy as np
import torch

from ..clnp import CLNP
from ..clnp_schedule import run_sequence, run_stacked_sequence
from ..clnp_stack import CLNPStack
from ..models import mlp, stacked_mlp, stacked_state, zenke_cnn
from ..streams import Task, permutations, permuted_tasks, split_tasks
from ..train import TrainSettings, accuracy_per_model, evaluate, fit, make_optimizer, set_seed
from .data_cache import task
from .runs import Run, RunContext, mlp_cost
from .params import ParameterError, param
from .params import Params as BaseParams
from .run_config import RunConfig, optional
from .stacking import member_fields, member_groups

CHAPTER = "03_clnp"
# per kind: 2 for the runs retrained on 2026-12-04 (each repetition its own validation split; fine-tuning as the
# paper does it, also keyed by finetune_l1 / end_on_finetune); the CIFAR runs without fine-tuning compute as before
CODE_VERSION = {"wide": 2, "single_task": 2, "narrow": 2, "cifar": 1}
# the CPU numerics (benchmarks/cpu_numerics.py): the fused Adam kernel is 1.2x faster per step on both MLPs and
# the default on CUDA, so every MLP run trains with it on every device (keyed: records made under foreach on the
# CPU are not reused); the conv net gains under 10 % from it and keeps the device's default
OPTIMIZER_KERNEL = {"wide": "fused", "single_task": "fused", "narrow": "fused"}


@dataclasses.dataclass
class Params(BaseParams):
    # permuted MNIST (both networks)
    num_tasks: int = param(10, "permuted-MNIST tasks", min=2, max=50)
    val_fraction: float = param(0.1, "share of each class held out to choose theta", min=0.01, max=0.5)
    batch_size: int = param(256, "minibatch size", min=1, max=65536)
    epochs_per_task: int = param(20, "epochs per task", min=1, max=1000)
    repetitions: int = param(5, "repetitions of the wide experiment (paper: 5)", min=1, max=100)
    narrow_repetitions: int = param(5, "repetitions of the narrow experiment", min=1, max=100)
    # wide single-head network (paper section 4)
    wide_hidden: list[int] = param([2000, 2000], "hidden widths of the wide network", min=1, min_length=1)
    wide_lr: float = param(0.002, "Adam learning rate of the single-task baseline (the wide runs take the task-1 "
                          "grid's)", min=1e-8, max=1.0)  # fmt: skip
    wide_alphas: list[float] = param([1e-7, 1e-5, 1e-6], "L1 strength: first, second, output layer", min=0.0,
                                    min_length=1)  # fmt: skip
    wide_margin: float = param(0.05, "graceful-forgetting margin (accuracy points)", min=0.0, max=100.0)
    grid_lrs: list[float] = param([0.002], "task-1 grid: learning rates (the paper searched, then settled on 0.002) ...",
                                 min=1e-8, max=1.0, min_length=1)  # fmt: skip
    grid_alpha_scales: list[float] = param([1.0], "... times wide_alphas (the paper settled on x1)", min=0.0,
                                          min_length=1)  # fmt: skip
    single_task_repetitions: int = param(5, "repetitions of the single-task baseline (each trains all tasks alone)",
                                        min=1, max=100)  # fmt: skip
    stack_repetitions: bool = param(True, "train the repetitions of a wide or narrow setting as one stacked network "
                                    "(each its own initial weights, validation split, permutations and task-1 grid "
                                    "point); off: one run per repetition (a CPU gains nothing: CONTRIBUTING)")
    stack_tasks: bool = param(True, "train a repetition's single-task networks as one stacked network (each task a "
                              "model reading its own permutation of the shared images); off: one run per task (a "
                              "CPU gains nothing: CONTRIBUTING)")  # fmt: skip
    check_grid_lrs: list[float] = param([0.001, 0.002, 0.005], "our check of section 3.2's selection on the wide "
                                       "network: a task-1 grid of learning rates ...", min=1e-8, max=1.0,
                                       min_length=1)  # fmt: skip
    check_grid_alpha_scales: list[float] = param([0.1, 1.0, 10.0], "... times wide_alphas ...", min=0.0, min_length=1)
    check_grid_reps: list[int] = param([0, 2], "... in these repetitions (empty: no check)", min=0, unique=True)
    # narrow multi-head network: its own task-1 grid (section 3.2)
    narrow_hidden: list[int] = param([100, 100], "hidden widths of the narrow network", min=1, min_length=1)
    narrow_margin: float = param(3.0, "its margin (accuracy points; the paper used 3)", min=0.0, max=100.0)
    narrow_margin_scan: list[float] = param([4.0, 5.0, 6.0], "more margins: the paper chose m so that the network "
                                           "is full only after the last task", min=0.0, max=100.0,
                                           unique=True)  # fmt: skip
    narrow_scan_repetitions: int = param(1, "repetitions of each scanned margin", min=0, max=100)
    narrow_finetune_iterations: int = param(2, "fine-tuning rounds after pruning", min=0, max=10)
    finetune_epochs: int = param(5, "epochs per fine-tuning round", min=1, max=1000)
    narrow_alphas: list[float] = param([1e-5, 1e-5, 1e-5], "L1 strength: first, second, output layer ...", min=0.0,
                                      min_length=1)  # fmt: skip
    narrow_grid_alpha_scales: list[float] = param([1.0, 10.0, 100.0], "... times these", min=0.0, min_length=1)
    narrow_grid_lrs: list[float] = param([0.001, 0.002, 0.005], "its task-1 grid of learning rates", min=1e-8,
                                        max=1.0, min_length=1)  # fmt: skip
    finetune_l1: bool = param(False, "keep the L1 penalty on while fine-tuning (off: the paper retrains the "
                                    "surviving weights)")  # fmt: skip
    end_on_finetune: bool = param(True, "end each task on its last fine-tune (the paper); off: re-prune after it")
    normalise_units: bool = param(True, "MLPs: after each task, rescale its units to mean activity 1 (no output "
                                       "changes); without it, old units' large activity starves later tasks' new "
                                       "units")  # fmt: skip
    unrescaled_repetitions: list[int] = param([0, 1], "narrow repetitions at the paper's margin also run without "
                                             "the unit rescaling, to measure what it changes", min=0,
                                             unique=True)  # fmt: skip
    layer_alpha_values: list[float] = param([1e-4, 3e-4, 1e-3, 3e-3], "per-layer L1 values (the paper allows one "
                                           "alpha per layer), from the uniform grid's middle alpha to above its "
                                           "largest, which it keeps at most margins: every combination over the "
                                           "hidden layers joins the task-1 grid ...", min=0.0,
                                           min_length=1)  # fmt: skip
    layer_alpha_repetitions: list[int] = param([0, 1], "... in these narrow repetitions at the paper's margin "
                                              "(empty: none)", min=0, unique=True)  # fmt: skip
    narrow_per_layer_theta: bool = param(True, "one activity threshold per hidden layer (the paper allows it)")
    # split CIFAR (Fig. 3)
    cifar_stream: str = param("cifar100", "'cifar100' (the paper) | 'cifar10_pairs' (a stand-in)",
                             choices=("cifar100", "cifar10_pairs"))  # fmt: skip
    cifar_tasks: int = param(6, "tasks shown, the first being CIFAR-10", min=2, max=11)
    cifar_train_per_class: int = param(0, "training images per class; 0 = all", min=0)
    cifar_val_fraction: float = param(0.1, "share of each class held out to choose theta", min=0.01, max=0.5)
    cifar_epochs: int = param(60, "epochs per task (Zenke et al.'s split-CIFAR setting)", min=1, max=1000)
    cifar_lr: float = param(1e-3, "Adam learning rate", min=1e-8, max=1.0)
    cifar_alphas: list[float] = param([1e-6, 1e-6, 1e-6, 1e-6, 1e-5, 1e-5], "L1: conv1-4, fc, output",
                                     min=0.0, min_length=6)  # fmt: skip
    cifar_margins: list[float] = param([1.0, 2.0, 4.0], "margins, one run each (accuracy points)", min=0.0, max=100.0,
                                      min_length=1)  # fmt: skip
    cifar_finetune: list[bool] = param([False, False, True], "fine-tuning round (1) for each margin", min_length=1)
    cifar_normalise_units: bool = param(True, "the same rescaling for the conv net's channels")
    cifar_wide_width: float = param(2.0, "Fig. 3b: width multiplier of the wider network", min=0.1, max=8.0)
    seed: int = param(0, "seed of the data and of repetition 0 (repetition r uses seed + r)", min=0)

    def check(self) -> None:
        for name, hidden in (("wide_alphas", self.wide_hidden), ("narrow_alphas", self.narrow_hidden)):
            if len(getattr(self, name)) != len(hidden) + 1:
                raise ParameterError(f"parameter '{name}' needs exactly {len(hidden) + 1} values (each hidden layer "
                                     f"and the output); got {getattr(self, name)!r}")  # fmt: skip
        if len(self.cifar_alphas) != 6:
            raise ParameterError(f"parameter 'cifar_alphas' needs exactly 6 values (conv1-4, fc, output); got "
                                 f"{self.cifar_alphas!r}")  # fmt: skip
        if len(self.cifar_finetune) != len(self.cifar_margins):
            raise ParameterError(f"parameter 'cifar_finetune' must be a list of {len(self.cifar_margins)} booleans "
                                 f"(one per margin); got {self.cifar_finetune!r}")  # fmt: skip
        if self.cifar_stream == "cifar10_pairs" and self.cifar_tasks > 6:
            raise ParameterError(f"parameter 'cifar_tasks' must be <= 6 with cifar10_pairs; got {self.cifar_tasks}")


@dataclasses.dataclass(frozen=True)
class PermutedRun(RunConfig):
    """What every permuted-MNIST run shares: the stream and its minibatches."""

    num_tasks: int
    val_fraction: float
    batch_size: int
    epochs_per_task: int


@dataclasses.dataclass(frozen=True)
class WideRun(PermutedRun):
    """The wide single-head network over the whole stream, task 1's grid point chosen by graceful forgetting."""

    hidden: list[int]
    alphas: list[float]
    margin: float  # accuracy points
    grid_lrs: list[float]
    grid_alpha_scales: list[float]
    normalise_units: bool | None = optional()  # True, or absent (records made before the rescaling: off)
    rep: int
    seed: int
    data_seed: int
    reps: list[int] | None = optional()  # stacked: these repetitions as one network (``rep`` is the first)


@dataclasses.dataclass(frozen=True)
class SingleTaskRun(PermutedRun):
    """The wide network trained on task ``task`` of a repetition's stream alone (no L1, no pruning); with ``tasks``,
    those tasks of the repetition as one stacked network (``task`` is the first)."""

    hidden: list[int]
    lr: float
    task: int
    rep: int
    seed: int
    data_seed: int
    tasks: list[int] | None = optional()  # stacked: every task of the repetition (absent: ``task`` alone)


@dataclasses.dataclass(frozen=True)
class NarrowRun(PermutedRun):
    """The narrow multi-head network over the whole stream, with its own task-1 grid and fine-tuning rounds."""

    hidden: list[int]
    alphas: list[float]
    grid_lrs: list[float]
    grid_alpha_scales: list[float]
    per_layer_theta: bool
    margin: float  # accuracy points
    finetune_iterations: int
    finetune_epochs: int
    finetune_l1: bool
    end_on_finetune: bool
    normalise_units: bool | None = optional()  # True, or absent (off)
    layer_alphas: list[float] | None = optional()  # per-layer L1 values added to task 1's grid (absent: none)
    rep: int
    seed: int
    data_seed: int
    reps: list[int] | None = optional()  # stacked: these repetitions as one network (``rep`` is the first)


@dataclasses.dataclass(frozen=True)
class CifarRun(RunConfig):
    """Split CIFAR with the Zenke et al. conv net at one margin (``width`` x its channels)."""

    stream: str
    tasks: int
    val_fraction: float
    train_per_class: int
    epochs: int
    lr: float
    alphas: list[float]
    batch_size: int
    seed: int
    normalise_units: bool | None = optional()  # True, or absent (off)
    margin: float
    finetune: bool
    width: float
    finetune_l1: bool | None = optional()  # only on runs that fine-tune (absent: the L1 penalty stays on)
    end_on_finetune: bool | None = optional()  # only on runs that fine-tune (absent: re-prune after it)


def plan(p: Params) -> list[Run]:
    common = dict(num_tasks=p.num_tasks, val_fraction=p.val_fraction, batch_size=p.batch_size,
                  epochs_per_task=p.epochs_per_task)  # fmt: skip
    examples = 60_000 * (1 - p.val_fraction) * p.num_tasks
    wide_cost = mlp_cost(784, p.wide_hidden, 10, examples, p.epochs_per_task * (1 + len(p.grid_lrs) * len(p.grid_alpha_scales) / p.num_tasks))
    narrow_cost = mlp_cost(784, p.narrow_hidden, 10, examples, p.epochs_per_task * 3)
    # the unit rescaling (cl_utils.clnp.CLNP.normalise_units): in the key of the runs that use it (older records: off)
    normalising = {"normalise_units": True} if p.normalise_units else {}
    wide = dict(common, hidden=p.wide_hidden, alphas=p.wide_alphas, margin=p.wide_margin,
                grid_lrs=p.grid_lrs, grid_alpha_scales=p.grid_alpha_scales, **normalising)  # fmt: skip
    # how fine-tuning runs: in the key of every run that fine-tunes (and only there)
    finetuning = dict(finetune_l1=p.finetune_l1, end_on_finetune=p.end_on_finetune)
    narrow = dict(common, hidden=p.narrow_hidden, alphas=p.narrow_alphas, grid_lrs=p.narrow_grid_lrs,
                  grid_alpha_scales=p.narrow_grid_alpha_scales, per_layer_theta=p.narrow_per_layer_theta,
                  margin=p.narrow_margin, finetune_iterations=p.narrow_finetune_iterations,
                  finetune_epochs=p.finetune_epochs, **finetuning, **normalising)  # fmt: skip
    cifar = dict(stream=p.cifar_stream, tasks=p.cifar_tasks, val_fraction=p.cifar_val_fraction,
                 train_per_class=p.cifar_train_per_class, epochs=p.cifar_epochs, lr=p.cifar_lr, alphas=p.cifar_alphas,
                 batch_size=p.batch_size, seed=p.seed,
                 **({"normalise_units": True} if p.cifar_normalise_units else {}))  # fmt: skip
    cifar_sets = ("cifar10",) if p.cifar_stream == "cifar10_pairs" else ("cifar10", "cifar100")
    cifar_cost = 3 * 1.5e8 * (p.cifar_train_per_class * 10 or 50_000) * p.cifar_epochs * p.cifar_tasks / 6
    # repetition r: its own seed, its own validation split and its own permutations
    rep = lambda r: dict(rep=r, seed=p.seed + r, data_seed=p.seed + r)  # noqa: E731
    # a group of repetitions: one each, or all of them as one stacked network (``reps``; its first's seeds)
    reps_of = lambda g: rep(g[0]) | member_fields(g, member="rep", members="reps")  # noqa: E731
    stacks = lambda reps: member_groups(reps, p.stack_repetitions)  # noqa: E731
    runs = [Run("wide", WideRun(**wide, **reps_of(g)), ("mnist",), wide_cost * len(g))
            for g in stacks(range(p.repetitions))]  # fmt: skip
    # the check judges task 1's selection, made before any rescaling: its runs never rescale (nor did its records)
    check = {k: x for k, x in wide.items() if k != "normalise_units"}
    check.update(grid_lrs=p.check_grid_lrs, grid_alpha_scales=p.check_grid_alpha_scales)
    check_cost = mlp_cost(784, p.wide_hidden, 10, examples, p.epochs_per_task * (1 + len(p.check_grid_lrs) *
                                                                                 len(p.check_grid_alpha_scales) / p.num_tasks))  # fmt: skip
    runs += [Run("wide", WideRun(**check, **reps_of(g)), ("mnist",), check_cost * len(g))
             for g in stacks(p.check_grid_reps)
             if (p.check_grid_lrs, p.check_grid_alpha_scales) != (p.grid_lrs, p.grid_alpha_scales)]
    # the single-task baseline: every task of every repetition's stream, alone, without L1 or pruning
    groups = [list(range(p.num_tasks))] if p.stack_tasks else [[t] for t in range(p.num_tasks)]
    runs += [Run("single_task", SingleTaskRun(**common, hidden=p.wide_hidden, lr=p.wide_lr, task=g[0], **rep(r),
                                              **({"tasks": g} if len(g) > 1 else {})),
                 ("mnist",), wide_cost / p.num_tasks / 2 * len(g))
             for r in range(p.single_task_repetitions) for g in groups]  # fmt: skip
    # the paper's margin first, then the scan: each margin's first repetition before the others'
    margins = [p.narrow_margin, *(m for m in p.narrow_margin_scan if m != p.narrow_margin)]
    reps = {m: p.narrow_repetitions if m == p.narrow_margin else p.narrow_scan_repetitions for m in margins}
    stacks_of = {m: stacks(range(reps[m])) for m in margins}
    in_order = [(m, stacks_of[m][i]) for i in range(max(map(len, stacks_of.values()))) for m in margins
                if i < len(stacks_of[m])]  # every margin's first group, then every margin's second, ...
    runs += [Run("narrow", NarrowRun(**(narrow | {"margin": m}), **reps_of(g)), ("mnist",), narrow_cost * len(g))
             for m, g in in_order]  # fmt: skip
    if p.normalise_units:  # the comparison: the same repetitions without the rescaling
        unrescaled = {k: x for k, x in narrow.items() if k != "normalise_units"}
        runs += [Run("narrow", NarrowRun(**unrescaled, **reps_of(g)), ("mnist",), narrow_cost * len(g))
                 for g in stacks(p.unrescaled_repetitions)]  # fmt: skip
    # the finer task-1 grid (per-layer alphas): its task 1 trains 1 + (grid points added) / (uniform points) times
    combos = len(p.layer_alpha_values) ** len(p.narrow_hidden) * len(p.narrow_grid_lrs)
    layered = narrow_cost * (1 + combos / (len(p.narrow_grid_lrs) * len(p.narrow_grid_alpha_scales) + 2 * p.num_tasks))
    runs += [Run("narrow", NarrowRun(**narrow, layer_alphas=p.layer_alpha_values, **reps_of(g)), ("mnist",),
                 layered * len(g))
             for g in stacks(p.layer_alpha_repetitions)]  # fmt: skip
    runs += [Run("cifar", CifarRun(**cifar, margin=m, finetune=f, width=1.0, **(finetuning if f else {})), cifar_sets,
                 cifar_cost)
             for m, f in zip(p.cifar_margins, p.cifar_finetune)]  # fmt: skip
    wide_margin = p.cifar_margins[1 if len(p.cifar_margins) > 1 else 0]
    runs += [Run("cifar", CifarRun(**cifar, margin=wide_margin, finetune=False, width=p.cifar_wide_width), cifar_sets,
                 cifar_cost * p.cifar_wide_width ** 2)]  # fmt: skip
    return runs


def permuted_stream(c: WideRun | SingleTaskRun | NarrowRun, ctx: RunContext) -> list[Task]:
    base = task("mnist", ctx.data_source, ctx.device, val_fraction=c.val_fraction, seed=c.data_seed)
    return permuted_tasks(base, c.num_tasks, seed=1000 + c.rep)


def cifar_tasks(c: CifarRun, ctx: RunContext) -> list[Task]:
    """CIFAR-10, then CIFAR-100 in 10-class blocks (the paper) or CIFAR-10's class pairs (the stand-in)."""
    opts = dict(val_fraction=c.val_fraction, seed=c.seed, train_per_class=c.train_per_class)
    first = task("cifar10", ctx.data_source, ctx.device, **opts)
    if c.stream == "cifar10_pairs":
        return [first, *split_tasks(first, [(2 * i, 2 * i + 1) for i in range(5)][: c.tasks - 1], relabel=True)]
    t100 = task("cifar100", ctx.data_source, ctx.device, **opts)
    return [first, *split_tasks(t100, [list(range(10 * i, 10 * i + 10)) for i in range(c.tasks - 1)], relabel=True)]


def repetition_seeds(first: Mapping[str, int], r: int) -> dict[str, int]:
    """Repetition ``r``'s seed and data seed in a stack whose config (``first``: its ``rep``, ``seed``,
    ``data_seed``) names its first repetition: offset from the first's, as the plan draws them (seed + r)."""
    return {k: first[k] + r - first["rep"] for k in ("seed", "data_seed")}


def repetitions(c: WideRun | NarrowRun) -> list[WideRun | NarrowRun]:
    """The repetitions a run trains: itself, or each of a stack's ``reps`` as its own unstacked run (its own
    ``rep``, seed and data seed: :func:`repetition_seeds`)."""
    if not c.reps:
        return [c]
    first = {"rep": c.rep, "seed": c.seed, "data_seed": c.data_seed}
    return [dataclasses.replace(c, rep=r, reps=None, **repetition_seeds(first, r)) for r in c.reps]


def run_clnp_repetitions(c: WideRun | NarrowRun, ctx: RunContext, head_sizes: list[int], *, single_head: bool,
                         **options) -> dict:  # fmt: skip
    """CLNP over the permuted stream of each repetition of ``c`` (:func:`repetitions`): one network, or with ``reps``
    a :class:`~cl_utils.clnp_stack.CLNPStack` whose model ``s`` starts from the weights repetition ``s``'s own run
    draws and learns its own stream (``per_rep``: each repetition's result, as one run's)."""
    members = repetitions(c)
    streams, networks = [], []
    for m in members:  # each repetition's draws in its own run's order: its seed, its stream, its network
        set_seed(m.seed)
        streams.append(permuted_stream(m, ctx))
        networks.append(mlp(784, c.hidden, head_sizes))
    if not c.reps:
        return run_sequence(CLNP(networks[0].to(ctx.device), single_head=single_head), streams[0], seed=c.seed,
                            show_progress=ctx.show_progress, **options)  # fmt: skip
    model = stacked_mlp(len(members), 784, c.hidden, head_sizes)
    model.load_state_dict(stacked_state(model, [n.state_dict() for n in networks]))
    stack = CLNPStack(model.to(ctx.device), 784, c.hidden, head_sizes, single_head=single_head)
    return {"per_rep": run_stacked_sequence(stack, streams, seed=c.seed, show_progress=ctx.show_progress, **options)}


def run_wide(c: WideRun, ctx: RunContext) -> dict:
    grid = [(TrainSettings(c.epochs_per_task, c.batch_size, "adam", lr), [a * s for a in c.alphas])
            for lr in c.grid_lrs for s in c.grid_alpha_scales]  # fmt: skip
    settings, alphas = grid[0]  # replaced by the grid point task 1 keeps
    return run_clnp_repetitions(c, ctx, [10], single_head=True, settings=settings, alphas=alphas,
                                margin=c.margin / 100, first_task_grid=grid,
                                normalise_units=bool(c.normalise_units))  # fmt: skip


def run_single_task(c: SingleTaskRun, ctx: RunContext) -> dict:
    """Single-task training (no L1, no pruning) of the wide network on one task of the stream; with ``tasks``, each
    of them as one model of a stacked network that reads its task's permutation of the shared images (its own
    initial weights and data order): ``test_acc`` per task, in order."""
    generator = set_seed(c.seed)
    if c.tasks:
        base = task("mnist", ctx.data_source, ctx.device, val_fraction=c.val_fraction, seed=c.data_seed)
        perms = permutations(784, c.num_tasks, seed=1000 + c.rep)  # the stream's (:func:`permuted_stream`)
        model = stacked_mlp(len(c.tasks), 784, c.hidden, [10], torch.stack([perms[t] for t in c.tasks]))
        x, y = base.x_train, base.y_train
    else:
        t = permuted_stream(c, ctx)[c.task]
        model, x, y = mlp(784, c.hidden, [10]), t.x_train, t.y_train
    model = model.to(ctx.device)
    fit(model, x, y, epochs=c.epochs_per_task, batch_size=c.batch_size,
        optimizer=make_optimizer(model.parameters(), "adam", c.lr), generator=generator, show_progress=ctx.show_progress)
    if c.tasks:
        return {"test_acc": accuracy_per_model(model, *base.split("test"), forward=lambda xb: model(xb, 0))}
    return {"test_acc": evaluate(model, *t.split("test"))[1]}


def narrow_grid(c: NarrowRun) -> list[tuple[TrainSettings, list[float]]]:
    """The narrow network's task-1 grid: every learning rate with the uniform alphas (``alphas`` x each scale), and,
    with ``layer_alphas``, with every combination of those values over the hidden layers (the output layer takes
    the last hidden layer's value); points equal to a uniform one are not repeated."""
    points = [(lr, [a * s for a in c.alphas]) for lr in c.grid_lrs for s in c.grid_alpha_scales]
    for lr in c.grid_lrs:
        for combo in itertools.product(c.layer_alphas or [], repeat=len(c.hidden)):
            alphas = [*combo, combo[-1]]
            if not any(lr == q and np.allclose(alphas, b, rtol=1e-9, atol=0) for q, b in points):
                points.append((lr, alphas))
    return [(TrainSettings(c.epochs_per_task, c.batch_size, "adam", lr), alphas) for lr, alphas in points]


def run_narrow(c: NarrowRun, ctx: RunContext) -> dict:
    grid = narrow_grid(c)
    settings, alphas = grid[0]  # replaced by the grid point task 1 keeps
    finetune = TrainSettings(c.finetune_epochs, c.batch_size, "adam", settings.lr)
    return run_clnp_repetitions(c, ctx, [10] * c.num_tasks, single_head=False, settings=settings, alphas=alphas,
                                margin=c.margin / 100, first_task_grid=grid, per_layer=c.per_layer_theta,
                                finetune_iterations=c.finetune_iterations, finetune=finetune,
                                finetune_l1=c.finetune_l1, end_on_finetune=c.end_on_finetune,
                                normalise_units=bool(c.normalise_units))  # fmt: skip


def run_cifar(c: CifarRun, ctx: RunContext) -> dict:
    tasks = cifar_tasks(c, ctx)
    set_seed(c.seed)
    clnp = CLNP(zenke_cnn([t.num_classes for t in tasks], width=c.width).to(ctx.device))
    settings = TrainSettings(c.epochs, c.batch_size, "adam", c.lr)
    finetune = TrainSettings(max(1, c.epochs // 4), c.batch_size, "adam", c.lr)
    return run_sequence(clnp, tasks, settings, alphas=c.alphas, margin=c.margin / 100,
                        finetune_iterations=int(c.finetune), finetune=finetune, seed=c.seed,
                        show_progress=ctx.show_progress, finetune_l1=c.finetune_l1 is not False,
                        end_on_finetune=bool(c.end_on_finetune),
                        normalise_units=bool(c.normalise_units))  # fmt: skip


RUNNERS = {"wide": run_wide, "single_task": run_single_task, "narrow": run_narrow, "cifar": run_cifar}

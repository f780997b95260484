"""Chapter 01: PackNet (Mallya & Lazebnik 2018) on an initial task and three added tasks.

Runs (kinds): ``initial`` (train the initial task; its state is a checkpoint),
``initial_pruned`` (prune it by weights or filters and retrain; checkpoint),
``packnet`` (add the three tasks in one order), ``lwf`` and ``single_task``
(the baselines), ``fig4`` (prune one added task at several fractions), ``fig5``
(which layers the freed weights of a new task are trained in) and ``filter_task``
(Table 6: a task added after filter pruning).

Each kind's config is a typed :class:`~.run_config.RunConfig` (``InitialRun``, ``PrunedInitialRun``,
``PackNetRun``, ``LwfRun``, ``SingleTaskRun``, ``Fig4Run``, ``Fig5Run``, ``FilterTaskRun``): the stages'
configs are the fields later runs share.

Why one module (over 300 lines): one chapter's parameters, run configs, plan and run functions, read together
(its report is :mod:`.packnet_report` and :mod:`.packnet_figures`).
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
from typing import Any, Callable, Sequence

import torch

from .. import data
from ..baselines import train_head_only
from ..lwf import lwf_train_task
from ..models import MultiHeadNet, num_models, stacked_state, stacked_vgg16, vgg16
from ..packnet import PackNet, filter_prune, pack_owners, reset_unread_batchnorm
from ..streams import Task
from ..taylor_pruning import taylor_filter_prune
from ..train import EpochStats, TrainSettings, accuracy_per_model, evaluate, fit, set_seed
from .data_cache import carved_datasets, is_carved, task
from .runs import Run, RunContext
from .stacking import member_fields, member_groups
from .params import ParameterError, param
from .params import Params as BaseParams
from .run_config import RunConfig, config_type, optional

CHAPTER = "01_packnet"
#: the ``network_variant`` of Table 2's like-for-like runs on the network without batch-norm (``without_bn_epochs``)
WITHOUT_BN = "table2_without_bn"
#: training images of each dataset's smallest class (the full training split), the most a class can give
SMALLEST_CLASS = {"mnist": 5_421, "fashion_mnist": 6_000, "kmnist": 6_000, "emnist": 2_400, "svhn": 4_659,
                  "cifar10": 5_000, "cifar100": 500}  # fmt: skip
#: per run kind; packnet 2: each order has its own seed (before, orders with the same first task shared one)
CODE_VERSION = {"initial": 1, "initial_pruned": 1, "packnet": 2, "lwf": 1, "single_task": 1, "fig4": 1, "fig5": 1,
                "filter_task": 1}
NAMES = sorted(data.DATASETS)


@dataclasses.dataclass
class Params(BaseParams):
    # tasks: an initial task in ImageNet's role, then three added tasks (CUBS, Cars, Flowers' role)
    initial_dataset: str = param("cifar10", "the initial task (ImageNet's role)", choices=NAMES)
    added_datasets: list[str] = param(["fashion_mnist", "mnist", "kmnist"], "three different added tasks",
                                     choices=NAMES, min_length=3, unique=True)  # fmt: skip
    initial_train_per_class: int = param(0, "images per class of the initial task; 0 = all", min=0)
    train_per_class: int = param(0, "training images per class of each added task; 0 = all", min=0)
    test_per_class: int = param(0, "test images per class; 0 = the whole test split", min=0)
    train_from_test: float = param(0.8, "test share trained on when no train split (KMNIST)", min=0.1, max=0.95)  # fmt: skip
    val_fraction: float = param(0.1, "share of each class held out to watch training (never the test split)",
                               min=0.01, max=0.5)  # fmt: skip
    # network: the VGG-16 layout for 32 px inputs
    width: float = param(1.0, "multiplier of the conv widths (1.0 = 4,224 filters)", min=1 / 64, max=4.0)
    fc_widths: list[int] = param([4096, 4096], "widths of fc6 and fc7", min=1, min_length=1)
    batch_norm: bool = param(False, "batch-norm after each conv (the paper's main network has none)")
    # initial task, trained from scratch (the paper starts from ImageNet weights)
    initial_epochs: int = param(60, "epochs on the initial task", min=1, max=1000)
    initial_lr: float = param(0.01, "SGD learning rate on the initial task", min=1e-8, max=10.0)
    initial_lr_decay_epoch: int = param(40, "lr x 0.1 after this epoch (0 = never)", min=0, max=1000)
    initial_retrain_epochs: int = param(10, "retraining after the initial pruning (paper: 10)", min=1, max=1000)
    initial_retrain_lr: float = param(1e-3, "its learning rate (paper: 1e-3)", min=1e-8, max=10.0)
    initial_retrain_decay_epoch: int = param(5, "its lr x 0.1 after this epoch (paper: 5)", min=0, max=1000)
    schedules: list[list[float]] = param([[0.5, 0.75, 0.75], [0.75, 0.75, 0.75]], "prune fractions per task", min=0.0, max=0.99, min_length=1)  # fmt: skip
    # added tasks (paper section 4)
    finetune_epochs: int = param(20, "epochs of each added task", min=1, max=1000)
    finetune_lr: float = param(1e-3, "their SGD learning rate", min=1e-8, max=10.0)
    lr_decay_epoch: int = param(10, "lr x 0.1 after this epoch (0 = never)", min=0, max=1000)
    retrain_epochs: int = param(10, "retraining after pruning an added task", min=1, max=1000)
    retrain_lr: float = param(1e-4, "its learning rate", min=1e-8, max=10.0)
    batch_size: int = param(32, "minibatch size", min=1, max=4096)
    momentum: float = param(0.9, "SGD momentum", min=0.0, max=0.999)
    without_bn_epochs: int = param(0, "with batch_norm: also the paper's Table 2 network, without batch-norm, like for "
                                  "like: its initial task trained this many epochs (lr x 0.1 after two thirds), "
                                  "pruned by the first schedule's fraction, then PackNet (first schedule, run 0 of "
                                  "each order) and the Individual Networks on it (0: not run)", min=0,
                                  max=1000)  # fmt: skip
    batchnorm_per_task: bool = param(True, "with batch_norm: also PackNet (first schedule, run 0 of each order) with "
                                    "per-task batch-norm, as individual networks re-fit it (the paper's section 4)")
    scale_trend: list[float] = param([], "Table 2's gap to Individual Networks again at these multiples of the "
                                    "images per class (initial and added tasks alike; epochs as the chapter's): for "
                                    "each, its own initial network, pruned by the first schedule's fraction, then "
                                    "PackNet (first schedule, run 0 of each order) and the Individual Networks on it; "
                                    "needs initial_train_per_class and train_per_class above 0 (empty: not run)",
                                    min=0.01, max=100.0, unique=True)  # fmt: skip
    runs_per_order: int = param(3, "PackNet runs per order of the added tasks (paper: 3 x 6 orders)", min=1, max=20)
    stack_runs: bool = param(True, "train the runs_per_order PackNet runs of one order and schedule as one stacked "
                             "network (grouped convolutions; each run its own data order and dropout, all from the "
                             "same pruned initial network): one step of the stack is a step of every run (a GPU's "
                             "speed-up; no faster on one CPU thread)")  # fmt: skip
    # baselines
    single_task_runs: int = param(3, "runs of Classifier Only and of each Individual Network, each its own seed "
                                 "(paper: 3)", min=1, max=20)
    classifier_epochs: int = param(20, "Classifier Only: epochs at the constant lr finetune_lr", min=1, max=1000)
    lwf_warmup_epochs: int = param(5, "LwF trains only the new head for these first epochs", min=0, max=1000)
    lwf_temperature: float = param(2.0, "LwF distillation temperature", min=0.1, max=100.0)
    lwf_weight_decay: float = param(5e-4, "LwF weight decay", min=0.0, max=1.0)
    lwf_lrs: list[float] = param([1e-3], "LwF's SGD learning rates, one configuration each; the first is the LwF of "
                                "every claim (paper: 1e-3)", min=1e-8, max=10.0, min_length=1, unique=True)  # fmt: skip
    lwf_paper_schedule: bool = param(True, "also LwF at the paper's schedule (20 epochs per task, the first 5 head-only, "
                                     "lr x 0.1 after 10) at the first of lwf_lrs, batch-norm statistics frozen, where "
                                     "finetune_epochs, lwf_warmup_epochs and lr_decay_epoch differ from it")  # fmt: skip
    # analyses
    fig4_fractions: list[float] = param([0.5, 0.75, 0.9], "Figure 4: prune fractions", min=0.0, max=0.99, min_length=1)
    fig4_seeds: list[int] = param([1, 2], "Figure 4 again from these seeds besides 'seed' (each its own data split and "
                                 "initial network, pruned and retrained, and the added tasks' Fig. 4 runs on it), so "
                                 "its sizes rest on several runs (paper: one network)", min=0, unique=True)  # fmt: skip
    filter_prune_fraction: float = param(0.3, "Table 6: share of the units (filters and fc neurons) pruned (paper: "
                                        "about 30 %)", min=0.0, max=0.9)  # fmt: skip
    filter_rankings: list[str] = param(["taylor", "weight_norm"], "Table 6: how units are ranked, one configuration "
                                      "each; the first is the claims' (taylor: Molchanov et al.'s criterion over the "
                                      "whole network, as the paper; weight_norm: the same share of each layer by "
                                      "weight norm, one shot)", choices=["taylor", "weight_norm"], min_length=1,
                                      unique=True)  # fmt: skip
    filter_prune_steps: int = param(10, "taylor: rounds of ranking and pruning, one epoch of retraining each "
                                   "(paper: 10 rounds of 400 filters)", min=1, max=100)  # fmt: skip
    seed: int = param(0, "seed of the data splits and the initial network", min=0)

    def check(self) -> None:
        if any(len(s) != 3 for s in self.schedules):
            raise ParameterError(f"parameter 'schedules' must hold lists of 3 prune fractions "
                                 f"[initial, task 2, task 3]; got {self.schedules!r}")  # fmt: skip
        if len(self.added_datasets) != 3:
            raise ParameterError(f"parameter 'added_datasets' must be a list of 3 different datasets; "
                                 f"got {self.added_datasets!r}")  # fmt: skip
        if self.seed in self.fig4_seeds:
            raise ParameterError(f"parameter 'fig4_seeds' must not hold 'seed' ({self.seed}), whose Fig. 4 runs the "
                                 f"chapter makes anyway; got {self.fig4_seeds!r}")  # fmt: skip
        self._check_scale_trend()
        if self.lwf_warmup_epochs >= self.finetune_epochs:
            raise ParameterError(f"parameter 'lwf_warmup_epochs' must be < finetune_epochs ({self.finetune_epochs}); "
                                 f"got {self.lwf_warmup_epochs}")  # fmt: skip

    def _check_scale_trend(self) -> None:
        if not self.scale_trend:
            return
        if not (self.initial_train_per_class and self.train_per_class):
            raise ParameterError("parameter 'scale_trend' multiplies initial_train_per_class and train_per_class, "
                                 "which are 0 (all images); set both above 0 or leave scale_trend empty")  # fmt: skip
        if 1.0 in self.scale_trend:
            raise ParameterError("parameter 'scale_trend' must not hold 1, the chapter's own scale, which the trend "
                                 f"shows anyway; got {self.scale_trend!r}")  # fmt: skip
        for f in self.scale_trend:
            for name, per_class in trend_counts(self, f).items():
                most = int(SMALLEST_CLASS.get(name, per_class) * (1 - self.val_fraction))
                if per_class > most:
                    raise ParameterError(f"parameter 'scale_trend': factor {f:g} asks for {per_class:,} {name} "
                                         f"training images per class, more than its smallest class gives ({most:,} "
                                         f"after validation); use smaller factors")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class InitialRun(RunConfig):
    """The initial task trained from scratch (kind ``initial``; its state is a checkpoint): the data, the network and
    its first training, which every run of the chapter shares."""

    initial_dataset: str
    added_datasets: list[str]
    initial_train_per_class: int
    train_per_class: int
    test_per_class: int
    train_from_test: float
    val_fraction: float
    width: float
    fc_widths: list[int]
    batch_norm: bool
    seed: int
    initial_epochs: int
    initial_lr: float
    initial_lr_decay_epoch: int
    batch_size: int
    momentum: float
    #: :data:`WITHOUT_BN` on Table 2's like-for-like runs without batch-norm, :func:`trend_variant` on the scale
    #: trend's; absent on the chapter's own network
    network_variant: str | None = optional()


@dataclasses.dataclass(frozen=True)
class _InitialRetraining(RunConfig):
    """Fields of the runs that start from the pruned initial network: how it was retrained."""

    initial_retrain_epochs: int
    initial_retrain_lr: float
    initial_retrain_decay_epoch: int


@dataclasses.dataclass(frozen=True)
class _AddedTraining(RunConfig):
    """Fields of the runs that train added tasks: fine-tuning, and retraining after a prune."""

    finetune_epochs: int
    finetune_lr: float
    lr_decay_epoch: int
    retrain_epochs: int
    retrain_lr: float


@dataclasses.dataclass(frozen=True)
class PrunedInitialRun(_InitialRetraining, InitialRun):
    """The initial network pruned by ``rule`` (weights, filters or Taylor's ranking in ``steps`` rounds) and
    retrained (kind ``initial_pruned``; a checkpoint)."""

    fraction: float
    rule: str  # "weights", "filters" or "taylor"
    steps: int | None = optional()  # Taylor's rounds (absent for the other rules)


@dataclasses.dataclass(frozen=True)
class PackNetRun(_AddedTraining, _InitialRetraining, InitialRun):
    """The three added tasks in ``order`` on the network pruned by ``schedule[0]``; run ``run`` of the order."""

    order: list[str]
    schedule: list[float]
    run: int  # a stacked run: its first run, whose seed seeds the draws of every model
    separate_biases: bool
    batchnorm_per_task: bool | None = optional()  # True, or absent (shared batch-norm)
    runs: list[int] | None = optional()  # the runs trained together as one stacked network (absent: one)


@dataclasses.dataclass(frozen=True)
class LwfRun(_AddedTraining, InitialRun):
    """Learning without Forgetting from the unpruned initial network, tasks in ``order``."""

    order: list[str]
    warmup: int
    temperature: float
    weight_decay: float
    bn_stats: str  # "frozen" or "updated"
    lwf_schedule: str | None = optional()  # "paper" on the runs at the paper's LwF schedule


@dataclasses.dataclass(frozen=True)
class SingleTaskRun(_AddedTraining, InitialRun):
    """Classifier Only or Individual Network for one added task."""

    method: str  # "classifier_only" or "individual"
    dataset: str
    classifier_epochs: int
    run: int | None = optional()  # absent for run 0 (the key it had as the only run)


@dataclasses.dataclass(frozen=True)
class Fig4Run(_AddedTraining, _InitialRetraining, InitialRun):
    """One added task on the 50 %-pruned network, pruned at each of ``fractions`` and retrained."""

    dataset: str
    fractions: list[float]


@dataclasses.dataclass(frozen=True)
class Fig5Run(_AddedTraining, _InitialRetraining, InitialRun):
    """One added task on the 50 %-pruned network, its freed weights trained only in ``layers``."""

    dataset: str
    layers: str  # a key of LAYERS


@dataclasses.dataclass(frozen=True)
class FilterTaskRun(_AddedTraining, _InitialRetraining, InitialRun):
    """Table 6: one added task on the filter-pruned network."""

    dataset: str
    filter_fraction: float
    reinit_free_units: bool
    filter_rule: str | None = optional()  # "taylor", or absent (weight-norm filters)
    filter_steps: int | None = optional()


#: the configs of the runs that train added tasks
AddedTaskRun = PackNetRun | LwfRun | SingleTaskRun | Fig4Run | Fig5Run | FilterTaskRun
LAYERS = {"none": "classifier only", "fc": "fc layers", "all": "all layers"}
#: Mallya & Lazebnik, section 4: LwF trains each added task 20 epochs, the first 5 the new head only, lr x 0.1 after 10
LWF_PAPER_SCHEDULE = (20, 5, 10)


def lwf_bn_stats(p: Params) -> list[str]:
    """LwF keeps batch-norm statistics frozen, as PackNet does; with batch-norm also a run that updates them."""
    return ["frozen", "updated"] if p.batch_norm else ["frozen"]


def plan(p: Params) -> list[Run]:
    """Every run of the chapter, stages first (later runs start from their checkpoints)."""
    v = p.as_dict()
    base, retrain, tsk = (g.fields_from(v) for g in (InitialRun, _InitialRetraining, _AddedTraining))
    ds = (p.initial_dataset, *p.added_datasets)
    cost = 4e9 * p.width ** 2 * (p.initial_train_per_class or 5000) * 10  # rough VGG MACs per epoch
    orders = list(itertools.permutations(p.added_datasets))
    fractions = sorted({s[0] for s in p.schedules} | set(p.fig4_fractions))
    runs = [Run("initial", InitialRun(**base), ds, cost * p.initial_epochs)]
    runs += [Run("initial_pruned", PrunedInitialRun(**base, **retrain, fraction=f, rule="weights"), ds, cost * 3)
             for f in fractions]  # fmt: skip
    stacks = member_groups(range(p.runs_per_order), p.stack_runs)  # an order's runs: one stack, or one each
    runs_of = lambda g: member_fields(g, member="run", members="runs")  # noqa: E731
    runs += [Run("packnet", PackNetRun(**base, **retrain, **tsk, order=list(o), schedule=s, separate_biases=False,
                                       **runs_of(g)), ds, cost * 6 * len(g))
             for s in p.schedules for o in orders for g in stacks]  # fmt: skip

    def lwf_run(lr: float, bn: str, order: tuple[str, ...], **schedule) -> Run:
        c = LwfRun(**(base | tsk | {"finetune_lr": lr}), order=list(order), warmup=p.lwf_warmup_epochs,
                   temperature=p.lwf_temperature, weight_decay=p.lwf_weight_decay, bn_stats=bn).replace(**schedule)
        return Run("lwf", c, ds, cost * 6 * (c.finetune_epochs / p.finetune_epochs))

    runs += [lwf_run(lr, bn, o) for lr in p.lwf_lrs for bn in lwf_bn_stats(p) for o in orders]
    epochs, warmup, decay = LWF_PAPER_SCHEDULE
    if p.lwf_paper_schedule and (p.finetune_epochs, p.lwf_warmup_epochs, p.lr_decay_epoch) != LWF_PAPER_SCHEDULE:
        runs += [lwf_run(p.lwf_lrs[0], "frozen", o, finetune_epochs=epochs, warmup=warmup, lr_decay_epoch=decay,
                         lwf_schedule="paper") for o in orders]  # fmt: skip
    runs += [Run("single_task", SingleTaskRun(**base, **tsk, method=m, dataset=d, classifier_epochs=p.classifier_epochs,
                                              run=r or None), ds, cost)  # run 0 keeps the key it had as the only run
             for m in ("classifier_only", "individual") for d in p.added_datasets
             for r in range(p.single_task_runs)]  # fmt: skip
    for seed in [p.seed, *p.fig4_seeds]:  # Fig. 4 from the chapter's initial network, then from each other seed's
        other = base | {"seed": seed}
        if seed != p.seed:  # the chapter's own stages are planned above
            runs += [Run("initial", InitialRun(**other), ds, cost * p.initial_epochs)]
            runs += [Run("initial_pruned", PrunedInitialRun(**other, **retrain, fraction=f, rule="weights"), ds,
                         cost * 3) for f in fractions]  # fmt: skip
        runs += [Run("fig4", Fig4Run(**other, **retrain, **tsk, dataset=d, fractions=p.fig4_fractions), ds, cost * 3)
                 for d in p.added_datasets]  # fmt: skip
    runs += [Run("packnet", PackNetRun(**base, **retrain, **tsk, order=list(o), schedule=p.schedules[0],
                                       separate_biases=True, **runs_of(g)), ds, cost * 6 * len(g))
             for o in orders for g in stacks]  # fmt: skip
    if p.batch_norm and p.batchnorm_per_task:  # the key gains the field only here: the other runs' keys stay
        runs += [Run("packnet", PackNetRun(**base, **retrain, **tsk, order=list(o), schedule=p.schedules[0], run=0,
                                           separate_biases=False, batchnorm_per_task=True), ds, cost * 6)
                 for o in orders]  # fmt: skip (one run per order, each paired with its frozen twin of the same seed)
    if p.batch_norm and p.without_bn_epochs:  # Table 2 like for like: the paper's network, without batch-norm
        runs += table2_network(p, base | {"batch_norm": False, "initial_epochs": p.without_bn_epochs,
                                          "network_variant": WITHOUT_BN,
                                          "initial_lr_decay_epoch": p.without_bn_epochs * 2 // 3}, cost)  # fmt: skip
    for factor in p.scale_trend:  # Table 2's gap at other scales: the images per class times each factor
        counts = trend_counts(p, factor)
        runs += table2_network(p, base | {"initial_train_per_class": counts[p.initial_dataset],
                                          "train_per_class": counts[p.added_datasets[0]],
                                          "network_variant": trend_variant(factor)}, cost * factor)  # fmt: skip
    runs += [Run("fig5", Fig5Run(**base, **retrain, **tsk, dataset=d, layers=layers), ds, cost)
             for d in p.added_datasets for layers in LAYERS]  # fmt: skip
    for ranking in p.filter_rankings:  # weight_norm keeps the keys it had as the only ranking
        rule, steps = filter_rule(ranking, p.filter_prune_steps)
        runs += [Run("initial_pruned", PrunedInitialRun(**base, **retrain, fraction=p.filter_prune_fraction, rule=rule,
                                                        steps=steps), ds, cost * (3 + 2 * (steps or 0)))]  # fmt: skip
        runs += [Run("filter_task", FilterTaskRun(**base, **retrain, **tsk, dataset=d,
                                                  filter_fraction=p.filter_prune_fraction, reinit_free_units=True,
                                                  filter_rule=None if rule == "filters" else rule, filter_steps=steps),
                     ds, cost) for d in p.added_datasets]  # fmt: skip
    return runs


def table2_network(p: Params, network: dict, cost: float) -> list[Run]:
    """The runs behind Table 2's gap on another initial network (``network``: the :class:`InitialRun` fields, its
    ``network_variant`` set): the network, its prune by the first schedule's first fraction, PackNet (first
    schedule, run 0 of each order) and the Individual Networks. ``cost``: one epoch of its initial task."""
    v = p.as_dict()
    retrain, tsk = (g.fields_from(v) for g in (_InitialRetraining, _AddedTraining))
    ds, first = (p.initial_dataset, *p.added_datasets), p.schedules[0]
    runs = [Run("initial", InitialRun(**network), ds, cost * network["initial_epochs"]),
            Run("initial_pruned", PrunedInitialRun(**network, **retrain, fraction=first[0], rule="weights"), ds,
                cost * 3)]  # fmt: skip
    runs += [Run("packnet", PackNetRun(**network, **retrain, **tsk, order=list(o), schedule=first, run=0,
                                       separate_biases=False), ds, cost * 6)
             for o in itertools.permutations(p.added_datasets)]  # fmt: skip
    runs += [Run("single_task", SingleTaskRun(**network, **tsk, method="individual", dataset=d,
                                              classifier_epochs=p.classifier_epochs, run=r or None), ds, cost)
             for d in p.added_datasets for r in range(p.single_task_runs)]  # fmt: skip
    return runs


def trend_variant(factor: float) -> str:
    """The ``network_variant`` of the scale trend's runs at ``factor`` times the chapter's images per class."""
    return f"scale_x{factor:g}"


def trend_counts(p: Params, factor: float) -> dict[str, int]:
    """Training images per class of each task at the scale trend's ``factor`` (the chapter's times it, rounded)."""
    return {p.initial_dataset: max(1, round(factor * p.initial_train_per_class)),
            **{d: max(1, round(factor * p.train_per_class)) for d in p.added_datasets}}  # fmt: skip


def filter_rule(ranking: str, steps: int) -> tuple[str, int | None]:
    """The ``rule`` of a filter-pruned initial network, and its ``steps`` (the Taylor ranking's rounds; else None)."""
    return ("taylor", steps) if ranking == "taylor" else ("filters", None)


# -- data and model ------------------------------------------------------------------------------
def load_task(name: str, per_class: int, c: InitialRun, ctx: RunContext) -> Task:
    return task(name, ctx.data_source, ctx.device, val_fraction=c.val_fraction, seed=c.seed, rgb=True, size=32,
                standardize=True, train_from_test=c.train_from_test if is_carved(name, ctx.data_source) else 0.0,
                train_per_class=per_class, test_per_class=c.test_per_class)  # fmt: skip


def initial_task(c: InitialRun, ctx: RunContext) -> Task:
    return load_task(c.initial_dataset, c.initial_train_per_class, c, ctx)


def added_task(name: str, c: InitialRun, ctx: RunContext) -> Task:
    return load_task(name, c.train_per_class, c, ctx)


def new_model(c: InitialRun, ctx: RunContext, models: int = 1) -> MultiHeadNet:
    """VGG-16 layout with one 10-way head per task (head 0: the initial task); ``models`` > 1: that many stacked."""
    heads = [initial_task(c, ctx).num_classes] + [added_task(n, c, ctx).num_classes for n in c.added_datasets]
    kwargs = dict(width=c.width, batch_norm=c.batch_norm, fc_widths=c.fc_widths)
    return (vgg16(heads, **kwargs) if models == 1 else stacked_vgg16(models, heads, **kwargs)).to(ctx.device)


def step_decay(epoch: int):
    return (lambda opt: torch.optim.lr_scheduler.StepLR(opt, epoch, 0.1)) if epoch else None


def test_acc(model, t: Task, forward) -> float | list[float]:
    """Test accuracy of ``forward`` on task ``t``; of a stacked network, one per model."""
    if num_models(model) > 1:
        return accuracy_per_model(model, *t.split("test"), forward=forward)
    return evaluate(model, *t.split("test"), forward=forward)[1]


def settings(c: AddedTaskRun, phase: str, models: int = 1) -> TrainSettings:
    """SGD for an added task's fine-tuning (``phase = "finetune"``) or its retraining after a prune (``"retrain"``);
    for ``models`` stacked networks, the stack's (:meth:`~cl_utils.train.TrainSettings.for_models`)."""
    epochs, lr = {"finetune": (c.finetune_epochs, c.finetune_lr), "retrain": (c.retrain_epochs, c.retrain_lr)}[phase]
    return TrainSettings(epochs, c.batch_size, "sgd", lr, c.momentum).for_models(models)


def packnet_from(state, c: InitialRun, ctx: RunContext, **kwargs) -> PackNet:
    pn = PackNet(new_model(c, ctx), **kwargs)
    pn.load_state_dict(state)
    return pn


# -- stages (their states are checkpoints other runs start from) ------------------------------------
def _datasets(c: InitialRun) -> tuple[str, ...]:
    return (c.initial_dataset, *c.added_datasets)


def build_initial(c: InitialRun, ctx: RunContext):
    t = initial_task(c, ctx)
    generator = set_seed(c.seed)
    pn = PackNet(new_model(c, ctx))
    pn.start_task()
    s = TrainSettings(c.initial_epochs, c.batch_size, "sgd", c.initial_lr, c.momentum, 5e-4)
    history = pn.train_task(t.x_train, t.y_train, s, val=t.split("val"), scheduler_fn=step_decay(c.initial_lr_decay_epoch),
                            generator=generator, show_progress=ctx.show_progress, desc="initial task")  # fmt: skip
    return pn.model.state_dict(), {"test_acc": test_acc(pn.model, t, pn.forward_for(1)),
                                   "history": [h.as_dict() for h in history]}  # fmt: skip


def initial_state(c: InitialRun, ctx: RunContext):
    base = InitialRun(**InitialRun.fields_from(c.as_config()))
    return ctx.checkpoint("initial", base, _datasets(c), lambda: build_initial(base, ctx)[0])


def build_pruned_initial(c: PrunedInitialRun, ctx: RunContext):
    t = initial_task(c, ctx)
    generator = set_seed(c.seed)
    pn = packnet_from(initial_state(c, ctx), c, ctx)
    s = TrainSettings(c.initial_retrain_epochs, c.batch_size, "sgd", c.initial_retrain_lr, c.momentum)
    freed = None
    if c.rule == "taylor":  # rank, prune a share, retrain one epoch; c.steps times (the paper's 10 x 400)
        one_epoch = dataclasses.replace(s, epochs=1)
        def retrain_one_epoch() -> None:
            pn.retrain(t.x_train, t.y_train, one_epoch, generator=generator, show_progress=ctx.show_progress)

        freed = taylor_filter_prune(pn, t.x_train, t.y_train, c.fraction, c.steps, retrain_one_epoch,
                                    batch_size=c.batch_size)  # fmt: skip
    elif c.rule == "filters":
        filter_prune(pn, c.fraction)
    else:
        pn.prune(c.fraction)
    after_prune = test_acc(pn.model, t, pn.forward_for(1))
    pn.retrain(t.x_train, t.y_train, s, val=t.split("val"), scheduler_fn=step_decay(c.initial_retrain_decay_epoch),
               generator=generator, show_progress=ctx.show_progress, desc=f"retrain initial ({c.fraction:g})")  # fmt: skip
    if c.rule != "weights":
        reset_unread_batchnorm(pn)  # dead channels' statistics would blow up the next task
    metrics = {"after_prune": after_prune, "after_retrain": test_acc(pn.model, t, pn.forward_for(1))}
    if freed is not None:  # where the ranking took its units from (the paper: mostly the fc layers)
        metrics |= {"freed_units": freed, "units": {n: w.shape[0] for n, w in pn.weights.items()},
                    "fc_layers": [n for n, layer in pn.layers.items() if isinstance(layer, torch.nn.Linear)]}
    return pn.model.state_dict(), metrics


def pruned_state(c: PackNetRun | Fig4Run | Fig5Run | FilterTaskRun, ctx: RunContext, fraction: float,
                 rule: str = "weights", steps: int | None = None):  # fmt: skip
    retrained = InitialRun.fields_from(c.as_config()) | _InitialRetraining.fields_from(c.as_config())
    stage = PrunedInitialRun(**retrained, fraction=fraction, rule=rule, steps=steps or None)
    return ctx.checkpoint("initial_pruned", stage, _datasets(c), lambda: build_pruned_initial(stage, ctx)[0])


def run_stage(kind: str, build):
    """The run function of a stage: its metrics are the record, its state the checkpoint of ``kind``."""

    def run(c, ctx: RunContext) -> dict:
        state, metrics = build(c, ctx)
        ctx.checkpoint(kind, c, _datasets(c), lambda: state, replace=True)  # the record and the file: one state
        return metrics

    run.__annotations__ = {"c": config_type(build), "ctx": RunContext, "return": dict}  # the config its build takes
    return run


# -- one PackNet step (the paper's schedule for an added task) ----------------------------------------
def add_task(
    packnet: PackNet,
    task: Task,
    *,
    finetune: TrainSettings,
    retrain: TrainSettings,
    prune_fraction: float | None,
    lr_decay_epoch: int | None = None,
    trainable_layers: str = "all",
    reinit_free_units: bool = False,
    earlier: Sequence[Task] = (),
    generator: torch.Generator | None = None,
    show_progress: bool = True,
) -> dict:
    """One PackNet step: train a new task, prune it, retrain it (§3 and §4 of the paper).

    :param finetune: training of the new task (the paper: 20 epochs at lr 1e-3).
    :param retrain: retraining after pruning (the paper: 10 epochs at a constant lr 1e-4).
    :param prune_fraction: fraction of the task's weights to free per layer; ``None``
        leaves the task unpruned (the last task need not be pruned).
    :param lr_decay_epoch: multiply the fine-tuning lr by 0.1 after this many epochs.
    :param reinit_free_units: see :meth:`PackNet.start_task` (needed after :func:`filter_prune`).
    :param earlier: the tasks trained before, evaluated afterwards (for forgetting curves).
    :returns: test accuracies (fractions) of the new task before pruning, right after
        pruning and after retraining (``None`` when unpruned), of all tasks so far
        (``accuracies``, earlier tasks first), and the epoch histories; of a stacked network, each
        accuracy is a list of one per model (:func:`model_step` picks one model's).
    """
    k = packnet.start_task(trainable_layers, reinit_free_units=reinit_free_units)
    val = task.split("val")
    history = packnet.train_task(task.x_train, task.y_train, finetune, val=val, scheduler_fn=step_decay(lr_decay_epoch),
                                 generator=generator, show_progress=show_progress, desc=f"task {k}")  # fmt: skip
    test = lambda: test_acc(packnet.model, task, packnet.forward_for(k))  # noqa: E731
    out: dict = {"before_prune": test(), "after_prune": None, "after_retrain": None}
    retrain_history: list[EpochStats] = []
    if prune_fraction is not None:
        packnet.prune(prune_fraction)
        out["after_prune"] = test()
        retrain_history = packnet.retrain(task.x_train, task.y_train, retrain, val=val, generator=generator,
                                          show_progress=show_progress, desc=f"retrain {k}")  # fmt: skip
        out["after_retrain"] = test()
    out["accuracies"] = [test_acc(packnet.model, t, packnet.forward_for(i + 1)) for i, t in enumerate([*earlier, task])]
    out["history"] = [s.as_dict() for s in history]
    out["retrain_history"] = [s.as_dict() for s in retrain_history]
    return out


# -- runs -----------------------------------------------------------------------------------------
def packnet_seed(c: PackNetRun) -> int:
    """The seed of one PackNet run: ``seed + 1000 x run + 10 x k``, k the order's index among the permutations of
    the added tasks. Every (order, run) has its own data order and its own randomness, so the runs of one position
    in Figure 3 are independent (orders that share their first task no longer train it identically)."""
    k = list(itertools.permutations(c.added_datasets)).index(tuple(c.order))
    return c.seed + 1000 * c.run + 10 * k


def single_task_seed(c: SingleTaskRun) -> int:
    """The seed of one Classifier Only or Individual Network run: ``seed + 1000 x run`` (run 0: the seed itself, as
    when each ran once)."""
    return c.seed + 1000 * (c.run or 0)


def model_step(step: dict, s: int) -> dict:
    """Stacked model ``s``'s accuracies of one :func:`add_task` step of a stacked network."""
    return {k: v if v is None else [a[s] for a in v] if k == "accuracies" else v[s] for k, v in step.items()}


def run_packnet(c: PackNetRun, ctx: RunContext) -> dict:
    """Add the three tasks in ``order`` to the network pruned by ``schedule[0]``.

    A stacked run (``runs``) adds them to one copy of that network per run, as one stacked network: ``per_run``
    holds each run's result, in order (:func:`.packnet_records.run_views` reads it as one record per run)."""
    models = len(c.runs or [c.run])
    generator = set_seed(packnet_seed(c))
    pn = PackNet(new_model(c, ctx, models), separate_biases=c.separate_biases,
                 batchnorm_per_task=bool(c.batchnorm_per_task))  # fmt: skip
    state = pruned_state(c, ctx, c.schedule[0])
    pn.load_state_dict(state if models == 1 else stacked_state(pn.model, [state] * models), strict=False)
    pn.store_own(1)
    earlier, steps = [initial_task(c, ctx)], []
    for position, name in enumerate(c.order):
        fraction = c.schedule[position + 1] if position < 2 else None
        out = add_task(pn, added_task(name, c, ctx), finetune=settings(c, "finetune", models),
                       retrain=settings(c, "retrain", models), prune_fraction=fraction, lr_decay_epoch=c.lr_decay_epoch,
                       earlier=earlier, generator=generator, show_progress=ctx.show_progress)  # fmt: skip
        steps.append({k: v for k, v in out.items() if k not in ("history", "retrain_history")})
        earlier.append(added_task(name, c, ctx))

    def result(s: int | None) -> dict:
        owners = pn.owners(s)
        packed = pack_owners(owners, pn.num_tasks)
        return {"steps": steps if s is None else [model_step(step, s) for step in steps],
                "mask_bytes_packed": packed.nbytes, "mask_bits": packed.bits,
                "mask_bytes_uint8": sum(o.numel() for o in owners.values()), "usage": dict(pn.usage(s))}  # fmt: skip

    return result(None) if models == 1 else {"per_run": [result(s) for s in range(models)]}


def run_lwf(c: LwfRun, ctx: RunContext) -> dict:
    """Learning without Forgetting from the unpruned initial network, tasks in ``order``."""
    generator = set_seed(c.seed)
    model = new_model(c, ctx)
    model.load_state_dict(initial_state(c, ctx), strict=False)
    s = TrainSettings(c.finetune_epochs, c.batch_size, "sgd", c.finetune_lr, c.momentum, c.weight_decay)
    decay = lambda opt, first: torch.optim.lr_scheduler.LambdaLR(  # noqa: E731
        opt, lambda e: 0.1 if c.lr_decay_epoch and e + first >= c.lr_decay_epoch else 1.0)
    seen, rows = [initial_task(c, ctx)], []
    for position, name in enumerate(c.order):
        t = added_task(name, c, ctx)
        lwf_train_task(model, position + 1, t.x_train, t.y_train, s, old_heads=list(range(position + 1)),
                       warmup_epochs=c.warmup, temperature=c.temperature,
                       freeze_batchnorm_stats=c.bn_stats == "frozen", scheduler_fn=decay, generator=generator,
                       show_progress=ctx.show_progress)  # fmt: skip
        seen.append(t)
        rows.append([test_acc(model, t, lambda xb, h=h: model(xb, h)) for h, t in enumerate(seen)])
    return {"accuracies": rows}


def run_single_task(c: SingleTaskRun, ctx: RunContext) -> dict:
    """Classifier Only or Individual Network for one added task, from the unpruned initial network (each run its
    own seed for the new head and the minibatch order; the initial network is the same)."""
    generator = set_seed(single_task_seed(c))
    model = new_model(c, ctx)
    model.load_state_dict(initial_state(c, ctx), strict=False)
    t = added_task(c.dataset, c, ctx)
    if c.method == "classifier_only":
        s = TrainSettings(c.classifier_epochs, c.batch_size, "sgd", c.finetune_lr, c.momentum)
        train_head_only(model, 1, t.x_train, t.y_train, s, generator=generator, show_progress=ctx.show_progress)
    else:
        opt = settings(c, "finetune").make_optimizer(list(model.body.parameters()) + list(model.heads[1].parameters()))
        fit(model, t.x_train, t.y_train, epochs=c.finetune_epochs, batch_size=c.batch_size, optimizer=opt,
            forward=lambda xb: model(xb, 1), generator=generator, show_progress=ctx.show_progress,
            scheduler=step_decay(c.lr_decay_epoch)(opt) if c.lr_decay_epoch else None)  # fmt: skip
    return {"test_acc": test_acc(model, t, lambda xb: model(xb, 1))}


def run_fig4(c: Fig4Run, ctx: RunContext) -> dict:
    """Train one added task on the 50 %-pruned network, then prune it at each fraction and retrain."""
    generator = set_seed(c.seed)
    pn = packnet_from(pruned_state(c, ctx, 0.5), c, ctx)
    pn.start_task()
    t = added_task(c.dataset, c, ctx)
    pn.train_task(t.x_train, t.y_train, settings(c, "finetune"), scheduler_fn=step_decay(c.lr_decay_epoch),
                  generator=generator, show_progress=ctx.show_progress)  # fmt: skip
    out = {"before_prune": test_acc(pn.model, t, pn.forward_for(2)), "fractions": {}}
    trained = copy.deepcopy(pn.model.state_dict())
    for f in c.fractions:
        pn.load_state_dict(trained)
        pn.prune(f)
        after_prune = test_acc(pn.model, t, pn.forward_for(2))
        pn.retrain(t.x_train, t.y_train, settings(c, "retrain"), generator=generator, show_progress=ctx.show_progress)
        out["fractions"][str(f)] = {"after_prune": after_prune, "after_retrain": test_acc(pn.model, t, pn.forward_for(2))}
    return out


def _add_one_task(c: Fig5Run | FilterTaskRun, ctx: RunContext, pruned: Callable[[], dict], **start: Any) -> dict:
    """Add task ``dataset``, unpruned, to a pruned initial network; ``start`` goes to :meth:`PackNet.start_task`."""
    generator = set_seed(c.seed)
    pn = packnet_from(pruned(), c, ctx)
    out = add_task(pn, added_task(c.dataset, c, ctx), finetune=settings(c, "finetune"),
                   retrain=settings(c, "retrain"), prune_fraction=None, lr_decay_epoch=c.lr_decay_epoch,
                   generator=generator, show_progress=ctx.show_progress, **start)  # fmt: skip
    return {"test_acc": out["before_prune"]}


def run_fig5(c: Fig5Run, ctx: RunContext) -> dict:
    """Add one task to the 50 %-pruned network, training its freed weights only in ``layers``."""
    return _add_one_task(c, ctx, lambda: pruned_state(c, ctx, 0.5), trainable_layers=c.layers)


def run_filter_task(c: FilterTaskRun, ctx: RunContext) -> dict:
    """Table 6: add one task to the filter-pruned network (freed units re-initialised)."""
    rule, steps = c.filter_rule or "filters", c.filter_steps
    return _add_one_task(c, ctx, lambda: pruned_state(c, ctx, c.filter_fraction, rule, steps),
                         reinit_free_units=c.reinit_free_units)


RUNNERS = {"initial": run_stage("initial", build_initial), "initial_pruned": run_stage("initial_pruned", build_pruned_initial),
           "packnet": run_packnet, "lwf": run_lwf, "single_task": run_single_task, "fig4": run_fig4,
           "fig5": run_fig5, "filter_task": run_filter_task}  # fmt: skip


def data_table(p: Params):
    """Each task's role in the paper and its split sizes (tasks built on the CPU)."""
    import pandas as pd

    ctx = RunContext(torch.device("cpu"), p.data_source, None, CODE_VERSION)  # type: ignore[arg-type]
    c = InitialRun(**InitialRun.fields_from(p.as_dict()))
    tasks = [initial_task(c, ctx)] + [added_task(n, c, ctx) for n in p.added_datasets]
    names = [p.initial_dataset, *p.added_datasets]
    return pd.DataFrame({"role in the paper": ["ImageNet (initial)", "CUBS / Cars / Flowers (added)", "", ""],
                         "train": [len(t.y_train) for t in tasks], "validation": [len(t.y_val) for t in tasks],
                         "test": [len(t.y_test) for t in tasks]},
                        index=[f"{n}*" if n in carved_names(p) else n for n in names])  # fmt: skip


def carved_names(p: Params) -> list[str]:
    """The added datasets whose training images are carved from their test split (partial stand-ins)."""
    return carved_datasets([p.initial_dataset, *p.added_datasets], p.data_source)

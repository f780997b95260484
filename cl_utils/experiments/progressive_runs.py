"""Chapter 04: progressive networks whose columns and adapters are pruned (Nicholls & Dasgupta).

Runs (kinds): ``fig2a`` (three columns of decreasing size on Fashion-MNIST, one run per
adapter kind and seed, no pruning) and ``fig2b`` (MNIST -> SVHN -> Flip-SVHN, or a stand-in,
columns trained, pruned and retrained: progressive, unlinked at equal size, random-input,
and the unlinked unpruned network). Column 1 after its first epochs is a checkpoint shared
by every run of a seed (it has no laterals, so it is the same for every adapter kind).

With ``stack_seeds`` (the default) a configuration's seeds train as one stacked network, each model from its
own seed's column-1 checkpoint (config ``seeds``; metrics ``per_seed``, read as one record per seed by
:func:`.progressive_report.runs_a` and :func:`.progressive_report.runs_b`).
"""
from __future__ import annotations

import dataclasses

from ..progressive import ADAPTER_KINDS, PRUNING_SCOPES, matched_unlinked_fractions
from ..progressive_schedule import run_progressive, train_first_column
from ..streams import Task, flipped_task
from ..train import TrainSettings
from .data_cache import task
from .runs import Run, RunContext, mlp_cost
from .stacking import member_fields, member_groups
from .params import ParameterError, param
from .params import Params as BaseParams
from .run_config import RunConfig, optional

CHAPTER = "04_progressive_prune"
CODE_VERSION = 1
RGB_DATASETS = ("svhn", "cifar10", "fashion_mnist")
PRUNED_NETWORKS = ("progressive pruned", "unlinked pruned", "random-input pruned")
STAND_IN = {"svhn": None, "cifar10": "CIFAR-10", "fashion_mnist": "Fashion-MNIST"}


@dataclasses.dataclass
class Params(BaseParams):
    # training (the paper's Appendix A)
    num_epochs: int = param(10, "epochs per column; Fig. 2(b) trains as many again after pruning", min=1, max=1000)
    batch_size: int = param(64, "minibatch size", min=1, max=65536)
    lr: float = param(0.1, "SGD learning rate", min=1e-8, max=10.0)
    momentum: float = param(0.5, "SGD momentum", min=0.0, max=0.999)
    val_fraction: float = param(0.1, "held out of each training set, reported only", min=0.01, max=0.5)
    # adapters (Rusu et al. 2016)
    alpha_init: float = param(0.1, "initial scale alpha of a learned adapter", min=1e-6, max=100.0)
    adapter_width: int = param(0, "hidden width of a learned adapter (0: the width of the layer it feeds)", min=0,
                              max=65536)  # fmt: skip
    # Figure 2(a): three columns of decreasing size, all on Fashion-MNIST, no pruning
    fig2a_hidden: list[list[int]] = param([[1024, 256], [128, 64], [32, 16]], "widths of the 3 columns",
                                         min=1, min_length=3)  # fmt: skip
    fig2a_adapters: list[str] = param(["none", "unlearned", "learned"], "adapter kinds compared", choices=ADAPTER_KINDS,
                                     min_length=1, unique=True)  # fmt: skip
    fig2a_seeds: list[int] = param([0, 1, 2, 3, 4], "seeds of Fig. 2(a)", min=0, min_length=1, unique=True)
    # Figure 2(b): MNIST -> SVHN -> Flip-SVHN, columns of (128, 64), train / prune / retrain
    fig2b_rgb_dataset: str = param("svhn", "'svhn' (the paper) | stand-ins 'cifar10', 'fashion_mnist'",
                                  choices=RGB_DATASETS)  # fmt: skip
    fig2b_hidden: list[int] = param([128, 64], "hidden widths of every column", min=1, min_length=1)
    prune_fractions: list[float] = param([0.5, 0.75, 0.9, 0.95, 0.98], "pruning levels p", min=0.01, max=0.999,
                                        min_length=1)  # fmt: skip
    pruning_scope: str = param("global", "one magnitude threshold per column and its adapters | 'layer'",
                              choices=PRUNING_SCOPES)  # fmt: skip
    fig2b_seeds: list[int] = param([0, 1, 2, 3, 4], "seeds of Fig. 2(b)", min=0, min_length=1, unique=True)
    stack_seeds: bool = param(True, "train a configuration's seeds as one stacked network (batched matrix products; "
                              "each seed its own column 1, the first seed's draws for the data order and the new "
                              "columns): one step of the stack is a step of every seed (a GPU's speed-up)")  # fmt: skip

    def check(self) -> None:
        if len(self.fig2a_hidden) != 3 or len({len(h) for h in self.fig2a_hidden}) != 1:
            raise ParameterError(f"parameter 'fig2a_hidden' must be 3 lists of hidden widths of equal length; "
                                 f"got {self.fig2a_hidden!r}")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class ColumnsRun(RunConfig):
    """What both figures' runs share: the columns' training (SGD) and the adapters."""

    num_epochs: int
    batch_size: int
    lr: float
    momentum: float
    val_fraction: float
    alpha_init: float
    adapter_width: int  # 0: the width of the layer an adapter feeds


@dataclasses.dataclass(frozen=True)
class Fig2aRun(ColumnsRun):
    """Three columns of decreasing size on Fashion-MNIST with one adapter kind, no pruning."""

    hidden: list[list[int]]  # the hidden widths of each column
    adapter: str
    seed: int  # a stacked run: its first seed, whose draws every model shares
    seeds: list[int] | None = optional()  # the seeds trained together as one stacked network (absent: one)


@dataclasses.dataclass(frozen=True)
class Fig2bRun(ColumnsRun):
    """One network of Fig. 2(b) at one pruning level: columns trained, pruned and retrained."""

    rgb_dataset: str
    hidden: list[int]  # every column's hidden widths
    scope: str  # one of PRUNING_SCOPES
    network: str  # one of PRUNED_NETWORKS or "unlinked unpruned"
    adapter: str
    fraction: float
    column_fractions: list[float]
    seed: int  # a stacked run: its first seed, whose draws every model shares
    seeds: list[int] | None = optional()  # the seeds trained together as one stacked network (absent: one)


def columns(p: Params) -> dict:
    """The :class:`ColumnsRun` fields of every run, from the parameters."""
    return ColumnsRun.fields_from(p.as_dict())


def plan(p: Params) -> list[Run]:
    common = columns(p)
    epochs = p.num_epochs
    cost_a = sum(mlp_cost(784, h, 10, 54_000, epochs) for h in p.fig2a_hidden) * 1.5
    cost_b = mlp_cost(3 * 784, p.fig2b_hidden, 10, 60_000, 2 * epochs) * 3 * 1.5
    runs = [Run("fig2a", Fig2aRun(**common, hidden=p.fig2a_hidden, adapter=a, **member_fields(g)), ("fashion_mnist",),
                cost_a * len(g))
            for g in member_groups(p.fig2a_seeds, p.stack_seeds) for a in p.fig2a_adapters]  # fmt: skip
    b = {**common, "rgb_dataset": p.fig2b_rgb_dataset, "hidden": p.fig2b_hidden, "scope": p.pruning_scope}
    data_b = ("mnist", p.fig2b_rgb_dataset)
    in_features = 3 * 28 * 28
    groups_b = member_groups(p.fig2b_seeds, p.stack_seeds)
    for g in groups_b:
        for frac in p.prune_fractions:
            for network in PRUNED_NETWORKS:
                adapter, fractions = network_b(network, frac, p.fig2b_hidden, in_features, p.adapter_width)
                runs.append(Run("fig2b", Fig2bRun(**b, network=network, adapter=adapter, fraction=frac,
                                                  column_fractions=fractions, **member_fields(g)), data_b,
                                cost_b * len(g)))  # fmt: skip
    runs += [Run("fig2b", Fig2bRun(**b, network="unlinked unpruned", adapter="none", fraction=0.0,
                                   column_fractions=[0.0] * 3, **member_fields(g)), data_b, cost_b / 2 * len(g))
             for g in groups_b]  # fmt: skip
    return runs


def network_b(network: str, p: float, hidden: list[int], in_features: int, adapter_width: int) -> tuple[str, list[float]]:
    """(adapter kind, per-column pruning fractions) of each network of Fig. 2(b)."""
    if network == "unlinked unpruned":
        return "none", [0.0] * 3
    if network == "unlinked pruned":  # pruned to the progressive network's number of parameters, column by column
        return "none", matched_unlinked_fractions(in_features, [hidden] * 3, [10] * 3, p, adapter="learned",
                                                  adapter_width=adapter_width or None)  # fmt: skip
    return {"progressive pruned": "learned", "random-input pruned": "random"}[network], [p] * 3


def settings(c: ColumnsRun, models: int = 1) -> TrainSettings:
    """SGD of every column; for ``models`` stacked networks, the stack's
    (:meth:`~cl_utils.train.TrainSettings.for_models`)."""
    return TrainSettings(c.num_epochs, c.batch_size, "sgd", c.lr, c.momentum).for_models(models)


def fashion(c: ColumnsRun, ctx: RunContext) -> Task:
    return task("fashion_mnist", ctx.data_source, ctx.device, value_range="symmetric", val_fraction=c.val_fraction, seed=0)


def tasks_b(c: Fig2bRun, ctx: RunContext) -> list[Task]:
    """MNIST (grey to RGB), the RGB dataset centre-cropped to 28 px, and its flipped copy."""
    digits = task("mnist", ctx.data_source, ctx.device, value_range="symmetric", rgb=True, val_fraction=c.val_fraction,
                  seed=0)  # fmt: skip
    second = task(c.rgb_dataset, ctx.data_source, ctx.device, value_range="symmetric", rgb=True, size=28,
                  val_fraction=c.val_fraction, seed=0)  # fmt: skip
    return [digits, second, flipped_task(second, seed=0)]


def first_columns(c: Fig2aRun | Fig2bRun, ctx: RunContext, t: Task, hidden: list[int], kind: str,
                  datasets: tuple[str, ...]) -> dict | list[dict]:  # fmt: skip
    """Column 1 after its first epochs (a checkpoint per seed: identical for every adapter kind); of a stacked run,
    one per seed."""
    def one(seed: int) -> dict:
        stage = ColumnsRun.fields_from(c.as_config()) | {"hidden": hidden, "seed": seed}
        if kind == "fig2b":
            stage |= c.pick(["rgb_dataset", "scope"])
        return ctx.checkpoint(f"{kind}_first_column", stage, datasets,
                              lambda: train_first_column(t, hidden, settings(c), seed=seed,
                                                         show_progress=ctx.show_progress))  # fmt: skip

    return [one(s) for s in c.seeds] if c.seeds else one(c.seed)


def run_fig2a(c: Fig2aRun, ctx: RunContext) -> dict:
    t = fashion(c, ctx)
    models = len(c.seeds or [c.seed])
    states = first_columns(c, ctx, t, c.hidden[0], "fig2a", ("fashion_mnist",))
    return run_progressive([t] * 3, c.hidden, settings(c, models), adapter=c.adapter, seed=c.seed,
                           alpha_init=c.alpha_init, adapter_width=c.adapter_width or None,
                           first_column_state=states, show_progress=ctx.show_progress, models=models)  # fmt: skip


def run_fig2b(c: Fig2bRun, ctx: RunContext) -> dict:
    tasks = tasks_b(c, ctx)
    models = len(c.seeds or [c.seed])
    states = first_columns(c, ctx, tasks[0], c.hidden, "fig2b", ("mnist", c.rgb_dataset))
    return run_progressive(tasks, [c.hidden] * 3, settings(c, models), adapter=c.adapter,
                           prune_fractions=c.column_fractions, retrain_epochs=c.num_epochs, scope=c.scope,
                           seed=c.seed, alpha_init=c.alpha_init, adapter_width=c.adapter_width or None,
                           first_column_state=states, show_progress=ctx.show_progress, models=models)  # fmt: skip


def task_names(p: Params) -> list[str]:
    stand_in = STAND_IN[p.fig2b_rgb_dataset]
    return ["MNIST", stand_in or "SVHN", f"Flip-{stand_in or 'SVHN'}"]


RUNNERS = {"fig2a": run_fig2a, "fig2b": run_fig2b}

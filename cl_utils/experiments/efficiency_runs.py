"""Chapter 02: efficiency in continual learning (Ball et al. 2020): PackNet against Memory and Multinet.

Runs (kinds):

* ``fill``: one method fills the five-task network (consecutive class pairs of MNIST or
  CIFAR-10) and leaves a fraction ``free`` of its body weights free; one record holds
  each task's test accuracy for every seed of the run (the seeds train as one stacked
  network; a single CIFAR-10 seed, or each seed with stacking off, as a plain one). Figures 1, 2 and 4 are grids of such runs.
* ``match``: Appendix B. PackNet's mean accuracy at ``p`` is the target; the free fraction
  ``p̄`` at which Memory or Multinet reaches it is found on a grid (``how = "grid"``): a
  ``grid`` run trains every p̄ of an even grid in ``u = −log10(1 − p̄)`` and every seed as
  one stacked network (seeds not stacked: one ``fill`` run per p̄ and seed, planned before the matchings by
  :func:`grid_fill_runs`), the crossing is interpolated (:func:`cl_utils.efficiency.match_on_grid`)
  and one ``fill`` run at that p̄ gives the accuracy reported. With ``match_search`` the
  paper's way runs too (``how = "search"``): a sequential bounded Brent search
  (:func:`cl_utils.efficiency.match_free_fraction`), one ``fill`` run per step. Every run a
  match asks for is stored in the cache like a planned one (:meth:`.runs.RunContext.record`),
  so an interrupted match resumes where it stopped and the notebook finds its runs.

Seeds (and grid points) train as one stacked network (:func:`~cl_utils.models.stacked_mlp`,
:func:`~cl_utils.models.stacked_ball_cnn`), each model with its own data order, all on seed 0's training subset
and validation split (one data tensor). With ``stack_seeds`` or ``stack_cifar_seeds`` off, each seed is a record of
its own on its own subset (``subset_seed``; seed 0's is the shared one, so its key stays).

:func:`~cl_utils.efficiency.run_method` is Algorithm 1 of the paper for the three methods, in the method layer
with the mechanism (pruning per round, ownership, the matching search): :mod:`cl_utils.efficiency`.

Configs: :class:`FillRun`, :class:`GridRun` and :class:`MatchRun`, typed (:mod:`.run_config`), sharing the fields of
:class:`NetworkRun`, which fix a run's network, data and training.

Why one module (over 300 lines): one chapter's parameters, run configs, plan and run functions, read together
(its report is :mod:`.efficiency_report` and :mod:`.efficiency_figures`).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch

from ..efficiency import METHODS, grid_frees, match_free_fraction, match_on_grid, run_method
from ..models import MultiHeadNet, ball_cnn, mlp, stacked_ball_cnn, stacked_mlp
from ..streams import Task, split_tasks
from ..train import TrainSettings, set_seed
from .data_cache import task
from .runs import Records, Run, RunContext, mlp_cost
from .params import ParameterError, param
from .params import Params as BaseParams
from .run_config import RunConfig, optional

CHAPTER = "02_efficiency"
CODE_VERSION = 1
DATASETS = ("mnist", "cifar10")
PAIRS = [[2 * i, 2 * i + 1] for i in range(5)]  # five two-class tasks of consecutive classes
MATCH_BOUNDS = (0.5, 0.9999)  # the range of p̄ the matching search may take
BALL_CNN_MACS = 85.0e6  # multiply-accumulates of one 32x32 image through ball_cnn's body (conv layers + fc)
PER_CLASS = {"mnist": 6_000, "cifar10": 5_000}  # training images per class when train_per_class is 0 (all)
SMALLEST_CLASS = {"mnist": 5_421, "cifar10": 5_000}  # training images of the dataset's smallest class


@dataclasses.dataclass
class Params(BaseParams):
    datasets: list[str] = param(["mnist", "cifar10"], "datasets of Figs. 1-3",
                               choices=DATASETS, min_length=1, unique=True)  # fmt: skip
    seeds: list[int] = param(list(range(10)), "seeds of Figs. 1, 2, 4 (MNIST)", min=0,
                            min_length=1, unique=True)  # fmt: skip
    cifar_seeds: list[int] = param(list(range(10)), "seeds of Figs. 1, 2, 4 on CIFAR-10", min=0, min_length=1,
                                  unique=True)  # fmt: skip
    matching_seeds: list[int] = param([0, 1, 2, 3, 4], "seeds of Table 1 and Fig. 3 (the paper: 5)", min=0,
                                     min_length=1, unique=True)  # fmt: skip
    stack_seeds: bool = param(True, "train the seeds together as one stacked network (CIFAR-10: 2+ seeds)")
    stack_cifar_seeds: bool = param(True, "with stack_seeds, CIFAR-10's seeds too; off: one record per CIFAR-10 seed, "
                                    "each on its own training subset, so an added seed trains only itself (a "
                                    "CPU gains nothing from stacking: CONTRIBUTING)")  # fmt: skip
    val_fraction: float = param(0.1, "share of each task's training images held out (reported only)", min=0.01,
                               max=0.5)  # fmt: skip
    train_per_class: int = param(0, "MNIST training images per class, a class-balanced subset (0: all)", min=0)
    # MNIST: MLP 784-256-256-2 per task (the paper's Appendix A)
    mnist_hidden: list[int] = param([256, 256], "hidden widths of the MLP", min=1, min_length=1)
    mnist_lr: float = param(1e-3, "Adam learning rate", min=1e-8, max=1.0)
    mnist_batch_size: int = param(128, "minibatch size", min=1, max=100_000)
    mnist_epochs: int = param(72, "E, training epochs per task", min=1, max=100_000)
    mnist_budget: int = param(72, "B, retraining epochs per task, shared by the N rounds", min=1, max=100_000)
    mnist_free: list[float] = param([0.95, 0.99, 0.995], "final free fractions p", min=0.01, max=0.9999,
                                   min_length=1, unique=True)  # fmt: skip
    mnist_rounds: list[int] = param([1, 2, 3, 4, 6, 8, 9, 12], "pruning rounds N of Fig. 2 (divisors of B)", min=1,
                                   min_length=1, unique=True)  # fmt: skip
    # CIFAR-10: conv3-32, conv3-64, pool, conv3-128, conv3-128, pool, fc 8192-1024-2 (Appendix A)
    cifar_lr: float = param(1e-4, "Adam learning rate", min=1e-8, max=1.0)
    cifar_batch_size: int = param(32, "minibatch size", min=1, max=100_000)
    cifar_epochs: int = param(12, "E, training epochs per task", min=1, max=100_000)
    cifar_budget: int = param(6, "B, retraining epochs per task, shared by the N rounds", min=1, max=100_000)
    cifar_free: list[float] = param([0.8, 0.9, 0.95], "final free fractions p", min=0.01, max=0.9999, min_length=1,
                                   unique=True)  # fmt: skip
    cifar_rounds: list[int] = param([1, 2, 3, 6], "pruning rounds N of Fig. 2 (divisors of B)", min=1, min_length=1,
                                   unique=True)  # fmt: skip
    cifar_train_per_class: int = param(0, "CIFAR-10 training images per class (0: all)", min=0)
    # Appendix B (matching) and Appendix C (no budget)
    match_grid_points: int = param(16, "Table 1 on MNIST: p_bar values of the grid (spaced evenly in "
                                  "-log10(1 - p_bar) over [0.5, 0.9999])", min=2, max=1000)  # fmt: skip
    cifar_match_grid_points: int = param(16, "Table 1 on CIFAR-10: p_bar values of the grid", min=2, max=1000)
    cifar_match_bounds: list[float] = param([0.5, 0.9999], "Table 1 on CIFAR-10: the grid's lowest and highest p_bar",
                                           min=0.0, max=0.9999, min_length=2, unique=True)  # fmt: skip
    match_search: list[str] = param([], "datasets on which the sequential search (bounded Brent) also runs, to check "
                                    "the grid", choices=DATASETS, unique=True)  # fmt: skip
    memory_equal_steps: list[str] = param(["mnist", "cifar10"], "datasets on which Memory also runs at PackNet's "
                                          "gradient steps (every epoch a fresh draw of one task's size from the "
                                          "rehearsed data) for Table 1's p; the main runs give it PackNet's epochs, "
                                          "3 times the steps", choices=DATASETS, unique=True)  # fmt: skip
    match_xatol: float = param(0.02, "search tolerance in u, where p_bar is 1 - 10^-u", min=1e-6, max=1.0)
    match_maxiter: int = param(12, "most search steps per matched method", min=1, max=100)
    matching_datasets: list[str] = param(["mnist", "cifar10"], "datasets of Table 1 and Fig. 3", choices=DATASETS,
                                        unique=True)  # fmt: skip
    fig2_datasets: list[str] = param(["mnist", "cifar10"], "datasets of Fig. 2", choices=DATASETS, unique=True)
    fig4_datasets: list[str] = param(["cifar10"], "datasets of Fig. 4 (the paper: CIFAR-10)", choices=DATASETS,
                                    unique=True)  # fmt: skip
    fig4_rounds: list[int] = param([1, 2, 3, 4], "pruning rounds N of Fig. 4, each of B epochs", min=1, min_length=1,
                                  unique=True)  # fmt: skip
    scale_trend: list[float] = param([0.25, 0.5], "Fig. 3's scale trend: PackNet, one round, at every MNIST p and "
                                    "matching seed, with the MNIST images per class and E and B times each factor (a factor "
                                    "that asks for 6,000 or more images per class: the whole training split)",
                                    min=0.001, max=100.0, unique=True)  # fmt: skip
    long_epochs: int = param(0, "E = B of a second MNIST setting at the same images per class, for Fig. 2 and "
                             "Table 1's grid matching: do the epochs explain a gap? (0: none; the paper's are 72)",
                             min=0, max=100_000)  # fmt: skip

    def check(self) -> None:
        for d in ("mnist", "cifar10"):
            budget, rounds = getattr(self, f"{d[:5]}_budget"), getattr(self, f"{d[:5]}_rounds")
            if any(budget % n for n in rounds):
                raise ParameterError(f"parameter '{d[:5]}_rounds' must hold divisors of the retraining budget "
                                     f"{budget} (got {rounds}); fix it with -p {d[:5]}_rounds <list>")  # fmt: skip
        base = self.train_per_class or PER_CLASS["mnist"]
        for f in self.scale_trend:
            per_class = trend_setting(self, f)[0]
            if per_class > SMALLEST_CLASS["mnist"]:
                raise ParameterError(f"parameter 'scale_trend': factor {f:g} asks for {per_class:,} MNIST training "
                                     f"images per class, but its smallest class has {SMALLEST_CLASS['mnist']:,}; use "
                                     f"factors up to {SMALLEST_CLASS['mnist'] / base:.2f}, or "
                                     f"{PER_CLASS['mnist'] / base:g} and above for the whole training split")  # fmt: skip
        if self.long_epochs and any(self.long_epochs % n for n in self.mnist_rounds):
            raise ParameterError(f"parameter 'long_epochs' ({self.long_epochs}) must be a multiple of every MNIST round "
                                 f"count {self.mnist_rounds} (it is the retraining budget B there too); fix it with "
                                 f"-p long_epochs <multiple>")  # fmt: skip
        if len(self.cifar_match_bounds) != 2 or self.cifar_match_bounds[0] >= self.cifar_match_bounds[1]:
            raise ParameterError(f"parameter 'cifar_match_bounds' must be two free fractions, the lower first (got "
                                 f"{self.cifar_match_bounds}); fix it with -p cifar_match_bounds '[0.5, 0.9999]'")
        for name in ("matching_datasets", "fig2_datasets"):
            extra = [d for d in getattr(self, name) if d not in self.datasets]
            if extra:
                raise ParameterError(f"parameter '{name}' names {extra}, which 'datasets' ({self.datasets}) "
                                     f"leaves out; add them to 'datasets' or drop them from '{name}'")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Setting:
    """One dataset's network and schedule, as the parameters give them."""

    dataset: str
    lr: float
    batch_size: int
    epochs: int
    budget: int
    free: list[float]
    rounds: list[int]
    per_class: int
    seeds: list[int]
    hidden: list[int] | str
    match_points: int  # Table 1's grid: its number of p̄ values, and its lowest and highest
    match_bounds: tuple[float, float]


def setting(p: Params, d: str) -> Setting:
    if d == "mnist":
        return Setting(d, p.mnist_lr, p.mnist_batch_size, p.mnist_epochs, p.mnist_budget, p.mnist_free,
                       p.mnist_rounds, p.train_per_class, p.seeds, p.mnist_hidden, p.match_grid_points,
                       MATCH_BOUNDS)  # fmt: skip
    return Setting(d, p.cifar_lr, p.cifar_batch_size, p.cifar_epochs, p.cifar_budget, p.cifar_free, p.cifar_rounds,
                   p.cifar_train_per_class, p.cifar_seeds, "ball_cnn", p.cifar_match_grid_points,
                   tuple(p.cifar_match_bounds))  # fmt: skip


@dataclasses.dataclass(frozen=True)
class NetworkRun(RunConfig):
    """What fixes a run's network, data and training (shared by a matching and the runs it asks for)."""

    dataset: str
    epochs: int  # E
    lr: float
    batch_size: int
    per_class: int  # training images per class (0: all)
    val_fraction: float
    hidden: list[int] | str  # the MLP's hidden widths, or "ball_cnn"
    stacked: bool
    data_order: str | None = optional()  # "per model" on stacked networks (each model shuffles on its own)
    # the seed that draws the training subset and validation split: a one-seed record's own seed (absent: 0, the
    # subset every model of a stacked network shares)
    subset_seed: int | None = optional()
    steps: str | None = optional()  # "packnet" on Memory at PackNet's gradient steps (absent: PackNet's epochs)


@dataclasses.dataclass(frozen=True)
class FillRun(NetworkRun):
    """One method filling the five-task network down to ``free`` in ``rounds`` rounds of a ``budget``, for the
    seeds of one group (one record)."""

    method: str  # one of METHODS
    free: float
    rounds: int
    budget: int  # B
    seeds: list[int]


@dataclasses.dataclass(frozen=True)
class GridRun(NetworkRun):
    """One-shot ``method`` at every free fraction of ``frees`` for every seed, as one stacked network."""

    method: str
    budget: int
    seeds: list[int]
    frees: list[float]


@dataclasses.dataclass(frozen=True)
class MatchRun(NetworkRun):
    """Appendix B: the p̄ at which ``method`` matches PackNet's mean accuracy at ``target_free``, on a grid of
    ``points`` or by the bounded search (``xatol``, ``maxiter``)."""

    method: str
    target_free: float
    budget: int
    seeds: list[int]
    bounds: list[float]
    how: str  # "grid" or "search"
    points: int | None = optional()  # grid only
    xatol: float | None = optional()  # search only
    maxiter: int | None = optional()  # search only


#: the config keys that fix a dataset's network, data and training (:class:`NetworkRun`)
BASE_KEYS = tuple(f.name for f in dataclasses.fields(NetworkRun))


def _base(p: Params, s: Setting) -> dict:
    stacked = p.stack_seeds and (s.dataset == "mnist" or (p.stack_cifar_seeds and len(s.seeds) > 1))  # fmt: skip
    return dict(dataset=s.dataset, epochs=s.epochs, lr=s.lr, batch_size=s.batch_size, per_class=s.per_class,
                val_fraction=p.val_fraction, hidden=s.hidden, stacked=stacked,
                data_order="per model" if stacked else None)  # fmt: skip


def _base_of(c: NetworkRun) -> dict:
    """The fields of a run's config that fix its network, data and training (:class:`NetworkRun`)."""
    return NetworkRun.fields_from(c.as_config())


def _groups(stacked: bool, seeds: Sequence[int]) -> list[list[int]]:
    """The seeds trained together: all of them as one stacked MLP, else one run per seed."""
    return [list(seeds)] if stacked else [[s] for s in seeds]


def _fill_configs(base: dict, method: str, free: float, rounds: int, budget: int, seeds: Sequence[int]) -> list[FillRun]:
    """The fill configs of one point; ``steps`` (Memory at PackNet's gradient steps) is kept for Memory only."""
    if method != "memory":
        base = base | {"steps": None}
    return [FillRun(**base | {"subset_seed": _subset_seed(base["stacked"], g)}, method=method, free=free,
                    rounds=rounds, budget=budget, seeds=g) for g in _groups(base["stacked"], seeds)]  # fmt: skip


def _subset_seed(stacked: bool, seeds: Sequence[int]) -> int | None:
    """The seed that draws a record's training subset and validation split: a one-seed record's own (``None``
    for seed 0, the default); the models of a stacked network share seed 0's (one data tensor for all)."""
    return (seeds[0] or None) if not stacked and len(seeds) == 1 else None


def _cost(c: FillRun | MatchRun, seeds: int) -> float:
    """Multiply-accumulates of a fill run: Memory trains 1 + 2 + ... + 5 tasks' data, the others 5."""
    images = 2 * (c.per_class or PER_CLASS[c.dataset]) * (1 - c.val_fraction)
    epochs = c.epochs + c.budget
    rehearsed = c.method == "memory" and c.steps is None
    passes = images * epochs * (15 if rehearsed else 5) * seeds
    if c.dataset == "mnist":
        return mlp_cost(784, c.hidden, 2, passes, 1)
    return 3.0 * BALL_CNN_MACS * passes


def fill_runs(p: Params, d: str, method: str, free: float, rounds: int, budget: int, seeds: Sequence[int],
              steps: str = "epochs") -> list[Run]:  # fmt: skip
    """The ``fill`` runs of one point of a figure (one per seed group); ``steps="packnet"``: Memory at PackNet's
    gradient steps (:data:`~cl_utils.efficiency.MEMORY_STEPS`; the key only where it differs from the default)."""
    base = _base(p, setting(p, d)) | {"steps": None if steps == "epochs" else steps}
    configs = _fill_configs(base, method, free, rounds, budget, seeds)
    tag = ", PackNet's steps" if configs[0].steps else ""
    return [Run("fill", c, (d,), _cost(c, len(c.seeds)), f"{d} {method} p={free:g} N={rounds} B={budget} "
                f"seeds={c.seeds}{tag}") for c in configs]  # fmt: skip


def trend_setting(p: Params, factor: float) -> tuple[int, int, int]:
    """MNIST images per class, E and B of the scale trend's point ``factor`` (each the chapter's times it); the
    images per class are 0, the whole training split (the paper's), where the factor asks for MNIST's 6,000 or
    more."""
    s = setting(p, "mnist")
    per_class = max(1, round(factor * (s.per_class or PER_CLASS["mnist"])))
    return (0 if per_class >= PER_CLASS["mnist"] else per_class, max(1, round(factor * s.epochs)),
            max(1, round(factor * s.budget)))  # fmt: skip


def trend_runs(p: Params) -> list[Run]:
    """Fig. 3's scale trend: PackNet at N = 1 at every MNIST p and matching seed, at each factor's images per class
    and epochs, to show whether the gap to the paper's accuracy closes as the scale grows."""
    s, runs = setting(p, "mnist"), []
    for factor in p.scale_trend:
        per_class, epochs, budget = trend_setting(p, factor)
        base = {**_base(p, s), "per_class": per_class, "epochs": epochs}
        runs += [Run("fill", c, ("mnist",), _cost(c, len(c.seeds)), f"mnist packnet p={f:g} N=1 B={budget} "
                     f"seeds={c.seeds}, scale x{factor:g}")
                 for f in s.free for c in _fill_configs(base, "packnet", f, 1, budget, p.matching_seeds)]  # fmt: skip
    return runs


def long_params(p: Params) -> Params | None:
    """The parameters of the long setting (``long_epochs``): MNIST alone, E = B = ``long_epochs`` at the same images per
    class, seeds and network, Fig. 2 and Table 1's grid matching only (no search, no Memory at PackNet's steps, no
    Figs. 1 and 4 of their own, no scale trend); ``None`` without one. The report reads its records with these."""
    if not p.long_epochs:
        return None
    mnist = lambda names: [d for d in names if d == "mnist"]  # noqa: E731
    return dataclasses.replace(p, mnist_epochs=p.long_epochs, mnist_budget=p.long_epochs, long_epochs=0,
                               datasets=["mnist"], fig2_datasets=mnist(p.fig2_datasets), fig4_datasets=[],
                               matching_datasets=mnist(p.matching_datasets), match_search=[],
                               memory_equal_steps=[], scale_trend=[])  # fmt: skip


def long_runs(p: Params) -> list[Run]:
    """The runs of the long setting (:func:`long_params`): Fig. 2's PackNet runs at every p and N, and Table 1's grid
    matchings of Memory and Multinet against PackNet (each asks for its grid's runs while it runs)."""
    q = long_params(p)
    if q is None or "mnist" not in p.datasets:
        return []
    s, runs = setting(q, "mnist"), []
    if q.fig2_datasets:
        runs += [r for f in s.free for n in s.rounds for r in fill_runs(q, "mnist", "packnet", f, n, s.budget, s.seeds)]
    if q.matching_datasets:
        runs += [r for f in s.free for r in fill_runs(q, "mnist", "packnet", f, 1, s.budget, q.matching_seeds)]
        runs += [r for m in ("memory", "multinet") for r in grid_fill_runs(q, "mnist", m)]
        runs += [match_run(q, "mnist", f, m, "grid") for f in s.free for m in ("memory", "multinet")]
    return runs


def match_run(p: Params, d: str, free: float, method: str, how: str, steps: str = "epochs") -> Run:
    """Table 1's matching of ``method`` against PackNet at ``free``: on a grid of p̄ trained at once, or searched;
    ``steps="packnet"``: Memory at PackNet's gradient steps (PackNet's own runs are the same)."""
    grid, s = how == "grid", setting(p, d)
    c = MatchRun(**_base(p, s) | {"steps": None if steps == "epochs" else steps}, method=method,
                 target_free=free, budget=s.budget, seeds=p.matching_seeds,
                 bounds=list(s.match_bounds if grid else MATCH_BOUNDS), how=how, points=s.match_points if grid else None,
                 xatol=None if grid else p.match_xatol, maxiter=None if grid else p.match_maxiter)  # fmt: skip
    if grid and c.stacked:
        shared = s.match_points / len(s.free)  # one grid serves every target p: its share
        cost = _cost(c, len(p.matching_seeds)) * (shared + 1)  # and one run at the p̄ found
    elif grid:  # the grid's fill runs are planned runs of their own (grid_fill_runs)
        cost = _cost(c, len(p.matching_seeds))  # the run at the p̄ found
    else:
        cost = _cost(c, len(p.matching_seeds)) * (p.match_maxiter + 1)
    tag = ", PackNet's steps" if steps != "epochs" else ""
    return Run("match", c, (d,), cost, f"{d} {method}{tag} against PackNet p={free:g} ({how})")


def grid_fill_runs(p: Params, d: str, method: str, steps: str = "epochs") -> list[Run]:
    """The ``fill`` runs of Table 1's grid for ``method`` where the seeds are not stacked (one per p̄ and seed; a
    stacked grid is one ``grid`` run that its matching asks for): planned before the matchings, so that several
    processes share them out and ``--list`` shows them, instead of each matching training them one after another."""
    s = setting(p, d)
    if _base(p, s)["stacked"]:
        return []
    return [r for q in grid_frees(s.match_points, s.match_bounds)
            for r in fill_runs(p, d, method, q, 1, s.budget, p.matching_seeds, steps)]


def plan(p: Params) -> list[Run]:
    """Fig. 1, Fig. 2 and Fig. 4 on MNIST, the matching searches, then everything on CIFAR-10, then the long
    setting (:func:`long_runs`)."""
    runs: list[Run] = []
    for d in DATASETS:
        s = setting(p, d)
        if d in p.datasets:
            runs += [r for f in s.free for m in METHODS for r in fill_runs(p, d, m, f, 1, s.budget, s.seeds)]
        if d in p.fig2_datasets:
            runs += [r for f in s.free for n in s.rounds for r in fill_runs(p, d, "packnet", f, n, s.budget, s.seeds)]
        if d in p.fig4_datasets:
            runs += [r for f in s.free for n in p.fig4_rounds
                     for r in fill_runs(p, d, "packnet", f, n, s.budget * n, s.seeds)]  # fmt: skip
        if d in p.matching_datasets:
            runs += [r for f in s.free for r in fill_runs(p, d, "packnet", f, 1, s.budget, p.matching_seeds)]
            runs += [r for m in ("memory", "multinet") for r in grid_fill_runs(p, d, m)]
            for how in ("grid", "search") if d in p.match_search else ("grid",):
                for f in s.free:
                    for m in ("memory", "multinet"):
                        runs.append(match_run(p, d, f, m, how))
            if d in p.memory_equal_steps:  # Memory at PackNet's steps: its accuracy at p (Fig. 1's seeds), its matching
                runs += [r for f in s.free for r in fill_runs(p, d, "memory", f, 1, s.budget, s.seeds, "packnet")]
                runs += grid_fill_runs(p, d, "memory", "packnet")
                runs += [match_run(p, d, f, "memory", "grid", "packnet") for f in s.free]
            if d == "mnist":
                runs += trend_runs(p)
    runs += long_runs(p)  # MNIST at E = B = long_epochs: last, the longest
    seen, unique = set(), []
    for r in runs:  # a point shared by two figures (Fig. 1 and Fig. 2 at N = 1) is one run
        key = (r.kind, repr(sorted(r.config.items())))
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


# -- run functions ----------------------------------------------------------------------------------
def pairs(c: NetworkRun, data_source: str, device: torch.device | str = "cpu") -> list[Task]:
    """The five two-class tasks of a dataset, with the run's subset and validation split."""
    base = task(c.dataset, data_source, device, val_fraction=c.val_fraction, seed=c.subset_seed or 0,
                train_per_class=c.per_class)  # fmt: skip
    return split_tasks(base, PAIRS)


def _network(c: NetworkRun, models: int) -> MultiHeadNet:
    """The run's network, five two-class heads: ``models`` stacked copies, or a plain one (``models = 1``, unstacked)."""
    if c.dataset == "mnist":
        return stacked_mlp(models, 784, c.hidden, [2] * 5) if c.stacked else mlp(784, c.hidden, [2] * 5)
    return stacked_ball_cnn(models, [2] * 5) if c.stacked else ball_cnn([2] * 5)


def _fill(c: FillRun | GridRun, ctx: RunContext, models: int, final_free: float | list[float], rounds: int) -> dict:
    """``c.method`` filling ``models`` stacked networks (1: a plain one) seeded by ``c.seeds[0]``."""
    generator = set_seed(c.seeds[0])
    train = TrainSettings(c.epochs, c.batch_size, "adam", c.lr)
    return run_method(c.method, _network(c, models).to(ctx.device), pairs(c, ctx.data_source, ctx.device), train,
                      retrain_budget=c.budget, rounds=rounds, final_free=final_free, generator=generator,
                      show_progress=ctx.show_progress, memory_steps=c.steps or "epochs")  # fmt: skip


def run_fill(c: FillRun, ctx: RunContext) -> dict:
    """One method filling the network, for the run's seed group."""
    return _fill(c, ctx, len(c.seeds) if c.stacked else 1, c.free, c.rounds)


def _filled(c: MatchRun, ctx: RunContext, method: str, free: float) -> np.ndarray:
    """Test accuracy (%, tasks × seeds) of one-shot ``method`` at ``free``: stored sub-runs, trained if missing."""
    configs = _fill_configs(_base_of(c), method, free, 1, c.budget, c.seeds)
    records = [ctx.record("fill", cfg, (c.dataset,), run_fill) for cfg in configs]
    return 100 * np.concatenate([np.asarray(r["metrics"]["acc"]) for r in records], axis=1)


def run_grid(c: GridRun, ctx: RunContext) -> dict:
    """One-shot ``method`` at every free fraction of ``c.frees`` for every seed: one stacked network of
    ``len(frees) × len(seeds)`` models (model ``i × len(seeds) + j`` is point ``i``, seed ``j``)."""
    frees, seeds = c.frees, c.seeds
    return _fill(c, ctx, len(frees) * len(seeds), [f for f in frees for _ in seeds], rounds=1)


def _grid_accuracy(c: MatchRun, ctx: RunContext, frees: list[float]) -> np.ndarray:
    """Test accuracy (%, points × tasks × seeds) of one-shot ``c.method`` at each of ``frees``.

    Stacked networks: one ``grid`` run trains every point and seed at once (shared by the three targets).
    Otherwise one stored ``fill`` run per point, as the search would train them.
    """
    if not c.stacked:
        return np.stack([_filled(c, ctx, c.method, f) for f in frees])
    config = GridRun(**_base_of(c), method=c.method, budget=c.budget, seeds=c.seeds, frees=frees)
    acc = np.asarray(ctx.record("grid", config, (c.dataset,), run_grid)["metrics"]["acc"])  # tasks × models
    return 100 * acc.reshape(acc.shape[0], len(frees), len(c.seeds)).transpose(1, 0, 2)


def run_match(c: MatchRun, ctx: RunContext) -> dict:
    """Appendix B: the free fraction p̄ at which ``c.method`` matches PackNet's mean accuracy at ``target_free``.

    ``how = "grid"``: every p̄ of an even grid in u trained at once, the crossing interpolated, then one
    run at that p̄ (its accuracy is the one reported); ``"search"``: the sequential bounded Brent search.
    """
    target = _filled(c, ctx, "packnet", c.target_free)
    if c.how == "grid":
        frees = grid_frees(c.points, tuple(c.bounds))
        curve = _grid_accuracy(c, ctx, frees).mean(axis=(1, 2))
        found = match_on_grid(float(target.mean()), frees, list(curve))
    else:
        found = match_free_fraction(float(target.mean()), lambda q: _filled(c, ctx, c.method, q).mean(),
                                    bounds=tuple(c.bounds), xatol=c.xatol, maxiter=c.maxiter)  # fmt: skip
    acc = _filled(c, ctx, c.method, found["free"])  # the search evaluated it already: a stored run
    return {**found, "performance": float(acc.mean()), "target": float(target.mean()), "target_acc": target,
            "acc": acc}


RUNNERS = {"fill": run_fill, "match": run_match, "grid": run_grid}


# -- reading the records ----------------------------------------------------------------------------
def accuracy(records: Records, p: Params, d: str, method: str, free: float, rounds: int, budget: int,
             seeds: Sequence[int]) -> np.ndarray:  # fmt: skip
    """Test accuracy (%, tasks × seeds) of one point of a figure, from the chapter's records."""
    runs = fill_runs(p, d, method, free, rounds, budget, seeds)
    return 100 * np.concatenate([np.asarray(records.one("fill", **r.config)["metrics"]["acc"]) for r in runs], axis=1)


def match_record(records: Records, d: str, free: float, method: str, how: str = "grid",
                 steps: str = "epochs", epochs: int | None = None) -> dict:  # fmt: skip
    """The record of the matching of ``method`` against PackNet at ``free`` (on the grid, or by the search);
    ``steps="packnet"``: Memory's at PackNet's gradient steps; ``epochs`` tells the chapter's setting and the long
    one apart where both are in the records (elsewhere E is read from the record, not asked for)."""
    return records.one("match", prefer=None if epochs is None else {"epochs": epochs}, dataset=d, target_free=free,
                       method=method, how=how, steps=None if steps == "epochs" else steps)  # fmt: skip


def match(records: Records, p: Params, d: str, free: float, method: str, how: str = "grid",
          steps: str = "epochs") -> dict:  # fmt: skip
    """The metrics of :func:`match_record`."""
    return match_record(records, d, free, method, how, steps, setting(p, d).epochs)["metrics"]

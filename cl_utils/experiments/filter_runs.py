"""Chapter 05: the three experiments of Salcedo & Sharma, as one run function over a typed config.

* ``"fixed"`` (their Fig. 2): one random subset of a dataset's training split, the same
  in every block.
* ``"resample"`` (Fig. 3): a new sample *with replacement* of the training split at
  every block of ``every`` epochs ("iterative subsampling").
* ``"datasets"`` (Fig. 4, "intersection pruning"): block ``b`` trains on dataset
  ``b mod len(datasets)``, a fresh sample of it at every visit. All datasets are 32 px
  RGB (grey images padded 28 → 32 and repeated to three channels); the network keeps
  one output layer as wide as the largest label set and re-learns it at every switch,
  as the paper does (it is not reset).

Each dataset keeps a fixed validation split held out of its training split (never the
test split).

The paper fine-tunes an ImageNet-trained VGG-16; no ImageNet weights can be had offline. The stand-in
(``pretrain_images > 0``, figures ``"fig2_standin"``, ``"fig3_standin"``, ``"fig4_standin"`` as
``standin_figures`` says): each figure once more from a network pretrained (kind ``pretrain``,
:class:`PretrainRun`, its state a checkpoint) on images of Fig. 2's dataset that no block or validation set of
the chapter draws from: its *test* split, which this chapter never evaluates on. Its output
layer is re-initialised for the fine-tuning, as any fine-tuning on another label set must (``pretrained=True``
replaces ImageNet's 1,000-way layer too). It is a stand-in, not ImageNet: the same label set and domain as the
fine-tuning task (closer to pruning a network already trained on the task than to transfer), on far fewer
images than ImageNet but many more than one block. The pretraining uses the chapter's optimiser settings at its
own rate (``pretrain_lr``, a rate for training from random weights); the stand-in's runs fine-tune at
``standin_lr``, a rate for fine-tuning a pretrained network (``lr``'s default, after the code the paper builds on;
the paper states none), where the random-init runs use ``lr``.

Every run (kind ``train``) is one (figure, criterion, seed) of the chapter, its config a :class:`FilterRun`
(typed, :mod:`.run_config`); kind ``epoch_time`` (:class:`EpochTimeRun`) times Fig. 2's epochs. With
``stack_seeds`` (the default) the seeds of a (figure, criterion) train as one stacked network
(:func:`~cl_utils.filter_pruning.stacked_filter_net`), each model from its seed's own initial weights, on its
seed's own data blocks (config ``seeds``; metrics ``per_seed``, read as one record per seed by the report).

Why one module (over 300 lines): the chapter's data blocks, parameters, run configs, plan and run functions,
read together (its report is :mod:`.filter_report` and :mod:`.filter_figures`).
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable

import torch

from .. import data
from ..data import RawDataset
from ..filter_pruning import (
    CRITERIA,
    RESTART,
    Block,
    PruningSchedule,
    prune_step,
    stacked_filter_net,
    train_with_filter_pruning,
    vgg16_filter_net,
)
from ..models import model_parameters
from ..streams import Task, make_task
from ..train import TrainSettings, fit, resolve_device, set_seed
from .data_cache import carved_datasets, raw_dataset
from .runs import Run, RunContext
from .stacking import member_fields, member_groups
from .params import ParameterError, param
from .params import Params as BaseParams
from .run_config import RunConfig, optional

__all__ = ["MODES", "carved_datasets", "load_pools", "make_blocks", "run_filter_experiment", "Params", "plan", "RUNNERS",
           "FilterRun", "EpochTimeRun", "PretrainRun", "pretrain_task", "pretrained_state", "load_pretrained"]  # fmt: skip

CHAPTER = "05_filter_pruning"
CODE_VERSION = 1

MODES = ("fixed", "resample", "datasets")


def _carve_fraction(raw: RawDataset, train_from_test: float) -> float:
    """``train_from_test`` for a dataset with no training split here (KMNIST offline), else 0."""
    return train_from_test if len(raw.y_train) == 0 else 0.0


def load_pools(
    names: list[str], val_images: int, *, data_source: str, train_from_test: float, seed: int, device: torch.device
) -> list[Task]:
    """Each dataset as a :class:`Task`: its whole training split as the pool, ``val_images`` held out.

    A dataset with no training split here (KMNIST) has its training pool carved out of
    ``train_from_test`` of its test split.
    """
    tasks = []
    for name in names:
        raw = raw_dataset(name, data_source)
        carve = _carve_fraction(raw, train_from_test)
        pool_size = len(raw.y_test) * carve if carve else len(raw.y_train)
        if val_images >= pool_size:
            raise ValueError(f"val_images={val_images} leaves no training images of {name} ({pool_size:.0f} in all)")
        tasks.append(make_task(
            raw, val_fraction=val_images / pool_size, seed=seed, rgb=True, size=32, standardize=True,
            train_from_test=carve, device=device,
        ))  # fmt: skip
    return tasks


def make_blocks(mode: str, pools: list[Task], train_images: int, seed: int) -> Callable[[int], Block]:
    """``block_data(b)`` for :func:`~cl_utils.filter_pruning.train_with_filter_pruning` in ``mode``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode != "datasets" and len(pools) != 1:
        raise ValueError(f"mode {mode!r} trains on one dataset, got {len(pools)}")
    for task in pools:
        if mode != "resample" and train_images > len(task.y_train):
            raise ValueError(f"train_images={train_images} > the {len(task.y_train)} training images of {task.name}")

    def sample(task: Task, b: int, replace: bool) -> Block:
        g = torch.Generator().manual_seed(seed * 100_003 + b)
        n = len(task.y_train)
        idx = torch.randint(n, (train_images,), generator=g) if replace else torch.randperm(n, generator=g)[:train_images]
        idx = idx.to(task.x_train.device)
        return Block(task.name, task.x_train[idx], task.y_train[idx], task.x_val, task.y_val)

    if mode == "fixed":
        fixed = sample(pools[0], 0, replace=False)
        return lambda b: fixed
    if mode == "resample":
        return lambda b: sample(pools[0], b, replace=True)
    return lambda b: sample(pools[b % len(pools)], b, replace=False)


@dataclasses.dataclass(frozen=True)
class _Network(RunConfig):
    """The network and its optimiser: what a pruned run and the stand-in's pretraining stage share."""

    batch_norm: bool
    pool_size: int
    fc_widths: list[int]
    dropout: float
    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    batch_size: int


@dataclasses.dataclass(frozen=True)
class NetworkRun(_Network):
    """What every run of the chapter shares: the network, its fine-tuning and the pruning step."""

    percent: float
    normalize: bool
    pretrained: bool
    train_from_test: float


@dataclasses.dataclass(frozen=True)
class FilterRun(NetworkRun):
    """One (figure, criterion, seed): a VGG-16 trained, and pruned every ``every`` epochs, on the figure's data."""

    mode: str  # one of MODES
    datasets: list[str]
    train_images: int
    val_images: int
    epochs: int
    every: int
    figure: str
    criterion: str
    seed: int  # a stacked run: its first seed, whose generator draws every model's data order
    #: the pretraining stand-in (figures "fig*_standin" only; absent from the other runs' keys)
    pretrain_images: int | None = optional()
    pretrain_val_images: int | None = optional()
    pretrain_epochs: int | None = optional()
    pretrain_seed: int | None = optional()
    pretrain_lr: float | None = optional()
    #: the stand-in's dataset where it is not the run's first (absent: ``datasets[0]``, Fig. 2's own dataset)
    pretrain_dataset: str | None = optional()
    #: the seeds trained together as one stacked network (absent: one)
    seeds: list[int] | None = optional()

    @property
    def standin_dataset(self) -> str | None:
        """The dataset whose test split the run's stand-in was pretrained on (None: no stand-in)."""
        if self.pretrain_images is None:
            return None
        return self.pretrain_dataset or self.datasets[0]


@dataclasses.dataclass(frozen=True)
class PretrainRun(_Network):
    """The ImageNet stand-in: the network trained on ``images`` of ``dataset``'s test split (``val_images`` more
    of it held out to watch it), its state a checkpoint the stand-in runs start from."""

    dataset: str
    images: int
    val_images: int
    epochs: int
    seed: int

    @classmethod
    def of(cls, c: FilterRun) -> "PretrainRun":
        """The stage a stand-in run (figure ``fig*_standin``) starts from."""
        if c.pretrain_images is None:
            raise ValueError(f"run {c.figure}/{c.criterion}/seed {c.seed} has no pretraining stage")
        own = dict(dataset=c.standin_dataset, images=c.pretrain_images, val_images=c.pretrain_val_images,
                   epochs=c.pretrain_epochs, seed=c.pretrain_seed, lr=c.pretrain_lr)  # the rest are the run's
        return cls(**cls.fields_from(c.as_config() | own))


@dataclasses.dataclass(frozen=True)
class EpochTimeRun(NetworkRun):
    """Fig. 2's epoch time: ``pairs`` epochs of the unpruned and of the ``prunes`` times pruned network."""

    train_images: int
    every: int
    pairs: int
    prunes: int
    seed: int


def run_filter_experiment(
    config: FilterRun, *, data_source: str, device: torch.device | str = "auto", show_progress: bool = True,
    initial_state: dict[str, torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Train (and prune) one VGG-16 as ``config`` says, on data from ``data_source``; return its per-epoch history
    and filter counts. ``initial_state``: a pretrained network's state, loaded into every layer but the last
    (:func:`load_pretrained`).

    A stacked run (``seeds``) trains one network per seed as one stacked network: model ``s`` starts from seed
    ``s``'s initial weights (as its own run would) and trains on seed ``s``'s blocks and validation split; the
    first seed's generator draws every model's data order; each model drops its own filters, as many as the
    others. ``per_seed`` then holds each seed's result as one run's."""
    c = config
    device = resolve_device(device) if isinstance(device, str) else device
    seeds = c.seeds or [c.seed]
    generator = set_seed(c.seed)
    pools = [load_pools(list(c.datasets), c.val_images, data_source=data_source, train_from_test=c.train_from_test,
                        seed=s, device=device) for s in seeds]  # fmt: skip
    blocks = [make_blocks(c.mode, own, c.train_images, s) for own, s in zip(pools, seeds)]
    nets = []
    for s, own in zip(seeds, pools):
        set_seed(s)  # the same initial weights whatever the data loading consumed: the seed's own run's
        nets.append(vgg16_filter_net(
            max(t.num_classes for t in own), pretrained=c.pretrained, batch_norm=c.batch_norm, pool_size=c.pool_size,
            fc_widths=c.fc_widths, dropout=c.dropout,
        ).to(device))  # fmt: skip
        if initial_state is not None:
            load_pretrained(nets[-1], initial_state)
    model = nets[0] if len(nets) == 1 else stacked_filter_net(nets)
    start_counts = model.filter_counts()

    def stacked_blocks(b: int) -> Block:
        own = [block(b) for block in blocks]
        return Block(own[0].name, *(torch.stack([getattr(o, k) for o in own]) for k in
                                    ("x_train", "y_train", "x_val", "y_val")))  # fmt: skip

    settings = TrainSettings(c.epochs, c.batch_size, c.optimizer, c.lr, c.momentum, c.weight_decay)
    history = train_with_filter_pruning(
        model, blocks[0] if len(nets) == 1 else stacked_blocks, epochs=c.epochs,
        settings=settings.for_models(len(nets)), schedule=PruningSchedule(c.criterion, c.percent, c.every,
                                                                          c.normalize),
        generator=generator, show_progress=show_progress,
        desc=f"{c.mode}/{c.criterion}/" + (f"seeds {c.seeds}" if c.seeds else f"seed {c.seed}"),
    )  # fmt: skip
    sources = sorted({t.source for own in pools for t in own})
    results = [{"history": h, "start_filter_counts": start_counts, "end_filter_counts": model.filter_counts(),
                "parameters": sum(p.numel() for p in model_parameters(model, i).values()), "sources": sources}
               for i, h in enumerate(history if c.seeds else [history])]  # fmt: skip
    return {"per_seed": results} if c.seeds else results[0]


def pretrain_task(c: PretrainRun, *, data_source: str, device: torch.device) -> Task:
    """The stand-in's images: ``images + val_images`` of ``c.dataset``'s test split (32 px RGB, standardised with
    their own statistics), never a block's or a validation image of this chapter (those come from its training
    split)."""
    raw = raw_dataset(c.dataset, data_source)
    if len(raw.y_train) == 0:
        raise ValueError(f"{c.dataset} has no training split here: its blocks are carved from its test split, so "
                         "the test split cannot hold the pretraining images; set fig2_dataset to a dataset with a "
                         "training split (e.g. cifar10) or pretrain_images=0")  # fmt: skip
    if c.images + c.val_images > len(raw.y_test):
        raise ValueError(f"pretrain_images + pretrain_val_images = {c.images + c.val_images:,} but {c.dataset}'s test "
                         f"split holds {len(raw.y_test):,} images here: lower them to sum to at most "
                         f"{len(raw.y_test):,}")  # fmt: skip
    g = torch.Generator().manual_seed(c.seed)
    pick = torch.randperm(len(raw.y_test), generator=g)[: c.images + c.val_images]
    test_only = dataclasses.replace(raw, x_train=raw.x_test[pick], y_train=raw.y_test[pick], x_test=raw.x_test[:0],
                                    y_test=raw.y_test[:0])  # fmt: skip
    return make_task(test_only, val_fraction=c.val_images / (c.images + c.val_images), seed=c.seed, rgb=True,
                     size=32, standardize=True, device=device)  # fmt: skip


def build_pretrained(c: PretrainRun, ctx: RunContext) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train the stand-in from random weights (no pruning); its state and its per-epoch history."""
    task = pretrain_task(c, data_source=ctx.data_source, device=ctx.device)
    generator = set_seed(c.seed)
    model = vgg16_filter_net(task.num_classes, batch_norm=c.batch_norm, pool_size=c.pool_size,
                             fc_widths=c.fc_widths, dropout=c.dropout).to(ctx.device)  # fmt: skip
    settings = TrainSettings(c.epochs, c.batch_size, c.optimizer, c.lr, c.momentum, c.weight_decay)
    history = fit(model, task.x_train, task.y_train, epochs=c.epochs, batch_size=c.batch_size,
                  optimizer=settings.make_optimizer(model.parameters()), val=(task.x_val, task.y_val),
                  generator=generator, show_progress=ctx.show_progress, desc=f"pretrain on {c.dataset} test split")
    return model.state_dict(), {"history": [h.as_dict() for h in history], "train_images": len(task.y_train),
                                "val_images": len(task.y_val), "source": task.source}  # fmt: skip


def pretrained_state(c: FilterRun, ctx: RunContext) -> dict[str, torch.Tensor]:
    """The stand-in's state a stand-in run starts from: its checkpoint, or trained here."""
    stage = PretrainRun.of(c)
    return ctx.checkpoint("pretrain", stage, (stage.dataset,), lambda: build_pretrained(stage, ctx)[0])


def load_pretrained(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load ``state`` into every layer of ``model`` but its output layer, which keeps its fresh initialisation (as
    ``pretrained=True`` replaces ImageNet's 1,000-way layer with one for the task)."""
    last = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)][-1]
    kept = {k: v for k, v in state.items() if not k.startswith(f"{last}.")}
    missing, unexpected = model.load_state_dict(kept, strict=False)
    if unexpected or sorted(missing) != [f"{last}.bias", f"{last}.weight"]:
        raise ValueError(f"the pretrained state does not fit the network: missing {missing}, unexpected {unexpected}")


NAMES = sorted(data.DATASETS)
#: images in each dataset's test split (torchvision's; EMNIST's "balanced"): the stand-in's pretraining pool
TEST_IMAGES = {"mnist": 10_000, "fashion_mnist": 10_000, "kmnist": 10_000, "emnist": 18_800, "svhn": 26_032,
               "cifar10": 10_000, "cifar100": 10_000}  # fmt: skip


@dataclasses.dataclass
class Params(BaseParams):
    # network: torchvision's VGG-16 (13 convs, 4,224 filters)
    pretrained: bool = param(True, "ImageNet weights from torchvision (needs internet once)")
    batch_norm: bool = param(False, "True gives torchvision's vgg16_bn layout")
    pool_size: int = param(7, "average pool before the classifier (torchvision: 7)",
                          min=1, max=7)  # fmt: skip
    fc_widths: list[int] = param([4096, 4096], "classifier hidden widths", min=1)
    dropout: float = param(0.5, "classifier dropout", min=0.0, max=0.95)
    # fine-tuning (the report: "in accompanying code"; SGD as in Gildenblat's pruning code)
    optimizer: str = param("sgd", "optimiser", choices=("sgd", "adam", "adamw"))
    lr: float = param(0.001, "learning rate", min=1e-8, max=10.0)
    momentum: float = param(0.9, "momentum", min=0.0, max=0.999)
    weight_decay: float = param(0.0, "weight decay", min=0.0, max=1.0)
    batch_size: int = param(32, "minibatch size", min=1, max=65536)
    # pruning (the report's Eq. 1 and Algorithm 3)
    percent: float = param(5.0, "share of each conv layer's filters removed at every pruning step", min=0.0, max=50.0)
    normalize: bool = param(False, "divide each iteration's scores by the layer's maximum (the report: False)")
    criteria: list[str] = param(["none", "activation", "weight"], "'none' is the unpruned baseline", choices=CRITERIA,
                               min_length=1, unique=True)  # fmt: skip
    # Figure 2: one fixed 5 % subset of CIFAR-10
    fig2_dataset: str = param("cifar10", "dataset of Fig. 2", choices=NAMES)
    fig2_train_images: int = param(2000, "training images (a fixed subset)", min=10, max=10**6)
    fig2_val_images: int = param(500, "validation images", min=10, max=10**6)
    fig2_epochs: int = param(50, "epochs", min=1, max=1000)
    fig2_every: int = param(7, "epochs per block (a pruning step after each)", min=1, max=1000)
    # Figure 3: 10 % of CIFAR-10 resampled with replacement at every block
    fig3_dataset: str = param("cifar10", "dataset of Fig. 3", choices=NAMES)
    fig3_train_images: int = param(4000, "training images per block (resampled)", min=10, max=10**6)
    fig3_val_images: int = param(1000, "validation images", min=10, max=10**6)
    fig3_epochs: int = param(50, "epochs", min=1, max=1000)
    fig3_every: int = param(7, "epochs per block", min=1, max=1000)
    # Figure 4: a different dataset every block, every dataset visited fig4_passes times
    fig4_datasets: list[str] = param(["cifar10", "cifar100", "mnist", "kmnist", "fashion_mnist", "emnist"],
                                    "datasets, one per block", choices=NAMES, min_length=1, unique=True)  # fmt: skip
    fig4_train_images: int = param(3000, "training images per visit (about 5 % of each training split)", min=10,
                                  max=10**6)  # fmt: skip
    fig4_val_images: int = param(500, "validation images per dataset", min=10, max=10**6)
    fig4_every: int = param(6, "epochs per block", min=1, max=1000)
    fig4_passes: int = param(2, "visits of every dataset", min=1, max=20)
    fig4_criteria: list[str] = param(["none", "weight"], "criteria of Fig. 4", choices=CRITERIA, min_length=1,
                                    unique=True)  # fmt: skip
    restart_figures: list[str] = param(["fig3"], "figures whose baseline runs once more with the optimiser rebuilt at "
                                       "every block end, where a pruned run rebuilds it after its prune (a control of "
                                       "ours: the prune or the restart?); the stand-in's too", choices=("fig2", "fig3",
                                       "fig4"), unique=True)  # fmt: skip
    seeds: list[int] = param([0, 1, 2], "Figs. 3 and 4's seeds, one run per figure, criterion and seed (3 runs give "
                            "their claims a measured spread)", min=0, min_length=1, unique=True)  # fmt: skip
    fig2_other_normalize: list[str] = param(["activation", "weight"], "criteria of Fig. 2 also run with the other "
                                           "'normalize' (the report: normalising made no significant difference)",
                                           choices=("activation", "weight"), unique=True)  # fmt: skip
    fig2_seeds: list[int] = param([0, 1, 2], "Fig. 2's seeds, one run per criterion and seed (its claims are sizes: "
                                 "3 runs give them a measured spread)", min=0, min_length=1, unique=True)  # fmt: skip
    epoch_time_pairs: int = param(5, "Fig. 2's epoch time: pairs of epochs timed, the unpruned network and the one "
                                 "of epochs 43-49 alternating (0 = none)", min=0, max=100)  # fmt: skip
    train_from_test: float = param(0.8, "test share trained on when no train split (KMNIST)", min=0.1, max=0.95)  # fmt: skip
    stack_seeds: bool = param(True, "train the seeds of a figure's criterion as one stacked network (grouped "
                              "convolutions; each seed its own initial weights and data blocks, the first seed's "
                              "draws for the data order; each drops its own filters): one step of the stack is a "
                              "step of every seed (a GPU's speed-up)")  # fmt: skip
    # the ImageNet stand-in: standin_figures again, pretrained on fig2_dataset's test split (no block or val. image)
    pretrain_images: int = param(0, "standin_figures also from a network pretrained on this many test-split images "
                                 "of fig2_dataset, the stand-in for ImageNet weights (0 = not run; else at least 100)",
                                 min=0, max=10**6)  # fmt: skip
    pretrain_val_images: int = param(1000, "test-split images held out to watch the pretraining", min=10,
                                     max=10**6)  # fmt: skip
    pretrain_epochs: int = param(10, "epochs of the pretraining", min=1, max=1000)
    pretrain_lr: float = param(0.01, "learning rate of the pretraining, from random weights (the optimiser's other "
                               "settings are the chapter's)", min=1e-8, max=10.0)  # fmt: skip
    standin_lr: float = param(0.001, "learning rate of the stand-in's runs: lr's default, a rate for fine-tuning a "
                              "pretrained network (lr is the random-init runs')", min=1e-8, max=10.0)  # fmt: skip
    pretrain_seed: int = param(0, "seed of the pretraining (one pretrained network, as one ImageNet checkpoint, for "
                               "every seed of the fine-tuning)", min=0)  # fmt: skip
    standin_figures: list[str] = param(["fig2", "fig3", "fig4"], "figures run once more from the stand-in (when "
                                       "pretrain_images > 0), each with its own criteria and seeds",
                                       choices=("fig2", "fig3", "fig4"), min_length=1, unique=True)  # fmt: skip

    def check(self) -> None:
        if self.pretrained and (self.pool_size != 7 or self.fc_widths != [4096, 4096]):
            raise ParameterError("pretrained=True needs torchvision's layout: set pool_size=7 and fc_widths=[4096, "
                                 f"4096] (got pool_size={self.pool_size}, fc_widths={self.fc_widths}), or set "
                                 "pretrained=False")  # fmt: skip
        if self.pretrain_images:
            self._check_pretraining()
        if self.pretrained and self.pretrain_images:
            raise ParameterError("pretrain_images is the stand-in for the ImageNet weights that pretrained=True loads: "
                                 "set pretrain_images=0, or pretrained=False")  # fmt: skip

    def _check_pretraining(self) -> None:
        """The stand-in's image counts against the test split it draws from (known per dataset), before any run."""
        if self.pretrain_images < 100:
            raise ParameterError(f"pretrain_images = {self.pretrain_images} is too few to pretrain on: set it to 0 "
                                 "(no stand-in) or to at least 100")  # fmt: skip
        pool = TEST_IMAGES.get(self.fig2_dataset)
        asked = self.pretrain_images + self.pretrain_val_images
        if pool is not None and asked > pool:
            raise ParameterError(f"pretrain_images + pretrain_val_images = {asked:,} but {self.fig2_dataset}'s test "
                                 f"split holds {pool:,} images: lower them to sum to at most {pool:,}")  # fmt: skip

    def criteria_of(self, fig: str) -> list[str]:
        """The runs of figure ``fig`` (random init or stand-in): its criteria, and the control :data:`RESTART` where
        ``restart_figures`` names it and the figure has a baseline to compare it with."""
        crits = self.fig4_criteria if fig.startswith("fig4") else self.criteria
        control = fig.removesuffix("_standin") in self.restart_figures and "none" in crits
        return [*crits, RESTART] if control else list(crits)

    def seeds_of(self, fig: str) -> list[int]:
        """The seeds of figure ``fig``: ``fig2_seeds`` for Fig. 2 (both starts), ``seeds`` for the others."""
        return self.fig2_seeds if fig.startswith("fig2") else self.seeds

    def pretrain_fields(self, datasets: list[str]) -> dict[str, Any]:
        """The stand-in's fields of a stand-in run on ``datasets`` (its pretraining stage's, always on Fig. 2's
        dataset; named in the key only where that is not the run's first dataset, so Fig. 2's keys keep their form)."""
        own = dict(pretrain_images=self.pretrain_images, pretrain_val_images=self.pretrain_val_images,
                   pretrain_epochs=self.pretrain_epochs, pretrain_seed=self.pretrain_seed, pretrain_lr=self.pretrain_lr)
        return own | ({"pretrain_dataset": self.fig2_dataset} if datasets[0] != self.fig2_dataset else {})

    @property
    def fig4_epochs(self) -> int:
        return self.fig4_every * len(self.fig4_datasets) * self.fig4_passes

    def figures(self) -> dict[str, dict]:
        """Each figure's mode, datasets, images per block, epochs and block length; ``figN_standin``: figure N
        from the pretrained stand-in (when ``pretrain_images`` > 0 and ``standin_figures`` names it), fine-tuned at
        ``standin_lr``, each right after its random-init figure."""
        own = {
            "fig2": dict(mode="fixed", datasets=[self.fig2_dataset], train_images=self.fig2_train_images,
                         val_images=self.fig2_val_images, epochs=self.fig2_epochs, every=self.fig2_every),
            "fig3": dict(mode="resample", datasets=[self.fig3_dataset], train_images=self.fig3_train_images,
                         val_images=self.fig3_val_images, epochs=self.fig3_epochs, every=self.fig3_every),
            "fig4": dict(mode="datasets", datasets=self.fig4_datasets, train_images=self.fig4_train_images,
                         val_images=self.fig4_val_images, epochs=self.fig4_epochs, every=self.fig4_every),
        }  # fmt: skip
        figures = {}
        for fig, e in own.items():
            figures[fig] = e
            if self.pretrain_images and fig in self.standin_figures:
                figures[f"{fig}_standin"] = e | self.pretrain_fields(e["datasets"]) | {"lr": self.standin_lr}
        return figures


def network(p: Params, normalize: bool | None = None) -> dict[str, Any]:
    """The :class:`NetworkRun` fields of every run, from the parameters (``normalize``: the other normalisation)."""
    return NetworkRun.fields_from(p.as_dict() | ({} if normalize is None else {"normalize": normalize}))


def _label(fig: str, criterion: str, seeds: list[int]) -> str:
    """How ``--list`` and the log name a run: a stand-in run by its figure, criterion and seed(s) (its last config
    values, the default name, are the pretraining's, the same for all); the other runs by the default."""
    seed = f"seed={seeds[0]}" if len(seeds) == 1 else f"seeds={seeds}"
    return f"figure={fig}, criterion={criterion}, {seed}" if fig.endswith("_standin") else ""


def plan(p: Params) -> list[Run]:
    """One run per (figure, criterion, seed), and Fig. 2's criteria in `fig2_other_normalize` once more with the other
    `normalize`; with the stand-in, its pretraining stage first (a data problem stops it before anything trains, and
    its runs start from its checkpoint)."""
    runs = []
    for fig, e in p.figures().items():
        cost = 3 * 3.1e8 * e["train_images"] * e["epochs"] * (1 if p.pool_size == 1 else 1.1)  # VGG-16 at 32 px
        for criterion in p.criteria_of(fig):
            normalizations = [p.normalize] + ([not p.normalize] if fig == "fig2" and criterion in p.fig2_other_normalize
                                              else [])  # the same runs, scores normalised the other way  # fmt: skip
            runs += [Run("train", FilterRun(**(network(p, n) | e), figure=fig, criterion=criterion, **member_fields(g)),
                         tuple(e["datasets"]), cost * len(g), _label(fig, criterion, g))
                     for n in normalizations for g in member_groups(p.seeds_of(fig), p.stack_seeds)]  # fmt: skip
    stages = {}  # the stage the stand-in runs ask for, built the way they build it (one for all of them)
    for r in runs:
        if r.config["figure"].endswith("_standin"):
            stage = PretrainRun.of(FilterRun.from_config(dict(r.config)))
            stages.setdefault(json.dumps(stage.as_config(), sort_keys=True), stage)
    for stage in reversed(list(stages.values())):
        cost = 3 * 3.1e8 * (stage.images + stage.val_images / 3) * stage.epochs * (1 if p.pool_size == 1 else 1.1)
        runs.insert(0, Run("pretrain", stage, (stage.dataset,), cost, f"the stand-in for ImageNet weights: "
                           f"{stage.images} {stage.dataset} test images, {stage.epochs} epochs, seed {stage.seed}"))
    if p.epoch_time_pairs:
        e = p.figures()["fig2"]
        c = EpochTimeRun(**network(p), train_images=e["train_images"], every=e["every"], pairs=p.epoch_time_pairs,
                         prunes=(min(49, e["epochs"]) - 1) // e["every"], seed=p.seeds_of("fig2")[0])  # fmt: skip
        runs.append(Run("epoch_time", c, (), 3 * 3.1e8 * e["train_images"] * 2 * p.epoch_time_pairs))
    return runs


def epoch_time(c: EpochTimeRun, ctx: RunContext) -> dict:
    """Fig. 2's speed-up, timed on its own: one epoch of the unpruned network, one of the network pruned as in epochs
    43-49 (``prunes`` steps of ``percent`` per layer), alternating (which goes first alternates too), on random
    inputs of the block's size; the arithmetic, not the pixels, sets an epoch's time. Each record holds its
    machine and thread count; the book's was made with the machine otherwise idle."""
    generator = set_seed(c.seed)
    build = lambda: vgg16_filter_net(10, batch_norm=c.batch_norm, pool_size=c.pool_size,  # noqa: E731
                                     fc_widths=c.fc_widths, dropout=c.dropout).to(ctx.device)
    nets = {"unpruned": build(), "pruned": build()}
    for _ in range(c.prunes):  # structure only: any ranking removes the same number of filters per layer
        prune_step(nets["pruned"], [conv.weight.detach().abs().sum((1, 2, 3)) for conv in nets["pruned"].conv_layers()],
                   c.percent)  # fmt: skip
    x = torch.randn(c.train_images, 3, 32, 32, generator=generator).to(ctx.device)
    y = torch.randint(0, 10, (c.train_images,), generator=generator).to(ctx.device)
    settings = TrainSettings(1, c.batch_size, c.optimizer, c.lr, c.momentum, c.weight_decay)
    seconds: dict[str, list[float]] = {name: [] for name in nets}
    for i in range(c.pairs):
        for name in (["unpruned", "pruned"] if i % 2 == 0 else ["pruned", "unpruned"]):
            net = nets[name]
            stats = fit(net, x, y, epochs=1, batch_size=c.batch_size, optimizer=settings.make_optimizer(
                net.parameters()), generator=generator, show_progress=ctx.show_progress)[0]  # fmt: skip
            seconds[name].append(stats.seconds)
    return {"seconds": seconds, "filters": {name: sum(net.filter_counts()) for name, net in nets.items()},
            "threads": torch.get_num_threads()}


def train(c: FilterRun, ctx: RunContext) -> dict:
    state = pretrained_state(c, ctx) if c.pretrain_images else None
    return run_filter_experiment(c, data_source=ctx.data_source, device=ctx.device, show_progress=ctx.show_progress,
                                 initial_state=state)  # fmt: skip


def pretrain(c: PretrainRun, ctx: RunContext) -> dict:
    """The stand-in's stage: its metrics are the record, its state the checkpoint its runs start from."""
    state, metrics = build_pretrained(c, ctx)
    ctx.checkpoint("pretrain", c, (c.dataset,), lambda: state, replace=True)  # the record and the file: one state
    return metrics


RUNNERS = {"train": train, "epoch_time": epoch_time, "pretrain": pretrain}

"""Chapter 00 (prologue): catastrophic forgetting on Split MNIST, fine-tuning against joint training."""
from __future__ import annotations

import dataclasses

import pandas as pd
import torch

from .. import data
from ..baselines import finetune_sequence, train_jointly
from ..models import mlp
from ..streams import Task, split_tasks
from ..train import TrainSettings, set_seed
from .data_cache import raw_dataset, task
from .runs import Run, RunContext, mlp_cost
from .params import ParameterError, param
from .params import Params as BaseParams
from .run_config import RunConfig

CHAPTER = "00_forgetting"
CODE_VERSION = 1
# the CPU numerics (benchmarks/cpu_numerics.py, variants interleaved): the fused Adam kernel is 1.11x faster per step
# for this MLP on one CPU thread and CUDA's default; keyed, so the foreach records of 2026-12-01 are not reused
OPTIMIZER_KERNEL = "fused"

SCENARIOS = ("multi-head", "single-head")
METHODS = ("fine-tune", "joint")


@dataclasses.dataclass
class Params(BaseParams):
    DEFAULTS_ARE = "Zenke et al.'s split-MNIST network and training"
    dataset: str = param("mnist", "a 10-class dataset", choices=sorted(data.DATASETS))
    class_groups: list[list[int]] = param([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]], "one task per group",
                                         min=0, min_length=2)  # fmt: skip
    val_fraction: float = param(0.1, "share of each class held out from training", min=0.01, max=0.5)
    hidden_sizes: list[int] = param([256, 256], "hidden widths of the MLP (Zenke et al. 2017)", min=1, min_length=1)
    num_epochs: int = param(10, "epochs per task; joint training gets as many over all data", min=1, max=1000)
    batch_size: int = param(64, "minibatch size", min=1, max=65536)
    lr: float = param(1e-3, "Adam learning rate", min=1e-8, max=10.0)
    seeds: list[int] = param([0, 1, 2, 3, 4], "one run per seed, method and scenario", min=0, min_length=1, unique=True)

    def check(self) -> None:
        classes = data.DATASETS[self.dataset].num_classes
        flat = [c for g in self.class_groups for c in g]
        if any(not g for g in self.class_groups) or len(set(flat)) != len(flat) or max(flat) >= classes:
            raise ParameterError(f"parameter 'class_groups' must be disjoint non-empty lists of labels in "
                                 f"[0, {classes - 1}]; got {self.class_groups!r}")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class TrainRun(RunConfig):
    """One method in one scenario with one seed."""

    dataset: str
    class_groups: list[list[int]]
    val_fraction: float
    hidden_sizes: list[int]
    num_epochs: int
    batch_size: int
    lr: float
    scenario: str  # one of SCENARIOS
    method: str  # one of METHODS
    seed: int


def train_config(p: Params, scenario: str, method: str, seed: int) -> TrainRun:
    return TrainRun(p.dataset, p.class_groups, p.val_fraction, p.hidden_sizes, p.num_epochs, p.batch_size, p.lr,
                    scenario, method, seed)  # fmt: skip


def plan(p: Params) -> list[Run]:
    """Every (scenario, method, seed) run."""
    cost = mlp_cost(784, p.hidden_sizes, 10, 60_000 * (1 - p.val_fraction), p.num_epochs)
    return [Run("train", train_config(p, s, m, seed), (p.dataset,), cost)
            for s in SCENARIOS for m in METHODS for seed in p.seeds]  # fmt: skip


def streams(c: TrainRun, data_source: str, device: torch.device | str = "cpu") -> dict[str, list[Task]]:
    """The two streams of the chapter: labels per task (multi-head) or shared (single-head)."""
    base = task(c.dataset, data_source, device, val_fraction=c.val_fraction, seed=0)
    return {s: split_tasks(base, c.class_groups, relabel=s == "multi-head") for s in SCENARIOS}


def task_table(p: Params) -> pd.DataFrame:
    """Classes and split sizes of each task (the same in both streams)."""
    tasks = streams(train_config(p, SCENARIOS[0], METHODS[0], p.seeds[0]), p.data_source)["multi-head"]
    return pd.DataFrame({"classes": ["/".join(map(str, g)) for g in p.class_groups],
                         "train": [len(t.y_train) for t in tasks], "validation": [len(t.y_val) for t in tasks],
                         "test": [len(t.y_test) for t in tasks]}, index=pd.RangeIndex(1, len(tasks) + 1, name="task"))


def train(c: TrainRun, ctx: RunContext) -> dict:
    """One method in one scenario with one seed: its test-accuracy matrix (fine-tune) or row (joint)."""
    tasks = streams(c, ctx.data_source, ctx.device)[c.scenario]
    heads = [len(g) for g in c.class_groups] if c.scenario == "multi-head" else [
        raw_dataset(c.dataset, ctx.data_source).num_classes]
    generator = set_seed(c.seed)
    model = mlp(tasks[0].x_train[0].numel(), c.hidden_sizes, heads).to(ctx.device)
    settings = TrainSettings(c.num_epochs, c.batch_size, "adam", c.lr)
    trainer = finetune_sequence if c.method == "fine-tune" else train_jointly
    return trainer(model, tasks, settings, multi_head=c.scenario == "multi-head", generator=generator,
                   show_progress=ctx.show_progress)  # fmt: skip


RUNNERS = {"train": train}

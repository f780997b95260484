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
from .common import mlp_cost, raw_dataset, task
from .core import Run, RunContext
from .params import ParameterError, knob
from .params import Params as BaseParams

CHAPTER = "00_forgetting"
CODE_VERSION = 1
# the CPU numerics (benchmarks/cpu_numerics.py, variants interleaved): the fused Adam kernel is 1.11x faster per step
# for this MLP on one CPU thread and CUDA's default; keyed, so the foreach records of 2026-12-01 are not reused
OPTIMIZER_KERNEL = "fused"

SCENARIOS = ("multi-head", "single-head")
METHODS = ("fine-tune", "joint")


@dataclasses.dataclass
class Params(BaseParams):
    dataset: str = knob("mnist", "a 10-class dataset", choices=sorted(data.DATASETS))
    class_groups: list[list[int]] = knob([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]], "one task per group",
                                         min=0, min_length=2)  # fmt: skip
    val_fraction: float = knob(0.1, "share of each class held out from training", min=0.01, max=0.5)
    hidden_sizes: list[int] = knob([256, 256], "hidden widths of the MLP (Zenke et al. 2017)", min=1, min_length=1)
    num_epochs: int = knob(10, "epochs per task; joint training gets as many over all data", min=1, max=1000)
    batch_size: int = knob(64, "minibatch size", min=1, max=65536)
    lr: float = knob(1e-3, "Adam learning rate", min=1e-8, max=10.0)
    seeds: list[int] = knob([0, 1, 2, 3, 4], "one run per seed, method and scenario", min=0, min_length=1, unique=True)

    def check(self) -> None:
        classes = data.DATASETS[self.dataset].num_classes
        flat = [c for g in self.class_groups for c in g]
        if any(not g for g in self.class_groups) or len(set(flat)) != len(flat) or max(flat) >= classes:
            raise ParameterError(f"parameter 'class_groups' must be disjoint non-empty lists of labels in "
                                 f"[0, {classes - 1}]; got {self.class_groups!r}")  # fmt: skip


def plan(p: Params) -> list[Run]:
    """Every (scenario, method, seed) run."""
    base = dict(dataset=p.dataset, class_groups=p.class_groups, val_fraction=p.val_fraction,
                hidden_sizes=p.hidden_sizes, num_epochs=p.num_epochs, batch_size=p.batch_size, lr=p.lr)  # fmt: skip
    cost = mlp_cost(784, p.hidden_sizes, 10, 60_000 * (1 - p.val_fraction), p.num_epochs)
    return [Run("train", {**base, "scenario": s, "method": m, "seed": seed}, (p.dataset,), cost)
            for s in SCENARIOS for m in METHODS for seed in p.seeds]  # fmt: skip


def streams(c: dict, data_source: str, device: torch.device | str = "cpu") -> dict[str, list[Task]]:
    """The two streams of the chapter: labels per task (multi-head) or shared (single-head)."""
    base = task(c["dataset"], data_source, device, val_fraction=c["val_fraction"], seed=0)
    return {s: split_tasks(base, c["class_groups"], relabel=s == "multi-head") for s in SCENARIOS}


def task_table(p: Params) -> pd.DataFrame:
    """Classes and split sizes of each task (the same in both streams)."""
    tasks = streams(p.as_dict(), p.data_source)["multi-head"]
    return pd.DataFrame({"classes": ["/".join(map(str, g)) for g in p.class_groups],
                         "train": [len(t.y_train) for t in tasks], "validation": [len(t.y_val) for t in tasks],
                         "test": [len(t.y_test) for t in tasks]}, index=pd.RangeIndex(1, len(tasks) + 1, name="task"))


def train(c: dict, ctx: RunContext) -> dict:
    """One method in one scenario with one seed: its test-accuracy matrix (fine-tune) or row (joint)."""
    tasks = streams(c, ctx.data_source, ctx.device)[c["scenario"]]
    heads = [len(g) for g in c["class_groups"]] if c["scenario"] == "multi-head" else [
        raw_dataset(c["dataset"], ctx.data_source).num_classes]
    generator = set_seed(c["seed"])
    model = mlp(tasks[0].x_train[0].numel(), c["hidden_sizes"], heads).to(ctx.device)
    settings = TrainSettings(c["num_epochs"], c["batch_size"], "adam", c["lr"])
    trainer = finetune_sequence if c["method"] == "fine-tune" else train_jointly
    return trainer(model, tasks, settings, multi_head=c["scenario"] == "multi-head", generator=generator,
                   show_progress=ctx.show_progress)  # fmt: skip


RUNNERS = {"train": train}

"""The three experiments of Salcedo & Sharma, as one run function over a JSON config.

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
test split). :func:`run_filter_experiment` is what the chapter's run cache calls, so a
script and the notebook produce the same records.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import torch

from .data import RawDataset, load_dataset
from .filter_pruning import Block, PruningSchedule, train_with_filter_pruning, vgg16_filter_net
from .streams import Task, make_task
from .train import TrainSettings, resolve_device, set_seed

__all__ = ["MODES", "carved_datasets", "load_pools", "make_blocks", "run_filter_experiment"]

MODES = ("fixed", "resample", "datasets")


def _carve_fraction(raw: RawDataset, train_from_test: float) -> float:
    """``train_from_test`` for a dataset with no training split here (KMNIST offline), else 0."""
    return train_from_test if len(raw.y_train) == 0 else 0.0


def carved_datasets(names: list[str], data_source: str) -> list[str]:
    """The datasets among ``names`` whose training images :func:`load_pools` carves out of the test split."""
    return [n for n in names if len(load_dataset(n, data_source).y_train) == 0]


def load_pools(
    names: list[str], val_images: int, *, data_source: str, train_from_test: float, seed: int, device: torch.device
) -> list[Task]:
    """Each dataset as a :class:`Task`: its whole training split as the pool, ``val_images`` held out.

    A dataset with no training split here (KMNIST) has its training pool carved out of
    ``train_from_test`` of its test split.
    """
    tasks = []
    for name in names:
        raw = load_dataset(name, data_source)
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


def run_filter_experiment(
    config: Mapping[str, Any], *, device: torch.device | str = "auto", show_progress: bool = True
) -> dict[str, Any]:
    """Train (and prune) one VGG-16 as ``config`` says; return its per-epoch history and filter counts.

    ``config`` keys: ``mode``, ``datasets``, ``train_images``, ``val_images``, ``epochs``,
    ``every``, ``percent``, ``criterion``, ``normalize``, ``pretrained``, ``batch_norm``,
    ``pool_size``, ``fc_widths``, ``dropout``, ``optimizer``, ``lr``, ``momentum``,
    ``weight_decay``, ``batch_size``, ``seed``, ``data_source``, ``train_from_test``.
    """
    device = resolve_device(device) if isinstance(device, str) else device
    generator = set_seed(config["seed"])
    pools = load_pools(
        list(config["datasets"]), config["val_images"], data_source=config["data_source"],
        train_from_test=config["train_from_test"], seed=config["seed"], device=device,
    )  # fmt: skip
    blocks = make_blocks(config["mode"], pools, config["train_images"], config["seed"])
    set_seed(config["seed"])  # the same initial weights whatever the data loading consumed
    model = vgg16_filter_net(
        max(t.num_classes for t in pools), pretrained=config["pretrained"], batch_norm=config["batch_norm"],
        pool_size=config["pool_size"], fc_widths=config["fc_widths"], dropout=config["dropout"],
    ).to(device)  # fmt: skip
    start_counts = model.filter_counts()
    settings = TrainSettings(
        config["epochs"], config["batch_size"], config["optimizer"], config["lr"], config["momentum"],
        config["weight_decay"],
    )  # fmt: skip
    schedule = PruningSchedule(config["criterion"], config["percent"], config["every"], config["normalize"])
    history = train_with_filter_pruning(
        model, blocks, epochs=config["epochs"], settings=settings, schedule=schedule, generator=generator,
        show_progress=show_progress, desc=f"{config['mode']}/{config['criterion']}/seed {config['seed']}",
    )  # fmt: skip
    return {
        "history": history,
        "start_filter_counts": start_counts,
        "end_filter_counts": model.filter_counts(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "sources": sorted({t.source for t in pools}),
    }

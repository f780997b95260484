"""The datasets the runs read, loaded once per process, and the tasks built from them (shared by every chapter's runs)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from ..data import RawDataset, load_dataset
from ..streams import Task, make_task

__all__ = ["raw_dataset", "task", "is_carved", "carved_datasets"]


@lru_cache(maxsize=8)
def raw_dataset(name: str, data_source: str) -> RawDataset:
    """A dataset read once per process (runs of one chapter share it)."""
    return load_dataset(name, data_source)


def is_carved(name: str, data_source: str) -> bool:
    """True for a dataset with no training split here (KMNIST offline): chapters carve one from its test split."""
    return len(raw_dataset(name, data_source).y_train) == 0


def carved_datasets(names: list[str], data_source: str) -> list[str]:
    """The datasets among ``names`` whose training images are carved out of their test split (partial stand-ins)."""
    return [n for n in names if is_carved(n, data_source)]


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list) else value


@lru_cache(maxsize=16)
def _task(name: str, data_source: str, device: str, options: tuple) -> Task:
    return make_task(raw_dataset(name, data_source), device=device, **dict(options))


def task(name: str, data_source: str, device: torch.device | str, **options: Any) -> Task:
    """:func:`cl_utils.make_task` of a dataset, built once per process for the same arguments."""
    return _task(name, data_source, str(device), tuple(sorted((k, _freeze(v)) for k, v in options.items())))

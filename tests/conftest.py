"""Shared fixtures: small synthetic tasks and paths."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import cl_utils as cl

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def synthetic_mnist_task() -> cl.Task:
    return cl.make_task(cl.load_dataset("mnist", "synthetic"), val_fraction=0.1, seed=0)


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(2)
    yield

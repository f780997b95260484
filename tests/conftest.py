"""Shared fixtures: small synthetic tasks and paths."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import cl_utils as cl

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def synthetic_mnist_task() -> cl.Task:
    return cl.make_task(cl.load_dataset("mnist", "synthetic"), val_fraction=0.1, seed=0)


#: torch threads per test process: the cores shared among pytest-xdist's workers (make test starts one
#: per core), so that two workers never run 2 threads each on 2 cores (10-20x slower); the subprocesses
#: a test starts (nbval, papermill, reproduce) inherit the same count through OMP_NUM_THREADS
THREADS = max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
os.environ["OMP_NUM_THREADS"] = str(THREADS)


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(THREADS)
    yield

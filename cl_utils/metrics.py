"""Continual-learning summaries of an accuracy matrix.

``acc[i][j]`` is the accuracy on task ``j`` after training on tasks ``0..i``
(the convention of Lopez-Paz & Ranzato 2017 and of this book's heat maps).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["average_accuracy", "backward_transfer", "mean_sem", "format_mean_spread"]


def average_accuracy(acc: Sequence[Sequence[float]]) -> float:
    """Mean accuracy over all tasks after the last task (last row of the matrix)."""
    return float(np.mean(np.asarray(acc, dtype=float)[-1]))


def backward_transfer(acc: Sequence[Sequence[float]]) -> float:
    """Mean change of each earlier task's accuracy from just after learning it to the end (< 0: forgetting)."""
    a = np.asarray(acc, dtype=float)
    if len(a) < 2:
        return 0.0
    return float(np.mean([a[-1, j] - a[j, j] for j in range(len(a) - 1)]))


def mean_sem(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (0 for a single value)."""
    v = np.asarray(values, dtype=float)
    sem = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0
    return float(v.mean()), sem


def format_mean_spread(values: Sequence[float], spread: str = "sem") -> str:
    """``"mean ± spread"`` of repeated runs (``spread``: ``"sem"`` or ``"std"``), two decimals.

    A single run has no spread, so it reads ``"value (1 run)"`` rather than a
    misleading ``± 0.00``.
    """
    if spread not in ("sem", "std"):
        raise ValueError(f"spread must be 'sem' or 'std', got {spread!r}")
    v = np.asarray(values, dtype=float)
    if len(v) == 1:
        return f"{v[0]:.2f} (1 run)"
    width = mean_sem(v)[1] if spread == "sem" else float(v.std(ddof=1))
    return f"{v.mean():.2f} ± {width:.2f}"

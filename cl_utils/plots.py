"""The book's one figure style and the few figure helpers chapters share.

:func:`set_style` fixes seaborn's colour-blind-safe palette, fonts and line
widths for every chapter; :func:`savefig` saves a figure under a predictable
name (:func:`show` saves and displays it); :func:`accuracy_heatmap` draws the continual-learning accuracy matrix;
:func:`paper_vs_book` renders the "paper vs. this book" table every chapter ends with; :func:`fit_width` wraps title
lines to a figure's width.
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from . import claims

__all__ = ["PALETTE", "set_style", "savefig", "show", "fit_width", "accuracy_heatmap", "paper_vs_book"]

PALETTE = sns.color_palette("colorblind")


def set_style() -> None:
    """Apply the book's style (call once per chapter, in the setup cell)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "lines.linewidth": 1.8,
            "axes.titleweight": "bold",
            "axes.titlesize": 11,
            "figure.figsize": (6.4, 4.0),
        }
    )
    pd.set_option("display.max_colwidth", None)  # tables show whole cells: a claim cut to "..." says nothing


def fit_width(lines: Sequence[str], inches: float) -> str:
    """``lines`` (a title's, a scale line's) each wrapped to ``inches`` of 9 pt text, about 13 characters an inch,
    joined by newlines: a long line would otherwise widen the saved figure (``savefig.bbox`` is tight)."""
    return "\n".join(textwrap.fill(line, int(13 * inches)) for line in lines)


def savefig(fig: plt.Figure, name: str, directory: str | os.PathLike) -> Path:
    """Save ``fig`` as ``<directory>/<name>.svg`` (vector) and return the path.

    The file is byte-stable: no date and a fixed id salt, so redrawing an
    unchanged figure leaves no diff in git.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.svg"
    with plt.rc_context({"svg.hashsalt": "cl_utils"}):
        fig.savefig(path, metadata={"Date": None})
    return path


def show(fig: plt.Figure, name: str, directory: str | os.PathLike) -> None:
    """Save ``fig`` (:func:`savefig`) and display it: a chapter's figure cell in one call."""
    savefig(fig, name, directory)
    plt.show()


def accuracy_heatmap(
    ax: plt.Axes,
    acc: Sequence[Sequence[float]],
    task_names: Sequence[str],
    *,
    title: str = "",
    vmin: float = 0.0,
    vmax: float = 100.0,
    hide_future: bool = True,
) -> plt.Axes:
    """Heat map of ``acc[i][j]`` (%, task ``j`` after training task ``i``), annotated in each cell.

    With ``hide_future`` the cells right of the diagonal (tasks not trained yet) are left blank.
    """
    matrix = np.asarray(acc, dtype=float)
    sns.heatmap(
        matrix,
        ax=ax,
        mask=np.triu(np.ones_like(matrix, dtype=bool), k=1) if hide_future else None,
        vmin=vmin,
        vmax=vmax,
        cmap="viridis",
        annot=True,
        fmt=".1f",
        cbar_kws={"label": "test accuracy (%)"},
        xticklabels=task_names,
        yticklabels=[f"after {n}" for n in task_names[: len(matrix)]],
    )
    ax.grid(False)
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_xlabel("evaluated on task")
    ax.set_ylabel("trained through task")
    if title:
        ax.set_title(title)
    return ax


def paper_vs_book(rows: Sequence[dict], *, unit: str = "%", save_to: str | os.PathLike | None = None,
                  params=None) -> pd.DataFrame:
    """The "paper vs. this book" table: each row needs ``claim``, ``paper``, ``this book``.

    With ``save_to`` (the chapter's results folder) every row also needs ``data and scale``,
    ``status``, ``reason`` and ``records``, and the rows are stored as the chapter's claims
    (:func:`cl_utils.claims.write`, each with the command that regenerates it from ``params``, the
    chapter's parameters), from which the book's scorecard page is generated.
    Extra keys (e.g. ``unit``) become extra columns of the table only. ``None`` shows as "n/a".
    The table shows how many records a row rests on (``runs``), not their keys or the command.
    """
    if save_to is not None:
        if params is None:
            raise TypeError("paper_vs_book(..., save_to=...) needs params= (the chapter's parameters): each stored "
                            "row carries the command that regenerates it")
        claims.write(rows, save_to, claims.regenerate_command(Path(save_to).name, params))
    frame = pd.DataFrame([_with_run_count(r) for r in rows])
    for col in ("claim", "paper", "this book"):
        if col not in frame:
            raise KeyError(f"paper_vs_book rows need a {col!r} entry")
    frame = frame.fillna("n/a").set_index("claim")
    frame.columns = [f"{c} ({unit})" if c in ("paper", "this book") and unit else c for c in frame.columns]
    return frame


def _with_run_count(row: dict) -> dict:
    """``row`` for display: its ``records`` keys as a count (``runs``), its ``command`` left out."""
    shown = {k: v for k, v in row.items() if k not in ("records", "command")}
    if "records" in row:
        keys = str(row["records"]).split()
        shown["runs"] = 0 if keys == [claims.NO_RECORDS] else len(keys)
    return shown

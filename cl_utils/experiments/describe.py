"""Describing records in captions and scale lines: the helpers every chapter's report shares.

Reports only (no run module imports this, so editing it flags no record as made by other code).
"""
from __future__ import annotations

import textwrap
from typing import Iterable

import matplotlib.pyplot as plt

from .data_cache import carved_datasets

__all__ = ["synthetic", "distinct", "carved", "suptitle"]


def synthetic(runs: Iterable[dict]) -> bool:
    """True when any of these records was made from the tests' synthetic stand-in data."""
    return any(d["source"] == "synthetic" for r in runs for d in r["data"])


def distinct(values: Iterable) -> str:
    """The values, each once in order of appearance, joined by '/': one value where the records agree."""
    return "/".join(dict.fromkeys(str(v) for v in values))


def carved(runs: list[dict], names: Iterable[str]) -> list[str]:
    """Which of the datasets ``names`` these records read with training images carved from the test split
    (KMNIST offline): a property of the data files, not stored in the records."""
    return carved_datasets(list(names), "synthetic" if synthetic(runs) else "auto")


def _wrap(line: str, width: int) -> list[str]:
    """``line`` in lines of at most ``width`` characters, broken after its '; ' where it can, and as even as the
    fewest lines allow (no lone last word)."""
    def greedy(w: int) -> list[str]:
        lines: list[str] = []
        for part in line.split("; "):
            if lines and len(lines[-1]) + 2 + len(part) <= w:
                lines[-1] += f"; {part}"
            else:
                lines[-1:] = [lines[-1] + ";"] if lines else []
                lines += textwrap.wrap(part, w) or [""]
        return lines

    fewest = len(greedy(width))
    return next(greedy(w) for w in range(-(-len(line) // fewest), width + 1) if len(greedy(w)) == fewest)


def suptitle(fig: plt.Figure, head: str, scale_line: str) -> None:
    """A figure's title: what it shows, then the data and scale, wrapped to the figure's width."""
    width = int(16 * fig.get_figwidth())  # characters of 9 pt text per line
    fig.suptitle("\n".join(x for line in [*head.split("\n"), scale_line] for x in _wrap(line, width)), fontsize=9)

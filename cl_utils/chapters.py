"""The book's chapters, registered once.

Each :class:`Chapter` names its folder (the notebook ``book/<folder>.ipynb``, its presets in
``book/params/<folder>/``, its records in ``data/results/<folder>/``), its experiment module in
:mod:`cl_utils.experiments` and its title on the scorecard. Everything else is derived from here
(``experiments.CHAPTERS``, ``claims.CHAPTER_TITLES``) or checked against it by the tests: the order of
``_toc.yml``, the smoke preset of every chapter, and each experiment module's ``CHAPTER``.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Chapter", "REGISTRY", "by_folder"]


@dataclass(frozen=True)
class Chapter:
    """One chapter of the book."""

    folder: str  # "03_clnp": book/03_clnp.ipynb, book/params/03_clnp/, data/results/03_clnp/
    module: str  # its experiment module, cl_utils.experiments.<module> (its runs: parameters, configs, plan)
    title: str  # its heading on the scorecard


REGISTRY: tuple[Chapter, ...] = (
    Chapter("00_forgetting", "forgetting_runs", "Prologue: forgetting"),
    Chapter("01_packnet", "packnet_runs", "PackNet"),
    Chapter("02_efficiency", "efficiency_runs", "Efficiency in continual learning"),
    Chapter("03_clnp", "clnp_runs", "Continual Learning via Neural Pruning"),
    Chapter("04_progressive_prune", "progressive_runs", "Progressive Prune Network"),
    Chapter("05_filter_pruning", "filter_runs", "Iterative filter pruning"),
    Chapter("06_comparison", "comparison_runs", "Comparison: the methods side by side"),
)


def by_folder() -> dict[str, Chapter]:
    """The registry keyed by folder name, in book order."""
    return {c.folder: c for c in REGISTRY}

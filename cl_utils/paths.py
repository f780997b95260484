"""Where the book keeps data and results.

The data directory is ``$CL_DATA_DIR`` when set (e.g. ``../shared/data`` on the
build machines), else ``<project root>/data``. Run results always live under
``<project root>/data/results/<chapter>/`` so that they can be committed, unless
a chapter passes another directory explicitly (the smoke tests do).

The project root is found from this file's location (an editable install or a
source checkout), never from the current directory, so a notebook executed from
a temporary copy still finds it. When the package is installed from a wheel
(e.g. on Colab) there is no project root and the current directory is used.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["project_root", "data_dir", "results_root"]


def project_root() -> Path:
    """Return the checkout's root (the folder holding ``_toc.yml``), or the cwd."""
    here = Path(__file__).resolve().parent.parent
    if (here / "_toc.yml").is_file():
        return here
    return Path.cwd()


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Return the dataset cache folder: ``override``, else ``$CL_DATA_DIR``, else ``<root>/data``."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("CL_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return project_root() / "data"


def results_root(override: str | os.PathLike | None = None) -> Path:
    """Return the folder under which each chapter keeps its run records."""
    if override:
        return Path(override).expanduser()
    return project_root() / "data" / "results"

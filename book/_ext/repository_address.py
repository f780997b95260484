"""Sphinx extension: a published copy points at the repository it was built from.

With ``BOOK_REPOSITORY`` set (``OWNER/NAME``; the Pages workflow passes GitHub's ``github.repository``,
``make book`` and ``make publish`` the ``origin`` remote's), the repository and issue buttons, the launch
buttons, every chapter's Colab badge and its install cell's ``git clone`` name that repository instead of
``_config.yml``'s. The sources are not changed (``python -m cl_utils.repository`` does that for a fork
that wants its own notebooks to clone the fork).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

_state: dict[str, object] = {}


def _repository_module(srcdir: Path) -> ModuleType:
    """``cl_utils/repository.py`` loaded alone: the book's environment has no torch, so not the package."""
    path = srcdir / "cl_utils" / "repository.py"
    if not path.is_file():
        raise ExtensionError(f"BOOK_REPOSITORY is set but {path} is missing")
    spec = importlib.util.spec_from_file_location("book_repository", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _configure(app: Sphinx, config) -> None:
    wanted = os.environ.get("BOOK_REPOSITORY", "").strip()
    canonical = config.html_theme_options.get("repository_url")
    if not wanted or not canonical:
        return
    repository = _repository_module(Path(app.srcdir))
    new = f"https://github.com/{repository.github_path(wanted)}"
    _state.update(old=canonical, new=new, rewrite=repository.rewrite)
    config.html_theme_options["repository_url"] = new


def _source(app: Sphinx, docname: str, source: list[str]) -> None:
    if _state:
        source[0] = _state["rewrite"](source[0], _state["old"], _state["new"])


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _configure)
    app.connect("source-read", _source)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Where the book keeps data and results.

The data directory is ``$CL_DATA_DIR`` when set (e.g. ``../shared/data`` on the
build machines), else ``<project root>/data``. The book's committed run records live
under ``<project root>/data/results/<chapter>/``. Running a chapter writes there only
when asked to (:func:`run_results_root`): by naming the folder (``results_dir``,
``reproduce --results`` / ``--in-place``) or with ``$CL_RESULTS_DIR`` (``make reproduce``).
Every other run (papermill with new parameters, ``reproduce`` without those options, a
Colab session) works in ``<project root>/_build/runs/results/``, seeded with the
committed records so that runs at the committed scale are reused.

The project root is found from this file's location (an editable install or a
source checkout), never from the current directory, so a notebook executed from
a temporary copy still finds it. When the package is installed from a wheel
(e.g. on Colab) there is no project root and the current directory is used.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["project_root", "data_dir", "results_root", "scratch_results_root", "run_results_root"]


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


def scratch_results_root() -> Path:
    """Where runs go unless the committed folder is asked for: ``<root>/_build/runs/results``."""
    return project_root() / "_build" / "runs" / "results"


def run_results_root(chapter: str, override: str | os.PathLike | None = None) -> Path:
    """The folder a chapter's runs read and write: ``override``, else ``$CL_RESULTS_DIR``, else the scratch folder.

    The scratch folder's chapter gets a copy of every committed record (``*.json``) it lacks, each time, so a
    re-run reuses them (also those committed after the folder was made) without writing into ``data/results``; a
    copy whose committed record was rewritten since (:func:`_replaced_since`) is copied again.
    """
    if override:
        return Path(override).expanduser()
    env = os.environ.get("CL_RESULTS_DIR")
    if env:
        return Path(env).expanduser()
    root = scratch_results_root()
    target, committed = root / chapter, results_root() / chapter
    if committed.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for record in committed.glob("*.json"):
            copy = target / record.name
            if not record.name.startswith(".") and (not copy.exists() or _replaced_since(record, copy)):
                fd, tmp = tempfile.mkstemp(dir=target, prefix=".tmp-", suffix=".part")  # one per process
                with os.fdopen(fd, "wb") as f:
                    f.write(record.read_bytes())
                os.chmod(tmp, record.stat().st_mode & 0o777)
                os.replace(tmp, copy)  # atomic: a process reading the folder never sees half a record
    return root


def _replaced_since(committed: Path, copy: Path) -> bool:
    """Whether a committed record was rewritten after its scratch copy was made, with other contents: a record is
    replaced at its path when it is retrained in place (``reproduce --in-place --retrain-unverified``) or an import
    replaces it (``gpu_batch import``), and the scratch folder must not keep reading the old one. A copy written
    after its committed record (a run retrained in the scratch folder) is kept."""
    return committed.stat().st_mtime_ns > copy.stat().st_mtime_ns and committed.read_bytes() != copy.read_bytes()

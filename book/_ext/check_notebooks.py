"""Sphinx extension: refuse to build the book from a broken chapter.

The book shows stored outputs (``execute_notebooks: off``), so Jupyter Book
would happily render a notebook whose stored run failed or never ran. This
extension stops the build instead, when a chapter notebook

* is not valid nbformat,
* has a code cell that was never executed (no execution count), or
* has a stored error output.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError


def notebook_problems(path: str | Path) -> list[str]:
    """What is wrong with the notebook at ``path`` (empty if nothing)."""
    try:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # unreadable JSON, schema violations ...
        return [f"not a valid notebook: {err}"]
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if cell.get("execution_count") is None:
            problems.append(f"code cell {i} was never executed")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"code cell {i} stored an error: {out.get('ename')}: {out.get('evalue')}")
    return problems


def _check(app: Sphinx, env, docnames: list[str]) -> None:
    report = []
    for doc in docnames:
        path = Path(env.doc2path(doc))
        if path.suffix == ".ipynb":
            report += [f"{path.name}: {p}" for p in notebook_problems(path)]
    if report:
        raise ExtensionError("broken chapter notebook(s); re-run them (make reproduce):\n  " + "\n  ".join(report))


def setup(app: Sphinx) -> dict:
    app.connect("env-before-read-docs", _check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

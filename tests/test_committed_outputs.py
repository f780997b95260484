"""The book's committed outputs stay current with the code: every chapter, executed at its committed preset from
a copy of its committed records (nothing trains), runs without an error, stores no record and
writes the claims table that is committed (``data/results/<chapter>/claims.csv``, which the scorecard counts).
A record's key holds the checksum of every dataset it read, so this needs the chapter's datasets: ``$CL_DATA_DIR``,
else the project's ``data/``, else the build machines' ``../shared/data`` (CIFAR-10 decoded from its JPEG copy into a
scratch folder, as the README does, which gives the same file); a chapter whose datasets are in none of them is
skipped, by name.

The smoke tests (:mod:`test_notebooks`) execute every chapter on small synthetic runs; they cannot see a change
that breaks a chapter only at its committed scale (chapter 06's rounds-grid scale line once failed there, after
a parameter check the smoke preset never reached) or that moves a committed status without its notebook being
re-executed. Fix such a failure by re-executing the chapter in place (CONTRIBUTING, "Re-execute a chapter").
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest

from cl_utils import experiments
from cl_utils.data import dataset_file
from test_notebooks import ROOT, _records, toc_chapters


SHARED = ROOT.parent / "shared"
NEEDED = ("mnist", "fashion_mnist", "kmnist", "cifar10")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Where the chapters' datasets are: ``$CL_DATA_DIR``, ``data/`` if it holds them, else a scratch folder
    made from ``../shared/data`` (links to the MNIST family, CIFAR-10 decoded by the shared tool), else ``data/``."""
    if os.environ.get("CL_DATA_DIR"):
        return Path(os.environ["CL_DATA_DIR"])
    local = ROOT / "data"
    if all(dataset_file(d, local).is_file() for d in NEEDED) or not (SHARED / "data").is_dir():
        return local
    scratch = tmp_path_factory.mktemp("data")
    for name in NEEDED[:3]:
        if (SHARED / "data" / f"{name}.npz").is_file():
            (scratch / f"{name}.npz").symlink_to(SHARED / "data" / f"{name}.npz")
    tool, jpeg = SHARED / "tools" / "unpack_jpeg_npz.py", SHARED / "data" / "cifar10_jpeg.npz"
    if tool.is_file() and jpeg.is_file():
        subprocess.run([sys.executable, str(tool), str(jpeg), str(scratch)], check=True, capture_output=True)
    return scratch


def _chapters_with_records() -> list[str]:
    return [c for c in toc_chapters() if (ROOT / "data" / "results" / Path(c).stem / "claims.csv").is_file()]


@pytest.mark.parametrize("chapter", _chapters_with_records())
def test_the_committed_chapter_reexecutes_from_its_records_to_its_committed_claims(chapter, tmp_path, monkeypatch,
                                                                                   data_dir):
    stem = Path(chapter).stem
    data = data_dir
    experiment = experiments.load(stem)
    planned = experiment.plan(experiment.Params.from_values({}, experiments.preset(stem, "committed")))
    missing = sorted({d for run in planned for d in run.datasets if not dataset_file(d, data).is_file()})
    if missing:
        pytest.skip(f"{stem}: its datasets {', '.join(missing)} are not in {data} (README: 'Where the data comes from')")
    committed = ROOT / "data" / "results" / stem
    results = tmp_path / "results"
    shutil.copytree(committed, results / stem, ignore=shutil.ignore_patterns("checkpoints", ".locks", "claims.csv"))
    made = _records(results)
    for name in ("CL_PRESET", "CL_RESULTS_DIR"):  # the parameters below decide
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CL_DATA_DIR", str(data))
    out = tmp_path / Path(chapter).name
    pm.execute_notebook(str(ROOT / chapter), str(out), kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
                        parameters={"preset": "committed", "results_dir": str(results), "show_progress": False})
    errors = [o for c in nbformat.read(out, 4).cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    assert _records(results) == made, "the notebook trained or stored runs at its committed preset"
    written = pd.read_csv(results / stem / "claims.csv", keep_default_na=False)
    stored = pd.read_csv(committed / "claims.csv", keep_default_na=False)
    assert written.to_dict("records") == stored.to_dict("records"), (
        f"{stem}'s claims computed from its records differ from the committed claims.csv: re-execute the chapter")

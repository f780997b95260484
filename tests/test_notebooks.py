"""Every chapter in _toc.yml, executed end to end at smoke scale with nbval.

For each chapter the smoke plan is first trained by ``python -m cl_utils.reproduce`` (Jupyter blocked),
then the source notebook is parameterised in memory with its smoke
preset ``book/params/<chapter>/smoke.yaml`` (plus a temporary ``results_dir``) by papermill, written
to a temporary folder, and executed there by ``pytest --nbval-lax`` in a
subprocess. The source notebook is never modified and the copy runs from another
directory, which also checks that chapters do not depend on the current directory.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest
import yaml
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from cl_utils import experiments
from cl_utils.experiments.cache import request_key
from cl_utils.experiments.runs import requests
from test_experiments import reproduce  # the command in an interpreter where Jupyter cannot be imported

ROOT = Path(__file__).resolve().parent.parent


def smoke_values(chapter: str) -> dict:
    return yaml.safe_load((ROOT / "book" / "params" / Path(chapter).stem / "smoke.yaml").read_text())


def toc_chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for c in toc.get("chapters", [])]
    return [f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").is_file()]


def smoke_copy(chapter: str, folder: Path, **overrides) -> Path:
    nb = load_notebook_node(str(ROOT / chapter))  # adds the empty tag lists papermill expects
    params = {**smoke_values(chapter), "results_dir": str(folder / "results"), **overrides}
    nb = parameterize_notebook(nb, params)
    path = folder / Path(chapter).name
    nbformat.write(nb, path)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_chapter_has_smoke_parameters():
    chapters = toc_chapters()
    assert chapters, "no chapter notebooks found through _toc.yml"
    presets = sorted(p.parent.name for p in (ROOT / "book" / "params").glob("*/smoke.yaml"))
    assert presets == sorted(Path(c).stem for c in chapters), "one smoke preset per chapter in _toc.yml"


def _records(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*.json")}


@pytest.mark.parametrize("chapter", toc_chapters())
def test_chapter_runs_at_smoke_scale(chapter, tmp_path):
    """The chapter's smoke plan, trained once by the command in an interpreter where Jupyter cannot be
    imported (every run stored under its key, all listed as cached), then the notebook executed by nbval
    on those records: every cell and figure runs, and it draws from the command's records, training and
    storing nothing more (one training for both paths, half the time of training each)."""
    before = _digest(ROOT / chapter)
    results = tmp_path / "results"
    stem = Path(chapter).stem
    if stem in experiments.CHAPTERS:
        first = reproduce(stem, "--preset", "smoke", "--results", str(results))
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        experiment = experiments.load(stem)
        planned = requests(experiment, experiment.Params.from_values({}, experiments.preset(stem, "smoke")))
        assert first.stdout.strip().splitlines()[-1] == f"{len(planned)} trained, 0 reused, 0 pending"
        folder = results / experiment.CHAPTER  # (a search also stores the points it evaluated)
        assert all((folder / f"{request_key(request)}.json").is_file() for _, request in planned)
    made = _records(results)
    path = smoke_copy(chapter, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # inline figures, as in the book
    env.pop("CL_DATA_DIR", None)  # smoke runs must not need real data
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-p", "no:cacheprovider", "--nbval-cell-timeout=900",
         path.name],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert _digest(ROOT / chapter) == before, "the source notebook was modified"
    assert _records(results), "the chapter stored no run record"
    if stem in experiments.CHAPTERS:
        assert _records(results) == made, "the notebook trained or stored runs the command had made"
        listed = subprocess.run([sys.executable, "-m", "cl_utils.reproduce", chapter, "--preset", "smoke", "--results",
                                 str(results), "--list"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert listed.returncode == 0 and f"{len(planned)} cached, 0 pending" in listed.stdout.splitlines()[-1], \
            listed.stdout[-2000:]


def test_notebook_reuses_the_records_of_the_command(tmp_path):
    chapter = "book/00_forgetting.ipynb"
    env = {k: v for k, v in os.environ.items() if k != "CL_DATA_DIR"}
    made = subprocess.run([sys.executable, "-m", "cl_utils.reproduce", "00", "--preset", "smoke", "--results",
                           str(tmp_path / "results")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert made.returncode == 0 and made.stdout.splitlines()[-1] == "8 trained, 0 reused, 0 pending", made.stdout
    path = smoke_copy(chapter, tmp_path)
    out = pm.execute_notebook(path, tmp_path / "out.ipynb", cwd=tmp_path, progress_bar=False, kernel_name="python3")
    text = "".join(o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.outputs)
    assert "0 trained, 8 reused, 0 pending" in text


@pytest.mark.parametrize("chapter", toc_chapters())
def test_bad_parameter_stops_before_training(chapter, tmp_path):
    path = smoke_copy(chapter, tmp_path, device="tpu")  # every chapter has a device parameter
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(path, tmp_path / "out.ipynb", cwd=tmp_path, progress_bar=False, kernel_name="python3")
    assert err.value.ename == "ParameterError" and "'device'" in err.value.evalue
    assert not (tmp_path / "results").exists(), "something ran before the parameters were checked"


@pytest.mark.parametrize("chapter", [c for c in toc_chapters() if Path(c).stem in experiments.CHAPTERS])
def test_papermill_help_shows_every_parameter_with_its_type(chapter):
    """``papermill --help-notebook`` documents each field of the chapter's Params, typed, with its help."""
    found = pm.inspect_notebook(str(ROOT / chapter))
    params = experiments.load(chapter).Params
    assert sorted(found) == sorted(params.names())
    hints = {f: params.__dataclass_fields__[f] for f in params.names()}
    for name, info in found.items():
        assert info["inferred_type_name"] not in ("None", "Unknown type"), name
        assert info["help"] and info["help"].split()[0] in hints[name].metadata["help"], name

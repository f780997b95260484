"""The one chapter registry (cl_utils.chapters) and everything that must agree with it."""
from __future__ import annotations

from pathlib import Path

import yaml

from cl_utils import chapters, claims, experiments

ROOT = Path(__file__).resolve().parent.parent


def test_the_table_of_contents_lists_the_registered_chapters_in_order():
    toc = [c["file"] for c in yaml.safe_load((ROOT / "_toc.yml").read_text())["chapters"]]
    notebooks = [f.removeprefix("book/") for f in toc if (ROOT / f"{f}.ipynb").is_file()]
    assert notebooks == [c.folder for c in chapters.REGISTRY]


def test_every_registered_chapter_has_its_module_presets_and_notebook():
    for c in chapters.REGISTRY:
        module = experiments.load(c.folder)
        assert module.__name__ == f"cl_utils.experiments.{c.module}"
        assert module.CHAPTER == c.folder, f"{c.module}.CHAPTER must be {c.folder!r}"
        assert (ROOT / "book" / "params" / c.folder / "smoke.yaml").is_file(), c.folder
        assert (ROOT / "book" / f"{c.folder}.ipynb").is_file(), c.folder


def test_the_derived_tables_follow_the_registry():
    assert experiments.CHAPTERS == {c.folder: c.module for c in chapters.REGISTRY}
    assert claims.CHAPTER_TITLES == {c.folder: c.title for c in chapters.REGISTRY}
    assert len({c.folder for c in chapters.REGISTRY}) == len(chapters.REGISTRY) == len(chapters.by_folder())


def test_a_module_over_300_lines_says_why_it_is_one_piece():
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "cl_utils"
    for path in package.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > 300:
            doc = ast.get_docstring(ast.parse(source)) or ""
            assert "Why one module" in doc or "one piece" in doc, f"{path.name}: over 300 lines, no reason given"


def test_no_module_of_the_runs_layer_shares_a_name_with_one_of_the_method_layer():
    """``cl_utils.packnet`` is the method, ``cl_utils.experiments.packnet_runs`` chapter 01's runs: one name, one module."""
    from pathlib import Path

    import cl_utils

    package = Path(cl_utils.__file__).parent
    methods = {p.stem for p in package.glob("*.py")} - {"__init__"}
    runs_layer = {p.stem for p in (package / "experiments").glob("*.py")} - {"__init__"}
    assert not methods & runs_layer, sorted(methods & runs_layer)

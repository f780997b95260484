"""cl_utils.repository: a copy of the book points at the repository it is built from."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cl_utils import repository

ROOT = Path(__file__).resolve().parent.parent
CANONICAL = repository.configured()


@pytest.mark.parametrize("address", ["a/b", "https://github.com/a/b", "https://github.com/a/b.git",
                                     "git@github.com:a/b.git", "ssh://git@github.com/a/b"])  # fmt: skip
def test_every_form_of_a_github_address_names_owner_and_repository(address):
    assert repository.github_path(address) == "a/b"


def test_an_address_elsewhere_is_refused():
    with pytest.raises(ValueError, match="not a GitHub repository"):
        repository.github_path("https://gitlab.com/a/b")


def test_badges_buttons_and_clone_commands_follow_and_the_clone_keeps_its_folder():
    path = repository.github_path(CANONICAL)
    text = (f"[![Open In Colab](x)](https://colab.research.google.com/github/{path}/blob/main/book/00.ipynb)\\n"
            f'"        !git clone --quiet --depth 1 https://github.com/{path}\\n",\\n'
            f"see https://github.com/{path}/issues and https://github.com/{path}-extras")  # fmt: skip
    out = repository.rewrite(text, CANONICAL, "me/fork")
    assert "colab.research.google.com/github/me/fork/blob/main/book/00.ipynb" in out
    assert f"git clone --quiet --depth 1 https://github.com/me/fork {repository.CLONE_DIR}\\n" in out
    assert "https://github.com/me/fork/issues" in out
    assert f"https://github.com/{path}-extras" in out  # another repository whose name starts alike is left alone
    assert repository.rewrite(out, "me/fork", "me/fork") == out
    assert repository.rewrite(out, "me/fork", "you/other").count(repository.CLONE_DIR) == out.count(repository.CLONE_DIR)


def test_the_command_rewrites_config_and_chapters_of_a_copy(tmp_path):
    for name in ("_config.yml", "_toc.yml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "book", tmp_path / "book", ignore=shutil.ignore_patterns("*.ipynb_checkpoints", "_ext"))
    shutil.copytree(ROOT / "cl_utils", tmp_path / "cl_utils", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "cl_utils.repository", "me/fork"], cwd=tmp_path, capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert repository.configured(tmp_path) == "https://github.com/me/fork"
    canonical = repository.github_path(CANONICAL)
    for notebook in (tmp_path / "book").glob("*.ipynb"):
        text = notebook.read_text()
        assert canonical not in text, notebook.name
        if "colab-badge" in text:
            assert f"colab.research.google.com/github/me/fork/blob/main/book/{notebook.name}" in text
    bad = subprocess.run([sys.executable, "-m", "cl_utils.repository", "https://gitlab.com/x/y"], cwd=tmp_path,
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "not a GitHub repository" in bad.stderr

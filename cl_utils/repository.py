"""The repository the book points at: its Colab badges, install cells, and repository and issue buttons.

``_config.yml`` holds the canonical address (``repository.url``) and every chapter's badge and install cell
names it (a test checks they agree). A copy published from elsewhere, a fork's GitHub Pages or ``make
publish`` to another remote, must point at the repository it was built from: the book's Sphinx extension
``book/_ext/repository_address.py`` rewrites the address while building when ``BOOK_REPOSITORY`` is set
(the Pages workflow sets it to GitHub's ``github.repository``; ``make book`` and ``make publish`` to the
``origin`` remote's), leaving the sources alone. A fork whose chapters should clone the fork in Colab too
rewrites the sources once with ``python -m cl_utils.repository OWNER/NAME`` and commits them.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path


# No import from the package: the book's Sphinx extension loads this file alone, in the book's environment (no torch).

__all__ = ["CLONE_DIR", "configured", "github_path", "rewrite", "origin", "set_repository"]

#: the folder the install cell clones into and changes to, whatever the repository is called
CLONE_DIR = "pruning-to-remember"
def project_root() -> Path:
    """The checkout holding this file (the folder with ``_config.yml``)."""
    return Path(__file__).resolve().parent.parent


_GITHUB = re.compile(r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)([\w.-]+/[\w.-]+?)(?:\.git)?/?$")


def configured(root: Path | None = None) -> str:
    """The repository address in ``_config.yml`` (``https://github.com/OWNER/NAME``)."""
    import yaml  # here, not above: `--origin` runs under any Python (make book calls it before any venv exists)

    return yaml.safe_load(((root or project_root()) / "_config.yml").read_text())["repository"]["url"]


def github_path(address: str) -> str:
    """``OWNER/NAME`` of a GitHub repository given as ``OWNER/NAME``, an https address or a git remote."""
    address = address.strip()
    if re.fullmatch(r"[\w.-]+/[\w.-]+", address):
        return address
    match = _GITHUB.match(address)
    if not match:
        raise ValueError(f"not a GitHub repository: {address!r} (give OWNER/NAME or https://github.com/OWNER/NAME)")
    return match.group(1)


def rewrite(text: str, old: str, new: str) -> str:
    """``text`` with every reference to repository ``old`` (badges, clone commands, links) pointing at ``new``.

    Both are GitHub addresses or ``OWNER/NAME``. A clone command keeps cloning into :data:`CLONE_DIR`, so the
    install cell's ``%cd`` works whatever the new repository is called.
    """
    old_path, new_path = github_path(old), github_path(new)
    if old_path == new_path:
        return text
    clone = re.compile(rf"(git clone [^\n\"]*?)https://github\.com/{re.escape(old_path)}(?:\.git)?(?=[\s\"\\])(?! {CLONE_DIR})")
    text = clone.sub(rf"\g<1>https://github.com/{new_path} {CLONE_DIR}", text)
    return re.sub(rf"(github\.com/|colab\.research\.google\.com/github/){re.escape(old_path)}(?=[/\s\"\\)\]]|$)",
                  rf"\g<1>{new_path}", text)


def origin(root: Path | None = None) -> str | None:
    """``OWNER/NAME`` of the ``origin`` remote when it is on GitHub (None otherwise or without git)."""
    try:
        url = subprocess.run(["git", "remote", "get-url", "origin"], cwd=root or project_root(), capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        return github_path(url)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return None


def set_repository(new: str, root: Path | None = None) -> list[Path]:
    """Point ``_config.yml`` and every chapter at ``new``; returns the files changed."""
    root = root or project_root()
    old = configured(root)
    changed = []
    for path in [root / "_config.yml", *sorted((root / "book").glob("*.ipynb")), *sorted((root / "book").glob("*.md")),
                 root / "README.md"]:  # fmt: skip
        text = path.read_text()
        updated = rewrite(text, old, new)
        if updated != text:
            path.write_text(updated)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cl_utils.repository", description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", nargs="?", help="OWNER/NAME or https://github.com/OWNER/NAME (default: origin)")
    parser.add_argument("--origin", action="store_true", help="print OWNER/NAME of the origin remote (nothing when "
                        "it is not on GitHub) and change nothing; make book passes it to the build")
    args = parser.parse_args(argv)
    if args.origin:
        print(origin() or "")
        return 0
    new = args.repository or origin()
    if new is None:
        print("error: name the repository (OWNER/NAME): the origin remote is not on GitHub", file=sys.stderr)
        return 2
    try:
        changed = set_repository(new)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"now pointing at https://github.com/{github_path(new)}: {len(changed)} file(s) changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What code a chapter's runs execute, found from the imports, and a hash of each module of it.

A record's key holds the chapter's deliberate ``CODE_VERSION`` (bumped when results change, so a
refactor does not force retraining); beside it a record stores a hash of every module its runs
reach (``code_hashes``), so ``reproduce --list`` and the notebooks can flag records made by code
that has changed since, and name the modules that changed.

The modules are not listed by hand (a hand-written list missed modules that runs use): they are
the ``cl_utils`` modules imported, directly or through each other, by the chapter's experiment
module, read from the source with :mod:`ast`. The machinery that stores and schedules runs, and
the report modules that only draw, are not followed (:data:`NOT_RUN`): a change there does not
change a result.

A refactor changes the hashes without changing a result. Where that was checked (the chapter's smoke
plan trained by the code before and after gave identical records: :mod:`.equivalence`), the ledger
:data:`LEDGER` maps the chapter's old combined hash to the new one, and a record made by the old code
counts as made by the current code (:func:`current_hash`); every other change still flags it.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Mapping

__all__ = ["NOT_RUN", "LEDGER", "run_modules", "module_hashes", "combined_hash", "current_hash", "changed_modules"]

#: checked refactors: ``[{"chapter", "from", "to", "evidence"}]``, combined hashes (written by :mod:`.equivalence`)
LEDGER = Path(__file__).with_name("equivalent_code.json")

PACKAGE = "cl_utils"
#: modules that store, schedule, validate or draw runs without computing them (not followed)
NOT_RUN = frozenset({
    "cl_utils", "cl_utils.experiments", "cl_utils.experiments.runs", "cl_utils.experiments.cache",
    "cl_utils.experiments.params", "cl_utils.experiments.ray_executor", "cl_utils.experiments.identity",
    "cl_utils.paths", "cl_utils.validate", "cl_utils.plots", "cl_utils.claims", "cl_utils.verdicts",
    "cl_utils.reproduce",
})  # fmt: skip


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _imports(name: str) -> set[str]:
    """The ``cl_utils`` modules that module ``name`` imports (relative imports resolved)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return set()
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=spec.origin)
    package = name if spec.submodule_search_locations else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}"))
    return {m for m in found if (m == PACKAGE or m.startswith(PACKAGE + ".")) and _is_module(m)}


@lru_cache(maxsize=None)
def _reached(root: str) -> frozenset[str]:
    seen, todo = set(), [root]
    while todo:
        name = todo.pop()
        if name in seen or name in NOT_RUN or name.endswith("_report"):
            continue
        seen.add(name)
        todo.extend(_imports(name))
    return frozenset(seen)


def run_modules(experiment: ModuleType) -> tuple[str, ...]:
    """The modules a chapter's runs execute: its experiment module and every ``cl_utils`` module it reaches.

    A module without a source file (a test's stand-in chapter) contributes the modules of its
    optional ``SOURCES`` instead.
    """
    roots = [experiment.__name__] if _is_module(experiment.__name__) else list(getattr(experiment, "SOURCES", ()))
    return tuple(sorted(set().union(*(_reached(r) for r in roots)) if roots else set()))


def _source_hash(name: str) -> str:
    spec = importlib.util.find_spec(name)
    with open(spec.origin, "rb") as f:  # type: ignore[union-attr, arg-type]
        return hashlib.sha256(f.read()).hexdigest()[:12]


def module_hashes(experiment: ModuleType) -> dict[str, str]:
    """SHA-256 (12 hex digits) of the source file of each module the chapter's runs execute."""
    return {name: _source_hash(name) for name in run_modules(experiment)}


def combined_hash(hashes: Mapping[str, str]) -> str:
    """One hash (12 hex digits) of the per-module hashes: a record's ``code_hash``."""
    text = "\n".join(f"{name} {h}" for name, h in sorted(hashes.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ledger() -> list[dict]:
    """The checked refactors (:data:`LEDGER`), oldest first (read once per state of the file)."""
    if not LEDGER.exists():
        return []
    stat = LEDGER.stat()
    return list(_read_ledger(str(LEDGER), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=4)
def _read_ledger(path: str, mtime_ns: int, size: int) -> tuple[dict, ...]:
    return tuple(json.loads(Path(path).read_text(encoding="utf-8")))


def current_hash(chapter: str, code_hash: str) -> str:
    """``code_hash`` carried through the ledger's checked refactors of ``chapter`` (itself when there is none)."""
    steps = {e["from"]: e["to"] for e in ledger() if e["chapter"] == chapter}
    seen = {code_hash}
    while code_hash in steps and steps[code_hash] not in seen:
        code_hash = steps[code_hash]
        seen.add(code_hash)
    return code_hash


def refactored_since(record: Mapping, now: Mapping[str, str]) -> bool:
    """True when ``record``'s code differs from now's only by checked refactors (the ledger)."""
    then = record.get("code_hash", "")
    return bool(then) and then != combined_hash(now) and current_hash(record.get("chapter", ""), then) == combined_hash(now)


def changed_modules(record: Mapping, now: Mapping[str, str]) -> list[str] | None:
    """The modules whose source differs from when ``record`` was made (added or removed ones too), none after
    checked refactors only; None when the record predates per-module hashes and cannot tell."""
    then = record.get("code_hashes")
    if not then:
        return None
    if refactored_since(record, now):
        return []
    return sorted(name for name in set(then) | set(now) if then.get(name) != now.get(name))

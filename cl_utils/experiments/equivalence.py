"""Check that a refactor left a chapter's results as they were, and say so in the ledger.

``python -m cl_utils.experiments.equivalence --before REV CHAPTER [CHAPTER ...]`` trains each
chapter's smoke plan twice, with the code of git revision ``REV`` (extracted to a scratch folder)
and with the code here, and compares the records field by field (timings, the machine and the code
hashes left out). Where every record of a chapter is identical and the chapter's combined code hash
differs, it appends ``{"chapter", "from", "to", "evidence"}`` to :data:`.identity.LEDGER`: records
made by the old code then count as made by the current code (``reproduce --list`` shows them
``cached``, the notebooks' run summary counts them apart). A chapter whose records differ is
reported and left flagged: the change changed a result, so its records must be retrained (and its
``CODE_VERSION`` bumped).

The evidence is only as wide as the smoke plan: every run kind at small scale, on the data the smoke
preset names. A refactor that changes behaviour only at paper scale (a code path the smoke plan never
takes) would slip through; the ledger entry names the check so a reader can judge it.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from . import identity

__all__ = ["comparable", "differences", "check", "main"]

ROOT = Path(__file__).resolve().parents[2]
#: fields that say when, where, how fast or by which code a record was made, or what it was estimated to cost
#: (the plan's multiply-accumulates, for --list), not what it computed
NOT_RESULTS = {"wall_seconds", "environment", "code_hash", "code_hashes", "inputs", "cost"}


def comparable(value: Any) -> Any:
    """A record without the fields that differ between identical computations (timings at any depth)."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in NOT_RESULTS and not k.endswith("seconds")}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def differences(before: Path, after: Path) -> list[str]:
    """The records the old code made that the new code does not make, or makes with another result (empty:
    identical). Runs only the new plan has (a configuration the change adds) are not differences: they say
    nothing about whether the old records still hold, and the old code could not have made them."""
    a = {f.name: f for f in before.rglob("*.json")}
    b = {f.name: f for f in after.rglob("*.json")}
    found = [f"only before: {n}" for n in sorted(set(a) - set(b))]
    for name in sorted(set(a) & set(b)):
        if comparable(json.loads(a[name].read_text())) != comparable(json.loads(b[name].read_text())):
            found.append(f"differs: {name}")
    return found


def _run(source: Path, args: Sequence[str]) -> str:
    env = dict(os.environ, PYTHONPATH=str(source), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    done = subprocess.run([sys.executable, *args], cwd=source, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed in {source}:\n{done.stderr[-2000:]}")
    return done.stdout


def _combined_hash(source: Path, chapter: str) -> str:
    """The chapter's combined code hash computed by the code in ``source`` (another revision's tree)."""
    code = ("from cl_utils import experiments as ex; from cl_utils.experiments import identity as i; "
            f"print(i.combined_hash(i.module_hashes(ex.load({chapter!r}))))")  # fmt: skip
    return _run(source, ["-c", code]).strip()


def _commit(rev: str) -> str:
    return subprocess.run(["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def check(before_rev: str, chapters: Sequence[str], scratch: Path) -> dict[str, list[str]]:
    """Train the chapters' smoke plans with ``before_rev``'s code and with this tree's; the differences per chapter."""
    old = scratch / "code"
    old.mkdir()
    archive = subprocess.run(["git", "archive", before_rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    found = {}
    for chapter in chapters:
        for side, source in (("before", old), ("after", ROOT)):
            _run(source, ["-m", "cl_utils.reproduce", chapter, "--preset", "smoke", "--results",
                          str(scratch / side / chapter)])  # fmt: skip
        found[chapter] = differences(scratch / "before" / chapter, scratch / "after" / chapter)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cl_utils.experiments.equivalence", description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="the git revision of the code before the refactor")
    parser.add_argument("chapters", nargs="+", help="chapters whose smoke plans to compare, e.g. 03 06")
    args = parser.parse_args(argv)
    from . import load

    names = [load(c).CHAPTER for c in args.chapters]
    with tempfile.TemporaryDirectory() as tmp:
        found = check(args.before, args.chapters, Path(tmp))
        old_code = Path(tmp) / "code"
        entries = identity.ledger()
        for chapter, name in zip(args.chapters, names):
            if found[chapter]:
                print(f"{name}: results differ, records stay flagged: {'; '.join(found[chapter][:5])}")
                continue
            old, new = _combined_hash(old_code, chapter), identity.combined_hash(identity.module_hashes(load(chapter)))
            if old == new:
                print(f"{name}: identical results, and the code it runs has not changed")
                continue
            entries.append({"chapter": name, "from": old, "to": new, "evidence": (
                f"smoke plan trained by {_commit(args.before)[:12]} and by the tree of {_commit('HEAD')[:12]}"
                f"{' with uncommitted changes to its run modules' if _dirty(chapter) else ''}: identical records")})  # fmt: skip
            print(f"{name}: identical results; ledger: {old} -> {new}")
    identity.LEDGER.write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    return 1 if any(found.values()) else 0


def _dirty(chapter: str) -> bool:
    """Whether a module the chapter's runs execute differs from the last commit (then ``to`` is not a commit's)."""
    from . import load

    files = [importlib.util.find_spec(m).origin for m in identity.run_modules(load(chapter))]
    return bool(subprocess.run(["git", "status", "--porcelain", "--", *files], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip())  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())

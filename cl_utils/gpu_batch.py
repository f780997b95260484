"""A batch of queued runs for a borrowed GPU machine, one archive out, checked on the way in.

A GPU machine here has torch but no Jupyter and no internet, is lent for minutes, and takes files
in and out as a few archives. So::

    python -m cl_utils.gpu_batch list                                  # the queue, in order
    python -m cl_utils.gpu_batch run --budget 480 --out records.tar.gz  # there: train, pack
    python -m cl_utils.gpu_batch import records.tar.gz                  # here: check, merge

``run`` works through ``book/params/gpu_queue.yaml`` top first. Each entry names a chapter, a
preset and parameter values, the kinds of run to train, and how many worker processes share it
(small networks are launch-bound: several processes keep one GPU busy; they claim runs through
the results folder's locks, so none is trained twice). No run starts after the budget; runs in
flight at the hard limit are stopped and lost, every finished record is kept. The new records
(and nothing else) go into one archive. Only the datasets the queued kinds read must travel
(``--kinds`` keys only those), as unchanged files: their checksums are in every key.

``import`` reads an archive and merges each record into ``data/results/<chapter>/`` only if its
file name is the hash of its request, its chapter exists, its code version is the chapter's
current one for its kind, and every dataset it names has the checksum of the local file; it
reports what it refused and why. It overwrites a different record only where the local one is not
known to be made by the current code and the archive's is (an entry with ``retrain_unverified: true``
retrains such records there: ``reproduce --retrain-unverified``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any, Sequence

import yaml

from .data import DataUnavailableError, dataset_identity
from .experiments import load
from .experiments.cache import RunCache, request_key
from .experiments.runs import code_hashes, unverified, version_of
from .paths import project_root, results_root

__all__ = ["QUEUE", "read_queue", "run_queue", "import_archive", "main"]

QUEUE = Path("book") / "params" / "gpu_queue.yaml"
ENTRY_FIELDS = {"chapter", "preset", "params", "kinds", "workers", "retrain_unverified", "why"}


def read_queue(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The queue's entries, checked: each names a known chapter, kinds of run it has, and a worker count."""
    path = Path(path) if path else project_root() / QUEUE
    entries = yaml.safe_load(path.read_text()) or []
    if not isinstance(entries, list):
        raise ValueError(f"{path}: the queue must be a list of entries")
    for i, e in enumerate(entries):
        unknown = set(e) - ENTRY_FIELDS
        if unknown or "chapter" not in e:
            raise ValueError(f"{path}, entry {i + 1}: fields are {sorted(ENTRY_FIELDS)} (chapter required); "
                             f"got {sorted(e)}")  # fmt: skip
        experiment = load(str(e["chapter"]))
        bad = sorted(set(e.get("kinds") or []) - set(experiment.RUNNERS))
        if bad:
            raise ValueError(f"{path}, entry {i + 1}: {experiment.CHAPTER} has no run kind {bad}")
        if int(e.get("workers", 1)) < 1:
            raise ValueError(f"{path}, entry {i + 1}: workers must be at least 1")
    return entries


def _command(entry: dict[str, Any], results: Path, budget: float, device: str) -> list[str]:
    cmd = [sys.executable, "-m", "cl_utils.reproduce", str(entry["chapter"]), "--results", str(results),
           "--budget", f"{budget:.0f}", "--device", device]  # fmt: skip
    if entry.get("preset"):
        cmd += ["--preset", str(entry["preset"])]
    for name, value in (entry.get("params") or {}).items():
        cmd += ["-p", name, json.dumps(value)]
    if entry.get("kinds"):
        cmd += ["--kinds", ",".join(entry["kinds"])]
    if entry.get("retrain_unverified"):
        cmd += ["--retrain-unverified"]
    return cmd


def _records(results: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime for p in results.glob("*/*.json") if not p.name.startswith(".")}


def run_queue(entries: Sequence[dict[str, Any]], *, budget: float, out: Path, results: Path | None = None,
              device: str = "auto", grace: float = 0.0, log=print) -> list[Path]:  # fmt: skip
    """Train the queue's entries in order within ``budget`` seconds; pack every new record into ``out``.

    No run starts after ``budget``; ``grace`` more seconds are given to runs in flight, then they are stopped.
    Returns the records packed.
    """
    results = Path(results) if results else results_root()
    before = _records(results)
    start = time.monotonic()
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"), PYTHONUNBUFFERED="1")
    for entry in entries:
        left = budget - (time.monotonic() - start)
        if left <= 0:
            log(f"budget spent; not started: {entry['chapter']} {entry.get('kinds') or 'all kinds'}")
            continue
        workers = int(entry.get("workers", 1))
        log(f"{entry['chapter']} {entry.get('kinds') or 'all kinds'}: {workers} worker(s), {left:.0f} s left")
        procs = [subprocess.Popen(_command(entry, results, left, device), cwd=project_root(), env=env)
                 for _ in range(workers)]  # fmt: skip
        deadline = start + budget + grace
        for p in procs:
            try:
                p.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                log(f"stopped a worker of {entry['chapter']} at the hard limit (its run in flight is lost)")
    new = sorted(p for p, mtime in _records(results).items() if before.get(p) != mtime)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as tar:
        for p in new:
            tar.add(p, arcname=f"{p.parent.name}/{p.name}")
    log(f"{len(new)} new record(s) packed into {out}")
    return new


def _check(record: dict[str, Any], name: str) -> str | None:
    """Why ``record`` (stored under ``name``) cannot be merged here, or None if it can."""
    try:
        experiment = load(record["chapter"])
        request = {k: record[k] for k in RunCache.REQUEST_FIELDS}
    except Exception as err:  # noqa: BLE001 - any malformed record is refused with its reason
        return f"not a run record of a known chapter ({err})"
    if record["chapter"] != experiment.CHAPTER:
        return f"its chapter {record['chapter']!r} is not a chapter's folder name (did you mean {experiment.CHAPTER!r}?)"
    if name != f"{request_key(request)}.json" or record.get("key") != request_key(request):
        return "its file name is not the hash of its request (edited or damaged)"
    if record["kind"] not in experiment.RUNNERS:
        return f"{experiment.CHAPTER} has no run kind {record['kind']!r}"
    current = version_of(experiment.CODE_VERSION, record["kind"])
    if record["code_version"] != current:
        return f"made by code version {record['code_version']}; {experiment.CHAPTER}'s {record['kind']} runs are now at {current}"
    for d in record["data"]:
        if d["source"] == "synthetic":
            continue
        try:
            here = dataset_identity(d["dataset"], "cache")
        except DataUnavailableError:
            return f"dataset {d['dataset']!r} is not here, so its checksum cannot be checked"
        if here["sha256"] != d["sha256"]:
            return f"dataset {d['dataset']!r} differs from the local file (checksum {d['sha256']} vs {here['sha256']})"
    return None


def _replaces(incoming: dict[str, Any], local: dict[str, Any]) -> bool:
    """Whether ``incoming`` may replace the ``local`` record of the same request: the local one is not known to be
    made by the current code (``cached?`` or ``cached*``) and the incoming one is."""
    not_current = unverified(code_hashes(load(incoming["chapter"])))
    return not_current(local) and not not_current(incoming)


def import_archive(archive: str | os.PathLike, results: str | os.PathLike | None = None, log=print) -> dict[str, list[str]]:
    """Merge the records of ``archive`` into ``results`` (default: the book's), each only if :func:`_check` passes."""
    results = Path(results) if results else results_root()
    outcome: dict[str, list[str]] = {"merged": [], "replaced": [], "present": [], "refused": []}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            chapter, _, name = member.name.rpartition("/")
            chapter = chapter.rsplit("/", 1)[-1]
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            try:
                record = json.loads(data)
            except ValueError:
                outcome["refused"].append(f"{member.name}: not JSON")
                continue
            why = _check(record, name) if chapter == record.get("chapter") else "filed under another chapter"
            target = results / chapter / name
            if why:
                outcome["refused"].append(f"{member.name}: {why}")
            elif target.is_file() and not _replaces(record, json.loads(target.read_text())):
                same = json.loads(target.read_text()).get("metrics") == record.get("metrics")
                outcome["present"].append(member.name + ("" if same else " (a different record is kept)"))
            else:
                replacing = target.is_file()  # a local record not known to be made by the current code
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".tmp-{name}")
                tmp.write_bytes(data)
                os.replace(tmp, target)
                outcome["replaced" if replacing else "merged"].append(member.name)
    for what, items in outcome.items():
        log(f"{what}: {len(items)}" + "".join(f"\n  {i}" for i in items if what not in ("merged", "replaced")))
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cl_utils.gpu_batch", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    ls = sub.add_parser("list", help="the queue, in order")
    ls.add_argument("--queue")
    run = sub.add_parser("run", help="train the queue within a budget and pack the new records")
    run.add_argument("--queue")
    run.add_argument("--budget", type=float, required=True, help="seconds after which no run starts")
    run.add_argument("--grace", type=float, default=0.0, help="seconds more for runs in flight, then they stop")
    run.add_argument("--out", type=Path, required=True, help="the archive to write (.tar.gz)")
    run.add_argument("--results", type=Path, help="results folder (default: the book's data/results)")
    run.add_argument("--device", default="auto")
    imp = sub.add_parser("import", help="check and merge an archive's records")
    imp.add_argument("archive")
    imp.add_argument("--results", type=Path)
    args = p.parse_args(argv)
    if args.what == "import":
        return 1 if import_archive(args.archive, args.results)["refused"] else 0
    entries = read_queue(args.queue)
    if args.what == "list":
        for i, e in enumerate(entries, 1):
            print(f"{i}. {e['chapter']} preset={e.get('preset')} kinds={e.get('kinds') or 'all'} "
                  f"workers={e.get('workers', 1)} {e.get('params') or ''}\n   {e.get('why', '')}")  # fmt: skip
        return 0
    run_queue(entries, budget=args.budget, out=args.out, results=args.results, device=args.device, grace=args.grace)
    return 0


if __name__ == "__main__":
    sys.exit(main())

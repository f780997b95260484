"""The run cache: one JSON record per finished run, keyed by what determines its result.

A run is identified by a *request*: the chapter, the run's kind (the name of its
run function), the experiment's ``CODE_VERSION``, the run's config, and the
identity of every dataset it reads (:func:`cl_utils.data.dataset_identity`: the
source kind and a checksum of the file). The key is a hash of the request, and
the record stores the request beside its metrics, so a load compares the two and
refuses a record that does not match (a hash collision or a hand-edited file).

Why a version constant and not a hash of the code: a hash of the source would
retrain hours of runs after a comment or a rename, and would still miss changes
in torch itself. ``CODE_VERSION`` is bumped on purpose, in the same commit as a
change that alters what a run computes; each record also stores a hash of every
module its runs reach (``code_hashes``, found from the imports by :mod:`.identity`)
and their combination (``code_hash``), so ``reproduce --list`` can flag records
made by code that has changed since and name the modules that changed.

Records are written atomically (a hidden temporary file, then ``os.replace``)
only after the run returns, so an interrupted run leaves nothing behind and every
finished run survives. Hidden files are never read as records. A truncated or
unreadable record stops the load with a message naming the file.

Several processes may share one results folder (two ``reproduce`` commands, one per core, or a
notebook beside a command): before training a run, a process *claims* it with a lock file
(``.locks/<key>.lock``, created exclusively, holding its host and process id). A process that
finds a run claimed leaves it to its owner and waits for the record at the end; a lock whose
process has died (same host) is stale and is taken over, so a killed process never leaves a run
stuck. A run that another run asks for while it trains (an input, :meth:`RunCache.run`) is claimed
the same way: a second process that needs it waits for its record instead of training it again.

A cache may be told to *retrain* some stored records (:attr:`RunCache.stale`, a test on a record: ``reproduce
--retrain-unverified`` passes the records not known to be made by the current code). Such a record counts as
missing: its run trains again, and the new record replaces it at the same path only once it is written, so an
interrupted retraining keeps the old record.

Checkpoints (model states that several runs start from) are stored beside the
records, git-ignored, and each run records the SHA-256 of every checkpoint it
read (``inputs``), so a record made from another checkpoint can be told apart.

Why one module (over 300 lines): keys, records, locks and checkpoints are the cache's storage and change
together.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import socket
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch

from ..paths import project_root, results_root

__all__ = ["CorruptRecordError", "StaleRecordError", "RunCache", "request_key", "environment_record", "record_digest",
           "input_mismatches"]


class CorruptRecordError(RuntimeError):
    """A stored record cannot be read (truncated, not JSON, missing fields)."""


class StaleRecordError(RuntimeError):
    """A stored record's request differs from the one asked for."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.tolist()
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a run record")


def canonical(obj: Any) -> str:
    """The JSON text a request is hashed and compared by (sorted keys, no spaces, tuples as lists)."""
    return json.dumps(obj, default=_jsonable, sort_keys=True, separators=(",", ":"))


def request_key(request: Mapping[str, Any]) -> str:
    """16 hex digits of the SHA-256 of the canonical request."""
    return hashlib.sha256(canonical(request).encode()).hexdigest()[:16]


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_root(), capture_output=True, text=True,
                             timeout=5, check=True)  # fmt: skip
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment_record(device: torch.device | str | None = None) -> dict[str, Any]:
    """Versions, device and git commit stored beside each result (not part of its key)."""
    dev = torch.device(device) if device is not None else None
    name = torch.cuda.get_device_name(dev) if dev is not None and dev.type == "cuda" else platform.processor() or "cpu"
    return {
        "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
        "device": str(dev) if dev is not None else None, "device_name": name, "git_commit": _git_commit(),
        "threads": torch.get_num_threads(),  # CPU results depend on it (reduction order)
        "cpu_capability": _cpu_capability(),  # and on the vector kernels torch dispatches to (AVX2, AVX512)
        "cpus": os.cpu_count(), "load_average": _load_average(),  # how busy the machine was: its timings' context
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip


def _cpu_capability() -> str | None:
    """The CPU vector instruction set torch's kernels dispatch to ("AVX2", "AVX512"): two machines with different
    ones round differently, so a state rebuilt on another machine may differ from the stored one."""
    try:
        return torch.backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        return None


def _load_average() -> float | None:
    """The machine's 1-minute load average when the record was written (None where the system has none): with
    ``cpus`` it says whether the run's wall time was measured beside other work."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def state_digest(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (16 hex digits) of a model state's names, dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous().reshape(-1)  # 0-d tensors cannot be viewed as bytes
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def record_digest(record: Mapping[str, Any]) -> str:
    """What a run stores in ``inputs`` for a record it read: ``record:`` and a hash of that record's metrics, so a
    record made from an input that was replaced since (retrained) can be found (:func:`input_mismatches`).
    Records made before this was stored hold ``"record"`` alone."""
    return "record:" + hashlib.sha256(canonical(record.get("metrics")).encode()).hexdigest()[:16]


def is_record_input(value: str) -> bool:
    """Whether an ``inputs`` value names a record read (else a checkpoint's state digest)."""
    return value == "record" or value.startswith("record:")


def input_mismatches(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """The keys of records made from an input record whose stored version differs from the one they read (it was
    retrained or replaced since): their results rest on a record that no longer exists."""
    records = list(records)
    digests = {r["key"]: record_digest(r) for r in records}
    return [r["key"] for r in records
            if any(v.startswith("record:") and k in digests and digests[k] != v for k, v in (r.get("inputs") or {}).items())]


def checkpoint_mismatches(records: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """Records that started from another state than the one their checkpoint's stage record describes.

    Every run records the digest of each checkpoint it read (``inputs``: key -> digest); the run that made a
    stage records its own (its key in its own ``inputs``). Returns (the keys of records that read a checkpoint
    whose digest differs from its stage record's, or from the other readers' where no stage record holds one;
    the keys of records that read a checkpoint whose stage record holds no digest, so that nobody can tell).
    """
    records = list(records)
    own = {r["key"]: (r.get("inputs") or {}).get(r["key"]) for r in records}
    read: dict[str, set[str]] = {}
    for r in records:
        for key, digest in (r.get("inputs") or {}).items():
            if not is_record_input(digest) and key != r["key"]:
                read.setdefault(key, set()).add(digest)
    mismatched, unknown = [], []
    for r in records:
        for key, digest in (r.get("inputs") or {}).items():
            if is_record_input(digest) or key == r["key"]:
                continue
            if own.get(key) is not None:
                wrong = digest != own[key]
            elif key in own:  # the stage record is here but predates recording its own digest
                unknown.append(r["key"])
                break
            else:  # built where needed, no stage record: the readers must agree
                wrong = len(read[key]) > 1
            if wrong:
                mismatched.append(r["key"])
                break
    return mismatched, unknown


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; records are shared (and committed)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_state(path: Path, state: Mapping[str, torch.Tensor]) -> None:
    """``torch.save`` of a model state, written atomically like the records."""
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    _atomic_write(path, buffer.getvalue())


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


class RunCache:
    """Load-or-run for one chapter's records under ``<results root>/<chapter>/``."""

    REQUEST_FIELDS = ("chapter", "kind", "code_version", "config", "data")

    def __init__(self, chapter: str, root: str | os.PathLike | None = None, device: torch.device | str | None = None):
        self.poll_seconds = 5.0  # how often a process waiting for another's checkpoint looks for it
        self.chapter = chapter
        self.directory = results_root(root or None) / chapter
        self.device = device
        self._inputs: dict[str, str] | None = None  # checkpoints read by the run in flight
        #: a stored record this test marks counts as missing: its run trains again and replaces it (None: none does)
        self.stale: Callable[[Mapping[str, Any]], bool] | None = None

    def path(self, request: Mapping[str, Any]) -> Path:
        return self.directory / f"{request_key(request)}.json"

    @staticmethod
    def read(path: Path) -> dict[str, Any]:
        """A record file's contents; :class:`CorruptRecordError` naming the file if it is damaged."""
        try:
            record = json.loads(path.read_text())
            if not isinstance(record, dict) or "metrics" not in record or "config" not in record:
                raise ValueError("no 'metrics' or 'config' field")
        except (ValueError, UnicodeDecodeError) as err:
            raise CorruptRecordError(
                f"run record {path} is damaged ({err}). Delete that file; the run is trained again on the next call."
            ) from None
        return record

    def load(self, request: Mapping[str, Any]) -> dict[str, Any] | None:
        """The stored record of ``request``, or None (also where :attr:`stale` marks it, to be trained again);
        refuses a record stored for another request."""
        path = self.path(request)
        if not path.is_file():
            return None
        record = self.read(path)
        stored = {k: record.get(k) for k in self.REQUEST_FIELDS}
        if canonical(stored) != canonical({k: request[k] for k in self.REQUEST_FIELDS}):
            diff = [k for k in self.REQUEST_FIELDS if canonical(stored[k]) != canonical(request[k])]
            raise StaleRecordError(f"run record {path} was stored for another request (differs in {diff}). "
                                   "Delete it, or move it away if you need it; the run is trained again.")  # fmt: skip
        if self.stale is not None and self.stale(record):
            return None
        return record

    def run(
        self, request: Mapping[str, Any], fn: Callable[[], Mapping[str, Any]], *, code_hash: str = "", cost: float = 0.0,
        code_hashes: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The record of ``request``: loaded, or made by calling ``fn()`` and stored (only if it returns).

        Called while another run is in flight, the record's key joins that run's ``inputs``.
        """
        record = self.load(request)
        if record is None:
            record = self._make_once(request, lambda: self.make(request, fn, code_hash=code_hash, cost=cost,
                                                                code_hashes=code_hashes))  # fmt: skip
        if self._inputs is not None:
            self._inputs[record["key"]] = record_digest(record)
        return record

    def _make_once(self, request: Mapping[str, Any], make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``make()`` under this process's claim of ``request``; while another live process holds the claim (two
        runs asked for the same input run), wait for its record instead of training the run twice, and take the
        run over if that process dies first."""
        while not self.claim(request):
            if self._held_here(request):  # this process's own claim (a run that asks for itself): make it
                return make()
            time.sleep(self.poll_seconds)
            record = self.load(request)
            if record is not None:
                return record
        try:
            record = self.load(request)  # finished by the process that held it before us
            return record if record is not None else make()
        finally:
            self.release(request)

    def _held_here(self, request: Mapping[str, Any]) -> bool:
        """Whether this process holds ``request``'s lock."""
        try:
            holder = json.loads(self.lock_path(request).read_text())
        except (OSError, ValueError):
            return False
        return holder.get("host") == socket.gethostname() and holder.get("pid") == os.getpid()

    def make(
        self, request: Mapping[str, Any], fn: Callable[[], Mapping[str, Any]], *, code_hash: str = "", cost: float = 0.0,
        code_hashes: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Call ``fn()`` and store its metrics as the record of ``request`` (nothing is stored if it raises).

        ``code_hash`` and ``code_hashes`` (per module, :mod:`.identity`) say which code made it; not part of the key.
        """
        outer, self._inputs = self._inputs, {}  # a run may make other runs' records while it runs
        start = time.perf_counter()
        try:
            metrics = dict(fn())
        finally:
            inputs, self._inputs = self._inputs, outer
        record = {**{k: request[k] for k in self.REQUEST_FIELDS}, "key": request_key(request), "metrics": metrics,
                  "wall_seconds": time.perf_counter() - start, "inputs": inputs, "code_hash": code_hash,
                  "code_hashes": dict(code_hashes or {}), "cost": cost,
                  "environment": environment_record(self.device)}  # fmt: skip
        text = json.dumps(record, default=_jsonable, indent=1, sort_keys=True) + "\n"  # fails before any write
        _atomic_write(self.path(request), text.encode())
        return json.loads(text)

    # ------------------------------------------------------------------ claims (several processes, one folder)
    def lock_path(self, request: Mapping[str, Any]) -> Path:
        return self.directory / ".locks" / f"{request_key(request)}.lock"

    def claim(self, request: Mapping[str, Any]) -> bool:
        """Claim ``request`` for this process: True if it is now ours (train it, then :meth:`release` it).

        False while another live process holds it. A lock left by a dead process on this host
        (or an unreadable one) is stale: it is removed and the claim is tried again.
        """
        path = self.lock_path(request)
        path.parent.mkdir(parents=True, exist_ok=True)
        mine = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()})
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self.holder_alive(request):
                    return False
                # stale: its process is gone. Move it aside under a name of our own; only one process's rename
                # succeeds, so two processes that both saw it stale cannot both delete a fresh claim.
                aside = path.with_name(f".stale-{os.getpid()}-{time.monotonic_ns()}")
                try:
                    os.rename(path, aside)
                except FileNotFoundError:
                    pass  # another process moved it first; try again
                else:
                    aside.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(mine)
            return True
        return False

    def holder_alive(self, request: Mapping[str, Any]) -> bool:
        """Whether the process holding ``request``'s lock still runs (False: no lock, or a stale one).

        A lock from another host cannot be checked and counts as alive: delete the file if that
        process is gone.
        """
        try:
            holder = json.loads(self.lock_path(request).read_text())
            host, pid = holder["host"], int(holder["pid"])
        except FileNotFoundError:
            return False
        except (ValueError, KeyError, TypeError):  # half-written by a process that died at once
            try:
                return time.time() - self.lock_path(request).stat().st_mtime < 60
            except FileNotFoundError:
                return False
        return host != socket.gethostname() or _process_alive(pid)

    def release(self, request: Mapping[str, Any]) -> None:
        """Drop this process's claim on ``request`` (a lock another process holds now is left alone)."""
        if self._held_here(request):
            self.lock_path(request).unlink(missing_ok=True)

    def store(self, record: Mapping[str, Any]) -> None:
        """Write a record made elsewhere (e.g. by a Ray worker) under its key, atomically."""
        text = json.dumps(dict(record), default=_jsonable, indent=1, sort_keys=True) + "\n"
        _atomic_write(self.directory / f"{record['key']}.json", text.encode())

    def checkpoint(self, request: Mapping[str, Any], build: Callable[[], Mapping[str, torch.Tensor]], *,
                   replace: bool = False) -> dict[str, torch.Tensor]:  # fmt: skip
        """Load-or-build a model state several runs start from; the run in flight records its digest.

        Where the state is missing, one process builds it (it claims the checkpoint like a run) and any other
        process that needs it meanwhile waits for its file instead of building the same state again.

        ``replace``: store the state ``build()`` returns even where a file exists. The run that *makes* a stage
        (whose record describes the state) stores it so, so that its record and the checkpoint are one state;
        a checkpoint rebuilt later by a run that needed it (its file absent, e.g. on a fresh clone) may differ
        from the stage's record on other hardware, and the digests in ``inputs`` tell it
        (:func:`checkpoint_mismatches`).
        """
        path = self.directory / "checkpoints" / f"{request_key(request)}.pt"
        lock = {"checkpoint": dict(request)}  # one builder at a time: the others wait and load its state
        held = False
        if not replace:
            while not path.is_file() and not (held := self.claim(lock)):
                time.sleep(self.poll_seconds)  # another live process is building it
        try:
            if path.is_file() and not replace:
                state = torch.load(path, map_location="cpu", weights_only=True)
            else:
                state = {k: v.detach().cpu().clone() for k, v in build().items()}
                save_state(path, state)
        finally:
            if held:
                self.release(lock)
        if self._inputs is not None:
            self._inputs[request_key(request)] = state_digest(state)
        return state

    def records(self) -> list[dict[str, Any]]:
        """Every record stored for this chapter (hidden temporary files are skipped)."""
        return [self.read(p) for p in sorted(self.directory.glob("*.json")) if not p.name.startswith(".")]

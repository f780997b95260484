"""The old run cache, keyed by configuration only: chapter 02 still uses it until its runs move to
:mod:`cl_utils.experiments` (whose cache also keys code version and data identity).

Every finished run is a small JSON record, keyed by its configuration.

A record lives at ``<results root>/<chapter>/<key>.json`` where ``key`` is a
hash of the run's configuration. Keys that do not change the result (the
device, progress bars, the results folder) are left out of the hash, so a run
made on a GPU machine is reused when the notebook is executed on a CPU.

Records are written atomically (temporary file, then ``os.replace``) and only
after the run returns, so an interrupted or crashed run leaves nothing behind
and every finished run survives the interruption. Re-running a chapter reuses
every finished run; a change to a plot never retrains.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from .experiments.cache import _atomic_write, _jsonable, environment_record, save_state
from .paths import results_root

__all__ = ["IGNORED_KEYS", "config_key", "environment_record", "RunCache"]

IGNORED_KEYS = frozenset({"device", "show_progress", "results_dir"})


def _dumps(obj: Any, **kwargs) -> str:
    return json.dumps(obj, default=_jsonable, **kwargs)


def config_key(config: Mapping[str, Any]) -> str:
    """16-hex-digit hash of the configuration, ignoring :data:`IGNORED_KEYS`."""
    kept = {k: v for k, v in config.items() if k not in IGNORED_KEYS}
    canonical = _dumps(kept, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class RunCache:
    """Load-or-run for one chapter's runs.

    >>> cache = RunCache("00_forgetting")                      # doctest: +SKIP
    >>> record = cache.run({"method": "finetune", "seed": 0}, train_fn)  # doctest: +SKIP
    >>> record["metrics"]                                       # doctest: +SKIP
    """

    def __init__(self, chapter: str, root: str | os.PathLike | None = None, device: torch.device | str | None = None):
        self.chapter = chapter
        self.directory = results_root(root) / chapter
        self.device = device

    def path(self, config: Mapping[str, Any]) -> Path:
        return self.directory / f"{config_key(config)}.json"

    def load(self, config: Mapping[str, Any]) -> dict[str, Any] | None:
        """The stored record of this configuration, or None."""
        path = self.path(config)
        if not path.is_file():
            return None
        with open(path) as f:
            return json.load(f)

    def run(self, config: Mapping[str, Any], fn: Callable[[dict[str, Any]], Mapping[str, Any]]) -> dict[str, Any]:
        """Return the cached record of ``config``, or call ``fn(config)``, store and return its record.

        ``fn`` returns JSON-serialisable metrics. If it raises, nothing is stored.
        """
        cached = self.load(config)
        if cached is not None:
            return cached
        start = time.perf_counter()
        metrics = fn(dict(config))
        record = {
            "chapter": self.chapter,
            "key": config_key(config),
            "config": {k: v for k, v in config.items() if k not in IGNORED_KEYS},
            "metrics": dict(metrics),
            "wall_seconds": time.perf_counter() - start,
            "environment": environment_record(self.device),
        }
        return json.loads(self._write(self.path(config), record))

    def checkpoint(
        self, config: Mapping[str, Any], build: Callable[[dict[str, Any]], Mapping[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        """Load-or-build a model state shared by several runs (e.g. a network trained on task 1).

        Stored as ``<chapter>/checkpoints/<key>.pt`` (git-ignored: only the JSON
        records are committed, and a chapter whose records are all cached never
        needs its checkpoints). Written atomically, like records.
        """
        path = self.directory / "checkpoints" / f"{config_key(config)}.pt"
        if path.is_file():
            return torch.load(path, map_location="cpu", weights_only=True)
        state = {k: v.detach().cpu().clone() for k, v in build(dict(config)).items()}
        save_state(path, state)
        return state

    def run_stage(
        self,
        config: Mapping[str, Any],
        build: Callable[[dict[str, Any]], tuple[Mapping[str, torch.Tensor], Mapping[str, Any]]],
    ) -> dict[str, Any]:
        """:meth:`run` for a stage that later runs start from: ``build`` returns (state, metrics).

        The metrics become the record and the state a checkpoint; see :meth:`stage_state`.
        """

        def fn(c: dict[str, Any]) -> Mapping[str, Any]:
            state, metrics = build(c)
            self.checkpoint(c, lambda _: state)
            return metrics

        return self.run(config, fn)

    def stage_state(
        self,
        config: Mapping[str, Any],
        build: Callable[[dict[str, Any]], tuple[Mapping[str, torch.Tensor], Mapping[str, Any]]],
    ) -> dict[str, torch.Tensor]:
        """The model state of a stage: its checkpoint, or ``build`` run again (deterministic) if missing."""
        return self.checkpoint(config, lambda c: build(c)[0])

    def records(self) -> list[dict[str, Any]]:
        """Every record stored for this chapter (any configuration)."""
        out = []
        for path in sorted(p for p in self.directory.glob("*.json") if not p.name.startswith(".")):
            with open(path) as f:
                out.append(json.load(f))
        return out

    @staticmethod
    def _write(path: Path, record: Mapping[str, Any]) -> str:
        """Write ``record`` atomically; return the JSON text written."""
        text = _dumps(record, indent=1, sort_keys=True) + "\n"  # fails before any file is touched
        _atomic_write(path, text.encode())
        return text

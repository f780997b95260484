"""The one pattern every chapter follows: parameters -> plan of runs -> run cache -> records.

An experiment module (one per chapter, see :mod:`cl_utils.experiments`) defines

* ``CHAPTER`` (its folder under ``data/results/``) and ``CODE_VERSION`` (an int, bumped
  in the commit that changes what any of its runs computes; see :mod:`.cache`), or a
  ``{kind: int}`` mapping when a change touches some kinds of run only (the others keep
  their records);
* ``Params``: a :class:`~.params.Params` dataclass of the chapter's parameters;
* ``plan(params) -> list[Run]``: every run the chapter's figures need, in order;
* ``RUNNERS``: ``{kind: fn(config, ctx) -> metrics}``; a run function reads nothing
  but its config, a :class:`~.run_config.RunConfig` of its kind (the type annotates its first
  parameter), and the :class:`RunContext` (device, data source, checkpoints);
and the modules its runs execute are found from its imports (:mod:`.identity`) and hashed
into every record, so records made by since-changed code are flagged.

:func:`execute` is shared by the notebooks and ``python -m cl_utils.reproduce``, so
both find the same records.

Why one module (over 300 lines): runs, requests, the run context and :func:`execute` share the request
format that keys every record.
"""
from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import torch

from ..data import dataset_file, dataset_identity
from ..paths import run_results_root
from ..train import accelerated, optimizer_kernel, resolve_device
from . import identity
from .cache import RunCache, checkpoint_mismatches, input_mismatches
from .params import ParameterError, Params
from .run_config import RunConfig, typed

__all__ = ["Run", "RunContext", "Outcome", "Records", "requests", "context", "train_run", "execute", "code_hashes",
           "made_by_changed_code", "unverified", "estimated_seconds", "seconds_per_cost", "trained_where", "mlp_cost"]


@dataclass(frozen=True)
class Run:
    """One training run of a chapter: what it is (kind + config), what data it reads, roughly what it costs."""

    kind: str  # the name of its run function in the experiment's RUNNERS
    config: Mapping[str, Any] | RunConfig  # its typed config, stored as its JSON form: what changes the result
    datasets: tuple[str, ...]  # names whose identity enters the key
    cost: float = 0.0  # estimated multiply-accumulates, for --list and time estimates
    label: str = ""  # how --list and the log name the run (default: its last config values)

    def __post_init__(self) -> None:
        if isinstance(self.config, RunConfig):  # stored as its JSON form: the form records are keyed by
            object.__setattr__(self, "config", self.config.as_config())

    def describe(self) -> str:
        if self.label:
            return f"{self.kind}: {self.label}"
        short = {k: v for k, v in self.config.items() if not isinstance(v, (list, dict)) or len(str(v)) < 30}
        return f"{self.kind}: " + ", ".join(f"{k}={v}" for k, v in list(short.items())[-4:])


def mlp_cost(in_features: int, hidden: list[int], out_features: int, examples: int, epochs: float) -> float:
    """Multiply-accumulates of training an MLP (forward + backward ~ 3x forward)."""
    widths = [in_features, *hidden, out_features]
    per_example = sum(a * b for a, b in zip(widths, widths[1:]))
    return 3.0 * per_example * examples * epochs


@dataclass
class RunContext:
    """What a run function may use besides its config: the device, the data source, checkpoints."""

    device: torch.device
    data_source: str
    cache: RunCache
    code_version: int | Mapping[str, int]  # the experiment's CODE_VERSION
    show_progress: bool = False
    data_ids: dict[str, dict] = field(default_factory=dict)
    code_hash: str = ""  # of the modules the runs execute, stored in the records it makes
    code_hashes: dict[str, str] = field(default_factory=dict)  # per module (see .identity)
    acceleration: tuple[str, ...] = ()  # opt-in speed-ups active while its runs train (part of their keys)
    optimizer_kernels: str | Mapping[str, str] | None = None  # the experiment's OPTIMIZER_KERNEL (keyed)

    def checkpoint(self, kind: str, config: Mapping[str, Any] | RunConfig, datasets: tuple[str, ...],
                   build: Callable[[], Any], *, replace: bool = False):  # fmt: skip
        """A model state shared by runs: loaded from the cache, or built and stored (its digest is recorded).

        A build reseeds and trains; it runs on a forked random state, so the run that asked for the checkpoint
        continues exactly as it would have had the checkpoint been cached (dropout draws, for instance).
        ``replace``: the stage's own run stores the state it made, over any file (see ``RunCache.checkpoint``).
        """
        request = self._request(kind, config, datasets)

        def isolated_build():
            with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
                return build()

        return self.cache.checkpoint(request, isolated_build, replace=replace)

    def record(self, kind: str, config: RunConfig, datasets: tuple[str, ...],
               fn: Callable[[Any, "RunContext"], Mapping[str, Any]]) -> dict:  # fmt: skip
        """The record of a run that a run asks for while it runs (an adaptive search's evaluations).

        Loaded, or trained by ``fn(config, ctx)`` and stored exactly like a planned run, so an
        interrupted search loses only the evaluation in flight and a later search reuses the rest.
        """
        config = typed(fn, config)  # the type fn takes: a config of another kind fails before any training
        request = self._request(kind, config, datasets)
        return self.cache.run(request, lambda: fn(config, self), code_hash=self.code_hash,
                              code_hashes=self.code_hashes)  # fmt: skip

    def _request(self, kind: str, config: Mapping[str, Any] | RunConfig, datasets: tuple[str, ...]) -> dict[str, Any]:
        """The full request of a run asked for while a run trains (keyed like a planned one)."""
        config = config.as_config() if isinstance(config, RunConfig) else dict(config)
        return _request(self.cache.chapter, self.code_version, Run(kind, config, datasets), self.data_ids,
                        self.acceleration, kernel_of(self.optimizer_kernels, kind))  # fmt: skip


def code_hashes(experiment: ModuleType) -> dict[str, str]:
    """The hash of every module the chapter's runs execute (stored in records, never in keys)."""
    return identity.module_hashes(experiment)


def made_by_changed_code(record: Mapping[str, Any], now: Mapping[str, str]) -> bool | None:
    """True if ``record`` was made by code that has changed since, False if not (also when the code changed only by
    refactors checked to give identical records: :mod:`.identity`'s ledger), None if it cannot tell (made before
    records stored per-module hashes)."""
    if not record.get("code_hashes"):
        return None
    then, current = record.get("code_hash", ""), identity.combined_hash(now)
    # the current code's own records first: a ledger step *from* this code (a checked refactor reverted since) would
    # carry their hash on, and every record just made would look changed (retrained again by --retrain-unverified)
    return then != current and identity.current_hash(record.get("chapter", ""), then) != current


def unverified(now: Mapping[str, str]) -> Callable[[Mapping[str, Any]], bool]:
    """A test for :attr:`.cache.RunCache.stale`: a record not known to be made by the code of hashes ``now`` (made
    before records named their modules, or by code that has changed since and was not checked equivalent)."""
    return lambda record: made_by_changed_code(record, now) is not False


def version_of(code_version: int | Mapping[str, int], kind: str) -> int:
    """The code version of runs of ``kind`` (an experiment's ``CODE_VERSION``: one int, or one per kind)."""
    if isinstance(code_version, Mapping):
        if kind not in code_version:
            raise KeyError(f"CODE_VERSION has no entry for run kind {kind!r}")
        return code_version[kind]
    return code_version


def kernels_of(experiment: ModuleType) -> str | Mapping[str, str] | None:
    """The experiment's ``OPTIMIZER_KERNEL`` (one kernel, or one per run kind; None if it declares none)."""
    return getattr(experiment, "OPTIMIZER_KERNEL", None)


def kernel_of(kernels: str | Mapping[str, str] | None, kind: str) -> str | None:
    """The optimizer kernel an experiment's ``OPTIMIZER_KERNEL`` names for runs of ``kind`` (None: the
    device's default, unkeyed: what every record was made with before the CPU numerics were chosen)."""
    return kernels.get(kind) if isinstance(kernels, Mapping) else kernels


def _request(chapter: str, code_version: int | Mapping[str, int], run: Run, data_ids: Mapping[str, dict],
             acceleration: Sequence[str] = (), kernel: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A run's full request (what its key hashes); opt-in accelerations join the config only when on, so the
    keys of exact runs never change; a chosen optimizer kernel joins it as ``optimizer_kernel``."""
    config = dict(run.config) | ({"acceleration": sorted(acceleration)} if acceleration else {})
    config |= {"optimizer_kernel": kernel} if kernel else {}
    return {"chapter": chapter, "kind": run.kind, "code_version": version_of(code_version, run.kind), "config": config,
            "data": [data_ids[d] for d in run.datasets]}  # fmt: skip


def requests(experiment: ModuleType, params: Params, runs: list[Run] | None = None,
             kinds: Sequence[str] | None = None, *, missing_data: str | None = None) -> list[tuple[Run, dict]]:  # fmt: skip
    """Each planned run with its full request (data identities resolved: a missing dataset stops here).

    ``kinds``: only the runs of these kinds (and only their datasets are needed). ``missing_data``: instead of
    stopping, a dataset that is not here gets this string as its checksum (for listing, never for training).
    """
    runs = experiment.plan(params) if runs is None else runs
    for run in runs:  # each config must be one its run function takes: a wrong key stops before any training
        if run.kind not in experiment.RUNNERS:
            raise TypeError(f"{experiment.CHAPTER}: no run function for kind {run.kind!r}")
        typed(experiment.RUNNERS[run.kind], run.config)
    if kinds is not None:
        unknown = sorted(set(kinds) - set(experiment.RUNNERS))
        if unknown:
            raise ParameterError(f"--kinds: {experiment.CHAPTER} has no run kind {', '.join(unknown)}; its kinds are "
                                 f"{', '.join(experiment.RUNNERS)}")  # fmt: skip
        runs = [r for r in runs if r.kind in kinds]
    names = sorted({d for r in runs for d in r.datasets})
    absent = lambda d: params.data_source != "synthetic" and not dataset_file(d).is_file()  # noqa: E731
    data_ids = {d: {"dataset": d, "source": "file", "sha256": missing_data} if missing_data is not None and absent(d)
                else dataset_identity(d, params.data_source) for d in names}  # fmt: skip
    return [(r, _request(experiment.CHAPTER, experiment.CODE_VERSION, r, data_ids, params.acceleration,
                         kernel_of(kernels_of(experiment), r.kind))) for r in runs]  # fmt: skip


class Records:
    """The records of a chapter's plan, in plan order, with a small query helper."""

    def __init__(self, items: list[dict]):
        self.items = items

    def __iter__(self) -> Iterator[dict]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def where(self, kind: str | None = None, **match: Any) -> list[dict]:
        """Records of ``kind`` whose config has every ``match`` value."""
        return [r for r in self.items if (kind is None or r["kind"] == kind)
                and all(r["config"].get(k) == v for k, v in match.items())]  # fmt: skip

    def one(self, kind: str | None = None, *, prefer: Mapping[str, Any] | None = None, **match: Any) -> dict:
        """The one record of ``kind`` whose config has every ``match`` value; where several have them, the one whose
        config also has every ``prefer`` value (a setting the caller knows but does not select by, so that
        otherwise it is read from the record: e.g. the epochs of two settings that share a point)."""
        found = self.where(kind, **match)
        if len(found) > 1 and prefer:
            found = [r for r in found if all(r["config"].get(k) == v for k, v in prefer.items())]
        if len(found) != 1:
            raise LookupError(f"{len(found)} records match {kind} {match}" + (f", preferring {prefer}" if prefer else ""))
        return found[0]


def trained_where(records: Iterable[dict]) -> Counter[str]:
    """How many of ``records`` were trained on each device and torch version ("cpu, torch 2.5.1")."""
    return Counter(f"{r['environment'].get('device_name') or 'cpu'}, torch {r['environment']['torch']}"
                   for r in records)  # fmt: skip


@dataclass
class Outcome:
    """What :func:`execute` did: the records (finished runs), and how many were trained, reused, left."""

    records: Records
    trained: int
    reused: int
    pending: list[Run]
    directory: Path  # the chapter's results folder (figures go to its figures/ subfolder)
    code_hashes: dict[str, str] = field(default_factory=dict)  # of the code now

    def made_from_replaced_inputs(self) -> list[str]:
        """The keys of the records made from an input record replaced since (the inputs are read from the results
        folder: they are not planned runs)."""
        planned = {r["key"] for r in self.records}
        return [k for k in input_mismatches(RunCache(self.directory.name, self.directory.parent).records())
                if k in planned]

    @property
    def train_seconds(self) -> float:
        """Training time of all the records (however long ago they were made)."""
        return sum(r["wall_seconds"] for r in self.records)

    @property
    def figures(self) -> Path:
        return self.directory / "figures"

    @property
    def synthetic(self) -> bool:
        """True when any record was made from the tests' synthetic stand-in data."""
        return any(d["source"] == "synthetic" for r in self.records for d in r["data"])

    def environment(self) -> str:
        """Where the records were trained: device names and torch versions, with counts."""
        return "; ".join(f"{n} on {where}" for where, n in trained_where(self.records).items())

    def summary(self) -> str:
        return f"{self.trained} trained, {self.reused} reused, {len(self.pending)} pending"

    def provenance(self) -> str:
        """How many records were made by code that has changed since (and which modules), or cannot tell."""
        verdicts = [made_by_changed_code(r, self.code_hashes) for r in self.records]
        changed = [r for r, v in zip(self.records, verdicts) if v]
        unknown = verdicts.count(None)
        modules = sorted({m for r in changed for m in identity.changed_modules(r, self.code_hashes) or ()})
        parts = [f"{len(changed)} of {len(self.records)} records made by code that has changed since"
                 + (f" ({', '.join(modules)})" if modules else "")]  # fmt: skip
        refactored = sum(identity.refactored_since(r, self.code_hashes) for r in self.records)
        if refactored:
            parts.append(f"{refactored} made by code since refactored with identical results (checked)")
        if unknown:
            parts.append(f"{unknown} made before records named their modules (cannot tell)")
        mismatched, untold = checkpoint_mismatches(self.records)
        if mismatched:
            parts.append(f"{len(mismatched)} started from another state than the one their checkpoint's stage record "
                         "describes (rebuilt elsewhere)")  # fmt: skip
        if untold:
            parts.append(f"{len(untold)} read a checkpoint whose stage record holds no digest (cannot tell which state)")
        stale_inputs = self.made_from_replaced_inputs()
        if stale_inputs:
            parts.append(f"{len(stale_inputs)} made from an input record that was replaced since (retrained: "
                         "--retrain-unverified trains them again)")  # fmt: skip
        return "; ".join(parts)

    def commits(self) -> str:
        """The git commits the records were made at (each record's ``environment.git_commit``), most records first:
        a chapter's provenance is read from its records, never typed into its prose."""
        counts = Counter(((r.get("environment") or {}).get("git_commit") or "unknown")[:7] for r in self.records)
        return "made at commit " + ", ".join(f"{c} ({n})" for c, n in counts.most_common())

    def report(self) -> str:
        """The summary line, the total training time of the records, where they were made, and their code."""
        return (f"{self.summary()}; the {len(self.records)} records took {self.train_seconds / 60:.1f} min of "
                f"training ({self.environment()}), {self.commits()}; {self.provenance()}")  # fmt: skip


def estimated_seconds(rates: Mapping[str | None, float], run: Run) -> float:
    """A run's expected seconds at this chapter's past rates (:func:`seconds_per_cost`): its kind's, else the
    chapter's; 0 when no record of this device type has a rate."""
    return (rates.get(run.kind) or rates.get(None) or 0.0) * (run.cost or 0.0)


def seconds_per_cost(cache: RunCache, device_type: str | None = None) -> dict[str | None, float]:
    """Median seconds per unit of cost of this chapter's stored records, per run kind (key None: over
    all kinds; empty if no record has a cost). With ``device_type`` ("cpu", "cuda") only the records
    trained on such a device count (a GPU's rate says nothing about a CPU's); per kind because a cost
    model in multiply-adds misses each kind's own overheads (a narrow MLP's steps are launch-bound)."""
    def on_device(r: dict) -> bool:
        return device_type is None or str((r.get("environment") or {}).get("device") or "cpu").split(":")[0] == device_type

    rates: dict[str | None, list[float]] = {}
    for r in cache.records():
        if r.get("cost") and on_device(r):
            for key in (r.get("kind"), None):
                rates.setdefault(key, []).append(r["wall_seconds"] / r["cost"])
    return {k: statistics.median(v) for k, v in rates.items()}


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _progress(done: int, total: int, this_run: float, left: float) -> str:
    """The overall line beside each run: runs trained so far, and estimates from this chapter's past records."""
    line = f"  ({done} of {total} trained"
    if this_run:
        line += f"; this run ~{_duration(this_run)}, the {total - done} left ~{_duration(left)}, from past runs of its kind"
    return line + ")"


def context(experiment: ModuleType, params: Params, planned: list[tuple[Run, dict]]) -> RunContext:
    """The :class:`RunContext` the runs of ``planned`` train in (device, data, cache, code hash)."""
    device = resolve_device(params.device)
    cache = RunCache(experiment.CHAPTER, run_results_root(experiment.CHAPTER, params.results_dir), device=device)
    data_ids = {d["dataset"]: d for _, req in planned for d in req["data"]}
    hashes = code_hashes(experiment)
    return RunContext(device, params.data_source, cache, experiment.CODE_VERSION, params.show_progress, data_ids,
                      code_hash=identity.combined_hash(hashes), acceleration=tuple(params.acceleration),
                      code_hashes=hashes, optimizer_kernels=kernels_of(experiment))  # fmt: skip


def train_run(experiment: ModuleType, ctx: RunContext, run: Run, request: dict) -> dict:
    """Train one run and store its record (what :func:`execute` and the Ray workers both do)."""
    fn = experiment.RUNNERS[run.kind]
    with accelerated(*ctx.acceleration), optimizer_kernel(kernel_of(ctx.optimizer_kernels, run.kind)):
        return ctx.cache.make(request, lambda: fn(typed(fn, run.config), ctx), code_hash=ctx.code_hash, cost=run.cost,
                              code_hashes=ctx.code_hashes)  # fmt: skip


def execute(
    experiment: ModuleType,
    params: Params,
    *,
    budget_seconds: float | None = None,
    require_all: bool = True,
    log: Callable[[str], None] | None = None,
    kinds: Sequence[str] | None = None,
    poll_seconds: float = 5.0,
    retrain_unverified: bool = False,
) -> Outcome:
    """Reuse every stored record of the plan and train the rest, in plan order.

    With ``budget_seconds`` no run starts once that much time has passed (a run in flight
    finishes); with ``require_all`` a run left pending is an error (the notebooks draw
    only when every record exists). ``kinds`` restricts the plan to those run kinds.
    ``retrain_unverified`` trains again every run (and every run it asks for) whose record is not known
    to be made by the current code (:func:`unverified`), or was made from an input record replaced since
    (:func:`.cache.input_mismatches`); each new record replaces the old one.

    Other processes may work on the same results folder: a run another live process has
    claimed is left to it, and its record is awaited (polled every ``poll_seconds``) once this
    process has nothing else to train; if that process dies first, this one trains the run.
    """
    planned = requests(experiment, params, kinds=kinds)
    ctx = context(experiment, params, planned)
    cache = ctx.cache
    if retrain_unverified:  # also the records made from an input record that was replaced since
        made_from_replaced, not_current = set(input_mismatches(cache.records())), unverified(ctx.code_hashes)
        cache.stale = lambda record: not_current(record) or record["key"] in made_from_replaced
    start = time.monotonic()
    records: dict[int, dict] = {}
    trained, reused, pending = 0, 0, []
    out_of_time = lambda: budget_seconds is not None and time.monotonic() - start >= budget_seconds  # noqa: E731
    rates = seconds_per_cost(cache, ctx.device.type) if log else {}
    estimate = lambda run: estimated_seconds(rates, run)  # noqa: E731
    to_train = {i for i, (_, request) in enumerate(planned) if cache.load(request) is None} if log else set()

    def attempt(i: int, run: Run, request: dict) -> bool:
        """Train run ``i`` if this process can claim it; False if another process holds it."""
        nonlocal trained, reused
        if not cache.claim(request):
            return False
        try:
            record = cache.load(request)  # finished by another process since we looked
            if record is not None:
                reused += 1
            else:
                if log:
                    log(f"[{i + 1}/{len(planned)}] training {run.describe()}" + _progress(
                        trained, len(to_train), estimate(run), sum(estimate(planned[j][0]) for j in to_train
                                                                   if j >= i and j not in records)))  # fmt: skip
                record = train_run(experiment, ctx, run, request)
                trained += 1
            records[i] = record
        finally:
            cache.release(request)
        return True

    def visit(indices) -> list[int]:
        """Reuse, leave pending (out of time) or train each run; return those another process is training."""
        nonlocal reused
        deferred = []
        for i in indices:
            run, request = planned[i]
            record = cache.load(request)
            if record is not None:
                reused += 1
                records[i] = record
            elif out_of_time():
                pending.append(run)
            elif not attempt(i, run, request):
                deferred.append(i)
        return deferred

    elsewhere = visit(range(len(planned)))
    if elsewhere and log:
        log(f"waiting for {len(elsewhere)} run(s) that another process is training")
    while elsewhere:  # wait for their records, or take a run over if its process has died
        time.sleep(poll_seconds)
        elsewhere = visit(elsewhere)
    if pending and require_all:
        raise RuntimeError(f"{len(pending)} runs were not trained within the budget")
    items = [records[i] for i in sorted(records)]
    return Outcome(Records(items), trained, reused, pending, cache.directory, ctx.code_hashes)

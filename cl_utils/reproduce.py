"""Run a chapter's experiments without Jupyter: ``python -m cl_utils.reproduce CHAPTER [options]``.

Examples::

    python -m cl_utils.reproduce 00 --list                      # the runs at paper scale, cached or pending
    python -m cl_utils.reproduce 00 --preset committed          # the scale of the book's stored outputs
    python -m cl_utils.reproduce 00 --preset committed --in-place  # ... written into the committed data/results
    python -m cl_utils.reproduce 01 --budget 3600 --device cuda # train for at most an hour on a GPU
    python -m cl_utils.reproduce 00 -p seeds '[0, 1]' -p num_epochs 2 --results /tmp/runs
    python -m cl_utils.reproduce 02 --preset committed --executor ray  # each pending run a Ray task
    python -m cl_utils.reproduce 03 --preset committed --in-place --retrain-unverified  # cached?/cached* again

Without ``--preset`` or ``--params`` the parameters are the paper's scale (each chapter's
defaults). Values: preset or ``--params`` file, then each ``-p NAME VALUE`` (parsed as YAML).
Runs are trained in plan order; with ``--budget`` no run starts once the budget is spent, and
an interrupted command loses only the run in flight. Several commands may share a results folder
(one one-thread process per core: ``OMP_NUM_THREADS=1``): each run is claimed by one of them, and
a command waits at the end for the runs the others are training. It imports no Jupyter module.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import yaml

from . import experiments
from .experiments.cache import RunCache, checkpoint_mismatches, input_mismatches
from .experiments import identity
from .experiments.runs import code_hashes, execute, made_by_changed_code, requests, seconds_per_cost
from .experiments.drawing import without_data
from .data import DataUnavailableError
from .paths import results_root, run_results_root
from .train import resolve_device
from .experiments.params import ParameterError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cl_utils.reproduce", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="chapters: " + ", ".join(experiments.CHAPTERS))  # fmt: skip
    p.add_argument("chapter", help="chapter number or name, e.g. 00 or 00_forgetting")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--preset", help="a preset of book/params/<chapter>/, e.g. smoke or committed")
    which.add_argument("--params", type=Path, help="a YAML file of parameter values")
    p.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"), help="one parameter")
    p.add_argument("--list", action="store_true", help="print the runs, cached or pending, and stop")
    p.add_argument("--budget", type=float, help="seconds after which no run starts")
    p.add_argument("--kinds", help="only runs of these kinds, comma-separated (e.g. wide,single_task)")
    p.add_argument("--retrain-unverified", action="store_true",
                   help="train again every run whose record is not known to be made by the current code ('cached?' "
                        "and 'cached*' in --list) or was made from an input record replaced since, and each such run "
                        "it asks for; the new record replaces the old one once it is stored (an interrupted run keeps "
                        "the old)")  # fmt: skip
    where = p.add_mutually_exclusive_group()
    where.add_argument("--results", help="results folder (default: _build/runs/results, seeded with the book's "
                                         "records; $CL_RESULTS_DIR if set)")  # fmt: skip
    where.add_argument("--in-place", action="store_true",
                       help="write into the book's committed data/results (what make reproduce does)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: one run after another in this process (default); ray: each pending run a Ray task "
                        "(pip install '.[ray]'; see cl_utils.experiments.ray_executor)")  # fmt: skip
    p.add_argument("--ray-address", help="a running Ray cluster (default: $RAY_ADDRESS, else Ray starts here)")
    p.add_argument("--ray-cpus", type=int, help="CPUs of a Ray started here (default: all)")
    p.add_argument("--help-params", action="store_true", help="print the chapter's parameters and stop")
    return p


def _values(args: argparse.Namespace) -> tuple[dict, dict | None]:
    preset = None
    if args.preset:
        preset = experiments.preset(args.chapter, args.preset)
    elif args.params:
        if not args.params.is_file():
            raise ParameterError(f"--params: no file {args.params}")
        preset = yaml.safe_load(args.params.read_text()) or {}
    values = {name: value for name, value in args.p}  # strings: each Params field parses its own
    if args.results is not None:
        values["results_dir"] = args.results
    elif args.in_place:
        values["results_dir"] = str(results_root())
    if args.device is not None:
        values["device"] = args.device
    values.setdefault("show_progress", sys.stderr.isatty())  # a bar per run on a terminal, none in a log file
    return values, preset


def _fmt_seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


ABSENT = "not here"  # the checksum a dataset that is not on this machine gets while listing


def list_runs(experiment, params, kinds: Sequence[str] | None = None) -> None:
    """One line per planned run: cached or pending, its estimated cost, what it is; then the totals.

    A cached record made by code that has changed since (its per-module hashes differ from the code's
    now, see :mod:`cl_utils.experiments.identity`) is marked ``cached*`` with the modules that changed:
    check whether the change alters results (then bump ``CODE_VERSION``). ``cached?``: a record made
    before records named their modules, which cannot tell.
    """
    cache = RunCache(experiment.CHAPTER, run_results_root(experiment.CHAPTER, params.results_dir))
    device_type = resolve_device(params.device).type
    rates = seconds_per_cost(cache, device_type)
    now = code_hashes(experiment)
    planned = requests(experiment, params, kinds=kinds, missing_data=ABSENT)
    absent = sorted({d["dataset"] for _, req in planned for d in req["data"] if d["sha256"] == ABSENT})
    by_all_but_data = {without_data(r): r for r in cache.records()} if absent else {}
    if absent:
        print(f"not here: {', '.join(absent)} (see the README's \"Where the data comes from\"); runs that read them "
              "are matched to records by everything but the data's checksum: 'cached' then means made on the "
              "book's copy of the data, which your copy must equal (same file) to reuse them")  # fmt: skip
    pending_cost, pending_seconds, unrated, n_cached, changed, n_unknown = 0.0, 0.0, 0, 0, set(), 0
    for i, (run, request) in enumerate(planned):
        uses_absent = any(d["sha256"] == ABSENT for d in request["data"])
        record = by_all_but_data.get(without_data(request)) if uses_absent else cache.load(request)
        made_by_changed = None if record is None else made_by_changed_code(record, now)
        n_cached += record is not None
        n_unknown += record is not None and made_by_changed is None
        pending_cost += 0 if record is not None else run.cost
        state = "pending" if record is None else {True: "cached*", False: "cached ", None: "cached?"}[made_by_changed]
        run_rate = rates.get(run.kind, rates.get(None))
        estimate = f"~{_fmt_seconds(run_rate * run.cost)}" if run_rate and run.cost else f"{run.cost:.2g} MAC"
        pending_seconds += 0 if record is not None or not run_rate else run_rate * run.cost
        unrated += record is None and not run_rate
        modules = identity.changed_modules(record, now) if made_by_changed else None
        print(f"{i + 1:4d}  {state}  {estimate:>12}  {run.describe()}" + (f"  [changed: {', '.join(modules)}]"
                                                                          if modules else ""))  # fmt: skip
        changed.update(modules or ())
    total = (f"~{_fmt_seconds(pending_seconds)} at the past rates of this chapter's {device_type} "
             "runs" if not unrated else f"{pending_cost:.3g} MAC")  # fmt: skip
    if changed:
        print(f"cached*: made by code that has changed since, in {', '.join(sorted(changed))}")
    if n_unknown:
        print(f"cached?: {n_unknown} record(s) made before records named their modules (cannot tell whether the code "
              "changed since)")
    stored = cache.records()  # read once: the input and checkpoint checks below both need every record
    stale_inputs = input_mismatches(stored)
    if stale_inputs:
        print(f"inputs: {len(stale_inputs)} record(s) made from an input record that was replaced since: "
              f"{', '.join(sorted(stale_inputs)[:8])}{' ...' if len(stale_inputs) > 8 else ''}")  # fmt: skip
    if changed or n_unknown or stale_inputs:
        print("--retrain-unverified trains the cached?, cached* and those runs again, each new record replacing the "
              "old")
    mismatched, untold = checkpoint_mismatches(stored)
    if mismatched:
        print(f"checkpoints: {len(mismatched)} record(s) started from another state than the one their stage's record "
              f"describes (a checkpoint rebuilt elsewhere): {', '.join(sorted(mismatched)[:8])}"
              f"{' ...' if len(mismatched) > 8 else ''}; delete them to retrain them from the stage's state")  # fmt: skip
    if untold:
        print(f"checkpoints: {len(untold)} record(s) read a checkpoint whose stage record holds no digest (cannot tell "
              "which state they started from)")  # fmt: skip
    print(f"{n_cached} cached, {len(planned) - n_cached} pending ({total})")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        experiment = experiments.load(args.chapter)
        if args.help_params:
            print(f"parameters of {experiment.CHAPTER} (defaults = {experiment.Params.DEFAULTS_ARE}):\n"
                  f"{experiment.Params.help()}")
            return 0
        if args.budget is not None and not args.budget >= 0:
            raise ParameterError(f"--budget must be a number of seconds >= 0; got {args.budget:g}")
        values, preset = _values(args)
        params = experiment.Params.from_values(values, preset)
        kinds = args.kinds.split(",") if args.kinds else None
        if args.list:
            list_runs(experiment, params, kinds)
            return 0
        start = time.monotonic()
        log = lambda line: print(f"{_fmt_seconds(time.monotonic() - start):>8}  {line}", flush=True)  # noqa: E731
        if args.executor == "ray":
            if kinds is not None or args.retrain_unverified:
                raise ParameterError("--kinds and --retrain-unverified work with the local executor only")
            if args.budget is not None:
                raise ParameterError("--budget works with the local executor only; stop a Ray sweep with Ctrl-C "
                                     "(finished runs are kept)")  # fmt: skip
            from .experiments.ray_executor import execute_ray

            outcome = execute_ray(experiment, params, address=args.ray_address, num_cpus=args.ray_cpus, log=log)
        else:
            outcome = execute(experiment, params, budget_seconds=args.budget, require_all=False, log=log, kinds=kinds,
                              retrain_unverified=args.retrain_unverified)  # fmt: skip
    except (ParameterError, DataUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(outcome.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())

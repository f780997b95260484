"""Fan a chapter's pending runs out over a Ray cluster: ``python -m cl_utils.reproduce CH --executor ray``.

Each pending run of the plan becomes one Ray task with the resources its chapter declares
(:func:`resources`); the driver writes each record into the run cache as soon as its task
finishes, so an interrupted sweep keeps every finished run, exactly as the local executor
does. Records are the same as the local executor's (same keys, same metrics: a test checks it).

On one machine nothing needs setting up: without an address a local Ray instance starts
with the CPUs (and GPUs) it finds. On an existing cluster::

    ray start --head                               # on the head node
    ray start --address HEAD_IP:6379               # on each worker node
    RAY_ADDRESS=HEAD_IP:6379 python -m cl_utils.reproduce 02 --preset committed --executor ray

Every node needs the package (``pip install .[ray]``) and the datasets (``CL_DATA_DIR``, passed
on to the tasks). A run's record travels back to the driver; runs that store other runs while
they run (02's matching, 01's shared checkpoints) also write those into the results folder
themselves, which must then be a folder every node sees (a shared file system).

Ray is optional (``pip install .[ray]``); nothing here imports it until it is used.
"""
from __future__ import annotations

import dataclasses
import os
import time
from types import ModuleType
from typing import Any, Callable

from .runs import Outcome, Records, Run, context, requests, train_run
from .params import Params

__all__ = ["resources", "execute_ray"]

#: what one run asks of a node when its chapter declares nothing (``RESOURCES`` in its module)
DEFAULT_RESOURCES = {"num_cpus": 1, "num_gpus": 0.25}


def resources(experiment: ModuleType, params: Params, cluster: dict[str, float]) -> dict[str, float]:
    """The Ray resources of one run of ``experiment``: its ``RESOURCES`` (or the default); GPUs are asked for
    only when the parameters allow a GPU (``device`` not ``cpu``) and the cluster has one."""
    wanted = dict(getattr(experiment, "RESOURCES", DEFAULT_RESOURCES))
    if params.device == "cpu" or not cluster.get("GPU"):
        wanted["num_gpus"] = 0
    return wanted


def _remote_run(module: str, values: dict[str, Any], run: Run, request: dict, threads: int) -> dict:
    """Inside a Ray worker: train ``run`` (its request resolved by the driver: no data is read to key it)."""
    import importlib

    import torch

    torch.set_num_threads(max(1, threads))
    experiment = importlib.import_module(module)
    params = experiment.Params.from_values(values)
    return train_run(experiment, context(experiment, params, [(run, request)]), run, request)


def execute_ray(
    experiment: ModuleType,
    params: Params,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    log: Callable[[str], None] | None = None,
) -> Outcome:
    """Train the pending runs of ``params``' plan as Ray tasks; reuse the stored ones.

    :param address: a running cluster (default ``$RAY_ADDRESS``; none: start Ray on this machine).
    :param num_cpus: CPUs of a Ray started here (default: all of them).
    """
    try:
        import ray
    except ImportError:  # pragma: no cover - depends on the installation
        raise RuntimeError("--executor ray needs Ray: pip install '.[ray]' (or pip install ray)") from None
    planned = requests(experiment, params)
    ctx = context(experiment, params, planned)
    cached = {i: ctx.cache.load(req) for i, (_, req) in enumerate(planned)}
    todo = [i for i, record in cached.items() if record is None]
    started_here = not ray.is_initialized()
    if started_here:
        address = address or os.environ.get("RAY_ADDRESS") or None
        env = {k: os.environ[k] for k in ("CL_DATA_DIR", "OMP_NUM_THREADS") if k in os.environ}
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, runtime_env={"env_vars": env} if env else None)  # fmt: skip
    try:
        need = resources(experiment, params, ray.cluster_resources())
        task = ray.remote(**need)(_remote_run)
        values = dataclasses.asdict(params)
        values["results_dir"] = str(ctx.cache.directory.parent)  # the driver's folder, also for the workers
        threads = int(need.get("num_cpus", 1))
        futures = {task.remote(experiment.__name__, values, *planned[i], threads): i for i in todo}
        start = time.monotonic()
        if log:
            log(f"{len(todo)} runs submitted to Ray ({need} each); {len(planned) - len(todo)} cached")
        while futures:
            done, _ = ray.wait(list(futures), num_returns=1)
            i = futures.pop(done[0])
            record = ray.get(done[0])
            ctx.cache.store(record)  # as soon as it finishes: an interrupted sweep keeps it
            cached[i] = record
            if log:
                log(f"{time.monotonic() - start:7.0f} s  finished [{i + 1}/{len(planned)}] {planned[i][0].describe()}")
    finally:
        if started_here:
            ray.shutdown()
    return Outcome(Records([cached[i] for i in range(len(planned))]), len(todo), len(planned) - len(todo), [],
                   ctx.cache.directory, ctx.code_hashes)  # fmt: skip

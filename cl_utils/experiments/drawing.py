"""What a chapter opened anywhere does: draw the stored runs, and train only when asked.

A notebook (in Colab, with papermill, in Jupyter) calls :func:`execute`. With ``train`` off (the default) it
draws every run of the plan from the stored records and trains nothing: a run missing stops it before any
training, naming how many are missing, what training them would cost at this chapter's past rates, and the
two ways on (``preset = 'committed'`` to draw the book's runs, ``train = True`` to train). Records are
matched by their full key; a record that differs only in the data file's checksum (the book's data copy
against, say, CIFAR-10 from torchvision) is drawn too and counted in the report, since it was made on the
book's copy of the data. With ``train`` on, :func:`.runs.execute` reuses what is stored and trains the rest.
``python -m cl_utils.reproduce`` always trains (it calls :func:`.runs.execute` itself).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from .cache import RunCache, canonical
from .runs import Outcome, Records, _duration, context, estimated_seconds, requests, seconds_per_cost
from .runs import execute as execute_runs
from .params import ParameterError, Params

__all__ = ["execute", "RunsNotStored", "without_data"]


class RunsNotStored(ParameterError):
    """A chapter asked to draw runs that are not stored, with training off."""


def without_data(request: dict) -> str:
    """A request's identity without its data checksums (the datasets' names and sources stay)."""
    return canonical({k: request.get(k) for k in RunCache.REQUEST_FIELDS if k != "data"}
                     | {"datasets": [(d["dataset"], d["source"]) for d in request.get("data", [])]})  # fmt: skip


@dataclass
class DrawnOutcome(Outcome):
    """An :class:`.runs.Outcome` of drawing only, which also counts the records made on other data files."""

    other_data: int = 0

    def report(self) -> str:
        note = (f"; {self.other_data} drawn from runs made on the book's copy of the data (your data files differ: "
                "set train = True to train on yours)" if self.other_data else "")  # fmt: skip
        return super().report() + note


def execute(experiment: ModuleType, params: Params, **kwargs) -> Outcome:
    """The notebooks' entry point: draw the plan's stored runs; train the missing ones only with ``params.train``."""
    if params.train:
        return execute_runs(experiment, params, **kwargs)
    planned = requests(experiment, params)
    ctx = context(experiment, params, planned)
    by_all_but_data: dict[str, dict] | None = None  # read once, and only when an exact record is missing
    items, other, missing = [], 0, []
    for run, request in planned:
        record = ctx.cache.load(request)
        if record is None:
            if by_all_but_data is None:
                by_all_but_data = {without_data(r): r for r in ctx.cache.records()}
            record = by_all_but_data.get(without_data(request))
            other += record is not None
        if record is None:
            missing.append(run)
        else:
            items.append(record)
    if missing:
        rates = seconds_per_cost(ctx.cache, ctx.device.type)
        seconds = [estimated_seconds(rates, r) for r in missing]
        cost = (f"about {_duration(sum(seconds))} on this {ctx.device.type} at this chapter's past rates"
                if all(seconds) else f"{sum(r.cost or 0.0 for r in missing):.3g} multiply-adds")  # fmt: skip
        raise RunsNotStored(
            f"{len(missing)} of the {len(planned)} runs these parameters need are not stored in {ctx.cache.directory} "
            f"(training them: {cost}). Nothing was trained. To see the book's stored runs set preset = 'committed'; "
            f"to train the missing ones set train = True (papermill: -p train True; or run python -m "
            f"cl_utils.reproduce {experiment.CHAPTER[:2]} with the same parameters)")  # fmt: skip
    return DrawnOutcome(Records(items), 0, len(items), [], ctx.cache.directory, ctx.code_hashes, other_data=other)

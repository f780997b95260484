"""A stacked run's record read as one record per stacked member (a seed, a run of an order).

Chapters that train several same-shape networks as one stacked network (chapter 01's runs of an order,
chapter 04's and 06's seeds) store one record per stack: its config lists the members (``seeds``, ``runs``)
and its metrics hold each member's results in order (``per_seed``, ``per_run``). The reports read records
one per member; :func:`member_views` makes those views, so a report reads a stacked and an unstacked run alike.
"""
from __future__ import annotations

from typing import Iterable, Sequence

__all__ = ["member_views"]


def member_views(records: Iterable[dict], *, members: str, member: str, results: str,
                 shared: Sequence[str] = ()) -> list[dict]:  # fmt: skip
    """The records as one per member: a record whose config lists ``members`` becomes one view per member, its
    config with that ``member`` (and ``stacked_with``: the list) instead of the list, its metrics that member's
    ``results`` entry, plus each metric named in ``shared`` divided evenly among the members (a stack's wall
    time). Each view keeps the stack's ``key``, inputs and data. Other records pass as they are."""
    views = []
    for r in records:
        group = r["config"].get(members)
        if not group:
            views.append(r)
            continue
        config = {k: v for k, v in r["config"].items() if k != members}
        split = {k: r["metrics"][k] / len(group) for k in shared}
        views += [{**r, "config": config | {member: m, "stacked_with": group}, "metrics": own | split}
                  for m, own in zip(group, r["metrics"][results])]  # fmt: skip
    return views

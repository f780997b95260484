"""Stacked runs: which members (seeds, runs of an order) train together, and their records read one per member.

Chapters that train several same-shape networks as one stacked network (chapter 01's runs of an order,
chapter 04's, 05's and 06's seeds) plan one run per stack (:func:`member_groups`, :func:`member_fields`): its
config names the first member and lists them all (``seeds``, ``runs``), and its record's metrics hold each
member's results in order (``per_seed``, ``per_run``). The reports read records one per member;
:func:`member_views` makes those views, so a report reads a stacked and an unstacked run alike.
"""
from __future__ import annotations

from typing import Iterable, Sequence

__all__ = ["member_groups", "member_fields", "member_views", "any_stacked"]


def member_groups(members: Iterable[int], stack: bool) -> list[list[int]]:
    """The members trained together: all of them as one stacked network (``stack``, two or more), else one
    each."""
    members = list(members)
    return [members] if stack and len(members) > 1 else [[m] for m in members]


def member_fields(group: Sequence[int], *, member: str = "seed", members: str = "seeds") -> dict:
    """A run's member fields: ``member`` (the group's first), and ``members`` for a stacked group (absent for
    one member, so its key is the unstacked run's)."""
    return {member: group[0]} | ({members: list(group)} if len(group) > 1 else {})


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


def any_stacked(views: Iterable[dict]) -> bool:
    """Whether any of ``views`` comes from a stacked run (:func:`member_views` marks it ``stacked_with``): what a
    caption says of its runs."""
    return any("stacked_with" in r["config"] for r in views)

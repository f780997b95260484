"""Projected cost of each chapter at the paper's scale, from what its committed runs cost here.

For every chapter: the runs its plan holds at the defaults (the paper's scale) and at the
``committed`` preset, their estimated multiply-accumulates (each ``Run.cost``), and the hours
those would take at the seconds per multiply-accumulate its committed records actually took on
the machine that made them (the median over records; one CPU thread each here). Nothing is
trained and no dataset is read. The committed column checks the model: it should be close to the
training time the chapter reports. Not a test: the rates depend on the machine.

    python benchmarks/paper_scale.py            # a markdown table
"""
from __future__ import annotations

from cl_utils import experiments
from cl_utils.experiments.cache import RunCache
from cl_utils.experiments.runs import seconds_per_cost


def _hours(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds / 3600:,.1f}"


def main() -> None:
    print("| chapter | runs (paper) | MAC (paper) | hours (paper) | runs (committed) | hours (committed, "
          "projected) | hours (committed, recorded) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for chapter in experiments.CHAPTERS:
        ex = experiments.load(chapter)
        paper = ex.plan(ex.Params())
        committed = ex.plan(ex.Params.from_values({}, experiments.preset(chapter, "committed")))
        cache = RunCache(ex.CHAPTER)
        rates = seconds_per_cost(cache, "cpu")  # per kind, over the records trained on a CPU

        def hours_of(runs) -> float | None:
            rated = [rates.get(r.kind, rates.get(None)) for r in runs]
            return None if not runs or None in rated else sum(rate * r.cost for rate, r in zip(rated, runs))

        # a search's record (its inputs name the runs it asked for) also timed those runs: count them once
        records = [r for r in cache.records() if "record" not in (r.get("inputs") or {}).values()]
        recorded = sum(r["wall_seconds"] for r in records) if rates else None
        cost = sum(r.cost for r in paper)
        print(f"| {chapter} | {len(paper)} | {cost:.2e} | {_hours(hours_of(paper))} | {len(committed)} "
              f"| {_hours(hours_of(committed))} | {_hours(recorded)} |")  # fmt: skip


if __name__ == "__main__":
    main()

"""Chapter 05's claim rules, driven by small synthetic tables on both sides of each threshold."""
from __future__ import annotations

import pandas as pd

from cl_utils import experiments
from cl_utils.experiments import filter_report as report

P = experiments.load("05").Params(criteria=["none", "weight"], fig2_train_images=5000, fig2_val_images=5000,
                                  fig4_val_images=5000, fig4_datasets=["cifar10", "mnist"], seeds=[0, 1, 2])  # fmt: skip
HISTORY = pd.DataFrame(columns=["figure", "criterion", "epoch", "filters"])
SPEED = pd.DataFrame({"last / first": [1.0]}, index=pd.MultiIndex.from_tuples([("fig2", "none")],
                                                                              names=["figure", "criterion"]))


def _rows(train_cost: float, val_cost: float, pruned_gap: float, second_visit_gain: float) -> dict[str, str]:
    base = {"train acc (%)": 90.0, "val acc (%)": 80.0, "train - val (points)": 10.0}
    pruned = {"train acc (%)": 90.0 - train_cost, "val acc (%)": 80.0 - val_cost, "train - val (points)": pruned_gap,
              "train acc below baseline (points)": train_cost, "val acc below baseline (points)": val_cost}  # fmt: skip
    gaps = {"fig2": pd.DataFrame({report.NAMES["none"]: base, report.NAMES["weight"]: pruned}).T}
    index = pd.MultiIndex.from_product([["none", "weight"], P.fig4_datasets], names=["criterion", "data"])
    last = pd.DataFrame({"visit 1: peak val acc (%)": 70.0, "visit 2: peak val acc (%)": 70.0 + second_visit_gain,
                         "visit 2 - visit 1 (points)": second_visit_gain}, index=index)  # fmt: skip
    rows = report.claims(P, HISTORY, gaps, SPEED, last, {})
    return {row["claim"].split(": ", 1)[1][:30]: row["status"] for row in rows}


def test_the_papers_effects_at_the_papers_sizes_are_reproduced():
    statuses = _rows(train_cost=10.0, val_cost=4.0, pruned_gap=0.0, second_visit_gain=5.0)
    assert set(statuses.values()) == {"reproduced"}, statuses


def test_small_effects_are_partly_reproduced_or_inconclusive_and_reversed_ones_are_not():
    small = _rows(train_cost=2.0, val_cost=0.3, pruned_gap=9.9, second_visit_gain=0.1)
    assert list(small.values()) == ["partly", "partly", "inconclusive", "inconclusive"], small
    reversed_ = _rows(train_cost=-5.0, val_cost=4.0, pruned_gap=20.0, second_visit_gain=-5.0)
    assert list(reversed_.values()) == ["not reproduced", "reproduced", "not reproduced", "not reproduced"], reversed_

"""Chapter 06's claim rules, driven by a synthetic runs table on both sides of each threshold."""
from __future__ import annotations

import pandas as pd

from cl_utils import experiments
from cl_utils.experiments import comparison_report as report
from cl_utils.experiments.comparison import label

P = experiments.load("06").Params(methods=["fine-tune", "lwf", "packnet", "packnet-iterative"], packnet_free=[0.9],
                                  packnet_rounds=2)  # fmt: skip
JITTER = [0.0, 0.3, -0.2]  # per seed, its own for each configuration below


def _frame(packnet_gap: float, iterative_gap: float, bwt: float) -> pd.DataFrame:
    configs = {("lwf", label("lwf", {})): 80.0, ("packnet", label("packnet", {"free": 0.9, "rounds": 1})): 80.0 +
               packnet_gap, ("packnet-iterative", label("packnet-iterative", {"free": 0.9, "rounds": 2})): 80.0 +
               packnet_gap + iterative_gap, ("fine-tune", label("fine-tune", {})): 50.0}  # fmt: skip
    rows = []
    for stream in ("Split MNIST", "Permuted MNIST"):
        for k, ((method, configuration), acc) in enumerate(configs.items()):
            for seed, j in enumerate(JITTER):
                rows.append({"stream": stream, "method": method, "configuration": configuration, "seed": seed,
                             "accuracy (%)": acc + j * (k % 2), "BWT (points)": bwt + j if method == "fine-tune"
                             else 0.0, "largest change (points)": 0.0, "kept parameters": 1, "train seconds": 1.0,
                             "capacity": None})  # fmt: skip
    return pd.DataFrame(rows)


def _statuses(**kw) -> list[str]:
    frame = _frame(**kw)
    return [row["status"] for row in report.claims(P, frame, report.summary(frame), "synthetic")][1:]


def test_clear_differences_with_the_papers_sign_are_reproduced():
    assert _statuses(packnet_gap=5.0, iterative_gap=2.0, bwt=-20.0) == ["reproduced"] * 3


def test_reversed_differences_are_not_reproduced_and_small_ones_inconclusive():
    assert _statuses(packnet_gap=-5.0, iterative_gap=-2.0, bwt=20.0) == ["not reproduced"] * 3
    assert _statuses(packnet_gap=0.05, iterative_gap=0.05, bwt=-0.05) == ["inconclusive"] * 3

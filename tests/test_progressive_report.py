"""Chapter 04's claim rules, driven by synthetic tables on both sides of each threshold."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cl_utils import experiments
from cl_utils.experiments import progressive_report as report

P = experiments.load("04").Params(fig2a_adapters=["none", "unlearned", "learned"], prune_fractions=[0.5, 0.9])
NAMES = {"none": "No Conn (unlinked)", "unlearned": "unlearned Conn", "learned": "learning Conn"}
SEEDS = [0, 1, 2]
NOISE = np.array([0.05, -0.04, 0.0])  # per seed, shared by paired arms
JITTER = {"progressive pruned": [0.0, 0.0, 0.0], "unlinked pruned": [0.2, -0.2, 0.05],
          "random-input pruned": [-0.15, 0.2, 0.0]}  # each arm's own noise: paired differences spread ~0.2


def _tables(gap: float, noise_gap: float, step: float):
    """Fig. 2(a) and 2(b) tables where progressive beats unlinked by ``gap`` points of error, random-input
    errs ``noise_gap`` more than both, and learned adapters add ``step`` points per column."""
    acc = [{"adapter": NAMES[a], "seed": s, "column": k, "test accuracy (%)": 88 + n + (k - 1) * (step if a ==
            "learned" else -1.0)} for a in NAMES for s, n in zip(SEEDS, NOISE) for k in (1, 2, 3)]  # fmt: skip
    rows = []
    for f in P.prune_fractions:
        for s, n in zip(SEEDS, NOISE):
            base = 36 + n + 3 * s  # seeds differ a lot: only pairing makes the gaps measurable
            for network, err in (("progressive pruned", base), ("unlinked pruned", base + gap),
                                 ("random-input pruned", base + max(gap, 0) + noise_gap)):  # fmt: skip
                rows.append({"network": network, "p": f, "seed": s, "parameters": int(1e6 * (1 - f)),
                             report.ERROR: err + JITTER[network][s]})  # fmt: skip
    for s in SEEDS:
        rows.append({"network": "unlinked unpruned", "p": 0.0, "seed": s, "parameters": 930_270, report.ERROR: 45.0})
    frame = pd.DataFrame(rows)
    summary = frame.groupby(["network", "p"]).agg(parameters=("parameters", "first"),
                                                 error=(report.ERROR, "mean")).reset_index()  # fmt: skip
    summary["on Pareto front"] = summary.apply(lambda r: not ((summary.parameters <= r.parameters) & (
        summary.error < r.error)).any(), axis=1)  # fmt: skip
    return pd.DataFrame(acc), frame, summary


def _statuses(gap, noise_gap, step):
    acc, frame, summary = _tables(gap, noise_gap, step)
    return [row["status"] for row in report.claims(P, acc, frame, summary, NAMES, "a", "b")]


def test_claims_are_reproduced_when_every_difference_has_the_papers_sign_beyond_the_noise():
    assert _statuses(gap=1.0, noise_gap=1.0, step=0.5) == ["reproduced"] * 5


def test_claims_are_not_reproduced_when_the_differences_are_reversed():
    statuses = _statuses(gap=-1.0, noise_gap=-2.0, step=-0.5)
    assert statuses[1] == "partly"  # learned adapters lose (2 parts reversed), the other 4 parts hold
    assert statuses[2] == "not reproduced" and statuses[3] == "not reproduced"


def test_differences_inside_the_noise_are_inconclusive():
    statuses = _statuses(gap=0.01, noise_gap=0.01, step=1.0)
    assert statuses[2] == "inconclusive" and statuses[3] == "inconclusive"

"""Chapter 00's claim rules, driven by synthetic records on both sides of each threshold."""
from __future__ import annotations

from cl_utils import experiments
from cl_utils.experiments import forgetting_report as report
from cl_utils.experiments.core import Records

P = experiments.load("00").Params(seeds=[0, 1, 2], class_groups=[[0, 1], [2, 3], [4, 5]])


def _records(kept: float, multi_kept: float, joint: float) -> Records:
    """Fine-tuning keeps ``kept`` (single head) or ``multi_kept`` (one head per task) of each earlier task's
    accuracy of 0.98; joint training reaches ``joint``; each seed a little different."""
    items = []
    for seed in P.seeds:
        jitter = 0.004 * seed - 0.003 * (seed == 1)
        for scenario, keep in (("single-head", kept), ("multi-head", multi_kept)):
            acc = [[0.98 if j == i else 0.98 * keep + jitter if j < i else 0.0 for j in range(3)] for i in range(3)]
            items.append({"kind": "train", "config": {"scenario": scenario, "method": "fine-tune", "seed": seed},
                          "metrics": {"acc": acc}})  # fmt: skip
            items.append({"kind": "train", "config": {"scenario": scenario, "method": "joint", "seed": seed},
                          "metrics": {"acc": [joint + jitter] * 3}})  # fmt: skip
    return Records(items)


def _statuses(**kw) -> list[str]:
    return [row["status"] for row in report.claims(_records(**kw), P, "synthetic")]


def test_forgetting_as_the_literature_describes_it_is_reproduced():
    assert _statuses(kept=0.0, multi_kept=0.9, joint=0.99) == ["reproduced"] * 4


def test_no_forgetting_and_a_weaker_joint_run_are_not_reproduced():
    statuses = _statuses(kept=1.0, multi_kept=0.5, joint=0.30)
    assert statuses[0] == "inconclusive"  # BWT exactly 0 on every seed: no forgetting to see
    assert statuses[1] == "not reproduced"  # the multi-head network forgets more
    assert statuses[3] == "not reproduced"  # joint training below fine-tuning

"""Chapter 00's claim rules, driven by synthetic records on both sides of each threshold, and its figures and
tables, whose captions must come from the records."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cl_utils import experiments  # noqa: E402
from cl_utils.experiments import forgetting_report as report  # noqa: E402
from cl_utils.experiments.runs import Records  # noqa: E402

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
                          "metrics": {"acc": acc}, "key": f"{len(items):016x}"})  # fmt: skip
            items.append({"kind": "train", "config": {"scenario": scenario, "method": "joint", "seed": seed},
                          "metrics": {"acc": [joint + jitter] * 3}, "key": f"{len(items):016x}"})  # fmt: skip
    return Records(items)


def _statuses(**kw) -> list[str]:
    return [row["status"] for row in report.claims(_records(**kw), P, "synthetic")]


def test_forgetting_as_the_literature_describes_it_is_reproduced():
    assert _statuses(kept=0.0, multi_kept=0.9, joint=0.99) == ["reproduced"] * 4


def test_each_row_rests_on_the_runs_its_numbers_come_from():
    records = _records(kept=0.0, multi_kept=0.9, joint=0.99)

    def keys(*runs: tuple[str, str]) -> set[str]:
        return {r["key"] for s, m in runs for r in records.where("train", scenario=s, method=m)}

    rows = report.claims(records, P, "synthetic")
    sh_ft, mh_ft, sh_joint, mh_joint = (("single-head", "fine-tune"), ("multi-head", "fine-tune"),
                                        ("single-head", "joint"), ("multi-head", "joint"))  # fmt: skip
    expected = [keys(sh_ft), keys(mh_ft, sh_ft), keys(mh_ft, mh_joint), keys(sh_joint, sh_ft)]
    assert [set(row["records"].split()) for row in rows] == expected
    assert [len(k) for k in expected] == [3, 6, 6, 6]


def test_no_forgetting_and_a_weaker_joint_run_are_not_reproduced():
    statuses = _statuses(kept=1.0, multi_kept=0.5, joint=0.30)
    assert statuses[0] == "inconclusive"  # BWT exactly 0 on every seed: no forgetting to see
    assert statuses[1] == "not reproduced"  # the multi-head network forgets more
    assert statuses[3] == "not reproduced"  # joint training below fine-tuning


# ------------------------------------------------------------------------------------- figures and tables
#: records unlike the parameters P in every field a caption names: dataset, class groups, width, epochs, batch,
#: learning rate, seeds (two, where P has three), and made from the synthetic stand-in
RUNS = dict(dataset="fashion_mnist", class_groups=[[1, 2], [3, 4], [5, 6]], hidden_sizes=[7], num_epochs=3,
            batch_size=16, lr=0.05, val_fraction=0.1)  # fmt: skip
SEEDS = [5, 6]


def _drawn_records(seeds: list[int] = SEEDS) -> Records:
    items = []
    for k, seed in enumerate(seeds):
        for scenario in ("multi-head", "single-head"):
            acc = [[0.9 if j == i else 0.5 + 0.1 * k if j < i else 0.0 for j in range(3)] for i in range(3)]
            data = [{"dataset": RUNS["dataset"], "source": "synthetic"}]
            items.append({"kind": "train", "config": {**RUNS, "scenario": scenario, "method": "fine-tune", "seed": seed},
                          "data": data, "metrics": {"acc": acc}})  # fmt: skip
            items.append({"kind": "train", "config": {**RUNS, "scenario": scenario, "method": "joint", "seed": seed},
                          "data": data, "metrics": {"acc": [0.95 + 0.01 * k] * 3}})  # fmt: skip
    return Records(items)


DRAWN = [name for name in report.__all__ if name.startswith(("fig_", "table_"))]


def _texts(fig: plt.Figure) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def test_the_scale_line_is_read_from_the_records_not_the_parameters():
    line = report.scale(_drawn_records(), P)
    assert line == ("fashion_mnist (SYNTHETIC stand-in, tests only); MLP 784-7; 3 epoch(s) per task; batch 16; "
                    "Adam lr 0.05; 2 seed(s)")  # fmt: skip


@pytest.mark.parametrize("name", DRAWN)
def test_every_figure_and_table_renders_and_its_captions_come_from_the_records(name):
    assert {"fig_accuracy_matrices", "fig_final_accuracy", "table_summary"} <= set(DRAWN)
    out = getattr(report, name)(_drawn_records(), P)
    if name.startswith("fig_"):
        text = _texts(out)
        plt.close(out)
        assert report.scale(_drawn_records(), P) in out._suptitle.get_text()
        assert "Adam lr 0.05" in text and "SYNTHETIC" in text and "784-256-256" not in text
        assert "1/2" in text and "0/1" not in text  # the records' tasks label the axes, not P's
        assert "3 seeds" not in text  # P has three seeds; the records two
    else:
        assert len(out) == 4 and set(out["seeds"]) == {len(SEEDS)}


def test_the_heatmaps_show_the_spread_over_seeds():
    fig = report.fig_accuracy_matrices(_drawn_records(), P)
    multi = fig.axes[0]
    assert "(2 seeds)" in multi.get_title()
    # earlier tasks end at 50 and 60 % on the two seeds: mean 55.0, sample SD 7.1 (ddof = 1)
    assert "55.0\n±7.1" in [t.get_text() for t in multi.texts]
    assert "SD range: multi-head 0.0-7.1, single-head 0.0-7.1 points" in fig._suptitle.get_text()
    plt.close(fig)
    one = report.fig_accuracy_matrices(_drawn_records([5]), P)
    assert "one seed, no spread" in one._suptitle.get_text() and "(one seed)" in one.axes[0].get_title()
    assert not any("±" in t.get_text() for t in one.axes[0].texts)
    plt.close(one)


def test_the_chance_lines_come_from_the_records_class_groups_and_dataset():
    records = Records([{**r, "config": {**r["config"], "class_groups": [[1, 2, 3, 4], [5, 6, 7, 8]]}}
                       for r in _drawn_records().items])  # fmt: skip
    fig = report.fig_final_accuracy(records, P)
    chance = [line.get_ydata()[0] for ax in fig.axes for line in ax.lines if line.get_label() == "chance"]
    assert chance == pytest.approx([25.0, 10.0])  # four classes per head; ten classes in Fashion-MNIST
    plt.close(fig)


def test_the_summary_table_matches_the_claims_numbers():
    table = report.table_summary(_drawn_records(), P)
    finals = report.finals(_drawn_records(), "multi-head", "fine-tune")
    mean = np.mean([v["avg"] for v in finals.values()])
    assert table.loc[("multi-head", "fine-tune"), "average accuracy (%)"].startswith(f"{mean:.2f} ± ")
    assert table.loc[("single-head", "joint"), "BWT (points)"] == "n/a"

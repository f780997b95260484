"""Chapter 01's claim rules, figures and tables, driven by small synthetic records on both sides of each threshold."""
from __future__ import annotations

import hashlib
import itertools
import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from cl_utils import claims, experiments  # noqa: E402
from cl_utils.experiments import packnet_figures as figures  # noqa: E402
from cl_utils.experiments import packnet_records as records_of  # noqa: E402
from cl_utils.experiments import packnet_report as report  # noqa: E402
from cl_utils.experiments import packnet_trend as figures_trend  # noqa: E402
from cl_utils.experiments.runs import Records  # noqa: E402

EXPERIMENT = experiments.load("01")
#: the records' scale (the committed preset's): 2,000 test images per task, one run per order
P = EXPERIMENT.Params(batch_norm=True, width=0.25, fc_widths=[512, 512], initial_epochs=15, finetune_epochs=8,
                      retrain_epochs=3, lwf_warmup_epochs=2, batch_size=32, runs_per_order=1,
                      test_per_class=200, fig4_seeds=[])  # fmt: skip
#: the same with Figure 4 from two more seeds of the initial network
P3 = EXPERIMENT.Params(**{**P.as_dict(), "fig4_seeds": [1, 2]})
E0 = 40.0  # the initial task's error (%)
BASE = {"fashion_mnist": 20.0, "mnist": 5.0, "kmnist": 22.0}  # each added task's error, individually fine-tuned


def _noise(*key) -> float:
    """A small deterministic offset, the same for the same key (each order and run is its own run)."""
    return 0.1 * (sum(map(ord, repr(key))) % 5 - 2)


def _acc(error: float) -> float:
    return 1 - error / 100


def _records(*, forget: float = 0.0, lwf_rise: float = 10.81, lwf_gap: float = 5.0,
             indiv_gap: tuple[float, float] = (2.90, 1.75), prune_cost: tuple[float, float] = (0.91, 2.45),
             slope: float = 1.5, bias_gap: float = 0.0, bias_noise: float = 0.01, fc_gap: float = 30.0,
             filter_gap: float = 10.0, bits: int = 2, classifier_gap: float = 40.0, bn_gain: float = 1.0,
             rebuilt: bool = False, single_spread: float = 1.0, fc_share: float = 0.93, retrain_gain: float = 3.0,
             cost90: float = 1.07, seed_spread: float = 0.3, plain_gap: float = 2.90,
             trend_gaps: dict[float, float] | None = None, params=P) -> Records:  # fmt: skip
    """One record per run of the chapter's plan. PackNet's added tasks end ``indiv_gap`` (per schedule) above the
    individual networks, ``slope`` points more per later position; LwF ends ``lwf_gap`` above PackNet on each added
    task (paired by order) and ``lwf_rise`` above the initial task's error on it; and so on for each claim.
    A stage's record holds its state's digest; PackNet's runs read that state (``rebuilt``: another one). Figure 4's
    other seeds of the initial network (``fig4_seeds``) err ``seed_spread`` points more or less after retraining
    (zero mean over the three seeds). Table 2's PackNet without batch-norm (``without_bn_epochs``) ends ``plain_gap``
    above its individual networks; the scale trend's network at factor f (``scale_trend``) ``trend_gaps[f]``."""
    orders = list(itertools.permutations(params.added_datasets))
    cost = {0.5: prune_cost[0], 0.75: prune_cost[1], 0.9: 14.0}

    def packnet_metrics(c: dict) -> dict:
        """One PackNet run's metrics (of run ``c["run"]``)."""
        variant = c.get("network_variant")  # another initial network: its own gap to its individual networks
        gap = (plain_gap if variant == "table2_without_bn" else trend_gaps[float(variant.removeprefix("scale_x"))]
               if variant else indiv_gap[[list(s) for s in params.schedules].index(c["schedule"])])  # fmt: skip
        start = E0 + cost[c["schedule"][0]]
        errors = [BASE[d] + gap + slope * (k - 2) + _noise(c["order"], c["run"])
                  for k, d in enumerate(c["order"], start=1)]  # fmt: skip
        if c.get("batchnorm_per_task"):  # per-task batch-norm: bn_gain points lower, its own noise
            twist = (-1) ** (orders.index(tuple(c["order"])) + c["run"])  # zero mean over the orders
            errors = [e - bn_gain + 0.3 * twist for e in errors]
        if c["separate_biases"]:
            sign = [(-1) ** (orders.index(tuple(c["order"])) * 3 + k) for k in range(3)]
            errors = [e + bias_gap + bias_noise * s for e, s in zip(errors, sign)]
        steps = [{"before_prune": None, "after_prune": None, "after_retrain": None,
                  "accuracies": [_acc(start + forget * (i + 1))] + [_acc(e) for e in errors[:i + 1]]}
                 for i in range(3)]  # fmt: skip
        return {"steps": steps, "mask_bits": bits, "mask_bytes_uint8": 1000, "mask_bytes_packed": 1000 * bits // 8,
                "usage": {}}  # fmt: skip

    items, stages = [], {}
    for run in EXPERIMENT.plan(params):
        c, kind = dict(run.config), run.kind
        key = hashlib.sha256(json.dumps([kind, c], sort_keys=True).encode()).hexdigest()[:16]  # by its run
        inputs = {}
        jitter = seed_spread * {0: 0.0, 1: 1.0, 2: -1.0}[c["seed"]]  # Fig. 4's seeds; the chapter's runs are seed 0
        if kind == "initial_pruned":
            stages.setdefault((c["fraction"], c["rule"]), key)  # PackNet reads the chapter's own stage
            inputs = {key: f"state of {key}"}
        elif kind == "packnet":
            stage = stages[c["schedule"][0], "weights"]
            inputs = {stage: "another state" if rebuilt else f"state of {stage}"}
        if kind == "initial":
            metrics = {"test_acc": _acc(E0), "history": []}
        elif kind == "initial_pruned":
            retrained = E0 + (cost[c["fraction"]] + jitter if c["rule"] == "weights" else 1.0)
            metrics = {"after_prune": _acc(E0 + 30 * c["fraction"]), "after_retrain": _acc(retrained)}
            if c["rule"] == "taylor":  # 60 of 200 units pruned (100 conv, 100 fc), fc_share of them fc neurons
                fc = round(60 * fc_share)
                metrics |= {"freed_units": {"conv": 60 - fc, "fc6": fc // 2, "fc7": fc - fc // 2},
                            "units": {"conv": 100, "fc6": 50, "fc7": 50}, "fc_layers": ["fc6", "fc7"]}
        elif kind == "packnet":  # a stacked run (``runs``): each run's metrics in ``per_run``
            metrics = ({"per_run": [packnet_metrics(c | {"run": r}) for r in c["runs"]]} if c.get("runs")
                       else packnet_metrics(c))  # fmt: skip
        elif kind == "lwf":
            i = orders.index(tuple(c["order"]))
            updated = -10.0 if c["bn_stats"] == "updated" else 0.0
            updated += 50.0 if c["finetune_lr"] != params.lwf_lrs[0] else 0.0  # a second lr: far worse
            updated -= 20.0 if c["finetune_epochs"] != params.finetune_epochs else 0.0  # the paper's schedule: better
            final = [BASE[d] + indiv_gap[0] + slope * (k - 1) + lwf_gap + updated + 0.3 * (i % 3 - 1)
                     for k, d in enumerate(c["order"])]  # fmt: skip
            rows = [[_acc(E0 + lwf_rise * (j + 1) / 3 + 0.2 * (i % 2))] + [_acc(e) for e in final[:j + 1]]
                    for j in range(3)]  # fmt: skip
            metrics = {"accuracies": rows}
        elif kind == "single_task":
            spread = single_spread * (c.get("run", 0) - (params.single_task_runs - 1) / 2)  # runs spread around the mean
            metrics = {"test_acc": _acc(BASE[c["dataset"]] + spread
                                        + (classifier_gap if c["method"] == "classifier_only" else 0.0))}  # fmt: skip
        elif kind == "fig4":
            d = c["dataset"]
            after = {0.5: -retrain_gain, 0.75: 1.0, 0.9: cost90}  # retrained minus unpruned, per fraction
            metrics = {"before_prune": _acc(BASE[d] + 2), "fractions": {str(f): {
                "after_prune": _acc(BASE[d] + 10 * f), "after_retrain": _acc(BASE[d] + 2 + after[f] + jitter)}
                for f in c["fractions"]}}
        elif kind == "fig5":
            extra = {"none": fc_gap + 5, "fc": fc_gap, "all": 0.0}[c["layers"]]
            metrics = {"test_acc": _acc(BASE[c["dataset"]] + 2 + extra)}
        else:  # filter_task: above Figure 4's 75 % weights
            metrics = {"test_acc": _acc(BASE[c["dataset"]] + 3 + filter_gap)}
        items.append({"kind": kind, "config": c, "metrics": metrics, "key": key, "inputs": inputs,
                      "data": [{"dataset": d, "source": "synthetic"} for d in run.datasets]})  # fmt: skip
    return Records(items)


CLAIMS = {"zero forgetting": "Fig. 2 / Table 2", "LwF rises": "Fig. 2: LwF", "below LwF": "Table 2: PackNet has",
          "below classifier": "Table 2: LwF has",
          "near individual": "Table 2: PackNet's error", "pruning cost": "Fig. 4: pruning the initial",
          "more pruned start": "Table 2: a more pruned", "below unpruned": "Fig. 4: pruning an added",
          "90 % costs little": "Fig. 4: even a 90 %", "order": "Fig. 3",
          "biases": "Table 5", "layers": "Fig. 5", "filters": "Table 6", "storage": "Storage",
          "table 4": "Table 4, VGG-16 with batch-norm", "per-task BN": "Section 4: per-task batch-norm",
          "fc share": "Section 5.5", "without BN": "Table 2 like for like"}  # fmt: skip


def _statuses(params=P, **settings) -> dict[str, str]:
    rows = report.claims(_records(params=params, **settings), params)
    found = {name: next((r["status"] for r in rows if r["claim"].startswith(head)), None) for name, head in CLAIMS.items()}
    return {name: status for name, status in found.items() if status}  # the rows the records hold


def test_the_papers_effects_at_the_papers_sizes_are_reproduced_where_the_runs_allow():
    assert _statuses() == {"zero forgetting": "reproduced", "LwF rises": "reproduced", "below LwF": "reproduced",
                           "below classifier": "reproduced",
                           "near individual": "reproduced", "pruning cost": "inconclusive", "order": "inconclusive",
                           "biases": "reproduced", "layers": "reproduced", "filters": "reproduced",
                           "storage": "reproduced", "table 4": "partly", "per-task BN": "reproduced",
                           "fc share": "reproduced", "more pruned start": "reproduced",
                           "below unpruned": "reproduced", "90 % costs little": "inconclusive"}  # fmt: skip


def test_each_row_rests_on_the_runs_its_numbers_come_from():
    records = _records()
    rows = report.claims(records, P)
    claims.claims_frame([{**row, "command": "x"} for row in rows])

    def keys(kind: str, **match) -> set[str]:
        return {r["key"] for r in records.where(kind, **match)}

    def packnet(schedule: list[float], biases: bool = False, per_task_bn: bool | None = None, **match) -> set[str]:
        """PackNet's runs of a schedule; frozen batch-norm (the default) is a config without 'batchnorm_per_task'."""
        return keys("packnet", schedule=schedule, separate_biases=biases, batchnorm_per_task=per_task_bn, **match)

    first, second = P.schedules
    pk, lwf = packnet(first), keys("lwf", bn_stats="frozen", lwf_schedule=None)  # the claims' LwF: the preset's
    initial, individual, fig4 = keys("initial"), keys("single_task", method="individual"), keys("fig4")
    stage = lambda fraction: keys("initial_pruned", rule="weights", fraction=fraction)  # noqa: E731
    taylor = keys("initial_pruned", rule="taylor")
    expected = [pk | stage(0.5), lwf | initial, pk | lwf, lwf | keys("single_task", method="classifier_only"),
                pk | packnet(second) | individual, pk | packnet(second), initial | stage(0.5) | stage(0.75),
                fig4, fig4, pk, pk | packnet(first, biases=True), keys("fig5"),
                taylor | keys("filter_task", filter_rule="taylor") | fig4, taylor,
                packnet(first, order=P.added_datasets, run=0), pk | individual,
                packnet(first, per_task_bn=True) | pk | individual, {claims.NO_RECORDS}, {claims.NO_RECORDS}]
    assert [set(row["records"].split()) for row in rows] == expected
    assert [len(k) for k in expected] == [7, 7, 12, 15, 21, 12, 3, 3, 3, 6, 12, 9, 7, 1, 1, 15, 21, 1, 1]


@pytest.mark.parametrize("share, status", [(0.93, "reproduced"), (0.55, "inconclusive"), (0.2, "not reproduced")])
def test_the_taylor_ranking_takes_most_units_from_the_fc_layers(share, status):
    """The fc layers hold half the units: 93 % of the pruned units from them is beyond 2 SE of half, 55 % within
    (60 units: SE 6.5 points), 20 % the opposite."""
    assert _statuses(fc_share=share)["fc share"] == status


def test_table6_shows_each_ranking_and_the_claim_uses_the_first():
    taylor_first = report.table6(_records(), P)
    assert [c for c in taylor_first.columns if c.startswith("Filters")] == [
        "Filters, Taylor (30% of all units)", "Filters, weight norm (30% per layer)"]
    weight_norm_only = EXPERIMENT.Params(**{**P.as_dict(), "filter_rankings": ["weight_norm"]})
    rows = report.claims(_records(params=weight_norm_only), weight_norm_only)
    assert not any(r["claim"].startswith("Section 5.5") for r in rows)
    row = next(r for r in rows if r["claim"].startswith("Table 6"))
    assert "weight norm" in row["reason"] and row["status"] == "reproduced"


def test_larger_effects_in_the_papers_direction_are_partly_reproduced():
    statuses = _statuses(lwf_rise=40.0, indiv_gap=(6.0, 6.0), prune_cost=(10.0, 10.0), cost90=8.0)
    assert [statuses[k] for k in ("LwF rises", "near individual", "pruning cost", "90 % costs little")] == \
        ["partly"] * 4


@pytest.mark.parametrize("gaps, status", [((2.90, 1.75), "reproduced"), ((2.0, 2.0), "inconclusive"),
                                          ((1.75, 2.90), "not reproduced")])  # fmt: skip
def test_a_more_pruned_start_lowers_the_added_tasks_error(gaps, status):
    """Section 4: the second schedule (0.75 first) against the first (0.50), a direction over the runs."""
    assert _statuses(indiv_gap=gaps)["more pruned start"] == status


@pytest.mark.parametrize("gain, status", [(3.0, "reproduced"), (0.5, "inconclusive"), (-3.0, "not reproduced")])
def test_a_50_percent_prune_and_retraining_ends_an_added_task_below_its_unpruned_error(gain, status):
    """Figure 4: per added task, retrained at 50 % minus unpruned, against two binomial SEs of its test set."""
    assert _statuses(retrain_gain=gain)["below unpruned"] == status


def test_a_90_percent_prune_is_a_size_claim_that_one_run_per_task_cannot_call_reproduced():
    """The paper's mean cost is +1.07 points: ours at that size is inconclusive (one run per task), far above it
    partly (the direction holds), and a gain not reproduced."""
    assert [_statuses(cost90=c)["90 % costs little"] for c in (1.07, 8.0, -5.0)] == \
        ["inconclusive", "partly", "not reproduced"]


def test_the_baselines_uncertainty_is_their_spread_over_runs():
    """Individual networks ran 3 times: a gap of 6 points against the paper's 2.90 / 1.75 is 'partly' when their runs
    agree, and within 2 SE (reproduced) when their runs spread by 10 points."""
    assert _statuses(indiv_gap=(6.0, 6.0))["near individual"] == "partly"
    assert _statuses(indiv_gap=(6.0, 6.0), single_spread=10.0)["near individual"] == "reproduced"


def test_reversed_effects_are_not_reproduced():
    statuses = _statuses(forget=0.5, lwf_rise=-10.0, lwf_gap=-5.0, indiv_gap=(-3.0, -1.0), prune_cost=(-5.0, -5.0),
                         bias_gap=1.0, bias_noise=0.1, fc_gap=-30.0, filter_gap=-10.0, bits=4,
                         classifier_gap=-10.0, bn_gain=-1.0, fc_share=0.2, retrain_gain=-3.0,
                         cost90=-5.0)  # fmt: skip
    assert set(statuses.values()) == {"not reproduced", "inconclusive"}, statuses
    assert statuses["order"] == "inconclusive"  # one run per order: 2 runs per cell, too few to judge a size
    assert [k for k, v in statuses.items() if v == "inconclusive"] == ["order"]


def test_zero_forgetting_is_judged_only_on_runs_that_started_from_the_recorded_network():
    """A run that started from a rebuilt initial network (another digest) cannot show the recorded network's error
    unchanged: with only such runs the row is inconclusive, not 'not reproduced'."""
    assert _statuses(rebuilt=True)["zero forgetting"] == "inconclusive"
    assert _statuses(rebuilt=True, forget=0.5)["zero forgetting"] == "inconclusive"
    assert _statuses(forget=0.5)["zero forgetting"] == "not reproduced"


def test_differences_inside_the_noise_are_inconclusive():
    statuses = _statuses(lwf_gap=0.0, bias_noise=0.5, fc_gap=0.0, filter_gap=0.0)
    assert [statuses[k] for k in ("below LwF", "biases", "layers", "filters")] == ["inconclusive"] * 4


@pytest.mark.parametrize("slope, status", [(1.5, "reproduced"), (3.0, "partly"), (0.0, "not reproduced"),
                                           (-1.5, "not reproduced")])  # fmt: skip
def test_the_order_claim_is_the_papers_rise_of_3_points_judged_on_independent_runs(slope, status):
    """Three runs per order: each task is at each position in 6 runs of their own seeds; a rise of 2 x slope."""
    three = EXPERIMENT.Params(**{**P.as_dict(), "runs_per_order": 3})
    row = next(r for r in report.claims(_records(slope=slope, params=three), three) if r["claim"].startswith("Fig. 3"))
    assert row["status"] == status, row
    assert row["this book"] == f"{2 * slope:+.2f} points" and "6 independent runs per cell" in row["reason"]


def test_every_packnet_run_of_the_plan_has_its_own_seed():
    """Orders with the same first task once shared a seed and trained it identically (Figure 3's n was 1)."""
    three = EXPERIMENT.Params(**{**P.as_dict(), "runs_per_order": 3, "stack_runs": False})
    packnet = [r.config for r in EXPERIMENT.plan(three) if r.kind == "packnet"]
    variant = lambda c: (c["separate_biases"], c.get("batchnorm_per_task", False))  # noqa: E731
    runs = [c for c in packnet if variant(c) == (False, False) and c["schedule"] == three.schedules[0]]
    seeds = [EXPERIMENT.packnet_seed(EXPERIMENT.PackNetRun.from_config(c)) for c in runs]
    assert len(runs) == 18 and len(set(seeds)) == 18
    twins = {v: sorted(EXPERIMENT.packnet_seed(EXPERIMENT.PackNetRun.from_config(c)) for c in packnet if variant(c) == v) for v in ((True, False), (False, True))}
    assert twins[True, False] == sorted(seeds)  # Table 5 pairs every run by seed; per-task batch-norm run 0's
    assert twins[False, True] == sorted(EXPERIMENT.packnet_seed(EXPERIMENT.PackNetRun.from_config(c)) for c in runs if c["run"] == 0)
    stacks = [r.config for r in EXPERIMENT.plan(EXPERIMENT.Params(**{**three.as_dict(), "stack_runs": True}))
              if r.kind == "packnet" and "runs" in r.config and r.config["schedule"] == three.schedules[0]]
    assert len({EXPERIMENT.packnet_seed(EXPERIMENT.PackNetRun.from_config(c)) for c in stacks}) == 6  # per order


def test_each_run_of_a_baseline_has_its_own_seed_and_the_first_keeps_its_key():
    """Classifier Only and Individual Networks run 3 times per task (the paper's Table 2 averages 3 runs)."""
    singles = [r.config for r in EXPERIMENT.plan(P) if r.kind == "single_task"]
    cells = {(c["method"], c["dataset"]) for c in singles}
    assert len(singles) == 3 * len(cells) == 18
    for cell in cells:
        seeds = [EXPERIMENT.single_task_seed(EXPERIMENT.SingleTaskRun.from_config(c)) for c in singles if (c["method"], c["dataset"]) == cell]
        assert len(set(seeds)) == 3 and P.seed in seeds
    assert sum("run" not in c for c in singles) == len(cells)  # run 0's config (and key) as when it ran once


@pytest.mark.parametrize("gap, status", [(1.58, "reproduced"), (6.0, "partly"), (-3.0, "not reproduced")])
def test_table_4s_gap_on_the_batch_norm_network_is_judged_as_a_size(gap, status):
    """The paper's VGG-16 with batch-norm: PackNet 0.50, 0.75, 0.75 is 1.58 points above individual networks."""
    assert _statuses(indiv_gap=(gap, 1.75))["table 4"] == status


@pytest.mark.parametrize("gain, status", [(1.0, "reproduced"), (0.0, "inconclusive"), (-1.0, "not reproduced")])
def test_per_task_batch_norm_is_judged_against_its_frozen_twin(gain, status):
    rows = report.claims(_records(bn_gain=gain), P)
    row = next(r for r in rows if r["claim"].startswith("Section 4: per-task"))
    assert row["status"] == status and "6 pairs" in row["reason"], row
    columns = list(report.table2(_records(bn_gain=gain), P).columns)
    assert "PackNet 0.50, 0.75, 0.75, per-task BN" in columns


def test_without_batch_norm_there_are_no_batch_norm_rows_or_runs():
    plain = EXPERIMENT.Params(**{**P.as_dict(), "batch_norm": False})
    assert not any(r.config.get("batchnorm_per_task") for r in EXPERIMENT.plan(plain))
    rows = report.claims(_records(params=plain), plain)
    assert not any(r["claim"].startswith(("Table 4, VGG", "Section 4: per-task")) for r in rows)
    assert figures.table_batchnorm(_records(params=plain), plain).empty


@pytest.mark.parametrize("gap, status", [(40.0, "reproduced"), (9.4, "inconclusive"), (0.0, "not reproduced")])
def test_lwf_below_classifier_only_is_judged_against_both_runs_noise(gap, status):
    assert _statuses(classifier_gap=gap)["below classifier"] == status


def test_the_claims_judge_the_first_lwf_learning_rate_and_table_2_shows_every_one():
    two = EXPERIMENT.Params(**{**P.as_dict(), "lwf_lrs": [1e-3, 1e-2]})
    records = _records(params=two)
    assert report.claims(records, two) == report.claims(_records(), P)  # the second lr's far worse runs: not judged
    columns = list(report.table2(records, two).columns)
    assert columns[:5] == ["Classifier Only", "LwF", "LwF, paper's 20 epochs (5 head-only)",
                           "LwF, BN statistics updated", "LwF, lr 0.01"]
    assert "LwF, lr 0.01, BN statistics updated" in columns


def test_the_claims_read_the_test_set_and_the_scale_from_the_records():
    records = _records()
    other = EXPERIMENT.Params(test_per_class=7, width=0.5, batch_size=7, runs_per_order=3)
    rows = report.claims(records, other)
    assert rows == report.claims(records, P)
    assert "binomial SE of 2000 test images" in next(r["reason"] for r in rows if r["claim"].startswith("Fig. 4"))
    assert rows[0]["data and scale"] == ("SYNTHETIC stand-in data (tests only); images/class: initial all, added all, "
                                         "test 200; VGG-16 layout x0.25 +BN, fc [512, 512]; initial 15 ep, added tasks "
                                         "8+3 ep, LwF 8/20 ep, batch 32; 1 run(s)/order; Classifier Only / Individual Networks 3 "
                                         "run(s) per task")  # the records' 200, not other's 7


def test_every_figure_and_table_renders_and_its_captions_come_from_the_records():
    records = _records()
    # the same schedules (they select the records), every value a caption shows different from the records'
    other = EXPERIMENT.Params(initial_dataset="cifar100", added_datasets=["emnist", "mnist", "fashion_mnist"],
                              width=0.5, fc_widths=[64], batch_norm=False, initial_epochs=99, finetune_epochs=77,
                              retrain_epochs=66, batch_size=7, runs_per_order=3, test_per_class=5)  # fmt: skip
    for make in (figures.fig_forgetting, figures.fig_order, figures.fig_pruning, figures.fig_layers):
        fig = make(records, other)
        title = fig._suptitle.get_text().replace("\n", " ")
        assert "SYNTHETIC" in title and "x0.25 +BN, fc [512, 512]" in title and "batch 32" in title, title
        assert "initial 15 ep, added tasks 8+3 ep" in title, title
        assert not any(x in title for x in ("x0.5", "[64]", "99 ep", "77+66", "batch 7", "3 run(s)", "cifar100")), title
        plt.close(fig)
    fig = figures.fig_forgetting(records, other)
    assert "order cifar10 → fashion_mnist → mnist → kmnist" in fig._suptitle.get_text()
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend == ["cifar10", "fashion_mnist", "mnist", "kmnist"]
    plt.close(fig)
    assert "one run each" in figures.fig_pruning(records, other)._suptitle.get_text().replace("\n", " ")
    plt.close("all")
    for what in ("table2", "table5", "table6", "batchnorm", "claims"):
        line = figures.caption(records, other, what)
        assert "x0.25 +BN" in line and "batch 32" in line and "x0.5" not in line, line
    assert "PackNet [0.5, 0.75, 0.75]" in figures.caption(records, other, "table5")
    note = figures.initial_note(records, other).splitlines()
    assert note[1] == "initial task (cifar10), unpruned: test error 40.00 %" and "added tasks" not in note[0]
    assert "2 bits per weight" in figures.storage_note(records, other)
    tables = {"errors": figures.table_errors(records, other), "order": figures.table_order(records, other),
              "pruning": figures.table_pruning(records, other), "biases": figures.table_biases(records, other),
              "layers": figures.table_layers(records, other), "filters": figures.table_filters(records, other),
              "storage": figures.table_storage(records, other), "batchnorm": figures.table_batchnorm(records, other),
              **{f"paper {w}": figures.table_paper(w) for w in ("table2", "table5", "table6")}}  # fmt: skip
    for name, table in tables.items():
        assert isinstance(table, pd.DataFrame) and len(table) > 0, name
    assert list(tables["errors"].index) == ["cifar10", "fashion_mnist", "mnist", "kmnist", "# models (size)"]
    assert list(tables["errors"].columns) == ["Classifier Only", "LwF", "LwF, paper's 20 epochs (5 head-only)",
                                              "LwF, BN statistics updated",
                                              "PackNet 0.50, 0.75, 0.75", "PackNet 0.75, 0.75, 0.75",
                                              "PackNet 0.50, 0.75, 0.75, per-task BN", "Individual Networks"]  # fmt: skip
    assert tables["errors"].loc["mnist", "Individual Networks"] == 5.0
    assert (tables["biases"]["separate bias"] - tables["biases"]["shared bias"]).abs().max() <= 0.02  # bias_gap 0
    assert tables["filters"].loc["fashion_mnist"].tolist() == [60.0, 33.0, 33.0, 23.0]  # classifier, 2 rankings, weights
    gain = tables["batchnorm"]["frozen (task 1's)"] - tables["batchnorm"]["per task"]
    assert ((gain - 1.0).abs() < 1e-9).all() and tables["batchnorm"].loc["mnist", "Individual Networks"] == 5.0
    assert "run 0 of each order" in figures.caption(records, other, "batchnorm")
    assert ((tables["order"].loc["mnist"].diff().dropna() - 1.5).abs() < 0.5).all()  # the slope per position
    assert len(tables["pruning"]) == 4 * 3 and "Filters, Taylor (30% of all units)" in tables["filters"]


def test_figure_3_shows_the_spread_over_the_runs_of_each_bar():
    fig = figures.fig_order(_records(), P)
    title = fig._suptitle.get_text().replace("\n", " ")
    assert "mean over the 2 run(s) with the task at that position" in title, title
    assert sum(isinstance(c, ErrorbarContainer) for c in fig.axes[0].containers) == 3
    plt.close(fig)
    two = EXPERIMENT.Params(**{**P.as_dict(), "runs_per_order": 2})
    fig = figures.fig_order(_records(params=two), two)
    title = fig._suptitle.get_text().replace("\n", " ")
    assert "mean over the 4 run(s)" in title and "2 run(s)/order" in title, title
    plt.close(fig)


def test_the_scale_counts_the_runs_it_describes():
    records = _records()
    assert records_of.scale(records.where("fig5")).endswith("; one run each")
    assert records_of.scale(records.where("lwf")).endswith("; 1 run(s)/order")
    assert "added tasks" not in records_of.scale(records.where("initial"))
    fig5 = records.where("fig5")
    mixed = fig5[:1] + [{**r, "config": {**r["config"], "batch_size": 64}} for r in fig5[1:2]]
    assert "batch 32/64" in records_of.scale(mixed)


@pytest.mark.parametrize("what", ["initial", "table2", "fig2", "fig3", "fig4", "table5", "fig5", "table6", "storage"])
def test_each_caption_rests_on_records_of_its_own(what):
    shown = figures.shown(_records(), P, what)
    assert shown and all(r in _records().items for r in shown)


def test_a_rise_of_lwf_inside_the_noise_is_no_direction():
    """+1 point on 2,000 test images (SE about 1.1) does not show the paper's rise: not even partly."""
    assert _statuses(lwf_rise=1.0)["LwF rises"] == "not reproduced"
    assert _statuses(lwf_rise=5.0)["LwF rises"] == "partly"  # beyond 2 SE, short of the paper's +10.81


def test_a_caption_counts_the_runs_that_started_from_a_rebuilt_initial_network():
    """A run whose stage digest differs from its stage record's started from another network: the captions of the
    tables and figures it is in say how many (the committed Figure 4 and 5 runs were made so on another CPU)."""
    assert "rebuilt" not in figures.caption(_records(), P, "table2")
    note = figures.caption(_records(rebuilt=True), P, "table2")
    readers = len(records_of.packnet(_records(), P.schedules[0])) + len(records_of.packnet(_records(), P.schedules[1])) \
        + len(records_of.packnet(_records(), P.schedules[0], batchnorm_per_task=True))  # Table 2's per-task BN column
    assert f"; {readers} of these {readers} runs started from a rebuilt initial network" in note, note


def test_lwf_at_the_papers_schedule_is_a_column_of_its_own_and_not_the_claims_lwf():
    """The preset's LwF trains 8 epochs per task; the paper's 20 (5 head-only) run beside it, 20 points better in
    the synthetic world: Table 2 shows them apart, and the claims judge the preset's (like PackNet's schedule)."""
    without = EXPERIMENT.Params(**{**P.as_dict(), "lwf_paper_schedule": False})
    scale = lambda rows: [{k: v for k, v in r.items() if k != "data and scale"} for r in rows]  # noqa: E731
    assert scale(report.claims(_records(), P)) == scale(report.claims(_records(params=without), without))
    table = report.table2(_records(), P)
    gain = table["LwF"].iloc[1:4].astype(float) - table["LwF, paper's 20 epochs (5 head-only)"].iloc[1:4].astype(float)
    assert gain.round(6).tolist() == [20.0] * 3
    assert "LwF, paper's 20 epochs (5 head-only)" not in report.table2(_records(params=without), without).columns
    assert [r.kind for r in EXPERIMENT.plan(without)].count("lwf") + 6 == [r.kind for r in EXPERIMENT.plan(P)].count("lwf")
    paper = EXPERIMENT.Params(**{**P.as_dict(), "finetune_epochs": 20, "lwf_warmup_epochs": 5, "lr_decay_epoch": 10})
    assert [r.kind for r in EXPERIMENT.plan(paper)].count("lwf") == [r.kind for r in EXPERIMENT.plan(without)].count("lwf")


# ------------------------------------------------------------------------- Figure 4 over seeds of the initial network
def _statuses3(**settings) -> dict[str, str]:
    return _statuses(params=P3, **settings)


def test_figure_4s_sizes_are_judged_over_the_seeds_of_the_initial_network():
    """From one seed a size cannot be called reproduced; from three, at the paper's sizes, it is, and far from them
    it is not (the SE over the seeds, not the binomial SE of one test set)."""
    one, three = _statuses(), _statuses3()
    assert (one["pruning cost"], one["90 % costs little"]) == ("inconclusive", "inconclusive")
    assert (three["pruning cost"], three["90 % costs little"]) == ("reproduced", "reproduced")
    assert _statuses3(prune_cost=(4.0, 6.0))["pruning cost"] == "partly"  # the direction holds, the size does not
    assert _statuses3(cost90=4.0)["90 % costs little"] == "partly"
    # 2.93 points from the paper's, but with seeds 3 points apart that is within 2 SE (1.73): the spread is measured
    assert _statuses3(cost90=4.0, seed_spread=3.0)["90 % costs little"] == "reproduced"
    # every other row reads the chapter's seed only: the same statuses as without the other seeds
    assert {k: v for k, v in three.items() if k not in ("pruning cost", "90 % costs little")} == \
        {k: v for k, v in one.items() if k not in ("pruning cost", "90 % costs little")}  # fmt: skip


@pytest.mark.parametrize("gain, spread, status", [(3.0, 0.3, "reproduced"), (0.5, 0.3, "reproduced"),
                                                  (0.5, 3.0, "inconclusive"), (-3.0, 0.3, "not reproduced")])
def test_a_50_percent_prune_below_unpruned_is_paired_by_seed(gain, spread, status):
    """Over three seeds the difference is judged against its spread over them: 0.5 points with a spread of 0.3 is
    beyond 2 SE (one seed's binomial SE of 2,000 images could not tell it apart), with a spread of 3 it is not."""
    assert _statuses3(retrain_gain=gain, seed_spread=spread)["below unpruned"] == status


def test_figure_4s_rows_name_every_seeds_runs_and_say_how_many():
    records = _records(params=P3)
    rows = {r["claim"][:27]: r for r in report.claims(records, P3)}
    cost, half, most = (rows[c] for c in ("Fig. 4: pruning the initial", "Fig. 4: pruning an added ta",
                                          "Fig. 4: even a 90 % one-sho"))  # fmt: skip
    stages = {r["key"] for f in (0.5, 0.75) for r in records.where("initial_pruned", rule="weights", fraction=f)}
    assert set(cost["records"].split()) == {r["key"] for r in records.where("initial")} | stages
    assert len(cost["records"].split()) == 3 + 3 * 2
    assert set(half["records"].split()) == set(most["records"].split()) == {r["key"] for r in records.where("fig4")}
    assert len(half["records"].split()) == 3 * 3
    assert "mean over 3 seeds" in cost["this book"] and "SE over 3 seeds of the initial network" in cost["reason"]
    assert "per seed: 50%: +0.91, +1.21, +0.61" in cost["reason"]
    assert most["this book"].startswith("+1.07 points (mean over 3 seeds; fashion_mnist +1.07, ")


def test_figure_4_shows_the_mean_over_the_seeds_and_the_other_figures_the_chapters_seed():
    records = _records(params=P3)
    table = figures.table_pruning(records, P3)
    assert set(table.runs) == {3} and table["retrained SE"].notna().all()
    title = figures.fig_pruning(records, P3)._suptitle.get_text()
    assert "mean over 3 seeds of the initial network" in title and "one run per seed of the initial network, 3 " \
        "seeds" in title and "one run each" not in title  # fmt: skip
    plt.close("all")
    alone = figures.table_pruning(_records(), P)
    assert set(alone.runs) == {1} and alone["retrained SE"].isna().all()
    assert (table[["before", "pruned", "retrained"]] - alone[["before", "pruned", "retrained"]]).abs().max().max() < 0.01
    shown = figures.shown(records, P3, "fig4")
    assert {r["config"]["seed"] for r in shown} == {0, 1, 2}
    assert {r["config"]["seed"] for r in figures.shown(records, P3, "fig5")} == {0}
    assert figures.initial_note(records, P3) == figures.initial_note(_records(), P)
    assert figures.table_errors(records, P3).equals(figures.table_errors(_records(), P))


def test_figure_4s_other_seeds_are_planned_once_each_and_never_the_chapters_own():
    runs = EXPERIMENT.plan(P3)
    extra = [r for r in runs if r.config["seed"] != P3.seed]
    fractions = sorted({s[0] for s in P3.schedules} | set(P3.fig4_fractions))
    assert sorted((r.kind, r.config["seed"]) for r in extra) == sorted(
        [(k, s) for s in (1, 2) for k in ["initial"] + ["initial_pruned"] * len(fractions) + ["fig4"] * 3])
    assert len(runs) == len(EXPERIMENT.plan(P)) + len(extra)
    with pytest.raises(experiments.ParameterError, match="fig4_seeds"):
        EXPERIMENT.Params(fig4_seeds=[0])


# ---------------------------------------------------------------------------- Table 2 like for like, no batch-norm
#: the committed preset's parameters with Table 2's runs on the network without batch-norm
PW = EXPERIMENT.Params(**{**P.as_dict(), "without_bn_epochs": 20, "single_task_runs": 3})


@pytest.mark.parametrize("gap, status", [(2.90, "reproduced"), (8.0, "partly"), (-3.0, "not reproduced")])
def test_table_2_without_batch_norm_is_its_own_size_claim_and_leaves_the_other_rows_alone(gap, status):
    """The runs without batch-norm give one more row, their gap judged against the paper's Table 2 (2.90 points for
    0.50 / 0.75 / 0.75) over the orders and the individual networks' runs; every other row reads the chapter's own
    network, so it keeps the status it has without those runs."""
    with_plain, alone = _statuses(params=PW, plain_gap=gap), _statuses()
    assert with_plain.pop("without BN") == status
    assert with_plain == alone


def test_table_2_without_batch_norm_names_its_runs_and_its_scale():
    records = _records(params=PW)
    row = next(r for r in report.claims(records, PW) if r["claim"].startswith("Table 2 like for like"))
    plain = {r["key"] for r in records if r["config"].get("network_variant") == "table2_without_bn"}
    assert set(row["records"].split()) == plain and len(plain) == 1 + 1 + 6 + 3 * 3
    assert "initial 20 ep" in row["data and scale"] and "+BN" not in row["data and scale"]
    assert row["paper"] == "2.90 points (0.50, 0.75, 0.75)" and "trained 20 epochs" in row["reason"]
    table = figures.table_without_batchnorm(records, PW)
    assert list(table.columns) == ["PackNet, no batch-norm", "Individual Networks, no batch-norm",
                                   "PackNet, batch-norm (frozen)", "Individual Networks, batch-norm"]  # fmt: skip
    gaps = table["PackNet, no batch-norm"] - table["Individual Networks, no batch-norm"]
    assert abs(gaps.mean() - 2.90) < 0.2  # the fixture's gap, plus its small per-run offsets
    assert {r["config"].get("network_variant") for r in figures.shown(records, PW, "without_bn")} == \
        {"table2_without_bn"}  # fmt: skip
    assert "without batch-norm" in figures.caption(records, PW, "without_bn")
    assert figures.table_without_batchnorm(_records(), P).empty


def test_table_2_without_batch_norm_is_planned_only_on_a_batch_norm_network():
    extra = [r for r in EXPERIMENT.plan(PW) if r.config.get("network_variant")]
    assert sorted(r.kind for r in extra) == ["initial", "initial_pruned"] + ["packnet"] * 6 + ["single_task"] * 9
    assert {(r.config["batch_norm"], r.config["initial_epochs"], r.config["initial_lr_decay_epoch"])
            for r in extra} == {(False, 20, 13)}  # fmt: skip
    no_bn = EXPERIMENT.Params(**{**PW.as_dict(), "batch_norm": False})
    assert not [r for r in EXPERIMENT.plan(no_bn) if r.config.get("network_variant")]


# ------------------------------------------------------------------------------------ Table 2's gap: scale trend
#: the committed preset's images per class, with Table 2's gap again at a quarter, half and twice of them
PT = EXPERIMENT.Params(**{**P.as_dict(), "initial_train_per_class": 1000, "train_per_class": 100,
                          "scale_trend": [0.25, 0.5, 2.0]})  # fmt: skip
NARROWING = {0.25: 8.0, 0.5: 6.0, 2.0: 2.90}  # the chapter's own network (factor 1): 2.90 for the first schedule


def _trend_row(trend_gaps: dict[float, float], **settings) -> dict:
    records = _records(params=PT, trend_gaps=trend_gaps, indiv_gap=settings.pop("indiv_gap", (4.5, 1.75)), **settings)
    return next(r for r in report.claims(records, PT) if r["claim"].startswith(CLAIMS["near individual"]))


def test_the_scale_trend_plans_each_factors_own_network_at_its_images_per_class():
    extra = [r for r in EXPERIMENT.plan(PT) if r.config.get("network_variant")]
    assert len(extra) == 3 * (1 + 1 + 6 + 3 * 3)
    counts = {(r.config["network_variant"], r.config["initial_train_per_class"], r.config["train_per_class"])
              for r in extra}  # fmt: skip
    assert counts == {("scale_x0.25", 250, 25), ("scale_x0.5", 500, 50), ("scale_x2", 2000, 200)}
    assert {r.config["initial_epochs"] for r in extra} == {PT.initial_epochs}  # epochs as the chapter's
    assert len(EXPERIMENT.plan(PT)) == len(EXPERIMENT.plan(P)) + len(extra)


@pytest.mark.parametrize("change, fix", [({"initial_train_per_class": 0}, "set both above 0"),
                                         ({"scale_trend": [1.0, 2.0]}, "must not hold 1"),
                                         ({"scale_trend": [6.0]}, "more than its smallest class")])  # fmt: skip
def test_a_scale_trend_it_cannot_run_stops_before_training(change, fix):
    with pytest.raises(experiments.ParameterError, match=f"scale_trend.*{fix}"):
        EXPERIMENT.Params(**{**PT.as_dict(), **change})


@pytest.mark.parametrize("gaps, moves, end", [
    (NARROWING, "narrows", "reaches the paper's within 2 SE at the largest"),
    ({0.25: 1.0, 0.5: 8.0, 2.0: 2.90}, "narrows", "reaches"),  # judged from the chapter's scale, not the smallest
    ({0.25: 8.0, 0.5: 6.0, 2.0: 1.0}, "narrows", "falls 2.00 points below the paper's"),  # beyond 2 SE below
    ({0.25: 4.5, 0.5: 4.5, 2.0: 4.5}, "does not change beyond 2 SE", "is still"),
    ({0.25: 2.0, 0.5: 3.0, 2.0: 6.0}, "widens", "is still"),
])  # fmt: skip
def test_the_scale_trend_says_whether_table_2s_gap_closes(gaps, moves, end):
    """The chapter's network (4.5 points above its individual networks) between the trend's: the clause walks the
    gap from the smallest scale to the largest and judges the largest against the paper's 2.90 by the size rule."""
    row = _trend_row(gaps)
    clause = row["reason"].split("; scale trend")[1]
    assert "250/25 -> 500/50 -> 1000/100 -> 2000/200" in clause
    assert "PackNet's error as a multiple of the Individual Networks' " in clause and "(the paper's 1.19)" in clause
    assert f"from the chapter's scale to the largest it {moves}" in clause and f"and {end}" in clause
    slope = float(clause.split(" points per doubling")[0].split(", ")[-1])
    if sorted(gaps.values()) in (list(gaps.values()), list(gaps.values())[::-1]):  # a monotone trend: its sign
        assert (slope < 0) == (moves == "narrows") and (slope > 0) == (moves == "widens")


def test_the_scale_trend_adds_its_records_to_table_2s_row_and_changes_no_status():
    records = _records(params=PT, trend_gaps=NARROWING)
    row = _trend_row(NARROWING, indiv_gap=(2.90, 1.75))
    trend = {r["key"] for r in records if str(r["config"].get("network_variant", "")).startswith("scale_x")}
    assert trend <= set(row["records"].split()) and len(trend) == 3 * 17
    assert "; scale trend: " in row["data and scale"] and "initial 250/500/1000/2000" in row["data and scale"]
    assert _statuses(params=PT, trend_gaps=NARROWING) == _statuses()
    assert "scale trend" not in next(r for r in report.claims(_records(), P)
                                     if r["claim"].startswith(CLAIMS["near individual"]))["reason"]  # fmt: skip


def test_the_scale_trend_figure_and_table_show_each_network_once():
    records = _records(params=PT, trend_gaps=NARROWING)
    table = figures_trend.table_gap_trend(records, PT)
    assert list(table.index) == [(250, 25), (500, 50), (1000, 100), (2000, 200)]
    assert "initial 250/500/1000/2000" in figures_trend.trend_caption(records, PT)
    assert list(table["PackNet runs"]) == [6, 6, 6, 6]  # P runs once per order; each trend network once per order
    fig = figures_trend.fig_gap_trend(records, PT)
    title = fig._suptitle.get_text().replace("\n", " ")
    assert "initial 250/500/1000/2000, added 25/50/100/200" in title and "1 run(s)/order" in title
    bars = [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1 and list(bars[0].lines[0].get_ydata()) == pytest.approx(
        list(figures_trend.trend_frame(records, PT)["gap (points)"]))  # fmt: skip
    plt.close(fig)
    assert figures_trend.table_gap_trend(_records(), P).empty  # no trend: nothing drawn from the chapter alone
    assert figures.table_errors(records, PT).equals(figures.table_errors(_records(), P))  # the chapter's own only


def test_a_trend_network_whose_individual_networks_are_not_recorded_yet_is_left_out():
    records = _records(params=PT, trend_gaps=NARROWING)
    partial = Records([r for r in records if not (r["kind"] == "single_task"
                                                  and r["config"].get("network_variant") == "scale_x2")])  # fmt: skip
    assert list(figures_trend.trend_frame(partial, PT).factor) == [0.25, 0.5, 1.0]


def test_table_2s_caption_counts_the_runs_of_every_column():
    """Three PackNet runs per order, but one LwF run per order and variant and one per-task batch-norm run: the
    caption says 1/3 (it said 3, counting PackNet's frozen-batch-norm runs alone); LwF's epochs are its own (it does
    not retrain), and the per-task batch-norm column's records are among the table's."""
    three = EXPERIMENT.Params(**{**P.as_dict(), "runs_per_order": 3})
    records = _records(params=three)
    caption = figures.caption(records, three, "table2")
    assert "; 1/3 run(s)/order, an order's runs stacked as one network;" in caption, caption  # the default stacks
    assert "added tasks 8+3 ep, LwF 8/20 ep," in caption, caption
    unstacked = EXPERIMENT.Params(**{**three.as_dict(), "stack_runs": False})
    assert "; 1/3 run(s)/order;" in figures.caption(_records(params=unstacked), unstacked, "table2")
    shown = figures.shown(records, three, "table2")
    assert any(r["kind"] == "packnet" and r["config"].get("batchnorm_per_task") for r in shown)


# -- an order's runs stacked as one network (issue 27, point 2) -----------------------------------------------
def _without_runs(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "runs"}


def test_stacking_groups_an_orders_runs_and_off_keeps_every_key():
    three = EXPERIMENT.Params(**{**P.as_dict(), "runs_per_order": 3})
    stacked = [r.config for r in EXPERIMENT.plan(three) if r.kind == "packnet"]
    off = [r.config for r in EXPERIMENT.plan(EXPERIMENT.Params(**{**three.as_dict(), "stack_runs": False}))
           if r.kind == "packnet"]  # fmt: skip
    grouped = [c for c in stacked if "runs" in c]
    assert len(grouped) == 6 * (len(three.schedules) + 1)  # every schedule's and the separate biases', 6 orders each
    assert all(c["runs"] == [0, 1, 2] and c["run"] == 0 for c in grouped)
    assert [c for c in stacked if "runs" not in c] == [c for c in off if c.get("batchnorm_per_task")]  # one per order
    assert not [c for c in off if "runs" in c] and len(off) == 3 * len(grouped) + 6
    assert all(_without_runs(c) in off for c in grouped)  # a stack's config is its first run's, plus ``runs``
    c = EXPERIMENT.PackNetRun.from_config(grouped[0])
    assert EXPERIMENT.settings(c, "finetune", 3).lr == pytest.approx(3 * c.finetune_lr)  # the stacked loss averages
    assert EXPERIMENT.settings(c, "retrain").lr == pytest.approx(c.retrain_lr)


def test_a_stacked_run_measures_each_run_as_its_own_and_reads_as_one_record_per_run(tmp_path):
    import torch

    from cl_utils.experiments.cache import RunCache
    from cl_utils.experiments.runs import RunContext

    p = EXPERIMENT.Params.from_values({"runs_per_order": 2}, experiments.preset("01", "smoke"))
    run = next(r for r in EXPERIMENT.plan(p) if r.kind == "packnet" and "runs" in r.config)
    ctx = RunContext(torch.device("cpu"), "synthetic", RunCache(EXPERIMENT.CHAPTER, tmp_path), EXPERIMENT.CODE_VERSION,
                     data_ids={d: {"id": d} for d in run.datasets})  # fmt: skip
    out = EXPERIMENT.run_packnet(EXPERIMENT.PackNetRun.from_config(run.config), ctx)
    alone = EXPERIMENT.run_packnet(EXPERIMENT.PackNetRun.from_config(_without_runs(run.config)), ctx)
    assert len(out["per_run"]) == 2
    for own in out["per_run"]:
        assert own.keys() == alone.keys() and own["usage"] == alone["usage"]  # the same exact prunes, per model
        assert (own["mask_bytes_uint8"], own["mask_bits"]) == (alone["mask_bytes_uint8"], alone["mask_bits"])
        assert [len(s["accuracies"]) for s in own["steps"]] == [2, 3, 4]
        assert all(isinstance(a, float) for s in own["steps"] for a in [*s["accuracies"], s["before_prune"]])
        assert len({s["accuracies"][0] for s in own["steps"]}) == 1  # the initial task: never forgotten
    stacked = Records([{"kind": "packnet", "key": "k", "config": run.config, "metrics": out,
                        "data": [{"dataset": d, "source": "synthetic"} for d in run.datasets]}])
    views = records_of.packnet(stacked, run.config["schedule"])
    assert [v["config"]["run"] for v in views] == [0, 1] and {v["key"] for v in views} == {"k"}
    assert [v["metrics"] for v in views] == out["per_run"]
    order = tuple(run.config["order"])
    assert list(records_of.by_order(stacked, run.config["schedule"])) == [(order, 0), (order, 1)]
    assert "2 run(s)/order, an order's runs stacked as one network" in records_of.scale(views)

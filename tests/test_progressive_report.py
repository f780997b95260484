"""Chapter 04's claim rules, driven by synthetic records on both sides of each threshold, and its figures and
tables, drawn from records whose configs differ from the parameters (their captions must follow the records)."""
from __future__ import annotations

import hashlib

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cl_utils import claims, experiments  # noqa: E402
from cl_utils.experiments import progressive_figures as figures  # noqa: E402
from cl_utils.experiments import progressive_report as report  # noqa: E402
from cl_utils.experiments.runs import Records  # noqa: E402

P = experiments.load("04").Params(fig2a_adapters=["none", "unlearned", "learned"], prune_fractions=[0.5, 0.9])
SEEDS = [0, 1, 2]
NOISE = np.array([0.05, -0.04, 0.0])  # per seed, shared by paired arms
JITTER = {"progressive pruned": [0.0, 0.0, 0.0], "unlinked pruned": [0.2, -0.2, 0.05],
          "random-input pruned": [-0.15, 0.2, 0.0]}  # each arm's own noise: paired differences spread ~0.2
CONFIG_A = {"num_epochs": 10, "lr": 0.1, "momentum": 0.5, "batch_size": 64,
            "hidden": [[1024, 256], [128, 64], [32, 16]]}  # fmt: skip
CONFIG_B = {"num_epochs": 10, "rgb_dataset": "cifar10", "hidden": [128, 64], "scope": "global", "adapter_width": 0}


def _record(kind: str, config: dict, metrics: dict, datasets: tuple[str, ...], source: str) -> dict:
    key = hashlib.sha256(repr((kind, sorted(config.items()))).encode()).hexdigest()[:16]  # 16 hex, as a run's
    return {"kind": kind, "key": key, "config": config, "metrics": metrics,
            "data": [{"dataset": d, "source": source} for d in datasets]}  # fmt: skip


def _fig2b(config: dict, network: str, f: float, s: int, parameters: int, error: float, source: str,
           growth: float = 0.0) -> dict:  # fmt: skip
    """A Fig. 2(b) record: each task at the same test error (%); training accuracy 10 points above the test's;
    column k keeps ``growth`` x k more parameters than the first (its adapters from the earlier columns)."""
    test = 1 - error / 100
    first = parameters / (3 + 3 * growth)  # the three columns add up to ``parameters``
    columns = [{"history": [], "retrain_history": [{"train_acc": min(test + 0.1, 1.0)}],
                "params_nonzero": round(first * (1 + growth * k))} for k in range(3)]  # fmt: skip
    return _record("fig2b", {**config, "network": network, "fraction": f, "seed": s},
                   {"final_test_acc": [test] * 3, "mean_test_error": error / 100, "params_nonzero": parameters,
                    "columns": columns}, ("mnist", config["rgb_dataset"]), source)  # fmt: skip


def _records(gap: float, noise_gap: float, step: float, config_a: dict = CONFIG_A, config_b: dict = CONFIG_B,
             source: str = "file", growth: float = 0.0) -> Records:  # fmt: skip
    """Records where progressive beats unlinked by ``gap`` points of error, random-input errs ``noise_gap`` more
    than both, and learned adapters add ``step`` points per column (the others lose 1 point per column)."""
    items = [_record("fig2a", {**config_a, "adapter": a, "seed": s},
                     {"final_test_acc": [(88 + n + k * (step if a == "learned" else -1.0)) / 100 for k in range(3)]},
                     ("fashion_mnist",), source)
             for s, n in zip(SEEDS, NOISE) for a in P.fig2a_adapters]  # fmt: skip
    for s, n in zip(SEEDS, NOISE):
        for f in P.prune_fractions:
            base = 36 + n + 3 * s  # seeds differ a lot: only pairing makes the gaps measurable
            for network, err in (("progressive pruned", base), ("unlinked pruned", base + gap),
                                 ("random-input pruned", base + max(gap, 0) + noise_gap)):  # fmt: skip
                items.append(_fig2b(config_b, network, f, s, int(1e6 * (1 - f)), err + JITTER[network][s], source,
                                    growth))  # fmt: skip
        items.append(_fig2b(config_b, "unlinked unpruned", 0.0, s, 930_270, 45.0, source))
    return Records(items)


def _statuses(gap, noise_gap, step):
    return [row["status"] for row in report.claims(_records(gap, noise_gap, step), P)]


def test_claims_are_reproduced_when_every_difference_has_the_papers_sign_beyond_the_noise():
    assert _statuses(gap=1.0, noise_gap=1.0, step=0.5) == ["reproduced"] * 6 + ["not attempted"]  # no conv variant


def test_claims_are_not_reproduced_when_the_differences_are_reversed():
    statuses = _statuses(gap=-1.0, noise_gap=-2.0, step=-0.5)
    assert statuses[1] == "partly"  # learned adapters lose (2 parts reversed), the other 4 parts hold
    assert statuses[2] == "not reproduced" and statuses[3] == "not reproduced"


def test_differences_inside_the_noise_are_inconclusive():
    statuses = _statuses(gap=0.01, noise_gap=0.01, step=1.0)
    assert statuses[2] == "inconclusive" and statuses[3] == "inconclusive"


def test_each_row_names_the_records_it_rests_on():
    records = _records(gap=1.0, noise_gap=1.0, step=0.5)
    rows = report.claims(records, P)
    claims.claims_frame([{**row, "command": "make"} for row in rows])  # only the "not attempted" row rests on none
    keys = [row["records"].split() for row in rows]
    # the unpruned run counted; 3 adapter kinds x 3 seeds; 2 networks (3 for random inputs) x 2 levels x 3 seeds;
    # the Pareto front of every Fig. 2(b) run; the first seed's progressive runs (one per level); none
    assert [len(k) for k in keys] == [1, 9, 12, 18, 21, 2, 1] and keys[-1] == [claims.NO_RECORDS]
    by_key = {r["key"]: r for r in records}
    assert by_key[keys[0][0]]["config"]["network"] == "unlinked unpruned"
    assert {by_key[k]["config"]["network"] for k in keys[2]} == {"progressive pruned", "unlinked pruned"}
    assert {(by_key[k]["config"]["network"], by_key[k]["config"]["seed"]) for k in keys[5]} == {
        ("progressive pruned", 0)}  # fmt: skip


def test_a_run_without_its_partner_is_not_among_a_paired_rows_records():
    """Progressive against unlinked is paired by seed: where unlinked lacks seed 2 at p = 0.9, the progressive run of
    that seed and level enters neither the comparison nor the row's records."""
    full = _records(gap=1.0, noise_gap=1.0, step=0.5)
    lost = next(r for r in full if r["kind"] == "fig2b" and r["config"]["network"] == "unlinked pruned"
                and r["config"]["fraction"] == 0.9 and r["config"]["seed"] == 2)  # fmt: skip
    records = Records([r for r in full if r is not lost])
    row = report.claims(records, P)[2]
    named = {(r["config"]["network"], r["config"]["fraction"], r["config"]["seed"])
             for r in records if r["key"] in row["records"].split()}  # fmt: skip
    assert len(named) == 10 and ("progressive pruned", 0.9, 2) not in named
    assert ("progressive pruned", 0.5, 2) in named  # the other level keeps its pair


def test_the_parameters_select_the_records_the_claims_read():
    records = _records(gap=1.0, noise_gap=1.0, step=0.5)
    one_level = experiments.load("04").Params(fig2a_adapters=["learned"], prune_fractions=[0.9], fig2b_seeds=[0, 1])
    rows = report.claims(records, one_level)
    assert rows[1]["this book"].startswith("learning Conn: ") and "No Conn" not in rows[1]["this book"]
    assert "p=0.9" in rows[2]["this book"] and "p=0.5" not in rows[2]["this book"]
    assert "2 seeds" in rows[2]["reason"] and "2 seed(s)" in rows[2]["data and scale"]


# records at another scale than the parameters (P keeps the paper's defaults: SVHN, (128, 64), 10 epochs, global)
OTHER_A = {"num_epochs": 3, "lr": 0.05, "momentum": 0.9, "batch_size": 32, "hidden": [[64, 32], [32, 16], [16, 8]]}
OTHER_B = {"num_epochs": 4, "rgb_dataset": "fashion_mnist", "hidden": [16, 8], "scope": "layer", "adapter_width": 0}


def test_every_figure_and_table_renders_and_its_captions_come_from_the_records():
    records = _records(gap=1.0, noise_gap=1.0, step=0.5, config_a=OTHER_A, config_b=OTHER_B)
    line_a, line_b = report.scale_a(records, P), report.scale_b(records, P)
    assert line_a == ("real Fashion-MNIST; 3 epochs per column, SGD lr 0.05, momentum 0.9, batch 32; 3 seed(s), "
                      "mean ± s.e.m.")  # fmt: skip
    assert "-> Fashion-MNIST 28 px -> Flip-Fashion-MNIST" in line_b
    assert "columns (16, 8); 4 epochs, prune (layer threshold), 4 epochs; 3 seed(s)" in line_b

    fig = figures.fig_columns(records, P)
    ax = fig.axes[0]
    assert line_a in ax.get_title() and "(1024, 256)" not in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["column 1\n(64, 32)", "column 2\n(32, 16)",
                                                            "column 3\n(16, 8)"]  # fmt: skip
    assert all("(n = 3)" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close(fig)

    fig = figures.fig_error_vs_parameters(records, P)
    ax = fig.axes[0]
    assert line_b in ax.get_title() and "(128, 64)" not in ax.get_title() and "-> SVHN" not in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "progressive pruned (n = 3)" in legend and "unlinked unpruned (n = 3)" in legend
    top = next(a for a in ax.child_axes if a.get_xlabel() == "pruning fraction p")
    fig.canvas.draw()
    assert [t.get_text() for t in top.get_xticklabels()] == ["p = 0.9", "p = 0.5", "unpruned"]
    plt.close(fig)

    counts = figures.table_counts(records, P)
    assert counts.loc["total", "none"] == 3 * (2352 * 16 + 16 + 16 * 8 + 8 + 8 * 10 + 10)  # the records' widths
    assert "columns of [16, 8]" in figures.counts_note(records, P)
    assert list(figures.table_columns(records, P).index) == ["No Conn (unlinked)", "learning Conn", "unlearned Conn"]
    means = figures.table_error_vs_parameters(records, P)
    assert len(means) == 7 and set(means.p) == {"0.5", "0.9", "0"}
    assert list(figures.table_per_task(records, P).columns) == ["MNIST error (%)", "Fashion-MNIST error (%)",
                                                                "Flip-Fashion-MNIST error (%)"]  # fmt: skip
    means_line = line_b.replace("mean ± s.e.m.", figures.MEANS_ONLY)  # tables of means: no s.e.m.
    assert means_line in figures.per_task_note(records, P) and means_line in figures.fit_note(records, P)
    fit = figures.table_fit(records, P)
    assert len(fit) == 7 and (fit["gap (points)"] == 10.0).all() and (fit["n"] == 3).all()


def test_synthetic_records_say_so_and_disagreeing_records_share_no_caption():
    records = _records(gap=1.0, noise_gap=1.0, step=0.5, source="synthetic")
    assert report.scale_a(records, P).startswith("SYNTHETIC") and report.scale_b(records, P).startswith("SYNTHETIC")
    mixed = Records(_records(gap=1.0, noise_gap=1.0, step=0.5).items
                    + _records(gap=1.0, noise_gap=1.0, step=0.5, config_b=OTHER_B).items)  # fmt: skip
    with pytest.raises(ValueError, match="'rgb_dataset'"):
        report.scale_b(mixed, P)


def test_matched_pruned_networks_of_unequal_size_are_refused():
    records = _records(gap=1.0, noise_gap=1.0, step=0.5)
    next(r for r in records if r["config"].get("network") == "unlinked pruned")["metrics"]["params_nonzero"] += 1
    with pytest.raises(ValueError, match="differ in size"):
        report.frame_b(records, P)


@pytest.mark.parametrize("growth, status", [(0.0, "reproduced"), (-0.1, "reproduced"), (0.043, "not reproduced")])
def test_parameter_growth_is_linear_when_no_task_costs_more_than_the_one_before(growth, status):
    """Each column keeps the same share of itself and its adapters from every earlier column: the committed runs'
    columns cost 4.3 % more per task (quadratic growth); pruning later columns harder makes it linear."""
    rows = report.claims(_records(gap=1.0, noise_gap=1.0, step=0.5, growth=growth), P)
    row = next(r for r in rows if r["claim"].startswith("Abstract, Section 2: pruning each column"))
    assert row["status"] == status, row
    if growth > 0:
        assert "4.1-4.3 % more" in row["reason"], row["reason"]


def test_a_table_of_means_and_an_exact_count_do_not_claim_an_sem():
    """The per-task table and the fit table show means only, and the growth row reads one seed's exact counts:
    their scale lines must not say "± s.e.m." (the figure's, with error bars, does)."""
    records = _records(gap=1.0, noise_gap=1.0, step=0.5, config_a=OTHER_A, config_b=OTHER_B)
    assert "mean ± s.e.m." in report.scale_b(records, P)
    for note in (figures.per_task_note(records, P), figures.fit_note(records, P)):
        assert "s.e.m." not in note.replace("(no s.e.m.)", "") and "means only" in note
    growth = next(r for r in report.claims(records, P) if "linear in the number of tasks" in r["claim"])
    assert "s.e.m." not in growth["data and scale"] and "exact counts of seed" in growth["data and scale"]


# -- seeds stacked as one network (issue 27, point 2) --------------------------------------------------------
def _stacked(records: Records) -> Records:
    """The same runs as stacked records: one per configuration, its seeds in ``seeds``, results in ``per_seed``."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        rest = {k: v for k, v in r["config"].items() if k != "seed"}
        groups.setdefault(repr((r["kind"], sorted(rest.items()))), []).append(r)
    return Records([{**g[0], "config": {**g[0]["config"], "seeds": [r["config"]["seed"] for r in g]},
                     "metrics": {"per_seed": [r["metrics"] for r in g]}} for g in groups.values()])


def test_stacked_records_read_as_one_record_per_seed_and_the_scale_lines_say_so():
    plain = _records(gap=1.0, noise_gap=1.0, step=0.5)
    stacked = _stacked(plain)
    assert len(stacked.items) < len(plain.items) and all("seeds" in r["config"] for r in stacked)
    strip = lambda rows: [{k: v for k, v in row.items() if k not in ("records", "data and scale")}  # noqa: E731
                          for row in rows]
    assert strip(report.claims(stacked, P)) == strip(report.claims(plain, P))
    ordered = lambda frame: frame.sort_values(["network", "p", "seed"]).reset_index(drop=True)  # noqa: E731
    assert ordered(report.frame_b(stacked, P)).equals(ordered(report.frame_b(plain, P)))
    assert "3 seed(s), stacked as one network" in report.scale_b(stacked, P)
    assert "3 seed(s), stacked as one network" in report.scale_a(stacked, P)
    assert "stacked" not in report.scale_b(plain, P)


def test_stacking_groups_a_configurations_seeds_and_off_keeps_every_key():
    module = experiments.load("04")
    stacked = module.plan(module.Params(**{**P.as_dict(), "fig2b_seeds": [0, 1, 2], "stack_seeds": True}))
    off = module.plan(module.Params(**{**P.as_dict(), "fig2b_seeds": [0, 1, 2], "stack_seeds": False}))
    assert all(r.config["seeds"] == r.config.get("seeds") and r.config["seed"] == r.config["seeds"][0]
               for r in stacked)  # fmt: skip
    assert not [r for r in off if "seeds" in r.config] and len(off) == sum(len(r.config["seeds"]) for r in stacked)
    one = lambda c: repr(sorted((k, v) for k, v in c.items() if k != "seeds"))  # noqa: E731
    assert {one(r.config) for r in stacked} <= {repr(sorted(r.config.items())) for r in off}  # the first seed's own
    c = module.Fig2bRun.from_config(next(r.config for r in stacked if r.kind == "fig2b"))
    assert module.settings(c, 3).lr == pytest.approx(3 * c.lr) and module.settings(c).lr == pytest.approx(c.lr)

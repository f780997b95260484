"""Chapter 01's figures and tables, drawn from the records alone.

Every label, caption and scale line is read from the records (their configs, metrics and data sources, through
:mod:`.packnet_records`), never from the parameters the notebook was run with, so a caption cannot describe other
runs than the ones it shows: :func:`shown` says which records each figure and table rests on (the parameters only
pick the schedules, and the first of them), and its scale line is built from exactly those.
"""
from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .. import plots
from ..models import VGG16_LAYOUT
from ..verdicts import seed_se
from .runs import Records
from .packnet_runs import WITHOUT_BN, Params
from .describe import suptitle
from .packnet_records import carved, chapter_network, chapter_runs, err, fig4_seeds, final_errors, initial_error, \
    label, lwf, network_runs, packnet, pruned, scale, tasks
from .packnet_frames import PAPER_TABLE2, PAPER_TABLE6, batchnorm_frame, fig4_table, fig5_frame, order_frame, \
    table2, table6, without_bn_frame

__all__ = ["PAPER_SIZES", "PAPER_TABLE5", "PAPER_CAPTIONS", "shown", "caption", "initial_note", "table_errors",
           "table_paper", "fig_forgetting", "fig_order", "table_order", "fig_pruning", "table_pruning",
           "table_biases", "table_batchnorm", "table_without_batchnorm", "fig_layers", "table_layers", "table_filters",
           "storage_note", "table_storage"]  # fmt: skip

PAPER_SIZES = {"Classifier Only": "1 (562 MB)", "LwF": "1 (562 MB)", "PackNet 0.50, 0.75, 0.75": "1 (595 MB)",
               "PackNet 0.75, 0.75, 0.75": "1 (595 MB)", "Individual Networks": "4 (2,173 MB)"}  # fmt: skip
PAPER_TABLE5 = pd.DataFrame({"separate bias": [25.62, 18.17, 10.11], "shared bias": [25.72, 18.08, 10.09]},
                            index=pd.Index(["CUBS", "Stanford Cars", "Flowers"], name="paper's task"))
PAPER_CAPTIONS = {
    "table2": "Table 2 (paper): top-1 error (%) on ImageNet-trained VGG-16; PackNet averaged over 18 runs (6 orders x 3)",
    "table5": "The paper's Table 5, on its own tasks (fine-grained datasets on an ImageNet-trained VGG-16, not ours):",
    "table6": "The paper's Table 6, on its own tasks (ImageNet-trained VGG-16; filters pruned 30 % by Taylor "
              "criterion, weights 50 %):",
}  # fmt: skip


# ------------------------------------------------------------------------------------------- records and captions
def _first_order(records: Records, p: Params) -> tuple[dict, dict]:
    """Figure 2's runs: the first PackNet run of the first schedule, and the LwF run of the same order."""
    pk = packnet(records, p.schedules[0])[0]
    return pk, next(r for r in lwf(records, p) if r["config"]["order"] == pk["config"]["order"])


def shown(records: Records, p: Params, what: str) -> list[dict]:
    """The records a figure or table rests on: 'initial', 'table2', 'fig2', 'fig3', 'fig4', 'table5', 'batchnorm',
    'without_bn', 'fig5', 'table6', 'storage', 'claims' (every record). Figure 4 rests on every seed of the initial
    network, 'without_bn' on the network without batch-norm, the claims on all of them, the others on the chapter's
    own network."""
    every, records = records, chapter_runs(records, p)
    weights = records.where("initial_pruned", rule="weights")
    base = records.where("initial")
    first = lambda s: [r for r in weights if r["config"]["fraction"] == s[0]]  # noqa: E731
    fig4 = records.where("fig4")

    def fig4_runs(runs: Records) -> list[dict]:  # one seed's initial network, its stages Fig. 4 reads, its runs
        fractions = {f for r in runs.where("fig4") for f in r["config"]["fractions"]}
        return runs.where("initial") + [r for r in runs.where("initial_pruned", rule="weights")
                                        if r["config"]["fraction"] in fractions] + runs.where("fig4")  # fmt: skip

    return {
        "initial": lambda: base + weights,
        "table2": lambda: base + records.where("single_task") + records.where("lwf")
        + [r for s in p.schedules for r in first(s) + packnet(records, s)]
        + packnet(records, p.schedules[0], batchnorm_per_task=True),  # its per-task batch-norm column
        "fig2": lambda: list(_first_order(records, p)),
        "fig3": lambda: packnet(records, p.schedules[0]),
        "fig4": lambda: [r for runs in fig4_seeds(every, p) for r in fig4_runs(runs)],
        "table5": lambda: packnet(records, p.schedules[0]) + packnet(records, p.schedules[0], True),
        "batchnorm": lambda: [r for r in packnet(records, p.schedules[0]) if r["config"]["run"] == 0]
        + packnet(records, p.schedules[0], batchnorm_per_task=True) + records.where("single_task", method="individual")
        + base,
        "without_bn": lambda: list(network_runs(every, p.seed, WITHOUT_BN)),
        "fig5": lambda: base + records.where("initial_pruned", rule="weights", fraction=0.5) + records.where("fig5"),
        "table6": lambda: base + records.where("single_task", method="classifier_only")
        + records.where("initial_pruned", rule="filters") + records.where("initial_pruned", rule="taylor")
        + records.where("filter_task")
        + records.where("initial_pruned", rule="weights", fraction=0.5) + fig4,
        "storage": lambda: packnet(records, p.schedules[0])[:1],
        "claims": lambda: list(every),
    }[what]()  # fmt: skip


def caption(records: Records, p: Params, what: str) -> str:
    """A table's caption: what it shows, then the scale of the records it rests on (:func:`shown`)."""
    schedule = packnet(records, p.schedules[0])[0]["config"]["schedule"]
    head = {"table2": "Table 2 (this book): top-1 test error (%)",
            "table5": f"Table 5 (analogue): top-1 error (%), PackNet {schedule}, mean over orders",
            "table6": "Table 6 (analogue): top-1 error (%)",
            "batchnorm": f"Per-task batch-norm: top-1 error (%), PackNet {schedule}, run 0 of each order, mean over "
                         "the orders",
            "without_bn": f"Table 2 like for like without batch-norm: top-1 error (%), PackNet {schedule}, run 0 of "
                          "each order, mean over the orders, and the individual networks, all from one initial "
                          "network without batch-norm",
            "claims": "The claims below rest on every record of the chapter"}[what]  # fmt: skip
    return f"{head}; {scale(shown(records, p, what))}"


@chapter_network
def initial_note(records: Records, p: Params) -> str:
    """The initial network's error unpruned, and right after each pruning and after retraining."""
    lines = [scale(shown(records, p, "initial")),
             f"initial task ({tasks(records)[0]}), unpruned: test error {initial_error(records):.2f} %"]
    for f, m in pruned(records).items():
        lines.append(f"  pruned {f:.0%} per layer: {err(m['after_prune']):.2f} % right after pruning, "
                     f"{err(m['after_retrain']):.2f} % after retraining")  # fmt: skip
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ tables 2, 5, 6
@chapter_network
def table_errors(records: Records, p: Params) -> pd.DataFrame:
    """Table 2: final error of every task per method, and each method's number of models and size."""
    return table2(records, p)


def table_paper(which: str) -> pd.DataFrame:
    """The paper's Table 2 (with its sizes), 5 or 6 ('table2', 'table5', 'table6'): its own tasks, not ours."""
    if which == "table2":
        return pd.concat([PAPER_TABLE2.astype(object), pd.DataFrame([PAPER_SIZES], index=["# models (size)"])])
    return {"table5": PAPER_TABLE5, "table6": PAPER_TABLE6}[which]


@chapter_network
def table_biases(records: Records, p: Params) -> pd.DataFrame:
    """Table 5: separate vs. shared biases (first schedule, mean over orders and runs)."""
    first, stand_ins, added = p.schedules[0], carved(list(records)), tasks(records)[1:]
    shared, separate = final_errors(records, first), final_errors(records, first, True)
    return pd.DataFrame({"separate bias": [np.mean(separate[d]) for d in added],
                         "shared bias": [np.mean(shared[d]) for d in added]},
                        index=[label(d, stand_ins) for d in added]).round(2)  # fmt: skip


@chapter_network
def table_batchnorm(records: Records, p: Params) -> pd.DataFrame:
    """Frozen against per-task batch-norm, run 0 of each order, beside the individual networks."""
    return batchnorm_frame(records, p.schedules[0]).round(2)


def table_without_batchnorm(records: Records, p: Params) -> pd.DataFrame:
    """Table 2 like for like, without batch-norm, beside the chapter's batch-norm network
    (:func:`.without_bn_frame`)."""
    return without_bn_frame(records, p)


@chapter_network
def table_filters(records: Records, p: Params) -> pd.DataFrame:
    """Table 6: Classifier Only, filter pruning and weight pruning, per task."""
    return table6(records, p)


# ------------------------------------------------------------------------------------------------------ Figure 2
@chapter_network
def fig_forgetting(records: Records, p: Params) -> plt.Figure:
    """Figure 2: the error of every task learned so far after each added task, LwF and PackNet, first order."""
    pk, lw = _first_order(records, p)
    stand_ins = carved(list(records))
    names = [label(n, stand_ins) for n in [pk["config"]["initial_dataset"], *pk["config"]["order"]]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    panels = [("LwF", lw["metrics"]["accuracies"]),
              (f"PackNet {pk['config']['schedule']}", [s["accuracies"] for s in pk["metrics"]["steps"]])]
    for ax, (title, rows) in zip(axes, panels):
        for j, name in enumerate(names):
            xs = [i + 1 for i in range(len(rows)) if len(rows[i]) > j]
            ax.plot(xs, [err(rows[i][j]) for i in range(len(rows)) if len(rows[i]) > j], marker="o", label=name)
        ax.set(title=title, xlabel="number of added tasks", xticks=range(1, len(rows) + 1),
               ylabel="top-1 test error (%)")  # fmt: skip
    axes[1].legend(title="task", fontsize=8)
    suptitle(fig, f"Figure 2 (analogue): error of earlier tasks as tasks are added; order {' → '.join(names)}",
              scale(shown(records, p, "fig2")))  # fmt: skip
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------------ Figure 3
def _error_bar_note(frame: pd.DataFrame) -> str:
    """What Figure 3's bars and error bars are: the runs of a bar are independent (:func:`.packnet_runs.packnet_seed`
    gives each order and run its own seed)."""
    sizes = "/".join(map(str, sorted(set(frame.groupby(["task", "position"]).size()))))
    return (f"bars: mean over the {sizes} run(s) with the task at that position (each order and run its own seed), "
            "± 1 s.e. over them")


@chapter_network
def fig_order(records: Records, p: Params) -> plt.Figure:
    """Figure 3: error of each added task by its position in the order (first schedule), with what the error
    bars are (:func:`_error_bar_note`)."""
    frame = order_frame(records, p)
    names, positions = list(dict.fromkeys(frame.task)), sorted(frame.position.unique())
    fig, ax = plt.subplots(figsize=(10, 4.6))
    width, xs = 0.8 / len(positions), np.arange(len(names))
    for k, pos in enumerate(positions):
        cells = [frame[(frame.task == t) & (frame.position == pos)] for t in names]
        means = np.array([c.error.mean() for c in cells])
        ses = np.array([seed_se(c.error.tolist()) for c in cells])
        x = xs + (k - (len(positions) - 1) / 2) * width
        ax.bar(x, means, width, color=plots.PALETTE[k], label=str(pos))
        has = ~np.isnan(ses)  # one distinct run: no spread to show
        if has.any():
            ax.errorbar(x[has], means[has], yerr=ses[has], fmt="none", ecolor="black", elinewidth=1, capsize=4)
    ax.set(xticks=xs, xticklabels=names, xlabel="added task", ylabel="top-1 test error (%)")
    ax.legend(title="added as task #", fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    schedule = packnet(records, p.schedules[0])[0]["config"]["schedule"]
    suptitle(fig, f"Figure 3 (analogue): error vs. position in the order, PackNet {schedule}\n"
                   f"{_error_bar_note(frame)}", scale(shown(records, p, "fig3")))  # fmt: skip
    fig.tight_layout()
    return fig


@chapter_network
def table_order(records: Records, p: Params) -> pd.DataFrame:
    """Figure 3's bars: mean final error per task and position."""
    frame = order_frame(records, p)
    return frame.groupby(["task", "position"]).error.mean().unstack().reindex(list(dict.fromkeys(frame.task))).round(2)


# ------------------------------------------------------------------------------------------------------ Figure 4
def fig_pruning(records: Records, p: Params) -> plt.Figure:
    """Figure 4: per task, the error before pruning (line), right after pruning (stars), after retraining (bars), each
    the mean over the seeds of the initial network; the bars' whiskers are the SE over the seeds (with several)."""
    frame = table_pruning(records, p).reset_index()
    seeds = int(frame.runs.min())
    fig, axes = plt.subplots(1, frame.task.nunique(), figsize=(12, 3.6), squeeze=False)
    for ax, (name, sub) in zip(axes[0], frame.groupby("task", sort=False)):
        xs = np.arange(len(sub))
        ax.bar(xs, sub.retrained, yerr=sub["retrained SE"] if seeds > 1 else None, capsize=3, color=plots.PALETTE[0],
               label="after retraining" + (f" (± SE over {seeds} seeds)" if seeds > 1 else ""))  # fmt: skip
        ax.scatter(xs, sub.pruned, marker="*", s=120, color=plots.PALETTE[3], zorder=3, label="right after pruning")
        ax.axhline(sub.before.iloc[0], color="black", ls="--", lw=1, label="before pruning")
        ax.set(xticks=xs, xticklabels=[f"{f:.0%}" for f in sub.fraction], title=name, xlabel="pruned per layer",
               ylim=(0, 1.1 * max(sub.pruned.max(), sub.retrained.max(), sub.before.iloc[0])))  # fmt: skip
    axes[0, 0].set_ylabel("top-1 test error (%)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.08),
               fontsize=8)  # fmt: skip
    suptitle(fig, "Figure 4 (analogue): error before pruning, right after pruning, after retraining"
             + (f"; mean over {seeds} seeds of the initial network" if seeds > 1 else ""),
              scale(shown(records, p, "fig4")))  # fmt: skip
    fig.tight_layout()
    return fig


def table_pruning(records: Records, p: Params) -> pd.DataFrame:
    """Figure 4's errors, the mean over the seeds of the initial network (:func:`.fig4_table`)."""
    return fig4_table(records, p)


# ------------------------------------------------------------------------------------------------------ Figure 5
@chapter_network
def fig_layers(records: Records, p: Params) -> plt.Figure:
    """Figure 5: each added task's error with its freed weights trained in the classifier, fc or all layers."""
    fig, ax = plt.subplots(figsize=(9, 4))
    sns.barplot(fig5_frame(records), x="task", y="error", hue="trained", ax=ax)
    ax.set(ylabel="top-1 test error (%)", xlabel="")
    ax.legend(title="freed weights trained", fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    suptitle(fig, "Figure 5 (analogue): adding a task to the 50%-pruned network", scale(shown(records, p, "fig5")))
    fig.tight_layout()
    return fig


@chapter_network
def table_layers(records: Records, p: Params) -> pd.DataFrame:
    return fig5_frame(records).pivot(index="task", columns="trained", values="error").round(2)


# ------------------------------------------------------------------------------------------------------- storage
@chapter_network
def storage_note(records: Records, p: Params) -> str:
    """The measured ownership map of the first PackNet run: bits per weight and the overhead, with its scale."""
    rec = packnet(records, p.schedules[0])[0]["metrics"]
    ours, packed = rec["mask_bytes_uint8"], rec["mask_bytes_packed"]
    return (f"packed owners: {rec['mask_bits']} bits per weight, {packed:,} bytes for {ours:,} weights "
            f"({8 * packed / ours:.3f} bits/weight; overhead {packed / (4 * ours):.4f} of the weights' size)\n"
            f"{scale(shown(records, p, 'storage'))}")  # fmt: skip


@chapter_network
def table_storage(records: Records, p: Params) -> pd.DataFrame:
    """The mask overhead: recomputed for the paper's VGG-16, measured on this chapter's network."""
    convs = [c for c in VGG16_LAYOUT if c != "M"]
    conv_weights = sum(cin * cout * 9 for cin, cout in zip([3] + convs[:-1], convs))
    vgg_weights = conv_weights + 512 * 7 * 7 * 4096 + 4096 * 4096  # conv1_1..conv5_3, fc6, fc7
    rec = packnet(records, p.schedules[0])[0]["metrics"]
    ours = rec["mask_bytes_uint8"]
    mb = lambda n: round(n / 1e6, 2)  # noqa: E731
    rows = [
        {"network": "VGG-16 (conv1_1-fc7), paper", "weights": vgg_weights, "weights MB (4 B each)": mb(4 * vgg_weights),
         "mask MB, 1 added task (1 bit)": mb(vgg_weights / 8), "mask MB, 3 added tasks (2 bits)": mb(vgg_weights / 4),
         "mask MB, uint8 per weight": mb(vgg_weights), "paper says": "537 MB; ~17 MB; ~34 MB"},
        {"network": "this chapter's network (measured)", "weights": ours, "weights MB (4 B each)": mb(4 * ours),
         "mask MB, 1 added task (1 bit)": "not measured", "mask MB, 3 added tasks (2 bits)": mb(rec["mask_bytes_packed"]),
         "mask MB, uint8 per weight": mb(ours), "paper says": ""},
    ]  # fmt: skip
    return pd.DataFrame(rows).set_index("network")

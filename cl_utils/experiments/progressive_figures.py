"""Chapter 04's figures and tables, drawn from the records alone.

Every label, caption and scale line is read from the records (their configs, metrics and data sources, through
:mod:`.progressive_report`), never from the parameters the notebook was run with, so a caption cannot describe
other runs than the ones it shows. The parameters only say which records belong where (adapter kinds, seeds,
pruning fractions).
"""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import NullLocator

from .. import plots
from ..progressive import ProgressiveNet
from .runs import Records
from .progressive_runs import Params
from .progressive_report import (ACCURACY, NAMES_A, frame_a, frame_b, runs_a, runs_b, scale_a, scale_b,
                                 summary_b, task_names, value)  # fmt: skip

__all__ = ["MEANS_ONLY", "counts_note", "table_counts", "fig_columns", "table_columns", "fig_error_vs_parameters",
           "table_error_vs_parameters", "per_task_note", "table_per_task", "fit_note", "table_fit"]  # fmt: skip

MEANS_ONLY = "means only (no s.e.m.)"  # the scale line's summary under a table of means
IN_FEATURES = 3 * 28 * 28  # Fig. 2(b)'s inputs: every task is 28 x 28 RGB
STYLES = {"progressive pruned": ("o", 0), "unlinked pruned": ("s", 1), "random-input pruned": ("^", 2),
          "unlinked unpruned": ("*", 3)}  # fmt: skip
DODGE = {"progressive pruned": 1.0, "unlinked pruned": 10**-0.025, "random-input pruned": 10**0.025,
         "unlinked unpruned": 1.0}  # x factors: networks of equal size drawn apart on the log axis  # fmt: skip


def _title(ax: plt.Axes, head: str, scale: str, width: int = 110) -> None:
    """The axes' title: what it shows, then the data and scale (each line wrapped to the figure's width)."""
    lines = [textwrap.fill(line, width) for line in scale.split("\n")]
    ax.set_title("\n".join([head, *lines]), fontsize=9)


def _n(counts: pd.Series) -> str:
    """'n = 2', or the range where the seeds differ between points."""
    lo, hi = int(counts.min()), int(counts.max())
    return f"n = {lo}" if lo == hi else f"n = {lo}-{hi}"


# ------------------------------------------------------------------------------------------ parameter counts
def counts_note(records: Records, p: Params) -> str:
    """The caption of :func:`table_counts`: the Fig. 2(b) records' column widths."""
    return (f"columns of {list(value(runs_b(records, p), 'hidden'))}, 28x28x3 inputs, 10 classes (paper: 930,270 "
            f"for the unlinked network)")  # fmt: skip


def table_counts(records: Records, p: Params) -> pd.DataFrame:
    """Dense parameters of each column (with its adapters) for each adapter kind, at the records' widths."""
    runs = runs_b(records, p)
    hidden, width = value(runs, "hidden"), value(runs, "adapter_width")

    def dense(adapter: str) -> list[int]:
        net = ProgressiveNet(IN_FEATURES, adapter, adapter_width=width or None)
        for _ in range(3):
            net.add_column(hidden, 10)
        return [net.column_count(k).total for k in range(3)]

    counts = pd.DataFrame({a: dense(a) for a in ("none", "unlearned", "learned")},
                          index=["column 1", "column 2 (+ adapters)", "column 3 (+ adapters)"])  # fmt: skip
    counts.loc["total"] = counts.sum()
    return counts


# ----------------------------------------------------------------------------------------------- Figure 2(a)
def fig_columns(records: Records, p: Params) -> plt.Figure:
    """Fig. 2(a): each column's test accuracy per adapter kind, mean ± s.e.m. over seeds (n in the legend)."""
    acc = frame_a(records, p)
    hidden = value(runs_a(records, p), "hidden")
    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    xs = np.arange(1, len(hidden) + 1)
    shown = [a for a in NAMES_A.values() if a in set(acc.adapter)]
    for i, name in enumerate(shown):
        sub = acc[acc.adapter == name].groupby("column")[ACCURACY]
        ax.errorbar(xs + (i - (len(shown) - 1) / 2) * 0.06, sub.mean(), yerr=sub.sem().fillna(0), marker="o",
                    capsize=3, label=f"{name} ({_n(sub.count())})")  # fmt: skip
    ax.set(xticks=xs, xticklabels=[f"column {k + 1}\n{tuple(h)}" for k, h in enumerate(hidden)],
           ylabel="test accuracy (%)", xlabel="column (hidden widths)")  # fmt: skip
    _title(ax, "Fig. 2(a): each column's test accuracy", scale_a(records, p))
    ax.legend(title="error bars: s.e.m. over n seeds", title_fontsize=8, fontsize=9)
    fig.tight_layout()
    return fig


def table_columns(records: Records, p: Params) -> pd.DataFrame:
    """Fig. 2(a) in numbers: mean and s.e.m. of each column's test accuracy (%) per adapter kind."""
    summary = frame_a(records, p).groupby(["adapter", "column"])[ACCURACY].agg(["mean", "sem"]).unstack("column")
    return summary.round(2)


# ----------------------------------------------------------------------------------------------- Figure 2(b)
def fig_error_vs_parameters(records: Records, p: Params) -> plt.Figure:
    """Fig. 2(b): mean test error against non-zero parameters, one line per network, each size labelled with its
    pruning fraction p (top axis), error bars labelled with their seeds n (legend), and the Pareto front."""
    summary = summary_b(records, p)
    summary["x"] = summary.parameters * summary.network.map(DODGE).fillna(1.0)
    fig, ax = plt.subplots(figsize=(7.6, 5.0))
    for network, (marker, colour) in STYLES.items():
        sub = summary[summary.network == network].sort_values("parameters")
        if sub.empty:
            continue
        ax.errorbar(sub.x, sub.error, yerr=sub["sem"].fillna(0), marker=marker, ms=9 if marker == "*" else 6,
                    capsize=3, color=plots.PALETTE[colour], label=f"{network} ({_n(sub.n)})",
                    ls="-" if len(sub) > 1 else "none")  # fmt: skip
    front = summary[summary["on Pareto front"]].sort_values("parameters")
    ax.plot(front.x, front.error, color="grey", lw=6, alpha=0.25, zorder=0, label="Pareto front (of the means)")
    ax.set(xscale="log", xlabel="total non-zero parameters (adapters included, log scale)\nnetworks of equal size "
           "are drawn slightly apart", ylabel="mean test error over the 3 tasks (%)")  # fmt: skip
    sizes = summary.groupby("parameters").p.first()  # every network of one p has the same size
    top = ax.secondary_xaxis("top")
    top.set_xticks(list(sizes.index), [f"p = {f:g}" if f > 0 else "unpruned" for f in sizes], fontsize=8)
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xlabel("pruning fraction p", fontsize=9)
    _title(ax, "Fig. 2(b): error against size", scale_b(records, p))
    ax.legend(fontsize=8, title="error bars: s.e.m. over n seeds", title_fontsize=8)
    fig.tight_layout()
    return fig


def table_error_vs_parameters(records: Records, p: Params) -> pd.DataFrame:
    """Fig. 2(b) in numbers: per network and p, non-zero parameters, mean error, its s.e.m., the Pareto flag."""
    summary = summary_b(records, p).drop(columns="n")
    return summary.assign(p=lambda d: d.p.map(lambda v: f"{v:g}")).round(2)


def per_task_note(records: Records, p: Params) -> str:
    return f"test error (%) of each task, mean over seeds\n{scale_b(records, p, MEANS_ONLY)}"


def table_per_task(records: Records, p: Params) -> pd.DataFrame:
    """Test error (%) of each task per network and p, mean over seeds."""
    columns = [f"{n} error (%)" for n in task_names(records, p)]
    return frame_b(records, p).groupby(["network", "p"])[columns].mean().round(2)


# ------------------------------------------------------------------------------- training against test accuracy
def fit_note(records: Records, p: Params) -> str:
    """The caption of :func:`table_fit`: what its training accuracy is, and the data and scale."""
    epochs = value(runs_b(records, p), "num_epochs")
    what = (f"training accuracy: each column's accuracy on its training set, averaged over the batches of its last "
            f"epoch (epoch {epochs} after pruning, or of the unpruned network's second phase; the weights still move "
            f"during it), mean over the 3 tasks; test accuracy: the final network's; both mean over the n seeds")
    return f"{textwrap.fill(what, 110)}\n{scale_b(records, p, MEANS_ONLY)}"


def table_fit(records: Records, p: Params) -> pd.DataFrame:
    """Per network and p: training and test accuracy (%) over the 3 tasks, their gap (points), and seeds n."""
    train, test = "training accuracy (%)", "test accuracy (%)"
    rows = [{"network": r["config"]["network"], "p": r["config"]["fraction"], "seed": r["config"]["seed"],
             train: 100 * np.mean([(c["retrain_history"] or c["history"])[-1]["train_acc"]
                                   for c in r["metrics"]["columns"]]),
             test: 100 * (1 - r["metrics"]["mean_test_error"])} for r in runs_b(records, p)]  # fmt: skip
    table = pd.DataFrame(rows).groupby(["network", "p"]).agg(**{train: (train, "mean"), test: (test, "mean"),
                                                                "n": ("seed", "nunique")})  # fmt: skip
    table.insert(2, "gap (points)", table["training accuracy (%)"] - table["test accuracy (%)"])
    return table.round(2)

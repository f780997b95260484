"""Chapter 01's scale trend: does Table 2's gap to Individual Networks close as the data grow?

The row's reason blames the scale (an initial network trained from scratch on a CIFAR-10 subset, not ImageNet;
added tasks of a few images per class). A gap that comes from the scale should shrink as the scale grows; one
that comes from the method should not. The plan's ``scale_trend`` trains the first schedule's Table 2 comparison
again on initial networks whose every task has the chapter's images per class times each factor, epochs
unchanged (:func:`.packnet_runs.table2_network`: its own initial network, prune, PackNet run 0 of each order and
the Individual Networks). This module reads each network's gap (:func:`.packnet_frames.individual_gap`) beside the
chapter's own (factor 1, all its runs per order) into one frame, a figure, a table, and a clause of the Table 2
row. The networks are found from the records of the factors the parameters name; the figure's scale line is
built from exactly the records it shows.
"""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plots
from ..verdicts import Z, combined_se, size_status
from .runs import Records
from .packnet_runs import Params, trend_variant
from .packnet_records import chapter_runs, err, network_runs, packnet, scale
from .packnet_frames import individual_gap, paper_gap, paper_ratio

__all__ = ["trend_networks", "trend_frame", "trend_slope", "trend_clause", "trend_shown",
           "trend_caption", "fig_gap_trend", "table_gap_trend"]


def trend_networks(records: Records, p: Params) -> list[tuple[float, Records, dict]]:
    """``(factor, runs, gap)`` of each network whose runs give Table 2's gap (first schedule; ``gap``: its
    :func:`.individual_gap`), smallest scale first: the chapter's own at factor 1, and each of ``scale_trend`` (its
    ``network_variant``); none where fewer than two."""
    networks = [(1.0, chapter_runs(records, p))] + [(f, network_runs(records, p.seed, trend_variant(f)))
                                                    for f in p.scale_trend]  # fmt: skip
    found = sorted(((f, runs, individual_gap(runs, p.schedules[0])) for f, runs in networks), key=lambda t: t[0])
    found = [t for t in found if t[2] is not None]
    return found if len(found) > 1 else []


def trend_frame(records: Records, p: Params) -> pd.DataFrame:
    """One row per network of :func:`trend_networks`: its factor, images per class (initial and added tasks), the
    initial task's error, PackNet's and the Individual Networks' mean error over the added tasks and their ratio,
    the gap and its SE, PackNet's run count, the gap's distance to the paper's in combined SEs, and the paper's
    ratio. Empty where no trend ran."""
    paper, rows = paper_gap(p.schedules[0]), []
    for factor, runs, g in trend_networks(records, p):
        initial = runs.one("initial")
        packnet_error, individual_error = (float(np.mean(list(g[k].values()))) for k in ("packnet", "individual"))
        rows.append({"factor": factor, "initial images/class": initial["config"]["initial_train_per_class"],
                     "added images/class": initial["config"]["train_per_class"],
                     "initial error (%)": err(initial["metrics"]["test_acc"]),
                     "PackNet (%)": packnet_error, "Individual Networks (%)": individual_error,
                     "error ratio": packnet_error / individual_error,
                     "gap (points)": g["gap"], "SE": g["se"], "PackNet runs": g["runs"], "paper (points)": paper,
                     "from the paper (SE)": (g["gap"] - paper) / g["se"] if g["se"] > 0 else np.nan})  # fmt: skip
    return pd.DataFrame(rows).assign(**{"paper ratio": paper_ratio(p.schedules[0])}) if rows else pd.DataFrame()


def trend_slope(frame: pd.DataFrame) -> tuple[float, float]:
    """The gap's change per doubling of the images per class and its SE: least squares of the gap on log2 of the
    factor, each point weighted by 1 / SE²."""
    x, y, w = np.log2(frame.factor.to_numpy()), frame["gap (points)"].to_numpy(), 1 / frame.SE.to_numpy() ** 2
    xm = np.sum(w * x) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    return float(np.sum(w * (x - xm) * y) / sxx), float(np.sqrt(1 / sxx))


def trend_clause(frame: pd.DataFrame) -> str:
    """What the trend says of the gap: each scale's gap, smallest first; whether it narrows or widens by more than
    2 SE (the two points' SEs combined) from the chapter's own scale to the largest (from the smallest to the
    chapter's where the trend ran only smaller ones), the least-squares slope per doubling over every scale, and
    whether the largest scale reaches the paper's gap within 2 SE (the size rule). Empty where no trend ran."""
    if frame.empty:
        return ""
    own, last = frame[frame.factor == 1.0].iloc[0], frame.iloc[-1]
    first, span = (own, "the chapter's scale to the largest") if last.factor > 1 else (frame.iloc[0], "the smallest "
                                                                                       "scale to the chapter's")
    change = first["gap (points)"] - last["gap (points)"]  # > 0: the gap narrows as the scale grows
    se = combined_se(float(first.SE), float(last.SE))
    moves = (f"narrows by {change:.2f} points ({change / se:.1f} SE)" if change > Z * se else
             f"widens by {-change:.2f} points ({-change / se:.1f} SE)" if change < -Z * se else
             f"does not change beyond 2 SE ({-change:+.2f} points)")  # fmt: skip
    slope, slope_se = trend_slope(frame)
    status, _ = size_status(float(last["gap (points)"]), float(last["paper (points)"]), float(last.SE),
                            runs=int(last["PackNet runs"]), direction_holds=None)  # fmt: skip
    z = abs(float(last["from the paper (SE)"]))
    below = last["paper (points)"] - last["gap (points)"]  # > 0: our gap is the smaller
    at_last = ("reaches the paper's within 2 SE at the largest" if status == "reproduced" else
               f"falls {below:.2f} points below the paper's at the largest ({z:.1f} SE)" if below > 0 else
               f"is still {z:.1f} SE above the paper's at the largest")  # fmt: skip
    label = " -> ".join(f"{int(r['initial images/class'])}/{int(r['added images/class'])}" for _, r in frame.iterrows())
    gaps = " -> ".join(f"{g:.2f}" for g in frame["gap (points)"])
    return (f"scale trend (images per class, initial/added tasks, epochs fixed: {label}): the gap {gaps} points; "
            f"from {span} it {moves}, {slope:+.2f} points per doubling of the data over all scales (least "
            f"squares weighted by 1/SE², SE {slope_se:.2f}), and {at_last}; PackNet's error as a multiple of the "
            f"Individual Networks' " + " -> ".join(f"{r:.2f}" for r in frame["error ratio"])
            + f" (the paper's {frame['paper ratio'].iloc[0]:.2f}), at Individual Networks' errors of "
            + " -> ".join(f"{e:.1f}" for e in frame["Individual Networks (%)"]) + " %")


def trend_shown(records: Records, p: Params) -> list[dict]:
    """The records the trend rests on: each network's initial run, its prune by the first schedule's first
    fraction, its PackNet runs of the first schedule and its Individual Networks."""
    first = p.schedules[0]
    return [r for _, runs, _ in trend_networks(records, p)
            for r in runs.where("initial") + runs.where("initial_pruned", rule="weights", fraction=first[0])
            + packnet(runs, first) + runs.where("single_task", method="individual")]  # fmt: skip


def trend_caption(records: Records, p: Params) -> str:
    """The trend table's caption: what it shows, then the scale of exactly the records it rests on."""
    return ("Table 2's scale trend: top-1 test error (%) and PackNet's gap to the Individual Networks (points, "
            f"± SE), mean over the added tasks, one initial network per scale; {scale(trend_shown(records, p))}")


def fig_gap_trend(records: Records, p: Params) -> plt.Figure:
    """Left: PackNet's gap to the Individual Networks (± SE) against the images per class, the paper's gap dashed.
    Right: what the gap is made of, PackNet's and the Individual Networks' mean error over the added tasks, and the
    initial task's error, at each scale."""
    frame = trend_frame(records, p)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4))
    if frame.empty:
        for ax in (left, right):
            ax.set_axis_off()
        fig.suptitle("Table 2's scale trend: not run (parameter scale_trend)", fontsize=9)
        return fig
    x = frame["initial images/class"]
    ticks = [f"{int(a)}/{int(b)}" for a, b in zip(x, frame["added images/class"])]
    left.errorbar(x, frame["gap (points)"], yerr=frame.SE, marker="o", capsize=3, color=plots.PALETTE[0],
                  label="this book (± SE)")  # fmt: skip
    left.axhline(frame["paper (points)"].iloc[0], color=plots.PALETTE[0], ls="--", lw=1, label="the paper's Table 2")
    left.set(ylabel="PackNet's error minus Individual Networks' (points)", title="the gap, mean over added tasks")
    for name, color in (("PackNet (%)", plots.PALETTE[0]), ("Individual Networks (%)", plots.PALETTE[1]),
                        ("initial error (%)", plots.PALETTE[2])):  # fmt: skip
        right.plot(x, frame[name], marker="o", color=color, label=name.replace(" (%)", "").replace(
            "initial error", "initial task (unpruned)"))  # fmt: skip
    right.set(ylabel="top-1 test error (%)", title="the errors behind it")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xticks(x, ticks)
        ax.minorticks_off()
        ax.set_xlabel("training images per class: initial task / each added task")
        ax.legend(fontsize=8)
    fig.suptitle("Table 2's scale trend: does PackNet's gap to Individual Networks close with more data?\n"
                 + textwrap.fill(scale(trend_shown(records, p)), 130), fontsize=9)  # fmt: skip
    fig.tight_layout()
    return fig


def table_gap_trend(records: Records, p: Params) -> pd.DataFrame:
    """The trend's points, one row per scale: the errors, the gap ± SE and its distance to the paper's."""
    frame = trend_frame(records, p)
    if frame.empty:
        return frame
    out = frame.assign(**{"gap (points)": [f"{g:.2f} ± {s:.2f}" for g, s in zip(frame["gap (points)"], frame.SE)]})
    return out.drop(columns=["SE", "factor"]).round(2).set_index(["initial images/class", "added images/class"])

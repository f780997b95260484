"""Chapter 06's tables, figures and claims: every method on every stream, from the run records."""
from __future__ import annotations

import math
import textwrap
from typing import Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator, NullFormatter
import numpy as np
import pandas as pd

from ..metrics import backward_transfer, mean_sem
from .comparison import METHODS, PRUNING, STREAM_NAMES, Params, label
from .core import Records

__all__ = ["scale", "runs_frame", "largest_change", "summary", "pareto_front", "forgetting", "plot_pareto",
           "plot_time", "plot_capacity", "claims"]  # fmt: skip

COLORS = dict(zip(METHODS, plt.get_cmap("tab10").colors))
MARKERS = {"fine-tune": "v", "joint": "*", "lwf": "D", "packnet": "o", "packnet-iterative": "s", "clnp": "^",
           "progressive": "P"}  # fmt: skip


def scale(p: Params, synthetic: bool) -> str:
    """One line naming the data and the scale of the records (every table and figure carries it)."""
    if synthetic:
        return "SYNTHETIC stand-in data (tests only)"
    images = f"{p.cifar_train_per_class} train images/class" if p.cifar_train_per_class else "full data"
    parts = {"split_mnist": f"Split MNIST (real, full data, {p.split_mnist_epochs} epochs/task)",
             "permuted_mnist": f"Permuted MNIST (real, full data, {p.permuted_tasks} tasks, {p.permuted_epochs} "
                               f"epochs/task)",
             "split_cifar10": f"Split CIFAR-10 (real, {images}, conv net x{p.cifar_width:g}, {p.cifar_epochs} "
                              f"epochs/task)"}  # fmt: skip
    return "; ".join(parts[s] for s in p.streams) + f"; {len(p.seeds)} seeds"


def largest_change(acc: Sequence[Sequence[float]]) -> float:
    """Largest |change| of an earlier task's accuracy after it was learned, over the whole run (fractions)."""
    changes = [abs(acc[i][j] - acc[j][j]) for i in range(len(acc)) for j in range(i)]
    return max(changes) if changes else math.nan


def _square(acc: Sequence[Sequence[float]]) -> np.ndarray:
    """The lower-triangular matrix of a run (tasks seen so far) as a square one, NaN above the diagonal."""
    out = np.full((len(acc), len(acc[-1])), np.nan)
    for i, row in enumerate(acc):
        out[i, : len(row)] = row
    return out


def runs_frame(records: Records) -> pd.DataFrame:
    """One row per run: stream, method, configuration, seed, accuracy, BWT, largest change, size, time, capacity."""
    rows = []
    for r in records.where("train"):
        c, m = r["config"], r["metrics"]
        one_row = len(m["acc"]) == 1  # joint training: measured once, at the end
        rows.append({"stream": STREAM_NAMES[c["stream"]], "method": c["method"],
                     "configuration": label(c["method"], c), "seed": c["seed"],
                     "accuracy (%)": 100 * float(np.mean(m["acc"][-1])),
                     "BWT (points)": math.nan if one_row else 100 * backward_transfer(_square(m["acc"])),
                     "largest change (points)": math.nan if one_row else 100 * largest_change(m["acc"]),
                     "kept parameters": m["kept"], "train seconds": m["train_seconds"],
                     "capacity": m.get("capacity")})  # fmt: skip
    return pd.DataFrame(rows)


def _mean_sem(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "n/a"
    mean, sem = mean_sem(values)
    return f"{mean:.2f} ± {sem:.2f}"


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per stream and configuration: accuracy and BWT (mean ± s.e.m. over seeds), size, time, Pareto flag."""
    groups = frame.groupby(["stream", "configuration"], sort=False)
    out = pd.DataFrame({
        "method": groups["method"].first(),
        "accuracy (%)": groups["accuracy (%)"].agg(_mean_sem),
        "BWT (points)": groups["BWT (points)"].agg(_mean_sem),
        "kept parameters": groups["kept parameters"].mean().round().astype(int),
        "train seconds": groups["train seconds"].mean().round(1),
        "seeds": groups["seed"].count(),
        "mean accuracy": groups["accuracy (%)"].mean(),
    })  # fmt: skip
    out["on Pareto front"] = pareto_front(out)
    return out


def pareto_front(table: pd.DataFrame) -> pd.Series:
    """True for a continual configuration no other one of its stream beats in both accuracy and size.

    Joint training is left out: it needs every task's data at once, so it is a bound, not a rival.
    """
    flags = pd.Series(False, index=table.index)
    for stream, rows in table.groupby(level="stream", sort=False):
        rivals = rows[rows["method"] != "joint"]
        for key, row in rivals.iterrows():
            beaten = ((rivals["mean accuracy"] >= row["mean accuracy"]) & (rivals["kept parameters"] <= row["kept parameters"])
                      & ((rivals["mean accuracy"] > row["mean accuracy"]) | (rivals["kept parameters"] < row["kept parameters"])))  # fmt: skip
            flags[key] = not beaten.any()
    return flags


def forgetting(frame: pd.DataFrame) -> pd.DataFrame:
    """For the pruning methods: the largest change of any earlier task's accuracy over all seeds (expect 0)."""
    rows = frame[frame["method"].isin(PRUNING)]
    table = rows.groupby(["stream", "configuration"], sort=False)["largest change (points)"].agg(["max", "count"])
    table.columns = ["largest change over all seeds (points)", "runs"]
    table["exactly 0"] = table["largest change over all seeds (points)"] == 0.0
    return table


def _panels(frame: pd.DataFrame, title: str) -> tuple[plt.Figure, np.ndarray]:
    streams = list(dict.fromkeys(frame["stream"]))
    fig, axes = plt.subplots(1, len(streams), figsize=(4.6 * len(streams), 3.8), squeeze=False)
    fig.suptitle(textwrap.fill(title, 150), fontsize=9)
    return fig, axes[0]


def _legend(fig: plt.Figure, axes: np.ndarray) -> None:
    """One legend for the panels, below them (the panels' own corners are full of points)."""
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=6, fontsize=7, frameon=False)


def _points(ax: plt.Axes, rows: pd.DataFrame, x: str) -> None:
    """Each configuration's mean ± s.e.m. of accuracy at its mean ``x``; a method's later (sparser) configurations
    hollow."""
    seen: set[str] = set()
    for conf, g in rows.groupby("configuration", sort=False):
        method = g["method"].iloc[0]
        mean, sem = mean_sem(g["accuracy (%)"])
        ax.errorbar(g[x].mean(), mean, yerr=sem, fmt=MARKERS[method], color=COLORS[method], label=conf, ms=6,
                    capsize=2, mfc="white" if method in seen else COLORS[method])  # fmt: skip
        seen.add(method)


def plot_pareto(frame: pd.DataFrame, table: pd.DataFrame, scale_line: str) -> plt.Figure:
    """Accuracy against parameters kept (float32 equivalents, masks at their bits), the Pareto front joined."""
    fig, axes = _panels(frame, f"final average accuracy against parameters kept; {scale_line}")
    for ax, (stream, rows) in zip(axes, frame.groupby("stream", sort=False)):
        _points(ax, rows, "kept parameters")
        front = table.loc[stream]
        front = front[front["on Pareto front"]].sort_values("kept parameters")
        ax.plot(front["kept parameters"], front["mean accuracy"], "k--", lw=0.8, label="Pareto front")
        ax.set(xscale="log", title=stream, xlabel="parameters kept (float32 equivalents)", ylabel="accuracy (%)")
        ax.xaxis.set_minor_formatter(NullFormatter())
    _legend(fig, axes)
    return fig


def plot_time(frame: pd.DataFrame, scale_line: str, environment: str) -> plt.Figure:
    """Accuracy against training time (one CPU thread per run, the same machine for all)."""
    fig, axes = _panels(frame, f"final average accuracy against training time ({environment}); {scale_line}")
    for ax, (stream, rows) in zip(axes, frame.groupby("stream", sort=False)):
        _points(ax, rows, "train seconds")
        ax.set(xscale="log", title=stream, xlabel="training time (s)", ylabel="accuracy (%)")
        ax.xaxis.set_minor_formatter(NullFormatter())
    _legend(fig, axes)
    return fig


def plot_capacity(frame: pd.DataFrame, scale_line: str) -> plt.Figure:
    """Capacity used as tasks accumulate: owned share of the shared network (PackNet: weights, CLNP: units);
    Progressive Prune: its columns and adapters relative to the shared network (dashed; it grows past 1)."""
    fig, axes = _panels(frame, f"capacity used after each task (mean over seeds); {scale_line}")
    for ax, (stream, rows) in zip(axes, frame.groupby("stream", sort=False)):
        for conf, g in rows[rows["capacity"].notna()].groupby("configuration", sort=False):
            method = g["method"].iloc[0]
            curve = np.mean(np.stack([np.asarray(c) for c in g["capacity"]]), axis=0)
            ax.plot(np.arange(1, len(curve) + 1), curve, marker=MARKERS[method], color=COLORS[method], ms=4,
                    ls="--" if method == "progressive" else "-", label=conf)  # fmt: skip
        ax.axhline(1.0, color="grey", lw=0.6)
        ax.set(title=stream, xlabel="tasks learned", ylabel="share of the shared network")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(fig, axes)
    return fig


def _best(table: pd.DataFrame, stream: str, method: str) -> float:
    """The highest mean accuracy of any configuration of ``method`` on ``stream``."""
    rows = table.loc[stream]
    return float(rows[rows["method"] == method]["mean accuracy"].max())


def claims(p: Params, frame: pd.DataFrame, table: pd.DataFrame, scale_line: str) -> list[dict]:
    """The rows of the chapter's "papers vs. this book" table, statuses by the rules stated in each reason."""
    streams = list(dict.fromkeys(frame["stream"]))
    rows: list[dict] = []
    pruned = frame[frame["method"].isin(PRUNING)]
    if not pruned.empty:
        worst = pruned["largest change (points)"].max()
        rows.append({"claim": "PackNet, CLNP and Progressive Prune forget nothing: an earlier task's accuracy never "
                              "changes as tasks are added", "paper": "zero forgetting by construction (all three)",
                     "this book": f"largest change over {len(pruned)} runs: {worst:g} points",
                     "data and scale": scale_line, "status": "reproduced" if worst == 0 else "not reproduced",
                     "reason": "bit-identical accuracies" if worst == 0 else "some earlier accuracy moved"})  # fmt: skip
    if "fine-tune" in p.methods:
        bwt = frame[frame["method"] == "fine-tune"].groupby("stream", sort=False)["BWT (points)"].mean()
        rows.append({"claim": "Fine-tuning forgets earlier tasks (the problem every method addresses)",
                     "paper": "BWT < 0 (chapter 00; McCloskey & Cohen)",
                     "this book": ", ".join(f"{s}: {v:+.2f}" for s, v in bwt.items()) + " points BWT",
                     "data and scale": scale_line,
                     "status": "reproduced" if (bwt < 0).all() else "partly" if (bwt < 0).any() else "not reproduced",
                     "reason": f"BWT < 0 on {int((bwt < 0).sum())} of {len(bwt)} streams"})  # fmt: skip
    if {"packnet", "lwf"} <= set(p.methods):
        gaps = {s: _best(table, s, "packnet") - _best(table, s, "lwf") for s in streams}
        wins = sum(g > 0 for g in gaps.values())
        rows.append({"claim": "PackNet beats LwF when tasks are added to one network (Mallya & Lazebnik, Table 2)",
                     "paper": "higher accuracy on every added task",
                     "this book": "best one-shot PackNet minus LwF: "
                                  + ", ".join(f"{s}: {g:+.2f}" for s, g in gaps.items()) + " points",
                     "data and scale": scale_line,
                     "status": "reproduced" if wins == len(gaps) else "partly" if wins else "not reproduced",
                     "reason": f"PackNet ahead on {wins} of {len(gaps)} streams (average final accuracy)"})  # fmt: skip
    if {"packnet", "packnet-iterative"} <= set(p.methods):
        f = max(p.packnet_free)
        one, it = (label(m, {"free": f, "rounds": n}) for m, n in (("packnet", 1), ("packnet-iterative", p.packnet_rounds)))
        gaps = {s: table.loc[(s, it), "mean accuracy"] - table.loc[(s, one), "mean accuracy"] for s in streams}
        wins = sum(g > 0 for g in gaps.values())
        rows.append({"claim": f"At the same retraining budget, iterative pruning beats one-shot pruning (Ball et al., "
                              f"Fig. 2); here at p = {f:g}",
                     "paper": "accuracy rises with the number of rounds N at high p",
                     "this book": f"N = {p.packnet_rounds} minus N = 1: "
                                  + ", ".join(f"{s}: {g:+.2f}" for s, g in gaps.items()) + " points",
                     "data and scale": scale_line,
                     "status": "reproduced" if wins == len(gaps) else "partly" if wins else "not reproduced",
                     "reason": f"iterative ahead on {wins} of {len(gaps)} streams"})  # fmt: skip
    if "progressive" in p.methods:
        on = [s for s in streams if table.loc[s].query("method == 'progressive'")["on Pareto front"].any()]
        rows.append({"claim": "Pruned progressive networks are parameter-efficient: on the accuracy-size Pareto front "
                              "(Nicholls & Dasgupta, Fig. 2b)",
                     "paper": "on the front against unlinked columns (one stream)",
                     "this book": f"on the front of all methods on {len(on)} of {len(streams)} streams"
                                  + (f" ({', '.join(on)})" if on else ""),
                     "data and scale": scale_line,
                     "status": "reproduced" if len(on) == len(streams) else "partly" if on else "not reproduced",
                     "reason": "the paper's rivals were unlinked columns only; here every method is one"})  # fmt: skip
    return rows

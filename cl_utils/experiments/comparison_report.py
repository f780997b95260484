"""Chapter 06's tables, figures and claims: every method on every stream, from the run records."""
from __future__ import annotations

import dataclasses
import math
import textwrap
from typing import Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator, NullFormatter
import numpy as np
import pandas as pd

from ..metrics import backward_transfer, mean_sem
from ..verdicts import STATUS_ORDER, compound_status, direction_status, paired_direction, seed_se, undominated
from .comparison import METHODS, PRUNING, STREAM_NAMES, Params, label
from .core import Records

__all__ = ["scale", "rounds_scale", "runs_frame", "rounds_frame", "rounds_table", "largest_change", "summary",
           "pareto_front", "forgetting", "plot_pareto", "plot_time", "plot_capacity", "plot_rounds", "claims"]  # fmt: skip

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


def rounds_scale(p: Params, synthetic: bool) -> str:
    """The data-and-scale line of the rounds grid (its own seeds and budget)."""
    if synthetic:
        return "SYNTHETIC stand-in data (tests only)"
    streams = scale(dataclasses.replace(p, streams=list(p.rounds_streams)), False).rsplit("; ", 1)[0]
    return f"{streams}; B = {p.rounds_budget} retraining epochs shared by the N rounds; {len(p.rounds_seeds)} seeds"


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
                     "earlier tasks (%)": math.nan if one_row else 100 * float(np.mean(m["acc"][-1][:-1])),
                     "BWT (points)": math.nan if one_row else 100 * backward_transfer(_square(m["acc"])),
                     "largest change (points)": math.nan if one_row else 100 * largest_change(m["acc"]),
                     "kept parameters": m["kept"], "train seconds": m["train_seconds"],
                     "capacity": m.get("capacity")})  # fmt: skip
    return pd.DataFrame(rows)


def rounds_frame(records: Records) -> pd.DataFrame:
    """One row per run of the rounds grid: stream, p, N, seed, final average accuracy."""
    rows = [{"stream": STREAM_NAMES[r["config"]["stream"]], "p": r["config"]["free"], "N": r["config"]["rounds"],
             "seed": r["config"]["seed"], "accuracy (%)": 100 * float(np.mean(r["metrics"]["acc"][-1]))}
            for r in records.where("rounds")]  # fmt: skip
    return pd.DataFrame(rows, columns=["stream", "p", "N", "seed", "accuracy (%)"])


def rounds_table(rounds: pd.DataFrame) -> pd.DataFrame:
    """Per stream and p: each N's accuracy (mean ± s.e.m. over seeds) and the N with the highest mean."""
    cells = rounds.groupby(["stream", "p", "N"], sort=False)["accuracy (%)"].agg(_mean_sem).unstack("N")
    cells.columns = [f"N = {n}" for n in cells.columns]
    means = rounds.groupby(["stream", "p", "N"], sort=False)["accuracy (%)"].mean().unstack("N")
    cells["best N (highest mean)"] = means.idxmax(axis=1)
    cells["seeds"] = rounds.groupby(["stream", "p"], sort=False)["seed"].nunique()
    return cells


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
        flags[rivals.index] = undominated(rivals["kept parameters"], -rivals["mean accuracy"])
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
    Progressive Prune: its columns and adapters relative to the shared network (dashed; it grows past 1).

    Mean ± s.e.m. over seeds. A method's later configuration (the larger p) is hollow and dotted; each method is
    drawn a little to the side of the task number (dodged), since one-shot and iterative PackNet at one p own the
    same share after every task and would hide each other."""
    fig, axes = _panels(frame, f"capacity used after each task (mean ± s.e.m. over seeds; methods dodged "
                               f"sideways); {scale_line}")  # fmt: skip
    for ax, (stream, rows) in zip(axes, frame.groupby("stream", sort=False)):
        seen: set[str] = set()
        for conf, g in rows[rows["capacity"].notna()].groupby("configuration", sort=False):
            method = g["method"].iloc[0]
            curves = np.stack([np.asarray(c) for c in g["capacity"]])
            stats = [mean_sem(curves[:, i]) for i in range(curves.shape[1])]
            x = np.arange(1, curves.shape[1] + 1) + 0.06 * (METHODS.index(method) - 4)
            later = method in seen
            ax.errorbar(x, [m for m, _ in stats], yerr=[e for _, e in stats], marker=MARKERS[method],
                        color=COLORS[method], ms=4, capsize=2, mfc="white" if later else COLORS[method],
                        ls=(":" if later else "--") if method == "progressive" else (":" if later else "-"),
                        label=conf)  # fmt: skip
            seen.add(method)
        ax.axhline(1.0, color="grey", lw=0.6)
        ax.set(title=stream, xlabel="tasks learned", ylabel="share of the shared network")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(fig, axes)
    return fig


def plot_rounds(rounds: pd.DataFrame, scale_line: str) -> plt.Figure:
    """Final accuracy against the number of pruning rounds N at one retraining budget, a line per p."""
    fig, axes = _panels(rounds, f"PackNet: final average accuracy against pruning rounds N at a fixed budget; "
                                f"{scale_line}")  # fmt: skip
    for ax, (stream, rows) in zip(axes, rounds.groupby("stream", sort=False)):
        for (p, g), marker in zip(rows.groupby("p", sort=True), "osD^v"):
            stats = g.groupby("N")["accuracy (%)"].agg(lambda v: mean_sem(v))
            ns = list(stats.index)
            ax.errorbar(ns, [m for m, _ in stats], yerr=[e for _, e in stats], marker=marker, capsize=2, ms=5,
                        label=f"p = {p:g}")  # fmt: skip
        ax.set(title=stream, xlabel="pruning rounds N (1 = one-shot)", ylabel="accuracy (%)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(fig, axes)
    return fig


def _best_configuration(table: pd.DataFrame, stream: str, method: str) -> str:
    """The configuration of ``method`` with the highest mean accuracy on ``stream``."""
    rows = table.loc[stream]
    return str(rows[rows["method"] == method]["mean accuracy"].idxmax())


def _seeds_of(frame: pd.DataFrame, stream: str, configuration: str, column: str = "accuracy (%)") -> pd.Series:
    rows = frame[(frame["stream"] == stream) & (frame["configuration"] == configuration)]
    return rows.set_index("seed")[column]


def _paired_gap(frame: pd.DataFrame, stream: str, ours: str, theirs: str) -> tuple[float, tuple[str, str]]:
    """Mean accuracy of ``ours`` minus ``theirs`` on ``stream`` and its direction status, paired by seed."""
    a, b = _seeds_of(frame, stream, ours), _seeds_of(frame, stream, theirs)
    seeds = sorted(set(a.index) & set(b.index))
    x, y = list(a[seeds]), list(b[seeds])
    return float(np.mean(x) - np.mean(y)), paired_direction(x, y, what=stream)


def _lwf_row(frame: pd.DataFrame, table: pd.DataFrame, streams: Sequence[str], scale_line: str) -> dict:
    """Li & Hoiem: LwF keeps the old tasks better than fine-tuning; one part per stream and optimiser."""
    parts, shown = [], []
    for s in streams:
        confs = table.loc[s]
        for lwf in confs[confs["method"] == "lwf"].index:
            finetune = lwf.replace("LwF", "Fine-tune")
            if finetune not in confs.index:
                continue
            a, b = (_seeds_of(frame, s, c, "earlier tasks (%)") for c in (lwf, finetune))
            seeds = sorted(set(a.index) & set(b.index))
            what = f"{s}, {lwf} − {finetune}"
            parts.append(paired_direction(list(a[seeds]), list(b[seeds]), what=what))
            shown.append(f"{s} {lwf.replace('LwF', '').strip() or '(Adam)'}: {np.mean(a[seeds] - b[seeds]):+.2f}")
    status, counted = compound_status(parts)
    return {"claim": "LwF keeps the earlier tasks better than fine-tuning (Li & Hoiem)",
            "paper": "higher accuracy on the old tasks than fine-tuning",
            "this book": "LwF minus fine-tuning, earlier tasks' final accuracy: " + ", ".join(shown) + " points",
            "data and scale": scale_line, "status": status,
            "reason": f"{counted}, one part per stream and optimiser (each method with the same optimiser; mean final "
                      "accuracy of every task but the last, paired by seed): " + "; ".join(r for _, r in parts)}


def _rounds_row(rounds: pd.DataFrame, rounds_line: str) -> dict:
    """Ball et al., Fig. 2: at one budget, more rounds are best for the MLP (MNIST), few (often one) for the
    conv net (CIFAR-10); one part per stream and p: the most rounds against one-shot, paired by seed."""
    parts, shown = [], []
    for (stream, p), g in rounds.groupby(["stream", "p"], sort=False):
        most = g["N"].max()
        if most == 1 or 1 not in set(g["N"]):  # nothing to compare (an unfinished grid)
            continue
        one, many = (g[g["N"] == n].set_index("seed")["accuracy (%)"] for n in (1, most))
        seeds = sorted(set(one.index) & set(many.index))
        sign = -1 if "CIFAR" in stream else 1
        parts.append(paired_direction(list(many[seeds]), list(one[seeds]), expected_sign=sign,
                                      what=f"{stream} p = {p:g}, N = {most} − N = 1"))  # fmt: skip
        shown.append(f"{stream} p = {p:g}: {np.mean(many[seeds] - one[seeds]):+.2f}")
    status, counted = compound_status(parts)
    return {"claim": "At a fixed retraining budget, the best number of pruning rounds depends on the network: more "
                     "rounds for the MLP on MNIST, few, often one, for the conv net on CIFAR-10 (Ball et al., Fig. 2)",
            "paper": "MNIST MLP: the most rounds best; CIFAR-10 conv net: one-shot often best",
            "this book": "most rounds minus one-shot: " + ", ".join(shown) + " points",
            "data and scale": rounds_line, "status": status,
            "reason": f"{counted}, one part per stream and p (the paper's sign: + on the MLP stream, − on the conv "
                      "net's; paired by seed; our conv net is Zenke et al.'s, not Ball et al.'s): "
                      + "; ".join(r for _, r in parts)}


def _progressive_row(frame: pd.DataFrame, table: pd.DataFrame, streams: Sequence[str], scale_line: str) -> dict:
    """Nicholls & Dasgupta, Fig. 2b: on the accuracy-size front. A Progressive Prune configuration is on it when it
    beats, beyond 2 SE (paired by seed), every continual configuration that keeps fewer parameters; a stream
    counts the best of its configurations."""
    parts = []
    for s in streams:
        confs = table.loc[s]
        rivals = confs[confs["method"] != "joint"]
        per_conf = []
        for conf in confs[confs["method"] == "progressive"].index:
            smaller = rivals[rivals["kept parameters"] < confs.loc[conf, "kept parameters"]].index
            if smaller.empty:
                per_conf.append(("reproduced", f"{s} {conf}: the smallest configuration"))
                continue
            gaps = sorted(((_paired_gap(frame, s, conf, r), r) for r in smaller),
                          key=lambda g: (STATUS_ORDER.index(g[0][1][0]), g[0][0]))  # the weakest, then the closest
            (_, (worst, why)), rival = gaps[0]
            per_conf.append((worst, f"{s} {conf} against the closest of {len(gaps)} smaller, {rival}: {why}"))
        parts.append(max(per_conf, key=lambda v: STATUS_ORDER.index(v[0])))
    status, counted = compound_status(parts)
    on = [s for s, (v, _) in zip(streams, parts) if v == "reproduced"]
    return {"claim": "Pruned progressive networks are parameter-efficient: on the accuracy-size Pareto front "
                     "(Nicholls & Dasgupta, Fig. 2b)",
            "paper": "on the front against unlinked columns (one stream)",
            "this book": f"ahead of every smaller configuration beyond 2 SE on {len(on)} of {len(streams)} streams"
                         + (f" ({', '.join(on)})" if on else ""),
            "data and scale": scale_line, "status": status,
            "reason": f"{counted}, one part per stream: its best configuration against every continual configuration "
                      "that keeps fewer parameters (a tie inside the noise is not a place on the front; the paper's "
                      "rivals were unlinked columns only, here every method is one): "
                      + "; ".join(r for _, r in parts)}


def claims(p: Params, frame: pd.DataFrame, table: pd.DataFrame, scale_line: str,
           rounds: pd.DataFrame | None = None, rounds_line: str = "") -> list[dict]:  # fmt: skip
    """The rows of the chapter's "papers vs. this book" table. Statuses by the shared rules of
    :mod:`cl_utils.verdicts`: each stream is one part of a claim, judged on differences paired by seed (the
    methods of one seed see the same data order) against their standard error; zero forgetting is an exact
    property, read as such."""
    streams = list(dict.fromkeys(frame["stream"]))
    seeds = frame["seed"].nunique()
    rows: list[dict] = []
    pruned = frame[frame["method"].isin(PRUNING)]
    if not pruned.empty:
        worst = pruned["largest change (points)"].max()
        rows.append({"claim": "PackNet, CLNP and Progressive Prune forget nothing: an earlier task's accuracy never "
                              "changes as tasks are added", "paper": "zero forgetting by construction (all three)",
                     "this book": f"largest change over {len(pruned)} runs: {worst:g} points",
                     "data and scale": scale_line, "status": "reproduced" if worst == 0 else "not reproduced",
                     "reason": "an exact property: bit-identical accuracies" if worst == 0
                     else "an exact property, and some earlier accuracy moved"})  # fmt: skip
    if "fine-tune" in p.methods:
        parts, shown = [], []
        tuned = frame[frame["method"] == "fine-tune"]
        for (s, conf), bwt in tuned.groupby(["stream", "configuration"], sort=False)["BWT (points)"]:
            parts.append(direction_status(float(bwt.mean()), seed_se(list(bwt)), expected_sign=-1,
                                          what=f"{s}, {conf} BWT"))  # fmt: skip
            shown.append(f"{s}, {conf}: {bwt.mean():+.2f}")
        status, counted = compound_status(parts)
        rows.append({"claim": "Fine-tuning forgets earlier tasks (the problem every method addresses)",
                     "paper": "BWT < 0 (chapter 00; McCloskey & Cohen)",
                     "this book": ", ".join(shown) + " points BWT", "data and scale": scale_line, "status": status,
                     "reason": f"{counted}, one part per stream and optimiser ({seeds} seeds): "
                               + "; ".join(r for _, r in parts)})  # fmt: skip
    if {"packnet", "lwf"} <= set(p.methods):
        gaps = {s: _paired_gap(frame, s, _best_configuration(table, s, "packnet"), _best_configuration(table, s, "lwf"))
                for s in streams}  # fmt: skip
        status, counted = compound_status([part for _, part in gaps.values()])
        rows.append({"claim": "PackNet beats LwF when tasks are added to one network (Mallya & Lazebnik, Table 2)",
                     "paper": "higher accuracy on every added task",
                     "this book": "best one-shot PackNet minus best LwF: "
                                  + ", ".join(f"{s}: {g:+.2f}" for s, (g, _) in gaps.items()) + " points",
                     "data and scale": scale_line, "status": status,
                     "reason": f"{counted}, one part per stream (average final accuracy, paired by seed, {seeds} "
                               "seeds; each method's best configuration by its mean on these runs): "
                               + "; ".join(r for _, (_, (_, r)) in gaps.items())})  # fmt: skip
    if {"fine-tune", "lwf"} <= set(p.methods):
        rows.append(_lwf_row(frame, table, streams, scale_line))
    if rounds is not None and not rounds.empty:
        rows.append(_rounds_row(rounds, rounds_line))
    if "progressive" in p.methods:
        rows.append(_progressive_row(frame, table, streams, scale_line))
    return rows

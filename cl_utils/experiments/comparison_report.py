"""Chapter 06's tables and figures: every method on every stream, from the run records (the claims rows are
:mod:`.comparison_claims`, the generated reading :mod:`.comparison_findings`).

Why one module (over 300 lines): the tables and the figures read the same frames (:func:`runs_frame`, one row per
run and seed) and share the methods' colours and markers; they change together."""
from __future__ import annotations

import math
import textwrap
from typing import Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator, NullFormatter
import numpy as np
import pandas as pd

from ..metrics import backward_transfer, mean_sem
from ..verdicts import undominated
from .comparison_runs import METHODS, PRUNING, STREAM_NAMES, Params, is_diagnostic, label, seed_views
from .runs import Records, trained_where

__all__ = ["scale", "rounds_scale", "runs_frame", "rounds_frame", "rounds_table", "largest_change", "summary",
           "by_seed", "paired_runs", "lwf_against_finetune", "most_rounds_against_one", "pareto_front", "forgetting",
           "plot_pareto", "plot_time", "plot_capacity", "plot_rounds"]  # fmt: skip

COLORS = dict(zip(METHODS, plt.get_cmap("tab10").colors))
MARKERS = {"fine-tune": "v", "joint": "*", "lwf": "D", "packnet": "o", "packnet-iterative": "s", "clnp": "^",
           "progressive": "P"}  # fmt: skip


def scale(p: Params, synthetic: bool, streams: Sequence[str] | None = None) -> str:
    """One line naming the data and the scale of the records (every table and figure carries it); ``streams``:
    those named (default: ``p.streams``)."""
    if synthetic:
        return "SYNTHETIC stand-in data (tests only)"
    images = f"{p.cifar_train_per_class} train images/class" if p.cifar_train_per_class else "full data"
    parts = {"split_mnist": f"Split MNIST (real, full data, {p.split_mnist_epochs} epochs/task)",
             "permuted_mnist": f"Permuted MNIST (real, full data, {p.permuted_tasks} tasks, {p.permuted_epochs} "
                               f"epochs/task)",
             "split_cifar10": f"Split CIFAR-10 (real, {images}, conv net x{p.cifar_width:g}, {p.cifar_epochs} "
                              f"epochs/task)"}  # fmt: skip
    stacked = " (trained stacked where a method allows)" if p.stack_seeds and len(p.seeds) > 1 else ""
    return "; ".join(parts[s] for s in (p.streams if streams is None else streams)) + f"; {len(p.seeds)} seeds{stacked}"


def rounds_scale(p: Params, synthetic: bool) -> str:
    """The data-and-scale line of the rounds grid (its own seeds and budget)."""
    if synthetic:
        return "SYNTHETIC stand-in data (tests only)"
    # not a replaced Params: one whose streams lack a stream another parameter names would not pass its checks
    streams = scale(p, False, p.rounds_streams).rsplit("; ", 1)[0]
    stacked = ", trained stacked" if p.stack_seeds and len(p.rounds_seeds) > 1 else ""
    return (f"{streams}; B = {p.rounds_budget} retraining epochs shared by the N rounds; {len(p.rounds_seeds)} "
            f"seeds{stacked}")


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


def runs_frame(records: Records, diagnostics: bool = False) -> pd.DataFrame:
    """One row per run: stream, method, configuration, seed, accuracy, BWT, largest change, size, time, capacity,
    the record's key (a stacked run: a row per seed, :func:`.comparison_runs.seed_views`). The methods compared
    only: the diagnostic LwF (:func:`.comparison_runs.is_diagnostic`) is in no table, figure or claim but its own
    (``diagnostics=True`` adds its runs)."""
    rows = []
    for r in [r for r in seed_views(records.where("train")) if diagnostics or not is_diagnostic(r["config"])]:
        c, m = r["config"], r["metrics"]
        one_row = len(m["acc"]) == 1  # joint training: measured once, at the end
        rows.append({"stream": STREAM_NAMES[c["stream"]], "method": c["method"],
                     "configuration": label(c["method"], c), "seed": c["seed"],
                     "accuracy (%)": 100 * float(np.mean(m["acc"][-1])),
                     "earlier tasks (%)": math.nan if one_row else 100 * float(np.mean(m["acc"][-1][:-1])),
                     "BWT (points)": math.nan if one_row else 100 * backward_transfer(_square(m["acc"])),
                     "largest change (points)": math.nan if one_row else 100 * largest_change(m["acc"]),
                     "kept parameters": m["kept"], "train seconds": m["train_seconds"],
                     "capacity": m.get("capacity"), "key": r["key"]})  # fmt: skip
    return pd.DataFrame(rows)


def rounds_frame(records: Records) -> pd.DataFrame:
    """One row per run of the rounds grid: stream, p, N, seed, final average accuracy, the record's key."""
    rows = [{"stream": STREAM_NAMES[r["config"]["stream"]], "p": r["config"]["free"], "N": r["config"]["rounds"],
             "seed": r["config"]["seed"], "accuracy (%)": 100 * float(np.mean(r["metrics"]["acc"][-1])),
             "key": r["key"]} for r in seed_views(records.where("rounds"))]  # fmt: skip
    return pd.DataFrame(rows, columns=["stream", "p", "N", "seed", "accuracy (%)", "key"])


def paired_runs(rows: pd.DataFrame, column: str, ours: object, theirs: object) -> pd.DataFrame:
    """The rows whose ``column`` is ``ours`` or ``theirs``, at the seeds both ran: the runs a paired difference
    (:func:`by_seed`, :func:`most_rounds_against_one`) is computed from."""
    a, b = rows[rows[column] == ours], rows[rows[column] == theirs]
    return pd.concat([a, b])[lambda both: both["seed"].isin(set(a["seed"]) & set(b["seed"]))]


def _by_seed(rows: pd.DataFrame, column: str, ours: object, theirs: object, value: str) -> tuple[list, list]:
    """``value`` of the two settings of ``column`` in ``rows``, paired by seed (:func:`paired_runs`, seeds in order)."""
    both = paired_runs(rows, column, ours, theirs).sort_values("seed", kind="stable")
    return tuple(list(both[both[column] == c][value]) for c in (ours, theirs))  # type: ignore[return-value]


def by_seed(frame: pd.DataFrame, stream: str, ours: str, theirs: str,
            column: str = "accuracy (%)") -> tuple[list[float], list[float]]:  # fmt: skip
    """``column`` of two configurations on one stream, paired by seed (the seeds both ran, in order): the
    methods of one seed see the same data order, so their difference is the paired one."""
    return _by_seed(frame[frame["stream"] == stream], "configuration", ours, theirs, column)


def lwf_against_finetune(table: pd.DataFrame, streams: Sequence[str]) -> list[tuple[str, str, str]]:
    """(stream, LwF configuration, fine-tuning with the same optimiser) for every LwF that has its match."""
    pairs = []
    for s in streams:
        confs = table.loc[s]
        for lwf in confs[confs["method"] == "lwf"].index:
            if lwf.replace("LwF", "Fine-tune") in confs.index:
                pairs.append((s, lwf, lwf.replace("LwF", "Fine-tune")))
    return pairs


def most_rounds_against_one(rounds: pd.DataFrame) -> list[tuple[str, float, int, list[float], list[float]]]:
    """(stream, p, the most rounds N, accuracies at that N, at N = 1) paired by seed, per stream and p of the
    rounds grid; a group without N = 1 or with only N = 1 (an unfinished grid) has nothing to compare."""
    out = []
    for (stream, p), g in rounds.groupby(["stream", "p"], sort=False):
        most = int(g["N"].max())
        if most == 1 or 1 not in set(g["N"]):
            continue
        out.append((stream, p, most, *_by_seed(g, "N", most, 1, "accuracy (%)")))
    return out


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


#: on the log x axes, each method's points are drawn at x times NUDGE ** (its place among the methods - 3): at most
#: 9 % to the side, so that equal points (one-shot and iterative PackNet at p = 0.5) do not hide each other
NUDGE = 1.03


def _points(ax: plt.Axes, rows: pd.DataFrame, x: str) -> None:
    """Each configuration's mean ± s.e.m. of accuracy at its mean ``x`` (nudged by method, :data:`NUDGE`); a
    method's later (sparser) configurations hollow."""
    seen: set[str] = set()
    for conf, g in rows.groupby("configuration", sort=False):
        method = g["method"].iloc[0]
        mean, sem = mean_sem(g["accuracy (%)"])
        ax.errorbar(g[x].mean() * NUDGE ** (METHODS.index(method) - 3), mean, yerr=sem, fmt=MARKERS[method],
                    color=COLORS[method], label=conf, ms=6, capsize=2, mfc="white" if method in seen else COLORS[method])
        seen.add(method)


def plot_pareto(frame: pd.DataFrame, table: pd.DataFrame, scale_line: str) -> plt.Figure:
    """Accuracy against parameters kept (float32 equivalents, masks at their bits), the Pareto front joined."""
    fig, axes = _panels(frame, f"final average accuracy against parameters kept (methods nudged sideways by up to "
                               f"{NUDGE ** 3 - 1:.0%}); {scale_line}")  # fmt: skip
    for ax, (stream, rows) in zip(axes, frame.groupby("stream", sort=False)):
        _points(ax, rows, "kept parameters")
        front = table.loc[stream]
        front = front[front["on Pareto front"]].sort_values("kept parameters")
        ax.plot(front["kept parameters"], front["mean accuracy"], "k--", lw=0.8, label="Pareto front")
        ax.set(xscale="log", title=stream, xlabel="parameters kept (float32 equivalents)", ylabel="accuracy (%)")
        ax.xaxis.set_minor_formatter(NullFormatter())
    _legend(fig, axes)
    return fig


def plot_time(frame: pd.DataFrame, scale_line: str, records: Records) -> plt.Figure:
    """Accuracy against training time (one CPU thread per run), with where the drawn runs were trained and how
    many of them shared the cores with another process (the records' load average), which slows a run."""
    drawn = [r for r in seed_views(records.where("train")) if not is_diagnostic(r["config"])]  # what it draws
    environment = "; ".join(f"{n} runs on {w}" for w, n in trained_where(drawn).items())
    stacked = sum("stacked_with" in r["config"] for r in drawn)  # each drawn at its stack's time over its seeds
    if stacked:
        environment += f"; {stacked} of them stacked, each at its stack's time / seeds"
    loads = [(r["environment"] or {}).get("load_average") for r in drawn]
    busy = sum(1 for la in loads if la is not None and la > 1.5)  # other work ran beside it: its time is slower
    untold = loads.count(None)
    notes = ([f"{busy} made while other work ran on the machine (load average above 1.5)"] if busy else []) + (
        [f"{untold} made before records stored the machine's load, so whether other work ran beside them is not "
         "known"] if untold else [])  # fmt: skip
    sharing = "; " + ", ".join(notes) if notes else ""
    fig, axes = _panels(frame, f"final average accuracy against training time ({environment}{sharing}; methods "
                               f"nudged sideways by up to {NUDGE ** 3 - 1:.0%}); {scale_line}")  # fmt: skip
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
            x = np.arange(1, curves.shape[1] + 1) + 0.12 * (METHODS.index(method) - 3)
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

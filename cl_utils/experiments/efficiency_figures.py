"""Chapter 02's figures and tables, drawn from the records alone.

Every label, caption and scale line is read from the records (their configs, metrics and data sources), never
from the parameters the notebook was run with, so a caption cannot describe other runs than the ones it shows;
the parameters only say which records go where (:func:`.efficiency_report.fig_runs`,
:func:`.efficiency_report.matching_runs`). A figure drawn for several datasets has one row of panels per dataset.
:mod:`.efficiency_report` holds the selections, the scale lines and the claims; :mod:`.efficiency_trend` the
scale trend's table.

Why one module (over 300 lines): every figure and table of the chapter, drawn from the same selections with the
same helpers (a figure and the table of its points must show the same records).
"""
from __future__ import annotations

import math
import textwrap
from functools import lru_cache
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plots
from ..efficiency import METHODS, compression_ratio, dense_fraction
from ..metrics import format_mean_spread, mean_sem
from ..models import ball_cnn, mlp
from .runs import Records
from .efficiency_runs import PAIRS, Params, match, setting
from .efficiency_report import (DATA, MATCHED_MEAN, PAPER_TABLE1, TITLE, accuracy, common, fig_runs, matching_runs,
                                memory_steps_runs, paper_fig3, point_runs, retraining_budget, scale, seeds_of,
                                synthetic)  # fmt: skip
from .efficiency_seeds import grid_inputs, run_cache
from .efficiency_trend import trend_records, trend_table

__all__ = ["NAMES", "dense_note", "scale_lines", "fig_accuracy_vs_free", "table_accuracy_vs_free", "caption_matching",
           "table_matching", "caption_memory_steps", "table_memory_steps", "caption_grid_against_search",
           "table_grid_against_search", "fig_rounds_budget",
           "table_rounds_budget", "fig_matching_per_task", "fig_rounds_no_budget",
           "table_rounds_no_budget", "fig_scale_trend", "table_scale_trend"]  # fmt: skip

NAMES = {"packnet": "PackNet", "memory": "Memory", "multinet": "Multinet"}


# ------------------------------------------------------------------------------------------------ helpers
def _of(runs: list[dict], **match) -> list[dict]:
    """The runs whose config has every ``match`` value (in their order)."""
    return [r for r in runs if all(r["config"][k] == v for k, v in match.items())]


def _values(runs: list[dict], key: str) -> list:
    """Each value of config ``key`` in the runs, once, in their order."""
    return list(dict.fromkeys(r["config"][key] for r in runs))


def _name(runs: list[dict]) -> str:
    return TITLE[common(runs)["dataset"]]


def _tasks(runs: list[dict]) -> int:
    return len(runs[0]["metrics"]["acc"])


def _points(runs: list[dict]) -> str:  # the grid size of Table 1's match records
    return "/".join(dict.fromkeys(str(r["config"]["points"]) for r in runs))


def _lines(names: list[str], lines: list[str], inches: float) -> str:
    """Scale lines under a figure's title, wrapped to its width: each dataset's named where the figure has several."""
    named = lines if len(lines) == 1 else [f"{n}: {line}" for n, line in zip(names, lines)]
    return plots.fit_width(named, inches)


@lru_cache(maxsize=None)
def _dense_of(hidden: str | tuple[int, ...], heads: int) -> float:
    net = ball_cnn([2] * heads) if hidden == "ball_cnn" else mlp(784, list(hidden), [2] * heads)
    return dense_fraction(net)


def _dense(runs: list[dict]) -> float:
    """What every method keeps whole (biases, the task heads) per prunable body weight, in the records' network."""
    hidden = common(runs)["hidden"]
    return _dense_of(hidden if isinstance(hidden, str) else tuple(hidden), _tasks(runs))


def dense_note(records: Records, p: Params) -> str:
    """For each dataset of Fig. 1: the share of the parameters every method keeps whole, and of all kept at each p."""
    lines = []
    for runs in (fig_runs(records, p, "fig1", d) for d in p.datasets):
        d, dense = common(runs)["dataset"], _dense(runs)
        lines.append(f"{d}: biases and heads are {100 * dense:.2f} % of the prunable body weights; at p = "
                     + ", ".join(f"{f:g}: {100 * (1 - f + dense) / (1 + dense):.2f} %" for f in _values(runs, "free"))
                     + " of all parameters are kept")  # fmt: skip
    return "\n".join(lines)


def scale_lines(records: Records, p: Params) -> str:
    """The data and scale of Fig. 1's records, one dataset per line (the claims table's rows add their own)."""
    shown = [fig_runs(records, p, "fig1", d) for d in p.datasets]
    return "\n".join(f"{common(runs)['dataset']}: {scale(runs, note=False)}" for runs in shown)


# ------------------------------------------------------------------------------------------------- Figure 1
def fig_accuracy_vs_free(records: Records, p: Params) -> plt.Figure:
    """Fig. 1: mean test accuracy over the tasks against p, one panel per dataset, one line per method
    (mean ± s.e.m. over seeds)."""
    shown = [fig_runs(records, p, "fig1", d) for d in p.datasets]
    fig, axes = plt.subplots(1, len(shown), figsize=(6.2 * len(shown), 4.2), squeeze=False)
    for ax, runs in zip(axes[0], shown):
        ps = _values(runs, "free")
        for i, m in enumerate(METHODS):
            if not _of(runs, method=m):
                continue
            means = [accuracy(_of(runs, method=m, free=f)).mean(0) for f in ps]  # per seed: mean over tasks
            ax.errorbar([1 - f for f in ps], [v.mean() for v in means], yerr=[mean_sem(v)[1] for v in means],
                        marker="o", capsize=3, color=plots.PALETTE[i], label=NAMES[m])  # fmt: skip
        ax.set_xscale("log")  # 1 - p on a log axis, so that 0.99 and 0.995 separate
        ax.set_xticks([1 - f for f in ps], [f"{f:g}" for f in ps])
        ax.minorticks_off()
        ax.invert_xaxis()
        ax.set(xlabel="final free fraction p (log scale of 1 - p; body weights)",
               ylabel=f"mean test accuracy, {_tasks(runs)} tasks (%)")  # fmt: skip
        ax.set_title(f"Fig. 1 ({_name(runs)})\n" + textwrap.fill(scale(runs), 75), fontsize=9)
        ax.legend()
    fig.tight_layout()
    return fig


def table_accuracy_vs_free(records: Records, p: Params) -> pd.DataFrame:
    """Fig. 1's points: the mean test accuracy over the tasks (%), mean ± s.e.m. over seeds."""
    rows = []
    for runs in (fig_runs(records, p, "fig1", d) for d in p.datasets):
        rows += [{"dataset": _name(runs), "p": f"{f:g}",
                  **{NAMES[m]: format_mean_spread(accuracy(_of(runs, method=m, free=f)).mean(0))
                     for m in _values(runs, "method")}} for f in _values(runs, "free")]  # fmt: skip
    return pd.DataFrame(rows).set_index(["dataset", "p"])


# ---------------------------------------------------------------------------------------------------- Table 1
def caption_matching(records: Records, p: Params) -> str:
    """What :func:`table_matching` shows, and the data and scale of its match records."""
    lines = ["Table 1, ours beside the paper's: compression ratio (1 - p) / (1 - p_bar) at matched accuracy, p and "
             "p_bar", "counting body weights only; 'all params' also counts the biases and heads every method keeps "
             "whole", "(gap: accuracy of a run at p_bar minus PackNet's; a large gap means the accuracy curve is flat "
             "or noisy near p_bar)"]  # fmt: skip
    for runs in (matching_runs(records, p, d) for d in p.matching_datasets):
        lines.append(f"  {common(runs)['dataset']}: {scale(runs, spread=MATCHED_MEAN)}; p_bar on a grid of "
                     f"{_points(runs)} values")  # fmt: skip
    return "\n".join(lines)


def table_matching(records: Records, p: Params) -> pd.DataFrame:
    """Table 1: at each p, PackNet's accuracy and the p̄ at which Memory and Multinet match it, with the
    compression ratios (body weights only, and all parameters) beside the paper's."""
    rows = []
    for runs in (matching_runs(records, p, d) for d in p.matching_datasets):
        d, dense = common(runs)["dataset"], _dense(runs)
        for f in _values(runs, "target_free"):
            found = {r["config"]["method"]: r["metrics"] for r in _of(runs, target_free=f)}
            paper = [f"{v:.2f}" for v in PAPER_TABLE1[d, f]] if (d, f) in PAPER_TABLE1 else ["not in paper"] * 2
            row = {"dataset": TITLE[d], "PackNet p": f"{f:g}", "PackNet acc (%)": f"{found['memory']['target']:.2f}"}
            for (m, x), paper_ratio in zip(found.items(), paper):
                row |= {f"{NAMES[m]} p̄": f"{x['free']:.4f}", f"{NAMES[m]} acc (%)": f"{x['performance']:.2f}",
                        f"{NAMES[m]} gap (points)": f"{x['performance'] - x['target']:+.2f}",
                        f"{NAMES[m]} ratio": f"{compression_ratio(f, x['free']):.2f}",
                        f"{NAMES[m]} ratio, all params": f"{compression_ratio(f, x['free'], dense):.2f}",
                        f"paper {NAMES[m]}": paper_ratio}  # fmt: skip
            rows.append(row)
    return pd.DataFrame(rows).set_index(["dataset", "PackNet p"]).T if rows else pd.DataFrame()


def caption_memory_steps(records: Records, p: Params) -> str:
    """What :func:`table_memory_steps` shows, and the data and scale of its records."""
    lines = ["Memory at two readings of 'the same time budget': the same epochs per phase as PackNet (Table 1; "
             "Memory also trains on every", "earlier task's images, about 3 times PackNet's gradient steps) and "
             "PackNet's steps (every epoch a fresh draw, one task's size, from all tasks seen so far);",
             "acc at p_bar: the run at the matched p_bar, gap: it minus PackNet's accuracy (a large gap: a flat or "
             "noisy curve near p_bar)"]  # fmt: skip
    for d in p.matching_datasets:
        fills, matches = memory_steps_runs(records, p, d)
        if fills:
            lines.append(f"  {TITLE[d]}: {scale(fills, spread=MATCHED_MEAN + '; Memory acc at p: mean ± s.e.m.')}; "
                         f"p_bar on a grid of {_points(matches)} values")  # fmt: skip
    return "\n".join(lines)


def table_memory_steps(records: Records, p: Params) -> pd.DataFrame:
    """At each p: Memory's accuracy (mean ± s.e.m. over seeds) and compression ratio (body weights) with the same
    epochs as PackNet and with PackNet's gradient steps, beside PackNet's accuracy and the paper's ratio."""
    rows = []
    for d in p.matching_datasets:
        fills, matches = memory_steps_runs(records, p, d)
        s = setting(p, d)
        for f, m in zip(s.free, matches):
            epochs = match(records, p, d, f, "memory")
            same_epochs = point_runs(records, p, d, "memory", f, 1, s.budget, s.seeds)
            rows.append({"dataset": TITLE[d], "p": f"{f:g}", "PackNet acc (%)": f"{m['metrics']['target']:.2f}",
                         "Memory acc at p, same epochs (%)": format_mean_spread(accuracy(same_epochs).mean(0)),
                         "Memory acc at p, PackNet's steps (%)": format_mean_spread(
                             accuracy(_of(fills, free=f)).mean(0)),
                         "acc at p̄, PackNet's steps (%)": f"{m['metrics']['performance']:.2f}",
                         "gap (points)": f"{m['metrics']['performance'] - m['metrics']['target']:+.2f}",
                         "ratio, same epochs": f"{compression_ratio(f, epochs['free']):.2f}",
                         "ratio, PackNet's steps": f"{compression_ratio(f, m['metrics']['free']):.2f}",
                         "paper ratio": f"{PAPER_TABLE1[d, f][0]:.2f}" if (d, f) in PAPER_TABLE1 else "not in paper"})
    return pd.DataFrame(rows).set_index(["dataset", "p"]) if rows else pd.DataFrame()


def searched(p: Params) -> list[str]:
    """The datasets whose Table 1 the sequential search also matched (``match_search``), in the chapter's order."""
    return [d for d in p.matching_datasets if d in p.match_search]


def caption_grid_against_search(records: Records, p: Params) -> str:
    """The data and scale of :func:`table_grid_against_search`'s grid and search records, one dataset per line."""
    shown = [matching_runs(records, p, d) + matching_runs(records, p, d, "search") for d in searched(p)]
    return "\n".join(f"Table 1 ({_name(runs)}): p_bar on the grid ({_points(_of(runs, how='grid'))} points) and by "
                     f"the search; {scale(runs, spread=MATCHED_MEAN)}" for runs in shown)  # fmt: skip


def _u(free: float) -> float:
    """``u = −log10(1 − p̄)``, the scale the grid is even in."""
    return -math.log10(1 - free)


def table_grid_against_search(records: Records, p: Params) -> pd.DataFrame:
    """Table 1's p̄ found on the grid beside the p̄ the sequential search found, with what each cost.

    Trainings count stacked networks trained one after another (a grid of ``points × seeds`` models is one,
    shared by every target, or one run per point and seed where the seeds are not stacked; each target then trains
    one run at the p̄ it found); times are the wall times of
    those trainings, read from the run cache (the records a match asked for: its ``inputs``).
    """
    cache = run_cache(records, p)
    minutes = lambda runs: f"{sum(r['wall_seconds'] for r in runs) / 60:.1f}"  # noqa: E731
    shown = {d: (matching_runs(records, p, d), matching_runs(records, p, d, "search")) for d in searched(p)}
    counts = dict.fromkeys(str(len(_values(grids, "target_free"))) for grids, _ in shown.values())
    shared, rows = f"grid minutes (shared by the {' / '.join(counts)} p)", []
    for grids, searches in shown.values():
        for g_rec, s_rec in zip(grids, searches):  # the same target and method
            f, m = g_rec["config"]["target_free"], g_rec["config"]["method"]
            grid, search = g_rec["metrics"], s_rec["metrics"]
            g_inputs = [cache[k] for k in g_rec["inputs"] if k in cache]
            g_runs = grid_inputs(g_rec, cache)
            at_found = [r for r in g_inputs
                        if r["config"].get("method") == m and r["config"].get("free") == grid["free"]]  # fmt: skip
            s_runs = [cache[k] for k in s_rec["inputs"] if k in cache and cache[k]["config"].get("method") == m]
            rows.append({"dataset": _name([g_rec]), "PackNet p": f"{f:g}", "method": NAMES[m],
                         "p̄ grid": f"{grid['free']:.4f}", "p̄ search": f"{search['free']:.4f}",
                         "difference in u": f"{_u(grid['free']) - _u(search['free']):+.3f}",
                         "ratio grid": f"{compression_ratio(f, grid['free']):.2f}",
                         "ratio search": f"{compression_ratio(f, search['free']):.2f}",
                         "search trainings": len(search["evaluations"]),
                         "search minutes": minutes(s_runs), shared: minutes(g_runs),
                         "run at grid p̄, minutes": minutes(at_found)})  # fmt: skip
    return pd.DataFrame(rows).set_index(["dataset", "PackNet p", "method"]).fillna("–")


# ------------------------------------------------------------------------------------------- Figures 2 and 4
def _errors(runs: list[dict]) -> dict[float, dict[int, np.ndarray]]:
    """Per p and N: the mean test error over the tasks (%), one value per seed."""
    return {f: {n: 100 - accuracy(_of(runs, free=f, rounds=n)).mean(0) for n in _values(runs, "rounds")}
            for f in _values(runs, "free")}  # fmt: skip


def _error_figure(records: Records, p: Params, fig: str, datasets: list[str], head: Callable[[str], str]) -> plt.Figure:
    """Mean test error against N, one panel per p, one row per dataset; ``head(B)`` is the title's first line."""
    shown, per_round = [fig_runs(records, p, fig, d) for d in datasets], fig == "fig4"
    names, cols = [_name(runs) for runs in shown], max(len(_values(runs, "free")) for runs in shown)
    f, axes = plt.subplots(len(shown), cols, figsize=(4.4 * cols, 3.6 * len(shown)), squeeze=False)
    for row, runs, name in zip(axes, shown, names):
        errors, rounds = _errors(runs), _values(runs, "rounds")
        for ax, (free, by_n) in zip(row, errors.items()):
            errs = [by_n[n] for n in rounds]
            ax.errorbar(rounds, [e.mean() for e in errs], yerr=[mean_sem(e)[1] for e in errs], marker="o", capsize=3)
            ax.set(xlabel="pruning rounds N", ylabel=f"mean test error, {_tasks(runs)} tasks (%)", xticks=rounds,
                   title=f"p = {free:g}" if len(shown) == 1 else f"{name}, p = {free:g}")  # fmt: skip
        for ax in row[len(errors):]:
            ax.set_axis_off()
    budgets = " / ".join(str(retraining_budget(runs, per_round)) for runs in shown)
    lines = _lines(names, [scale(runs, per_round=per_round) for runs in shown], 4.4 * cols)
    f.suptitle(f"{head(budgets)} ({' / '.join(names)})\n{lines}", fontsize=9)
    f.tight_layout()
    return f


def _error_table(records: Records, p: Params, fig: str, datasets: list[str]) -> pd.DataFrame:
    """The mean test error (%) of each N (rows) and p (columns), per dataset."""
    frames = {}
    for runs in (fig_runs(records, p, fig, d) for d in datasets):
        frames[_name(runs)] = pd.DataFrame({f"p = {f:g}": {n: f"{e.mean():.2f}" for n, e in by_n.items()}
                                            for f, by_n in _errors(runs).items()})  # fmt: skip
    table = pd.concat(frames, names=["dataset", "N"]).fillna("–")
    table.columns.name = "mean test error (%)"
    return table


def fig_rounds_budget(records: Records, p: Params) -> plt.Figure:
    """Fig. 2: PackNet's error against the rounds N at a fixed retraining budget B (R = B / N epochs a round)."""
    head = lambda b: f"Fig. 2: fixed budget B = {b} epochs, R = B / N"  # noqa: E731
    return _error_figure(records, p, "fig2", p.fig2_datasets, head)


def table_rounds_budget(records: Records, p: Params) -> pd.DataFrame:
    """Fig. 2's points: mean test error (%) over seeds."""
    return _error_table(records, p, "fig2", p.fig2_datasets)


def fig_rounds_no_budget(records: Records, p: Params) -> plt.Figure:
    """Fig. 4: the same without a budget, R = B epochs in every round."""
    head = lambda b: f"Fig. 4: no budget, R = {b} epochs per round"  # noqa: E731
    return _error_figure(records, p, "fig4", p.fig4_datasets, head)


def table_rounds_no_budget(records: Records, p: Params) -> pd.DataFrame:
    """Fig. 4's points: mean test error (%) over seeds."""
    return _error_table(records, p, "fig4", p.fig4_datasets)


# --------------------------------------------------------------------------------------------------- Figure 3
def fig_matching_per_task(records: Records, p: Params) -> plt.Figure:
    """Fig. 3: each task's test accuracy for PackNet at p and for Memory and Multinet at their matched p̄
    (mean ± s.e.m. over the matching seeds), one panel per p, one row per dataset."""
    shown = [matching_runs(records, p, d) for d in p.matching_datasets]
    names, cols = [_name(runs) for runs in shown], max(len(_values(runs, "target_free")) for runs in shown)
    fig, axes = plt.subplots(len(shown), cols, figsize=(4.6 * cols, 4.2 * len(shown)), squeeze=False, sharey=True)
    for row, runs, name in zip(axes, shown, names):
        frees, tasks = _values(runs, "target_free"), PAIRS[: _tasks(runs)]
        for ax, f in zip(row, frees):
            found = {r["config"]["method"]: r["metrics"] for r in _of(runs, target_free=f)}
            bars = {f"PackNet p={f:g}": found["memory"]["target_acc"],
                    **{f"{NAMES[m]} p̄={x['free']:.5f} ({(1 - f) / (1 - x['free']):.2f}x fewer weights)": x["acc"]
                       for m, x in found.items()}}  # fmt: skip (5 decimals: at p = 0.995 both p̄ are 0.9997...)
            for i, (label, a) in enumerate(bars.items()):
                a = np.asarray(a)
                sem = a.std(1, ddof=1) / np.sqrt(a.shape[1]) if a.shape[1] > 1 else np.zeros(len(a))
                ax.bar(np.arange(len(a)) + (i - 1) * 0.27, a.mean(1), 0.27, yerr=sem, capsize=2, label=label,
                       color=plots.PALETTE[i])  # fmt: skip
            ax.axhline(100 / len(tasks[0]), color="grey", lw=0.8, ls=":")  # chance for a task of its classes
            ax.set(xticks=range(len(tasks)), xticklabels=["/".join(map(str, t)) for t in tasks],
                   xlabel="task (classes)", ylabel="test accuracy (%)", ylim=(0, 100),
                   title=f"p = {f:g}" if len(shown) == 1 else f"{name}, p = {f:g}")  # fmt: skip
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=1, frameon=False)
        for ax in row[len(frees):]:
            ax.set_axis_off()
    fig.suptitle(f"Fig. 3: matching, per task ({' / '.join(names)}), mean ± s.e.m. over seeds; dotted: chance\n"
                 + _lines(names, [scale(runs) for runs in shown], 4.6 * cols), fontsize=9)  # fmt: skip
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------- Fig. 3's scale trend
def _trend(records: Records, p: Params) -> tuple[pd.DataFrame, list[dict]]:
    shown = trend_records(records, p)
    return trend_table(shown, paper_fig3("mnist")), shown


def _trend_scale(records: Records, shown: list[dict], p: Params) -> str:
    """What the trend's runs share (all but images per class and epochs), and the chapter's own scale among
    them, read from their records."""
    c = shown[0]["config"]
    data = "SYNTHETIC stand-in (tests only)" if synthetic(shown) else DATA[c["dataset"]]
    hidden = "-".join(map(str, c["hidden"])) if isinstance(c["hidden"], list) else c["hidden"]
    s = setting(p, "mnist")
    own = point_runs(records, p, "mnist", "packnet", s.free[0], 1, s.budget, p.matching_seeds)[0]["config"]
    return (f"{data}; PackNet, N = 1; MLP 784-{hidden}, Adam lr {c['lr']:g}, batch {c['batch_size']}; "
            f"{len(seeds_of(shown))} seeds, mean ± s.e.m.; images per class and epochs as marked; the chapter's own "
            f"point: {own['per_class'] or 'all'} training images/class; E = {own['epochs']}, B = {own['budget']}")


def _epochs(e: int, b: int) -> str:
    return f"E=B={e}" if e == b else f"E={e}, B={b}"


def fig_scale_trend(records: Records, p: Params) -> plt.Figure:
    """PackNet's mean accuracy at each p against the scale (images per class, with E = B growing alike), the
    paper's Fig. 3 value of each p dashed in the same colour."""
    table, shown = _trend(records, p)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    if table.empty:
        ax.set_axis_off()
        ax.set_title("Fig. 3's scale trend: not run (parameter scale_trend)", fontsize=9)
        return fig
    for i, (f, rows) in enumerate(table.groupby("p", sort=False)):
        color = plots.PALETTE[i]
        ax.errorbar(rows["images/class"], rows["accuracy (%)"], yerr=rows.SE.fillna(0), marker="o", capsize=3,
                    color=color, label=f"p = {f:g}")  # fmt: skip
        ax.axhline(rows["paper (%)"].iloc[0], color=color, ls="--", lw=1)
    scales = table.drop_duplicates(["images/class", "E", "B"])
    ax.set_xscale("log")
    ax.set_xticks(scales["images/class"], [f"{r.subset}\n{_epochs(int(r.E), int(r.B))}"
                                           for _, r in scales.iterrows()])  # fmt: skip
    ax.minorticks_off()
    ax.set(xlabel="training images per class (and epochs E, B)", ylabel="PackNet's mean test accuracy, 5 tasks (%)")
    ax.legend(title="dashed: the paper's Fig. 3", fontsize=8)
    ax.set_title("Fig. 3's scale trend (MNIST): does PackNet's gap to the paper close with scale?\n"
                 + textwrap.fill(_trend_scale(records, shown, p), 80), fontsize=9)  # fmt: skip
    fig.tight_layout()
    return fig


def table_scale_trend(records: Records, p: Params) -> pd.DataFrame:
    """The trend's points: PackNet's mean accuracy (mean ± s.e.m. over seeds) and its gap to the paper."""
    table, _ = _trend(records, p)
    if table.empty:
        return table
    out = table.assign(**{"accuracy (%)": [f"{a:.2f} ± {s:.2f}" for a, s in zip(table["accuracy (%)"], table.SE)],
                          "p": [f"{f:g}" for f in table.p]})  # (p to its own digits: 0.995 is not 1.00)
    return out.drop(columns=["SE", "images/class"]).round(2).set_index(["subset", "E", "B", "p"]).rename_axis(
        ["images/class", "E", "B", "p"])  # fmt: skip

"""Chapter 05's figures and tables, drawn from the records alone.

Every label, caption and scale line is read from the records (their configs, data sources and environment),
never from the parameters the notebook was run with, so a caption cannot describe other runs than the ones it
shows; the parameters only say which records go where (:func:`.filter_report.runs`). :mod:`.filter_report`
holds the frames and the claims.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .. import plots
from .runs import Records
from .filter_runs import Params
from .filter_report import (NAMES, USED_READING, carved, common_config, data_label, eq1_readings, gaps, history_frame,
                            control_runs, restart_control, runs, scale, speed, summary, visit_fit, visits)  # fmt: skip

__all__ = ["EQ1_CAPTION", "table_eq1_readings", "caption", "scale_lines", "table_summary", "fig_fixed_subset",
           "fig_fixed_subset_pretrained", "fig_resampled", "fig_resampled_pretrained", "fig_datasets",
           "fig_datasets_pretrained", "table_fixed_subset", "table_starts", "table_resampled", "fig_epoch_time",
           "table_epoch_time", "table_visits", "table_visit_starts", "table_restart_control",
           "caption_restart_control"]  # fmt: skip

SHORT = {"cifar10": "C10", "mnist": "MN", "fashion_mnist": "FMN", "kmnist": "KMN", "cifar100": "C100", "emnist": "EMN"}
LONG = {"cifar10": "CIFAR-10", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "kmnist": "KMNIST",
        "cifar100": "CIFAR-100", "emnist": "EMNIST"}  # fmt: skip
FIG_NAME = {"fig2": "Fig. 2", "fig2_standin": "Fig. 2 from the pretrained stand-in", "fig3": "Fig. 3",
            "fig3_standin": "Fig. 3 from the pretrained stand-in", "fig4": "Fig. 4",
            "fig4_standin": "Fig. 4 from the pretrained stand-in"}  # fmt: skip
STARTS = {"random init": "", "pretrained stand-in": "_standin"}  # each start's suffix of a figure's name


# ------------------------------------------------------------------------------------ Eq. (1): the paper's arithmetic
EQ1_CAPTION = ("VGG-16 filter count after k pruning steps of 5 % (the report: 4,224 at the start, 3,136 after 49 "
               "epochs)")  # fmt: skip


def table_eq1_readings() -> pd.DataFrame:
    """VGG-16's filter count after k steps of 5 % every 7 epochs under four readings of the report's Eq. (1)
    (:func:`.filter_report.eq1_readings`: the paper's arithmetic, not a run)."""
    readings = {(f"{name}  [used here]" if name == USED_READING else name): totals
                for name, totals in eq1_readings().items()}  # fmt: skip
    table = pd.DataFrame(readings, index=pd.Index(range(8), name="pruning steps")).T
    table.columns = [f"{k} (epoch {7 * k + 1}+)" for k in range(8)]
    return table


# ---------------------------------------------------------------------------------------------- runs and captions
def caption(records: Records, p: Params, fig: str, head: str) -> str:
    """A table's caption: ``head`` (what it shows), then the scale of the records of figure ``fig``."""
    return f"{head}\n{scale(records, p, fig)}"


def scale_lines(records: Records, p: Params, figs: tuple[str, ...] | None = None) -> str:
    """The scale of the records of each figure in ``figs``, one figure per line; by default Figs. 2-4, and each
    figure from the pretrained stand-in that has records."""
    if figs is None:
        figs = ("fig2", "fig3", "fig4") + tuple(f"fig{n}_standin" for n in (2, 3, 4)
                                                if runs(records, p, f"fig{n}_standin"))  # fmt: skip
    return "\n".join(f"{FIG_NAME[f]}: {scale(records, p, f)}" for f in figs)


def table_summary(records: Records, p: Params) -> pd.DataFrame:
    """One row per run: epochs, filters at the start and the end, training seconds."""
    return summary(records, p)


def _curves(records: Records, p: Params, fig: str, title: str) -> plt.Figure:
    """Accuracy, loss and filter count per epoch, one column per criterion (mean over seeds, with a band of one
    standard error over seeds where there are several)."""
    shown = runs(records, p, fig)
    c_fig, stand_ins = common_config(shown), carved(shown)
    history = history_frame(records, p)
    data = history[history.figure == fig]
    crits = list(dict.fromkeys(r["config"]["criterion"] for r in shown))
    every = c_fig["every"]
    f, axes = plt.subplots(3, len(crits), figsize=(4.2 * len(crits), 7.6), sharex=True, sharey="row", squeeze=False,
                           gridspec_kw={"height_ratios": [3, 3, 1.4]})  # fmt: skip
    seeds = data.seed.nunique()
    for j, c in enumerate(crits):
        by_epoch = data[data.criterion == c].groupby("epoch")
        d, se = by_epoch.mean(numeric_only=True), by_epoch.sem(numeric_only=True)  # SE over seeds (NaN for one)
        names = by_epoch.data.first()
        for i, (metric, unit) in enumerate([("acc", "accuracy (%)"), ("loss", "cross-entropy loss")]):
            for split, label in (("train", "training"), ("val", "validation")):
                col = f"{split}_{metric}"
                line, = axes[i, j].plot(d.index, d[col], label=label)
                if seeds > 1:
                    axes[i, j].fill_between(d.index, d[col] - se[col], d[col] + se[col], color=line.get_color(),
                                            alpha=0.2, lw=0)  # fmt: skip
            axes[i, j].set_ylabel(unit if j == 0 else "")
        axes[2, j].step(d.index, d.filters, where="mid", color="black")
        axes[2, j].set(xlabel="epoch", ylabel="conv filters" if j == 0 else "")
        axes[0, j].set_title(NAMES[c], fontsize=10, pad=16 if c_fig["mode"] == "datasets" else 6)
        for b, start in enumerate(range(1, int(d.index.max()) + 1, every)):
            for ax in axes[:, j]:
                if b % 2:
                    ax.axvspan(start - 0.5, min(start + every, d.index.max() + 1) - 0.5, color="grey", alpha=0.08,
                               lw=0)  # fmt: skip
                if b:
                    ax.axvline(start - 0.5, color="grey", lw=0.6, ls=":")
            if c_fig["mode"] == "datasets":  # the dataset of each block, abbreviated above the top panel
                name = names.loc[start]
                axes[0, j].annotate(SHORT.get(name, name) + ("*" if name in stand_ins else ""),
                                    (start + every / 2 - 0.5, 1.01), xycoords=("data", "axes fraction"), fontsize=7,
                                    ha="center", va="bottom")  # fmt: skip
    f.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=2, frameon=False, fontsize=8)
    key = ("; blocks: " + ", ".join(f"{v} = {k}" for k, v in SHORT.items() if k in data.data.values)
           if c_fig["mode"] == "datasets" else "")  # fmt: skip
    band = f"; lines: mean of {seeds} seeds, bands: ± 1 SE over seeds" if seeds > 1 else ""
    f.suptitle(plots.fit_width(f"{title}{key}{band}\n{scale(records, p, fig)}".split("\n"), f.get_figwidth()),
               fontsize=9)
    f.tight_layout(rect=(0, 0.03, 1, 1))
    return f


def _dataset(records: Records, p: Params, fig: str) -> str:
    names = common_config(runs(records, p, fig))["datasets"]
    return ", ".join(LONG.get(n, n) for n in names)


def fig_fixed_subset(records: Records, p: Params) -> plt.Figure:
    """Fig. 2: accuracy, loss and filters per epoch on one fixed subset, per criterion."""
    return _curves(records, p, "fig2", f"Fig. 2: filter pruning on a fixed subset of {_dataset(records, p, 'fig2')} "
                                       "(dotted lines: blocks; pruned runs prune there)")  # fmt: skip


def fig_fixed_subset_pretrained(records: Records, p: Params) -> plt.Figure:
    """Fig. 2 again, from the network pretrained on images no block uses (the stand-in for ImageNet weights)."""
    return _curves(records, p, "fig2_standin", "Fig. 2 from a pretrained network (a stand-in for ImageNet "
                   f"weights): fixed subset of {_dataset(records, p, 'fig2_standin')} (dotted lines: blocks)")


def fig_resampled_pretrained(records: Records, p: Params) -> plt.Figure:
    """Fig. 3 again, from the pretrained stand-in."""
    return _curves(records, p, "fig3_standin", "Fig. 3 from a pretrained network (a stand-in for ImageNet weights): "
                   f"{_dataset(records, p, 'fig3_standin')} subset resampled at every block (dotted lines)")


def fig_datasets_pretrained(records: Records, p: Params) -> plt.Figure:
    """Fig. 4 again, from the pretrained stand-in."""
    return _curves(records, p, "fig4_standin", "Fig. 4 from a pretrained network (a stand-in for ImageNet "
                   "weights): a different dataset every block (dotted lines: switch and, if pruned, prune)")


def fig_resampled(records: Records, p: Params) -> plt.Figure:
    """Fig. 3: the same, the subset resampled at every block."""
    return _curves(records, p, "fig3", f"Fig. 3: filter pruning, {_dataset(records, p, 'fig3')} subset resampled at "
                                       "every block (dotted lines)")  # fmt: skip


def fig_datasets(records: Records, p: Params) -> plt.Figure:
    """Fig. 4: the same, a different dataset every block."""
    return _curves(records, p, "fig4", "Fig. 4: a different dataset every block (dotted lines: switch and, if pruned, "
                                       "prune)")  # fmt: skip


def table_fixed_subset(records: Records, p: Params) -> pd.DataFrame:
    """Fig. 2's averages over all epochs: accuracies, gap, and each criterion's cost against the baseline."""
    return gaps(records, p, "fig2")


def table_starts(records: Records, p: Params, fig: str = "fig2") -> pd.DataFrame:
    """The averages over all epochs of ``fig`` ("fig2" or "fig3") from each start, side by side: random weights and
    the pretrained stand-in (the quantities the paper's claims on Figs. 2 and 3 are about)."""
    starts = {name: fig + suffix for name, suffix in STARTS.items()}
    shown = {name: gaps(records, p, f) for name, f in starts.items() if runs(records, p, f)}
    if not shown:
        return pd.DataFrame()
    columns = ["train acc (%)", "val acc (%)", "train - val (points)", "final val acc (%)",
               "train acc below baseline (points)", "val acc below baseline (points)"]  # fmt: skip
    return pd.concat({name: t[[c for c in columns if c in t]] for name, t in shown.items()}, names=["start", "run"])


def table_restart_control(records: Records, p: Params, fig: str = "fig3",
                          history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Our control of ``fig`` ("fig3" by default) from each start where it ran: the baseline, the baseline with the
    optimiser rebuilt at every block end, and the pruned runs, averaged over all epochs and seeds, with the
    training accuracy of each against the plain baseline and of the pruned runs against the control (paired by
    seed, mean ± SE). Empty where the control did not run. ``history`` (:func:`history_frame` of the same records)
    saves building it again when the caller shows several figures' controls."""
    history = history_frame(records, p) if history is None else history  # once, for both starts
    shown = {name: restart_control(records, p, fig + suffix, history) for name, suffix in STARTS.items()}
    shown = {name: t for name, t in shown.items() if not t.empty}
    return pd.concat(shown, names=["start", "run"]) if shown else pd.DataFrame()


def caption_restart_control(records: Records, p: Params, fig: str = "fig3") -> str:
    """:func:`table_restart_control`'s caption: what it shows, then the scale of ``fig`` from each start where the
    control ran (the control has its figure's data, blocks and seeds); where it ran nowhere, how to run it."""
    ran = {fig + suffix: control_runs(records, p, fig + suffix) for suffix in STARTS.values()}
    ran = {f: control for f, control in ran.items() if control}
    if not ran:
        return f"Our restart control of {FIG_NAME[fig]}: not run with these parameters (name '{fig}' in restart_figures)."
    return (f"{FIG_NAME[fig]} and our restart control (no pruning, the optimiser rebuilt at every block end), averages "
            f"over all epochs; training accuracy paired by seed (mean ± SE over {len(next(iter(ran.values())))} "
            f"seeds). The control has its figure's data, blocks and seeds:\n" + scale_lines(records, p, tuple(ran)))


def table_resampled(records: Records, p: Params) -> pd.DataFrame:
    """Fig. 3's averages over all epochs."""
    return gaps(records, p, "fig3")


# ----------------------------------------------------------------------------------------------------- epoch time
def fig_epoch_time(records: Records, p: Params) -> plt.Figure:
    """Mean seconds per epoch of each full block of Figs. 2 and 3 (a flat line: the unpruned baseline)."""
    per_block, _ = speed(records, p)
    shown = {fig: runs(records, p, fig) for fig in ("fig2", "fig3") if runs(records, p, fig)}
    config = {fig: common_config(r) for fig, r in shown.items()}
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    for (f, c), d in per_block.reset_index().groupby(["figure", "criterion"]):
        ax.plot(d.block * config[f]["every"] + 1, d.seconds_per_epoch, marker="o" if f == "fig2" else "s",
                ls="-" if f == "fig2" else "--", color=plots.PALETTE[list(NAMES).index(c)],
                label=f"{FIG_NAME[f]}, {NAMES[c]}")  # fmt: skip
    joined = lambda key, fmt="{}": " / ".join(dict.fromkeys(fmt.format(c[key]) for c in config.values()))  # noqa: E731
    ax.set(xlabel=f"first epoch of the block (pruned runs lose {joined('percent', '{:g}')} % of their filters "
                  "per block)", ylabel="seconds per epoch\n(training + validation)")  # fmt: skip
    everything = [r for rs in shown.values() for r in rs]
    ran_on = ", ".join(sorted({r.get("environment", {}).get("device_name", "unknown") for r in everything}))
    figs = " / ".join(FIG_NAME[f].removeprefix("Fig. ") for f in config)
    datasets = " / ".join(dict.fromkeys(", ".join(c["datasets"]) for c in config.values()))
    fig.suptitle(f"Epoch time as VGG-16 shrinks (runs on: {ran_on}; mean of each full block)\n"
                 f"{data_label(everything)}: {datasets}, "
                 f"{joined('train_images')} training images per epoch "
                 f"(Figs. {figs}), batch {joined('batch_size')}", fontsize=9)  # fmt: skip
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return fig


def table_epoch_time(records: Records, p: Params) -> pd.DataFrame:
    """Per figure and criterion: seconds per epoch of the first and last full block, and their ratios."""
    return speed(records, p)[1].round(2)


# -------------------------------------------------------------------------------------------------------- visits
def table_visits(records: Records, p: Params, fig: str = "fig4") -> pd.DataFrame:
    """Fig. 4 (or ``fig``, its stand-in): the best validation accuracy of each dataset during each visit (mean over
    seeds)."""
    return visits(records, p, fig=fig).round(2)


def table_visit_starts(records: Records, p: Params) -> pd.DataFrame:
    """Fig. 4's second visit against the first from each start, side by side: per criterion and dataset, the
    best validation accuracy of each visit (mean over seeds), their difference, and the training accuracy at
    each visit's end (had the visit fitted its images?)."""
    history = history_frame(records, p)  # once, for both starts and both tables
    shown = {name: visits(records, p, history, "fig4" + suffix).join(visit_fit(records, p, history, "fig4" + suffix))
             for name, suffix in STARTS.items() if runs(records, p, "fig4" + suffix)}  # fmt: skip
    if not shown:
        return pd.DataFrame()
    return pd.concat(shown, names=["start"]).round(2)

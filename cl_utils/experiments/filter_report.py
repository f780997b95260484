"""Chapter 05's tables, computed from its records (the notebook keeps the figure code)."""
from __future__ import annotations

import pandas as pd

from .filter_pruning import Params

__all__ = ["NAMES", "history_frame", "summary", "gaps", "speed", "visits", "claims"]

NAMES = {"none": "baseline (no pruning)", "activation": "activation-based pruning", "weight": "weight-based pruning"}


def history_frame(records: dict) -> pd.DataFrame:
    """One row per (figure, criterion, seed, epoch), accuracies in %."""
    history = pd.DataFrame([{"figure": fig, "criterion": c, "seed": s, **h}
                            for (fig, c, s), r in records.items() for h in r["metrics"]["history"]])  # fmt: skip
    for col in ("train_acc", "val_acc"):
        history[col] *= 100
    return history


def summary(history: pd.DataFrame) -> pd.DataFrame:
    return history.groupby(["figure", "criterion", "seed"]).agg(
        epochs=("epoch", "max"), filters_start=("filters", "first"), filters_end=("filters", "last"),
        seconds=("seconds", "sum")).reset_index()  # fmt: skip


def gaps(history: pd.DataFrame, fig: str, crits: list[str]) -> pd.DataFrame:
    """Averages over all epochs (and seeds): accuracies, train-val gap, and the loss of each criterion to the baseline."""
    d = history[history.figure == fig].groupby(["criterion", "epoch"]).mean(numeric_only=True)
    rows = {}
    for c in crits:
        x = d.loc[c]
        row = {"train acc (%)": x.train_acc.mean(), "val acc (%)": x.val_acc.mean(),
               "train - val (points)": (x.train_acc - x.val_acc).mean(),
               "final val acc (%)": x.val_acc.iloc[-1], "filters at the end": int(x.filters.iloc[-1])}  # fmt: skip
        if "none" in crits:  # the baseline's own row is 0 by definition
            base = d.loc["none"]
            row["train acc below baseline (points)"] = (base.train_acc - x.train_acc).mean()
            row["val acc below baseline (points)"] = (base.val_acc - x.val_acc).mean()
        rows[NAMES[c]] = row
    frame = pd.DataFrame(rows).T.round(2)
    return frame.astype({"filters at the end": int})


def speed(history: pd.DataFrame, p: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seconds per epoch of each full block of Figs. 2 and 3, and first / last block ratios."""
    figures = p.figures()
    timing = history[history.figure.isin(["fig2", "fig3"])].copy()
    timing["block"] = (timing.epoch - 1) // timing.figure.map({f: figures[f]["every"] for f in ("fig2", "fig3")})
    per_block = timing.groupby(["figure", "criterion", "block"]).agg(
        filters=("filters", "first"), seconds_per_epoch=("seconds", "mean"), epochs=("epoch", "count"))
    per_block = per_block[per_block.epochs > 1].drop(columns="epochs")  # full blocks only (not a lone last epoch)
    table = per_block.groupby(["figure", "criterion"]).agg(
        first_block_s_per_epoch=("seconds_per_epoch", "first"), last_block_s_per_epoch=("seconds_per_epoch", "last"),
        filters_first=("filters", "first"), filters_last=("filters", "last"))  # fmt: skip
    table["last / first"] = table.last_block_s_per_epoch / table.first_block_s_per_epoch
    if "none" in p.criteria:  # the unpruned run of the same figure, in the same block: same load on the machine
        base_last = table.xs("none", level="criterion").last_block_s_per_epoch
        table["last / baseline's last"] = table.last_block_s_per_epoch / base_last.reindex(
            table.index.get_level_values("figure")).to_numpy()
    return per_block, table


def visits(history: pd.DataFrame, p: Params) -> pd.DataFrame:
    """Fig. 4: the best validation accuracy of each dataset during each visit (mean over seeds)."""
    v = history[history.figure == "fig4"].copy()
    v["visit"] = (v.epoch - 1) // p.fig4_every // len(p.fig4_datasets) + 1
    per_seed = v.groupby(["criterion", "seed", "data", "visit"])["val_acc"].max()  # the peak of each visit
    last = per_seed.groupby(["criterion", "data", "visit"]).mean().unstack("visit")
    last.columns = [f"visit {k}: peak val acc (%)" for k in last.columns]
    if p.fig4_passes > 1:
        last["visit 2 - visit 1 (points)"] = last.iloc[:, 1] - last.iloc[:, 0]
    return last


def claims(p: Params, history: pd.DataFrame, gap_tables: dict, speed_table: pd.DataFrame, last: pd.DataFrame,
           scale: dict[str, str]) -> list[dict]:  # fmt: skip
    """The rows of the chapter's "paper vs. this book" table, each with a status and its reason.

    ``scale``: figure ('fig2', 'fig3', 'fig4') -> the data and scale its runs used.
    """
    pruned = [c for c in p.criteria if c != "none"]
    avg = lambda fig, c, col: float(gap_tables[fig].loc[NAMES[c], col])  # noqa: E731
    pair = lambda fig, col: ", ".join(f"{c[:3]}. {avg(fig, c, col):.1f}" for c in pruned)  # noqa: E731
    rows = []
    for fig in ("fig2", "fig3"):
        claim = {"fig2": "Fig. 2", "fig3": "Fig. 3 (subset resampled every block)"}[fig]
        if "none" not in p.criteria or not pruned or fig not in gap_tables:
            continue
        train = [avg(fig, c, "train acc below baseline (points)") for c in pruned]
        val = [avg(fig, c, "val acc below baseline (points)") for c in pruned]
        base_gap, gaps = avg(fig, "none", "train - val (points)"), [avg(fig, c, "train - val (points)") for c in pruned]
        rows += [
            {"claim": f"{claim}: pruning costs about 10 points of training accuracy", "paper": "about 10 points",
             "this book": pair(fig, "train acc below baseline (points)") + " points", "data and scale": scale.get(fig, "not run"),
             "status": "reproduced" if all(6 <= t <= 15 for t in train) else "partly" if all(3 <= t <= 20 for t in train)
             else "not reproduced", "reason": "reproduced at 6-15 points, partly at 3-20"},
            {"claim": f"{claim}: pruning costs only 3 to 5 points of validation accuracy", "paper": "3 to 5 points",
             "this book": pair(fig, "val acc below baseline (points)") + " points", "data and scale": scale.get(fig, "not run"),
             "status": "reproduced" if all(2 <= v <= 6 for v in val) else "not reproduced",
             "reason": "reproduced at 2-6 points; smaller costs here sit inside the noise of 200 validation images"},
            {"claim": f"{claim}: pruning closes the gap between training and validation accuracy",
             "paper": "about 10 points without pruning, about 0 with", "this book":
             f"{base_gap:.1f} without, {pair(fig, 'train - val (points)')} with (points)", "data and scale": scale.get(fig, "not run"),
             "status": "reproduced" if all(g < 0.3 * base_gap for g in gaps) else "partly" if all(g < 0.8 * base_gap
                                                                                               for g in gaps)
             else "not reproduced", "reason": "the pruned gap is " + ", ".join(f"{g / base_gap:.0%}" for g in gaps)
             + " of the unpruned one (reproduced under 30 %, partly under 80 %)"},
        ]  # fmt: skip
    at49 = history[(history.figure == "fig2") & (history.criterion != "none") & (history.epoch == min(49, p.fig2_epochs))]
    if len(at49):
        n = int(at49.filters.iloc[0])
        rows.append({"claim": "Fig. 2: filters left in the network of epochs 43-49", "paper": "3,136 of 4,224",
                     "this book": f"{n:,} of {int(history.filters.max()):,}", "data and scale": scale.get("fig2", "not run"),
                     "status": "reproduced" if n == 3136 else "not reproduced",
                     "reason": "the same count: 5 % of each layer's filters (rounded down) every 7 epochs"})
    pruned_speed = speed_table.xs("fig2", level="figure").drop("none", errors="ignore")
    if len(pruned_speed):
        base = (f" (baseline {speed_table.loc[('fig2', 'none'), 'last / first']:.2f}: load changed)"
                if ("fig2", "none") in speed_table.index else "")  # fmt: skip
        rows.append({"claim": "Fig. 2: a late epoch of the pruned network is faster than an early one",
                     "paper": "14 / 19 minutes = 0.74",
                     "this book": ", ".join(f"{c[:3]}. {v:.2f}" for c, v in pruned_speed["last / first"].items()) + base,
                     "data and scale": scale.get("fig2", "not run"), "status": "not attempted",
                     "reason": "wall times on a shared 2-core machine measure its load; needs an idle machine or a GPU"})
    if p.fig4_passes > 1:
        better = (last["visit 2 - visit 1 (points)"] > 0).groupby(level="criterion").agg(["sum", "count"])
        every = all(s == n for s, n in better.values)
        rows.append({"claim": "Fig. 4: every dataset is learned better on its second visit, with or without pruning",
                     "paper": "all six datasets, both runs",
                     "this book": ", ".join(f"{NAMES[c].split(' ')[0]}: {s} of {n}" for c, (s, n) in better.iterrows()),
                     "data and scale": scale.get("fig4", "not run"),
                     "status": "reproduced" if every else "partly" if better["sum"].sum() > better["count"].sum() / 2
                     else "not reproduced",
                     "reason": f"{int(better['sum'].sum())} of {int(better['count'].sum())} dataset visits gain "
                               "(partly if more than half)"})  # fmt: skip
    return rows

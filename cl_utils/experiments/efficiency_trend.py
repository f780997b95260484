"""Chapter 02's scale trend: does PackNet's gap to the paper's Fig. 3 accuracy close as data and epochs grow?

The committed run trains on a subset of MNIST for fewer epochs than the paper, and PackNet's mean accuracy at
high p falls far below the paper's (Fig. 3's row). A gap that comes from the scale should shrink as the scale
grows; one that comes from the method should not. The plan's ``scale_trend`` runs PackNet (N = 1) at every p and
matching seed with the images per class and E = B multiplied by each factor (:func:`.efficiency_runs.trend_runs`);
this module reads those records and the chapter's own point (factor 1) into one table, and says in a clause of
Fig. 3's row whether the gap closes. The figure is :func:`.efficiency_figures.fig_scale_trend`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..verdicts import combined_se, seed_se, size_status
from .runs import Records
from .efficiency_runs import BASE_KEYS, PER_CLASS, Params, fill_runs, long_params, setting

__all__ = ["POINT_KEYS", "SCALE_KEYS", "trend_records", "trend_table", "trend_clause"]

#: the config keys in which the trend's points differ (besides p)
SCALE_KEYS = ("per_class", "epochs", "budget")
#: the config keys that say which point of a figure a fill run is (the parameters choose them)
POINT_KEYS = ("dataset", "method", "free", "rounds", "budget", "seeds")


def trend_records(records: Records, p: Params) -> list[dict]:
    """The fill records of the trend: MNIST, PackNet at N = 1 with the matching seeds, at every p of the chapter,
    trained like the chapter's own point (its network, learning rate, batch and split) at any images per class and
    epochs. They are found from the records, not from ``scale_trend`` (the parameters select the p and seeds
    only), so a caption cannot describe runs it does not show; none where fewer than two scales were run."""
    s = setting(p, "mnist")
    anchor = [records.where("fill", **{k: r.config[k] for k in POINT_KEYS})
              for f in s.free for r in fill_runs(p, "mnist", "packnet", f, 1, s.budget, p.matching_seeds)]  # fmt: skip
    if not all(len(a) == 1 for a in anchor):
        return []
    groups = [a[0]["config"]["seeds"] for a in anchor]  # one stacked group, or one group per seed (its own subset)
    same = {k: anchor[0][0]["config"].get(k) for k in BASE_KEYS if k not in (*SCALE_KEYS, "subset_seed")}
    q = long_params(p)  # its one-round runs are another point of E at the chapter's images: not the trend's
    long = (s.per_class, q.mnist_epochs, q.mnist_budget) if q else None
    found = [r for r in records.where("fill", method="packnet", rounds=1)
             if r["config"]["seeds"] in groups and r["config"]["free"] in s.free
             and all(r["config"].get(k) == v for k, v in same.items())
             and tuple(r["config"][k] for k in SCALE_KEYS) != long]  # fmt: skip
    scales = {tuple(r["config"][k] for k in SCALE_KEYS) for r in found}
    return found if len(scales) > 1 else []


def trend_table(shown: list[dict], paper: dict[float, float]) -> pd.DataFrame:
    """One row per (scale, p), smallest scale first: images per class (``subset``: "all" for the whole training
    split, placed at 6,000), E, B, PackNet's mean accuracy over the five tasks (mean and SE over seeds) and its
    distance to the paper's value (``paper``: p -> %) in SEs."""
    points: dict[tuple, list[float]] = {}  # (images per class, E, B, p) -> each seed's mean over the tasks
    for r in shown:  # :func:`trend_records`: a stacked record holds its seeds side by side, or one record per seed
        c = r["config"]
        per_seed = 100 * np.asarray(r["metrics"]["acc"]).mean(axis=0)  # tasks x seeds -> each seed's mean
        points.setdefault((c["per_class"], c["epochs"], c["budget"], c["free"]), []).extend(per_seed.tolist())
    rows = []
    for (per_class, epochs, budget, free), per_seed in points.items():
        c = {"per_class": per_class, "epochs": epochs, "budget": budget, "free": free}
        mean, se = float(np.mean(per_seed)), seed_se(per_seed)
        rows.append({"images/class": c["per_class"] or PER_CLASS["mnist"], "E": c["epochs"], "B": c["budget"], "p": c["free"],
                     "seeds": len(per_seed), "accuracy (%)": mean, "SE": se,
                     "paper (%)": paper.get(c["free"], np.nan), "gap (points)": paper.get(c["free"], np.nan) - mean,
                     "gap / SE": (paper.get(c["free"], np.nan) - mean) / se if se > 0 else np.nan,
                     "subset": f"{c['per_class']}" if c["per_class"] else "all"})  # fmt: skip
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values(["images/class", "E", "B", "p"], kind="stable").reset_index(drop=True)


def trend_clause(table: pd.DataFrame) -> str:
    """What the trend says about each p's gap to the paper, smallest scale to largest: the accuracies, whether the
    gap narrows or widens by more than 2 SE (the two scales' SEs combined), and whether the largest scale reaches
    the paper's value within 2 SE (the size rule)."""
    if table.empty:
        return ""
    scales = table.drop_duplicates(["images/class", "E", "B"])
    label = " -> ".join(f"{r.subset}/class, " + (f"E = B = {int(r.E)}" if r.E == r.B else
                                                                f"E = {int(r.E)}, B = {int(r.B)}")
                        for _, r in scales.iterrows())  # fmt: skip
    said = []
    for f, rows in table[table["paper (%)"].notna()].groupby("p", sort=False):  # the p the paper gives
        first, last = rows.iloc[0], rows.iloc[-1]
        status, _ = size_status(float(last["accuracy (%)"]), float(last["paper (%)"]), float(last.SE),
                                runs=int(last.seeds), direction_holds=None)  # fmt: skip
        change = abs(first["gap (points)"]) - abs(last["gap (points)"])  # > 0: the gap narrows
        se = combined_se(float(first.SE), float(last.SE))
        moves = "narrows" if change > 2 * se else "widens" if change < -2 * se else "does not change beyond 2 SE"
        gap, z = float(last["gap (points)"]), float(last["gap / SE"])  # gap > 0: ours below the paper's
        end = ("and closes at the largest scale (within 2 SE)" if status == "reproduced" else
               "with no spread measured at the largest scale" if z != z else
               f"and passes the paper's at the largest scale ({-gap:.2f} points above it, {abs(z):.1f} SE)" if gap < 0
               else f"still {abs(z):.1f} SE short at the largest scale")  # fmt: skip
        said.append(f"p={f:g}: " + " -> ".join(f"{a:.2f}" for a in rows["accuracy (%)"]) + " % (paper "
                    f"{last['paper (%)']:.1f}): the gap {moves} from {first['gap (points)']:.2f} to {gap:.2f} "
                    f"points, {end}")  # fmt: skip
    return f"scale trend ({label}): " + "; ".join(said)

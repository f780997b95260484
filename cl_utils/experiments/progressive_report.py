"""Chapter 04's claims table: Nicholls & Dasgupta's Figure 2 claims, our numbers, and statuses by stated rules."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .progressive import Params

__all__ = ["claims"]


def claims(p: Params, acc_a: pd.DataFrame, summary_b: pd.DataFrame, names_a: dict[str, str],
           scale_a: str, scale_b: str) -> list[dict]:  # fmt: skip
    """The rows of the "paper vs. this book" table.

    ``acc_a``: Fig. 2(a) accuracies (adapter, seed, column, test accuracy (%)); ``summary_b``: Fig. 2(b)
    mean error per network and p, with parameters and the Pareto flag, as the chapter draws them.
    """
    def mean_at(network: str, f: float) -> float:
        return float(summary_b[(summary_b.network == network) & (summary_b.p == f)]["error"].iloc[0])

    fs = p.prune_fractions
    gaps = {f: mean_at("unlinked pruned", f) - mean_at("progressive pruned", f) for f in fs}
    noise = {f: mean_at("random-input pruned", f) - mean_at("progressive pruned", f) for f in fs}
    vs_unlinked = {f: np.sign(round(mean_at("random-input pruned", f), 2) - round(mean_at("unlinked pruned", f), 2))
                   for f in fs}  # -1: random-input better, 0: tied at 0.01 point, +1: worse  # fmt: skip
    worst = {f: vs_unlinked[f] > 0 and noise[f] > 0 for f in fs}
    col = acc_a.groupby(["adapter", "column"])["test accuracy (%)"].mean()
    trend = {names_a[a]: round(col[names_a[a], 3] - col[names_a[a], 1], 2) for a in p.fig2a_adapters}
    signs = trend.get(names_a["learned"], 0) > 0 and all(
        trend[names_a[a]] < 0 for a in ("none", "unlearned") if a in p.fig2a_adapters)
    front = sorted(set(summary_b[summary_b["on Pareto front"]].network))
    unpruned = int(summary_b[summary_b.network == "unlinked unpruned"].iloc[0].parameters)
    listed = lambda d: ", ".join(f"p={f:g}: {g:+.2f}" for f, g in d.items())  # noqa: E731
    count = lambda d, test: sum(test(v) for v in d.values())  # noqa: E731
    return [
        {"claim": "The unlinked, unpruned network of Fig. 2(b) has 930,270 parameters", "paper": "930,270",
         "this book": f"{unpruned:,}", "data and scale": "counted, no training",
         "status": "reproduced" if unpruned == 930_270 else "not reproduced",
         "reason": "the same architecture gives the same count"},
        {"claim": "Fig. 2(a): with learned adapters the later, smaller columns gain accuracy; without, they lose",
         "paper": "column 3 minus column 1: learned > 0; none and unlearned < 0",
         "this book": ", ".join(f"{k}: {v:+.2f}" for k, v in trend.items()) + " points", "data and scale": scale_a,
         "status": "reproduced" if signs else "not reproduced",
         "reason": "every sign as in the paper" if signs else "a sign differs from the paper's"},
        {"claim": "Fig. 2(b): at equal parameters the progressive pruned network beats the unlinked pruned one",
         "paper": "at every pruning level (figure only)",
         "this book": "unlinked minus progressive error: " + listed(gaps) + " points", "data and scale": scale_b,
         "status": "reproduced" if count(gaps, lambda g: g > 0) == len(fs) else
         "partly" if count(gaps, lambda g: g > 0) else "not reproduced",
         "reason": f"better at {count(gaps, lambda g: g > 0)} of {len(fs)} pruning levels"},
        {"claim": "Fig. 2(b): adapters fed random inputs make the worst pruned network",
         "paper": "random-input pruned has the highest error",
         "this book": "random-input minus progressive: " + listed(noise)
                      + f" points; worst of the three at {count(worst, bool)} of {len(fs)} levels",
         "data and scale": scale_b,
         "status": "reproduced" if all(worst.values()) else "partly" if all(g > 0 for g in noise.values())
         else "not reproduced",
         "reason": f"worse than progressive at {count(noise, lambda g: g > 0)} of {len(fs)} levels; against "
                   f"unlinked better at {count(vs_unlinked, lambda v: v < 0)}, tied at "
                   f"{count(vs_unlinked, lambda v: v == 0)}, worse at {count(vs_unlinked, lambda v: v > 0)}"},
        {"claim": "Fig. 2(b): only progressive pruned networks lie on the Pareto front of error against size",
         "paper": "progressive pruned only", "this book": ", ".join(front), "data and scale": scale_b,
         "status": "reproduced" if front == ["progressive pruned"] else
         "partly" if "progressive pruned" in front else "not reproduced",
         "reason": "the front also holds " + ", ".join(t for t in front if t != "progressive pruned")
         if len(front) > 1 else "as in the paper"},
    ]  # fmt: skip

"""Chapter 04's claims table: Nicholls & Dasgupta's Figure 2 claims, our numbers, and statuses earned by the
shared rules of :mod:`cl_utils.verdicts` (differences paired by seed, against their standard error)."""
from __future__ import annotations

import pandas as pd

from ..verdicts import compound_status, direction_status, paired_direction, seed_se
from .progressive import Params

__all__ = ["claims", "successive_columns", "per_level"]

ERROR = "mean test error (%)"
ACCURACY = "test accuracy (%)"


def successive_columns(acc_a: pd.DataFrame, adapter: str) -> dict[str, tuple[float, list[float]]]:
    """Column k+1 minus column k for one adapter: ``{"2-1": (mean, per-seed differences), "3-2": ...}``."""
    table = acc_a[acc_a.adapter == adapter].pivot(index="seed", columns="column", values=ACCURACY)
    return {f"{k + 1}-{k}": (float((table[k + 1] - table[k]).mean()), list(table[k + 1] - table[k]))
            for k in sorted(table.columns)[:-1]}  # fmt: skip


def per_level(frame_b: pd.DataFrame, network: str, other: str, fractions) -> dict[float, tuple[list, list]]:
    """For each pruning fraction: the per-seed mean errors of ``network`` and ``other``, paired by seed."""
    out = {}
    for f in fractions:
        a = frame_b[(frame_b.network == network) & (frame_b.p == f)].set_index("seed")[ERROR]
        b = frame_b[(frame_b.network == other) & (frame_b.p == f)].set_index("seed")[ERROR]
        seeds = sorted(set(a.index) & set(b.index))
        out[f] = (list(a[seeds]), list(b[seeds]))
    return out


def _levels(pairs: dict[float, tuple[list, list]], what: str) -> tuple[list[tuple[str, str]], str]:
    """Each level's paired direction (``other`` minus ``network``: positive when ``network`` errs less)."""
    parts = {f: paired_direction(b, a, what=f"p={f:g}") for f, (a, b) in pairs.items()}
    shown = "; ".join(f"p={f:g}: {sum(b) / len(b) - sum(a) / len(a):+.2f} (SE "
                      f"{seed_se([y - x for x, y in zip(a, b)]):.2f})" for f, (a, b) in pairs.items())  # fmt: skip
    return list(parts.values()), f"{what}: {shown} points"


def _pareto_check(summary_b: pd.DataFrame, frame_b: pd.DataFrame) -> tuple[str, str, list[str]]:
    """The front of the means, and whether each rival on it beats the progressive network of equal size
    beyond 2 SE (a rival that is ahead only within the noise does not refute the claim)."""
    front = sorted(set(summary_b[summary_b["on Pareto front"]].network))
    rivals = summary_b[summary_b["on Pareto front"] & (summary_b.network != "progressive pruned")]
    parts = []
    for _, r in rivals.iterrows():
        pair = per_level(frame_b, "progressive pruned", r.network, [r.p])[r.p]
        if pair[0]:
            parts.append(paired_direction(pair[1], pair[0], what=f"{r.network} at p={r.p:g}, error difference"))
        else:  # no progressive network of that size (the unpruned one): its error against the best progressive
            best = summary_b[summary_b.network == "progressive pruned"].error.min()
            parts.append(direction_status(r.error - best, float("nan"), what=f"{r.network}"))
    if front == ["progressive pruned"]:
        return "reproduced", "as in the paper (read from the means)", front
    if not parts or "progressive pruned" not in front:
        return "not reproduced", "the progressive network is not on the front", front
    reasons = "; ".join(reason for _, reason in parts)
    if any(status == "not reproduced" for status, _ in parts):
        return "partly", f"a rival on the front beats the progressive network of its size beyond 2 SE: {reasons}", front
    return ("inconclusive", "the front (of the means) also holds " + ", ".join(t for t in front if t != "progressive pruned")
            + f", ahead of the progressive network of its size only within the noise: {reasons}", front)  # fmt: skip


def claims(p: Params, acc_a: pd.DataFrame, frame_b: pd.DataFrame, summary_b: pd.DataFrame,
           names_a: dict[str, str], scale_a: str, scale_b: str) -> list[dict]:  # fmt: skip
    """The rows of the "paper vs. this book" table.

    ``acc_a``: Fig. 2(a) accuracies (adapter, seed, column, test accuracy (%)); ``frame_b``: Fig. 2(b) per
    network, p and seed (mean test error (%)); ``summary_b``: its means per network and p, with parameters
    and the Pareto flag, as the chapter draws them. Directions are judged per seed-paired difference.
    """
    fs = p.prune_fractions
    expected = {"learned": +1, "none": -1, "unlearned": -1}
    steps, parts_a = {}, []
    for key, sign in expected.items():
        if key not in p.fig2a_adapters:
            continue
        steps[key] = successive_columns(acc_a, names_a[key])
        for step, (_, diffs) in steps[key].items():  # already paired by seed
            parts_a.append(paired_direction(diffs, [0.0] * len(diffs), expected_sign=sign,
                                            what=f"{names_a[key]} column {step.replace('-', ' - ')}"))  # fmt: skip
    status_a, counted_a = compound_status(parts_a)
    beats, shown_beats = _levels(per_level(frame_b, "progressive pruned", "unlinked pruned", fs),
                                 "unlinked minus progressive error")  # fmt: skip
    status_b, counted_b = compound_status(beats)
    worse_than_prog, shown_prog = _levels(per_level(frame_b, "progressive pruned", "random-input pruned", fs),
                                          "random-input minus progressive")  # fmt: skip
    worse_than_unl, shown_unl = _levels(per_level(frame_b, "unlinked pruned", "random-input pruned", fs),
                                        "random-input minus unlinked")  # fmt: skip
    status_r, counted_r = compound_status(worse_than_prog + worse_than_unl)
    status_f, reason_f, front = _pareto_check(summary_b, frame_b)
    unpruned = int(summary_b[summary_b.network == "unlinked unpruned"].iloc[0].parameters)
    n_a, n_b = acc_a.seed.nunique(), frame_b.seed.nunique()
    return [
        {"claim": "The unlinked, unpruned network of Fig. 2(b) has 930,270 parameters", "paper": "930,270",
         "this book": f"{unpruned:,}", "data and scale": "counted, no training",
         "status": "reproduced" if unpruned == 930_270 else "not reproduced",
         "reason": "an exact count: the same architecture gives the same number" if unpruned == 930_270
         else "an exact count, and it differs"},
        {"claim": "Fig. 2(a): with learned adapters each later, smaller column gains a little accuracy; without "
                  "adapters, or with unlearned ones, each loses",
         "paper": "learned: column 2 > 1 and 3 > 2; none and unlearned: 2 < 1 and 3 < 2",
         "this book": "; ".join(f"{names_a[k]}: " + ", ".join(f"{step}: {mean:+.2f}" for step, (mean, _) in v.items())
                                for k, v in steps.items()) + " points",
         "data and scale": scale_a, "status": status_a,
         "reason": f"{counted_a} (paired by seed, {n_a} seeds); "
                   + "; ".join(reason for status, reason in parts_a if status != "reproduced")},
        {"claim": "Fig. 2(b): at equal parameters the progressive pruned network beats the unlinked pruned one",
         "paper": "at every pruning level (figure only)", "this book": shown_beats, "data and scale": scale_b,
         "status": status_b, "reason": f"{counted_b} (one part per pruning level, paired by seed, {n_b} seeds)"},
        {"claim": "Fig. 2(b): adapters fed random inputs make the worst pruned network",
         "paper": "random-input pruned has the highest error", "this book": f"{shown_prog}; {shown_unl}",
         "data and scale": scale_b, "status": status_r,
         "reason": f"{counted_r} (worse than the progressive and than the unlinked network at each level, paired "
                   f"by seed, {n_b} seeds)"},
        {"claim": "Fig. 2(b): only progressive pruned networks lie on the Pareto front of error against size",
         "paper": "progressive pruned only", "this book": ", ".join(front), "data and scale": scale_b,
         "status": status_f, "reason": reason_f},
    ]  # fmt: skip

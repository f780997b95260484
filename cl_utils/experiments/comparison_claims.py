"""Chapter 06's "papers vs. this book" rows, judged by the shared rules of :mod:`cl_utils.verdicts` on the runs
table of :func:`.comparison_report.runs_frame` and the rounds grid of :func:`.comparison_report.rounds_frame`. Each
row's ``records`` are the keys (the tables' ``key`` column) of the runs its numbers are computed from."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..claims import run_keys
from ..verdicts import STATUS_ORDER, compound_status, direction_status, paired_direction, seed_se
from .comparison_runs import PRUNING, Params
from .comparison_report import by_seed, lwf_against_finetune, most_rounds_against_one, paired_runs

__all__ = ["claims"]


def _keys(*runs: pd.DataFrame) -> str:
    """The ``records`` field of a row computed from ``runs`` (rows of the runs table or of the rounds grid)."""
    return run_keys(*(r[["key"]].to_dict("records") for r in runs))


def _pair(frame: pd.DataFrame, stream: str, ours: str, theirs: str) -> pd.DataFrame:
    """The runs :func:`.comparison_report.by_seed` pairs: ``ours`` and ``theirs`` on ``stream``, the seeds both ran."""
    return paired_runs(frame[frame["stream"] == stream], "configuration", ours, theirs)


def _paired_gap(frame: pd.DataFrame, stream: str, ours: str, theirs: str) -> tuple[float, tuple[str, str]]:
    """Mean accuracy of ``ours`` minus ``theirs`` on ``stream`` and its direction status, paired by seed."""
    x, y = by_seed(frame, stream, ours, theirs)
    return float(np.mean(x) - np.mean(y)), paired_direction(x, y, what=stream)


def _lwf_row(frame: pd.DataFrame, table: pd.DataFrame, streams: Sequence[str], scale_line: str) -> dict:
    """Li & Hoiem: LwF keeps the old tasks better than fine-tuning; one part per stream and optimiser."""
    parts, shown, runs = [], [], []
    for s, lwf, finetune in lwf_against_finetune(table, streams):
        x, y = by_seed(frame, s, lwf, finetune, "earlier tasks (%)")
        runs.append(_pair(frame, s, lwf, finetune))
        parts.append(paired_direction(x, y, what=f"{s}, {lwf} − {finetune}"))
        shown.append(f"{s} {lwf.replace('LwF', '').strip() or '(Adam)'}: {np.mean(x) - np.mean(y):+.2f}")
    status, counted = compound_status(parts)
    return {"claim": "LwF keeps the earlier tasks better than fine-tuning (Li & Hoiem)",
            "paper": "higher accuracy on the old tasks than fine-tuning",
            "this book": "LwF minus fine-tuning, earlier tasks' final accuracy: " + ", ".join(shown) + " points",
            "data and scale": scale_line, "status": status, "records": _keys(*runs),
            "reason": f"{counted}, one part per stream and optimiser (each method with the same optimiser; mean final "
                      "accuracy of every task but the last, paired by seed): " + "; ".join(r for _, r in parts)}


def _packnet_lwf_row(frame: pd.DataFrame, table: pd.DataFrame, streams: Sequence[str], scale_line: str) -> dict:
    """Mallya & Lazebnik, Table 2: PackNet beats LwF. One part per stream and pair of configurations, every one-shot
    PackNet (each p) against every LwF (each optimiser), paired by seed: no configuration is chosen by its mean on
    the runs that then judge it (choosing each method's best by the very numbers that are judged flatters it), and
    LwF's two optimisers are both its settings here (Adam, the stream's; SGD, that of LwF's papers), so neither is
    dropped. Iterative PackNet is Ball et al.'s schedule, not Mallya & Lazebnik's, and is left out."""
    parts, shown, runs, sizes = [], [], [], set()
    for s in streams:
        confs = table.loc[s]
        packnets, lwfs = (list(confs[confs["method"] == m].index) for m in ("packnet", "lwf"))
        sizes.add((len(packnets), len(lwfs)))
        gaps = []
        for packnet in packnets:
            for lwf in lwfs:
                x, y = by_seed(frame, s, packnet, lwf)
                runs.append(_pair(frame, s, packnet, lwf))
                parts.append(paired_direction(x, y, what=f"{s}, {packnet} − {lwf}"))
                gaps.append(f"{packnet.replace('PackNet ', '')} − {lwf} {np.mean(x) - np.mean(y):+.2f}")
        shown.append(f"{s}: " + ", ".join(gaps))
    status, counted = compound_status(parts)
    grid = " or ".join(f"{a} × {b}" for a, b in sorted(sizes))
    return {"claim": "PackNet beats LwF when tasks are added to one network (Mallya & Lazebnik, Table 2)",
            "paper": "higher accuracy on every added task",
            "this book": "one-shot PackNet minus LwF, every pair of configurations: " + "; ".join(shown) + " points",
            "data and scale": scale_line, "status": status, "records": _keys(*runs),
            "reason": f"{counted}, one part per stream and pair of configurations: every one-shot PackNet p against "
                      f"every LwF optimiser, the unmarked LwF being Adam ({grid} pairs per stream; no configuration "
                      f"chosen by its mean on these runs; average final accuracy, paired by seed, "
                      f"{frame['seed'].nunique()} seeds; iterative PackNet, Ball et al.'s schedule, is left out): "
                      + "; ".join(r for _, r in parts)}


def _rounds_row(rounds: pd.DataFrame, rounds_line: str) -> dict:
    """Ball et al., Fig. 2: at one budget, more rounds are best for the MLP (MNIST), few (often one) for the
    conv net (CIFAR-10); one part per stream and p: the most rounds against one-shot, paired by seed."""
    parts, shown, runs = [], [], []
    for stream, p, most, many, one in most_rounds_against_one(rounds):
        runs.append(paired_runs(rounds[(rounds["stream"] == stream) & (rounds["p"] == p)], "N", most, 1))
        sign = -1 if "CIFAR" in stream else 1
        parts.append(paired_direction(many, one, expected_sign=sign, what=f"{stream} p = {p:g}, N = {most} − N = 1"))
        shown.append(f"{stream} p = {p:g}: {np.mean(many) - np.mean(one):+.2f}")
    status, counted = compound_status(parts)
    return {"claim": "At a fixed retraining budget, the best number of pruning rounds depends on the network: more "
                     "rounds for the MLP on MNIST, few, often one, for the conv net on CIFAR-10 (Ball et al., Fig. 2)",
            "paper": "MNIST MLP: more rounds better, though not steadily; CIFAR-10 conv net: one-shot often best",
            "this book": "most rounds minus one-shot: " + ", ".join(shown) + " points",
            "data and scale": rounds_line, "status": status, "records": _keys(*runs),
            "reason": f"{counted}, one part per stream and p (the paper's sign: + on the MLP stream, − on the conv "
                      "net's; paired by seed; our conv net is Zenke et al.'s, not Ball et al.'s): "
                      + "; ".join(r for _, r in parts)}


def _progressive_row(frame: pd.DataFrame, table: pd.DataFrame, streams: Sequence[str], scale_line: str) -> dict:
    """Nicholls & Dasgupta, Fig. 2b: on the accuracy-size front. A Progressive Prune configuration is on it when it
    beats, beyond 2 SE (paired by seed), every continual configuration that keeps fewer parameters; a stream
    counts the best of its configurations, and the row rests on the runs that configuration was judged on."""
    parts, runs = [], []
    for s in streams:
        confs = table.loc[s]
        rivals = confs[confs["method"] != "joint"]
        per_conf = []
        for conf in confs[confs["method"] == "progressive"].index:
            smaller = rivals[rivals["kept parameters"] < confs.loc[conf, "kept parameters"]].index
            if smaller.empty:
                own = frame[(frame["stream"] == s) & (frame["configuration"] == conf)]
                per_conf.append(("reproduced", confs.loc[conf, "mean accuracy"],
                                 f"{s} {conf}: the smallest configuration", own))  # fmt: skip
                continue
            gaps = sorted(((_paired_gap(frame, s, conf, r), r) for r in smaller),
                          key=lambda g: (STATUS_ORDER.index(g[0][1][0]), abs(g[0][0])))  # the weakest, then the nearest
            (_, (worst, why)), rival = gaps[0]
            per_conf.append((worst, confs.loc[conf, "mean accuracy"],
                             f"{s} {conf} against the nearest of the {len(gaps)} smaller that sets its status, {rival}: "
                             f"{why}", pd.concat([_pair(frame, s, conf, r) for r in smaller])))  # fmt: skip
        best = max(per_conf, key=lambda v: (STATUS_ORDER.index(v[0]), v[1]))  # ties: the more accurate
        parts.append((best[0], best[2]))
        runs.append(best[3])
    status, counted = compound_status(parts)
    on = [s for s, (v, _) in zip(streams, parts) if v == "reproduced"]
    return {"claim": "Pruned progressive networks are parameter-efficient: on the accuracy-size Pareto front "
                     "(Nicholls & Dasgupta, Fig. 2b)",
            "paper": "on the front against unlinked columns (one stream)",
            "this book": f"ahead of every smaller configuration beyond 2 SE on {len(on)} of {len(streams)} streams"
                         + (f" ({', '.join(on)})" if on else ""),
            "data and scale": scale_line, "status": status, "records": _keys(*runs),
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
                     "records": _keys(pruned),
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
                     "records": _keys(tuned),
                     "reason": f"{counted}, one part per stream and optimiser ({seeds} seeds): "
                               + "; ".join(r for _, r in parts)})  # fmt: skip
    if {"packnet", "lwf"} <= set(p.methods):
        rows.append(_packnet_lwf_row(frame, table, streams, scale_line))
    if {"fine-tune", "lwf"} <= set(p.methods):
        rows.append(_lwf_row(frame, table, streams, scale_line))
    if rounds is not None and not rounds.empty:
        rows.append(_rounds_row(rounds, rounds_line))
    if "progressive" in p.methods:
        rows.append(_progressive_row(frame, table, streams, scale_line))
    return rows

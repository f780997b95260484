"""Chapter 06's reading, generated from the records: one markdown bullet per finding, every number computed
from the runs table (:func:`.comparison_report.runs_frame`) and the rounds grid (:func:`.comparison_report.rounds_frame`),
so no sentence can drift from the stored outputs. The interpretation that needs no number stays in the notebook."""
from __future__ import annotations

import itertools
from collections import Counter
from typing import Sequence

import numpy as np
import pandas as pd

from ..metrics import mean_sem
from ..verdicts import paired_direction, seed_se
from .comparison_runs import label
from .comparison_report import PRUNING, by_seed, lwf_against_finetune, most_rounds_against_one

__all__ = ["findings", "WORDS", "HEADS_DIAGNOSTIC", "heads_diagnostic", "heads_diagnostic_reading",
           "heads_diagnostic_cpus"]

#: a task "adds units" to CLNP's network when the owned share grows by more than this (half a percent)
GREW = 0.005
#: a paired difference, in words (the shared direction rule of :mod:`cl_utils.verdicts`, the expected sign +)
WORDS = {"reproduced": "ahead beyond 2 SE", "inconclusive": "within 2 SE", "not reproduced": "behind beyond 2 SE"}


def _acc(frame: pd.DataFrame, stream: str, configuration: str, column: str = "accuracy (%)") -> str:
    rows = frame[(frame["stream"] == stream) & (frame["configuration"] == configuration)][column]
    mean, sem = mean_sem(rows)
    return f"{mean:.2f} ± {sem:.2f} %"


def _paired(frame: pd.DataFrame, stream: str, ours: str, theirs: str, column: str = "accuracy (%)") -> str:
    """'+1.23 ± 0.45 points (ahead beyond 2 SE)': ``ours`` minus ``theirs``, paired by seed."""
    return _difference(*by_seed(frame, stream, ours, theirs, column))


def _difference(ours: Sequence[float], theirs: Sequence[float]) -> str:
    """A paired difference in words: its mean ± the standard error of the paired differences, and its status."""
    d = np.asarray(ours) - np.asarray(theirs)
    status, _ = paired_direction(ours, theirs)
    return f"{d.mean():+.2f} ± {seed_se(d):.2f} points ({WORDS[status]})"


def _streams(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["stream"]))


def _forgetting(frame: pd.DataFrame, streams: Sequence[str]) -> str:
    pruned = frame[frame["method"].isin(PRUNING)]
    bwt = frame[frame["method"] == "fine-tune"].groupby(["stream", "configuration"], sort=False)["BWT (points)"].mean()
    shown = [f"{s} " + ", ".join(f"{m:+.2f} ({'SGD' if 'SGD' in c else 'Adam'})" for (_, c), m in bwt[[s]].items())
             for s in dict.fromkeys(bwt.index.get_level_values(0))]  # fmt: skip
    worst = pruned["largest change (points)"].max()
    head = (f"**Zero forgetting, bit for bit.** Over the {len(pruned)} runs of the pruning methods no earlier task's "
            "test accuracy changed as later tasks were added" if worst == 0 else
            f"**Forgetting where none should be.** Over the {len(pruned)} runs of the pruning methods an earlier "
            "task's test accuracy changed")  # fmt: skip
    return (f"{head} (largest change {worst:g} points). Fine-tuning, with nothing protected, has a BWT (points, "
            "mean over seeds) of: " + "; ".join(shown) + ".")


def _stream(frame: pd.DataFrame, table: pd.DataFrame, stream: str) -> str:
    rows = table.loc[stream]
    rivals = rows[rows["method"] != "joint"].sort_values("mean accuracy", ascending=False)
    best, worst = rivals.index[0], rivals.index[-1]
    fewest = rivals["kept parameters"].min()
    smallest = " and ".join(rivals[rivals["kept parameters"] == fewest].index)  # exact ties named together
    joint = rows[rows["method"] == "joint"]
    parts = [f"**{stream}.** Most accurate continual configuration: {best} ({_acc(frame, stream, best)}, "
             f"{rows.loc[best, 'kept parameters']:,} parameters kept); least accurate: {worst} "
             f"({_acc(frame, stream, worst)})"]
    if not joint.empty:
        j = joint.index[0]
        parts.append(f"joint training {_acc(frame, stream, j)}; {best} minus joint: {_paired(frame, stream, best, j)}")
    first = rivals[rivals["kept parameters"] == fewest].index[0]
    parts.append(f"smallest: {smallest} ({fewest:,} parameters, {_acc(frame, stream, first)}"
                 + (" for the first" if " and " in smallest else "") + ")")
    front = rows[rows["on Pareto front"]].sort_values("kept parameters").index
    parts.append("on the Pareto front of the means: " + ", ".join(front))
    return "; ".join(parts) + "."


def _lwf(frame: pd.DataFrame, table: pd.DataFrame, streams: Sequence[str]) -> str | None:
    parts = [f"{s}, {lwf} minus {finetune}: {_paired(frame, s, lwf, finetune, 'earlier tasks (%)')}"
             for s, lwf, finetune in lwf_against_finetune(table, streams)]
    if not parts:
        return None
    return ("**LwF against fine-tuning with the same optimiser** (final accuracy of every task but the last, paired by "
            "seed, ± the standard error of the paired differences): " + "; ".join(parts) + ".")


def _optimiser(frame: pd.DataFrame, table: pd.DataFrame, streams: Sequence[str]) -> str | None:
    parts = []
    for s in streams:
        confs = table.loc[s].index
        for name in ("LwF", "Fine-tune"):
            if name in confs and f"{name} (SGD)" in confs:
                parts.append(f"{s}, {name}: {_paired(frame, s, f'{name} (SGD)', name)}")
    if not parts:
        return None
    return "**SGD minus Adam** (final average accuracy, paired by seed): " + "; ".join(parts) + "."


def _rounds(rounds: pd.DataFrame) -> str | None:
    if rounds is None or rounds.empty:
        return None
    means = {key: g.groupby("N")["accuracy (%)"].mean() for key, g in rounds.groupby(["stream", "p"], sort=False)}
    parts = [f"{stream} p = {p:g}: best N = {int(means[stream, p].idxmax())} ({means[stream, p].max():.2f} %), "
             f"N = {most} minus N = 1 {_difference(many, one)}"
             for stream, p, most, many, one in most_rounds_against_one(rounds)]
    if not parts:
        return None
    clear = []
    for (stream, p), g in rounds.groupby(["stream", "p"], sort=False):
        by_n = {n: r.set_index("seed")["accuracy (%)"] for n, r in g.groupby("N")}
        for a, b in itertools.combinations(sorted(by_n), 2):
            seeds = sorted(set(by_n[a].index) & set(by_n[b].index))
            status, why = paired_direction(list(by_n[b][seeds]), list(by_n[a][seeds]),
                                           what=f"{stream} p = {p:g}, N = {b} − N = {a}")  # fmt: skip
            if status != "inconclusive":
                clear.append(why.split(":")[0])
    return ("**Rounds at one budget** (section 8; means over seeds): " + "; ".join(parts) + ". Of every pair of N "
            f"(paired by seed), {len(clear)} differ beyond 2 SE: " + ("; ".join(clear) if clear else "none") + ".")


def _capacity(frame: pd.DataFrame, streams: Sequence[str]) -> str | None:
    clnp = frame[(frame["method"] == "clnp") & frame["capacity"].notna()]
    if clnp.empty:
        return None
    parts = []
    for s in streams:
        curves = [np.asarray(c) for c in clnp[clnp["stream"] == s]["capacity"]]
        if curves:
            last = [c[-1] for c in curves]
            grew = [1 + max(np.flatnonzero(np.diff(c, prepend=0.0) > GREW), default=0) for c in curves]
            parts.append(f"{s} {100 * np.mean(last):.0f} % (seeds {100 * min(last):.0f}-{100 * max(last):.0f} %), the "
                         f"last task to add more than {100 * GREW:g} % of them: task {_span(grew)} of {len(curves[0])}")
    return "**CLNP's share of the hidden units owned after the last task:** " + "; ".join(parts) + "."


def _span(values) -> str:
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def findings(frame: pd.DataFrame, table: pd.DataFrame, rounds: pd.DataFrame | None = None) -> list[str]:
    """The reading's bullets, in the order of the chapter's sections."""
    streams = _streams(frame)
    out = [_forgetting(frame, streams)] + [_stream(frame, table, s) for s in streams]
    out += [_lwf(frame, table, streams), _optimiser(frame, table, streams), _capacity(frame, streams), _rounds(rounds)]
    return [line for line in out if line]


#: the columns of :func:`heads_diagnostic` (all with Adam) and the configurations they read, as the runs table
#: labels them; the frozen one is a diagnostic, not Li & Hoiem's LwF
HEADS_DIAGNOSTIC = {"LwF": label("lwf", {}), "LwF, old heads frozen": label("lwf", {"train_old_heads": False}),
                    "fine-tune": label("fine-tune", {})}  # fmt: skip


def heads_diagnostic(frame: pd.DataFrame, stream: str = "Permuted MNIST") -> pd.DataFrame:
    """Does LwF's collapse with Adam come from training the old heads? Per seed, the earlier tasks' final accuracy
    (%, every task but the last: the chapter's measure of keeping them) of LwF, of the diagnostic LwF with its old
    heads frozen (not Li & Hoiem's LwF) and of fine-tuning, all with Adam, and the frozen variant minus each of the
    other two, paired by seed; then each column's mean and standard error over seeds (for a difference, that of
    the paired differences). ``frame``: :func:`.comparison_report.runs_frame` with ``diagnostics=True``; no rows
    where the stream has no diagnostic runs."""
    lwf, frozen, tuned = HEADS_DIAGNOSTIC
    rows = frame[frame["stream"] == stream]
    values = {name: rows[rows["configuration"] == conf].set_index("seed")["earlier tasks (%)"]
              for name, conf in HEADS_DIAGNOSTIC.items()}  # fmt: skip
    seeds = sorted(set.intersection(*(set(v.index) for v in values.values())))
    table = pd.DataFrame({name: v[seeds].to_numpy(dtype=float) for name, v in values.items()},
                         index=[f"seed {s}" for s in seeds])  # fmt: skip
    table["frozen − LwF"] = table[frozen] - table[lwf]
    table["frozen − fine-tune"] = table[frozen] - table[tuned]
    if seeds:
        per_seed = table.copy()
        table.loc["mean"] = per_seed.mean()
        table.loc["SE over seeds"] = [seed_se(per_seed[c]) for c in per_seed.columns]
    return table


def heads_diagnostic_reading(table: pd.DataFrame) -> str:
    """The frozen variant against LwF and against fine-tuning in words: mean ± SE, and where it lies at 2 SE."""
    if table.empty:
        return "no diagnostic runs on this stream (parameter 'lwf_frozen_heads_streams')"
    lwf, frozen, tuned = HEADS_DIAGNOSTIC
    seeds = table[table.index.str.startswith("seed ")]
    return "; ".join(f"{frozen} minus {name}: {_difference(seeds[frozen], seeds[col])}"
                     for name, col in (("LwF", lwf), ("fine-tuning", tuned))) + " (earlier tasks, Adam)"


def heads_diagnostic_cpus(frame: pd.DataFrame, records, stream: str = "Permuted MNIST") -> str:
    """Which vector kernels (the records' ``cpu_capability``: AVX2, AVX512) each column of :func:`heads_diagnostic`
    was trained with: runs made on CPUs whose arithmetic differs pair by seed but do not repeat each other's
    numbers bit for bit (the diagnostic may be trained long after the runs it is compared with). A configuration
    without runs is not named."""
    capability = {r["key"]: (r.get("environment") or {}).get("cpu_capability") for r in records}
    rows = frame[frame["stream"] == stream]
    parts = []
    for name, conf in HEADS_DIAGNOSTIC.items():
        counts = Counter(capability.get(k) or "" for k in rows[rows["configuration"] == conf]["key"])
        known_first = sorted(counts.items(), key=lambda c: (not c[0], c[0]))
        said = [f"{n} on {cpu}" if cpu else f"{n} made before records named them" for cpu, n in known_first]
        parts += [f"{name}: " + ", ".join(said)] if said else []
    return "CPU kernels the runs were trained with: " + "; ".join(parts)

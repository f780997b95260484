"""Chapter 04's claims table: Nicholls & Dasgupta's Figure 2 claims, our numbers, and statuses earned by the
shared rules of :mod:`cl_utils.verdicts` (differences paired by seed, against their standard error).

The tables the claims rest on (:func:`frame_a`, :func:`frame_b`, :func:`summary_b`) and the scale lines
(:func:`scale_a`, :func:`scale_b`) are built here from the run records alone: every label is read from the
records' configs and data sources, never from the parameters, which only say which records belong where.
:mod:`.progressive_figures` draws the chapter's figures and tables from them.
"""
from __future__ import annotations

import pandas as pd

from ..claims import NO_RECORDS, run_keys
from ..verdicts import compound_status, direction_status, paired_direction, seed_se, undominated
from .runs import Records
from .stacking import any_stacked, member_views
from .describe import synthetic
from .progressive_runs import PRUNED_NETWORKS, STAND_IN, Params

__all__ = ["NAMES_A", "runs_a", "runs_b", "value", "data_label", "scale_a", "scale_b", "task_names", "frame_a",
           "frame_b", "summary_b", "claims", "successive_columns", "per_level"]  # fmt: skip

ERROR = "mean test error (%)"
ACCURACY = "test accuracy (%)"
NAMES_A = {"none": "No Conn (unlinked)", "unlearned": "unlearned Conn", "learned": "learning Conn",
           "random": "random-input Conn"}  # fmt: skip
DATASETS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "svhn": "SVHN"}
SYNTHETIC = "SYNTHETIC stand-in (tests only)"


# ------------------------------------------------------------------------------- the records, and what they say
def seed_views(records: list[dict]) -> list[dict]:
    """The records as one per seed (a stacked run's record: one view per seed, :mod:`.stacking`)."""
    return member_views(records, members="seeds", member="seed", results="per_seed")


def runs_a(records: Records, p: Params) -> list[dict]:
    """The Fig. 2(a) records of the adapter kinds and seeds the parameters name, in plan order (one per seed)."""
    return [r for r in seed_views(records.where("fig2a"))
            if r["config"]["adapter"] in p.fig2a_adapters and r["config"]["seed"] in p.fig2a_seeds]  # fmt: skip


def runs_b(records: Records, p: Params) -> list[dict]:
    """The Fig. 2(b) records of the pruning fractions (and the unpruned network) and seeds the parameters name
    (one per seed)."""
    return [r for r in seed_views(records.where("fig2b")) if r["config"]["seed"] in p.fig2b_seeds and (
        r["config"]["network"] == "unlinked unpruned" or r["config"]["fraction"] in p.prune_fractions)]  # fmt: skip


def value(runs: list[dict], key: str):
    """The one value of config ``key`` in ``runs``; records that disagree cannot share one caption."""
    found = {repr(r["config"][key]): r["config"][key] for r in runs}
    if len(found) != 1:
        raise ValueError(f"the records hold {len(found)} values of {key!r} ({', '.join(found) or 'no record'}); "
                         f"one caption cannot describe them")  # fmt: skip
    return next(iter(found.values()))


def _seeds(runs: list[dict]) -> str:
    """How many seeds ``runs`` hold, and whether they were stacked as one network."""
    stacked = ", stacked as one network" if any_stacked(runs) else ""
    return f"{len({r['config']['seed'] for r in runs})} seed(s){stacked}"


def data_label(runs: list[dict]) -> str:
    """'real Fashion-MNIST', or the synthetic warning: from the records' data sources."""
    if synthetic(runs):
        return SYNTHETIC
    names = dict.fromkeys(DATASETS.get(d["dataset"], d["dataset"]) for r in runs for d in r["data"])
    return "real " + ", ".join(names)


def scale_a(records: Records, p: Params) -> str:
    """Data and scale of Fig. 2(a), read from its records."""
    runs = runs_a(records, p)
    return (f"{data_label(runs)}; {value(runs, 'num_epochs')} epochs per column, SGD lr {value(runs, 'lr'):g}, "
            f"momentum {value(runs, 'momentum'):g}, batch {value(runs, 'batch_size')}; {_seeds(runs)}, "
            f"mean ± s.e.m.")  # fmt: skip


def scale_b(records: Records, p: Params, summary: str = "mean ± s.e.m.") -> str:
    """Data and scale of Fig. 2(b), read from its records (two lines); ``summary`` says what the figure, table or row
    shows of the seeds (a table of means has no s.e.m.; an exact count reads one seed)."""
    runs = runs_b(records, p)
    stand_in = STAND_IN[value(runs, "rgb_dataset")]
    if data_label(runs) == SYNTHETIC:
        label = SYNTHETIC
    elif stand_in:
        label = f"MNIST (real) -> {stand_in} 28 px -> Flip-{stand_in}: STAND-INS for SVHN / Flip-SVHN"
    else:
        label = "MNIST -> SVHN (28 px) -> Flip-SVHN"
    epochs = value(runs, "num_epochs")
    return (f"{label}\ncolumns {tuple(value(runs, 'hidden'))}; {epochs} epochs, prune ({value(runs, 'scope')} "
            f"threshold), {epochs} epochs; {_seeds(runs)}, {summary}")  # fmt: skip


def task_names(records: Records, p: Params) -> list[str]:
    """The three tasks of Fig. 2(b), named from the records' second dataset."""
    second = STAND_IN[value(runs_b(records, p), "rgb_dataset")] or "SVHN"
    return ["MNIST", second, f"Flip-{second}"]


def frame_a(records: Records, p: Params) -> pd.DataFrame:
    """Fig. 2(a): one row per adapter kind, seed and column: test accuracy (%)."""
    return pd.DataFrame([{"adapter": NAMES_A[r["config"]["adapter"]], "seed": r["config"]["seed"], "column": k + 1,
                          ACCURACY: 100 * acc} for r in runs_a(records, p)
                         for k, acc in enumerate(r["metrics"]["final_test_acc"])])  # fmt: skip


def frame_b(records: Records, p: Params) -> pd.DataFrame:
    """Fig. 2(b): one row per network, p and seed: non-zero parameters, mean and per-task test error (%).
    The matched pruned networks of one p must have equal totals (else they are not the paper's comparison)."""
    names = task_names(records, p)
    frame = pd.DataFrame([{"network": r["config"]["network"], "p": r["config"]["fraction"], "seed": r["config"]["seed"],
                           "parameters": r["metrics"]["params_nonzero"], ERROR: 100 * r["metrics"]["mean_test_error"],
                           **{f"{n} error (%)": 100 * (1 - a) for n, a in zip(names, r["metrics"]["final_test_acc"])}}
                          for r in runs_b(records, p)])  # fmt: skip
    sizes = frame[frame.network.isin(PRUNED_NETWORKS)].groupby(["p", "network"])["parameters"].first()
    unequal = [f for f, s in sizes.groupby(level="p") if s.nunique() != 1]
    if unequal:
        raise ValueError(f"the pruned networks differ in size at p = {unequal}: {sizes.to_dict()}")
    return frame


def summary_b(records: Records, p: Params) -> pd.DataFrame:
    """Per network and p: parameters, mean error and its s.e.m. over seeds, seeds n, and the Pareto flag."""
    summary = (frame_b(records, p).groupby(["network", "p"])
               .agg(parameters=("parameters", "first"), error=(ERROR, "mean"), sem=(ERROR, "sem"),
                    n=("seed", "nunique"))
               .reset_index())  # fmt: skip
    summary["on Pareto front"] = undominated(summary.parameters, summary.error)
    return summary


# ------------------------------------------------------------------------------------------------- the claims
def successive_columns(acc_a: pd.DataFrame, adapter: str) -> dict[str, tuple[float, list[float]]]:
    """Column k+1 minus column k for one adapter: ``{"2-1": (mean, per-seed differences), "3-2": ...}``."""
    table = acc_a[acc_a.adapter == adapter].pivot(index="seed", columns="column", values=ACCURACY)
    return {f"{k + 1}-{k}": (float((table[k + 1] - table[k]).mean()), list(table[k + 1] - table[k]))
            for k in sorted(table.columns)[:-1]}  # fmt: skip


def per_level(errors: pd.DataFrame, network: str, other: str, fractions) -> dict[float, tuple[list, list]]:
    """For each pruning fraction: the per-seed mean errors of ``network`` and ``other``, paired by seed."""
    out = {}
    for f in fractions:
        a = errors[(errors.network == network) & (errors.p == f)].set_index("seed")[ERROR]
        b = errors[(errors.network == other) & (errors.p == f)].set_index("seed")[ERROR]
        seeds = sorted(set(a.index) & set(b.index))
        out[f] = (list(a[seeds]), list(b[seeds]))
    return out


def _paired_runs(runs: list[dict], network: str, other: str, fractions) -> list[dict]:
    """The records :func:`per_level` pairs: ``network`` and ``other`` at each fraction, for the seeds both have."""
    out = []
    for f in fractions:
        at = {n: [r for r in runs if r["config"]["network"] == n and r["config"]["fraction"] == f]
              for n in (network, other)}  # fmt: skip
        seeds = {r["config"]["seed"] for r in at[network]} & {r["config"]["seed"] for r in at[other]}
        out += [r for n in (network, other) for r in at[n] if r["config"]["seed"] in seeds]
    return out


def _levels(pairs: dict[float, tuple[list, list]], what: str) -> tuple[list[tuple[str, str]], str]:
    """Each level's paired direction (``other`` minus ``network``: positive when ``network`` errs less)."""
    parts = {f: paired_direction(b, a, what=f"p={f:g}") for f, (a, b) in pairs.items()}
    shown = "; ".join(f"p={f:g}: {sum(b) / len(b) - sum(a) / len(a):+.2f} (SE "
                      f"{seed_se([y - x for x, y in zip(a, b)]):.2f})" for f, (a, b) in pairs.items())  # fmt: skip
    return list(parts.values()), f"{what}: {shown} points"


def _pareto_check(means: pd.DataFrame, errors: pd.DataFrame) -> tuple[str, str, list[str]]:
    """The front of the means, and whether each rival on it beats the progressive network of equal size
    beyond 2 SE (a rival that is ahead only within the noise does not refute the claim)."""
    front = sorted(set(means[means["on Pareto front"]].network))
    rivals = means[means["on Pareto front"] & (means.network != "progressive pruned")]
    parts = []
    for _, r in rivals.iterrows():
        pair = per_level(errors, "progressive pruned", r.network, [r.p])[r.p]
        if pair[0]:
            parts.append(paired_direction(pair[1], pair[0], what=f"{r.network} at p={r.p:g}, error difference"))
        else:  # no progressive network of that size (the unpruned one): its error against the best progressive
            best = means[means.network == "progressive pruned"].error.min()
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


def _growth_row(records: Records, p: Params) -> dict:
    """Abstract and Section 2: the method keeps the parameter growth linear in the number of tasks. Each task adds a
    column with adapters from every earlier column; the parameters it keeps after pruning are the task's cost. The
    growth is linear when no task costs more than the one before it. An exact count (no noise): judged on the
    first seed's progressive pruned runs, every pruning level."""
    runs = sorted((r for r in runs_b(records, p) if r["config"]["network"] == "progressive pruned"),
                  key=lambda r: (r["config"]["seed"], r["config"]["fraction"]))  # fmt: skip
    first = [r for r in runs if r["config"]["seed"] == runs[0]["config"]["seed"]]
    costs = {r["config"]["fraction"]: [c["params_nonzero"] for c in r["metrics"]["columns"]] for r in first}
    linear = all(b <= a for cs in costs.values() for a, b in zip(cs, cs[1:]))
    shown = "; ".join(f"p={f:g}: " + " / ".join(f"{c:,}" for c in cs) for f, cs in costs.items())
    growth = [100 * (b - a) / a for cs in costs.values() for a, b in zip(cs, cs[1:])]
    return {"claim": "Abstract, Section 2: pruning each column with its adapters limits the parameter growth to be linear in "
                     "the number of tasks",
            "paper": "linear (no number given)", "this book": f"parameters kept per task, columns 1-3: {shown}",
            "data and scale": scale_b(records, p, f"exact counts of seed {first[0]['config']['seed']}'s runs"),
            "status": "reproduced" if linear else "not reproduced",
            "records": run_keys(first),
            "reason": "an exact count: no task costs more than the one before it" if linear else
                      f"an exact count: each task costs {min(growth):.1f}-{max(growth):.1f} % more than the one before "
                      "it, because every column keeps the same share of its weights and a later column has adapters "
                      "from every earlier one: growth quadratic in the number of tasks, if slowly. Linear growth needs "
                      "later columns pruned harder (the paper says later columns shrink, Section 2); this chapter prunes "
                      "every column by the same fraction"}  # fmt: skip


def claims(records: Records, p: Params) -> list[dict]:
    """The rows of the "paper vs. this book" table, from the records (the parameters select them).

    Fig. 2(a) accuracies (:func:`frame_a`), Fig. 2(b) errors per network, p and seed (:func:`frame_b`) and their
    means with the Pareto flag (:func:`summary_b`). Directions are judged per seed-paired difference.
    """
    acc_a, errors, means = frame_a(records, p), frame_b(records, p), summary_b(records, p)
    names_a, line_a, line_b = NAMES_A, scale_a(records, p), scale_b(records, p)
    fs = p.prune_fractions
    fig2b = runs_b(records, p)
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
    beats, shown_beats = _levels(per_level(errors, "progressive pruned", "unlinked pruned", fs),
                                 "unlinked minus progressive error")  # fmt: skip
    status_b, counted_b = compound_status(beats)
    worse_than_prog, shown_prog = _levels(per_level(errors, "progressive pruned", "random-input pruned", fs),
                                          "random-input minus progressive")  # fmt: skip
    worse_than_unl, shown_unl = _levels(per_level(errors, "unlinked pruned", "random-input pruned", fs),
                                        "random-input minus unlinked")  # fmt: skip
    status_r, counted_r = compound_status(worse_than_prog + worse_than_unl)
    status_f, reason_f, front = _pareto_check(means, errors)
    unpruned = int(means[means.network == "unlinked unpruned"].iloc[0].parameters)
    counted = next(r for r in fig2b if r["config"]["network"] == "unlinked unpruned")  # the run it is read from
    adapters = [r for r in runs_a(records, p) if r["config"]["adapter"] in steps]
    n_a, n_b = acc_a.seed.nunique(), errors.seed.nunique()
    return [
        {"claim": "The unlinked, unpruned network of Fig. 2(b) has 930,270 parameters", "paper": "930,270",
         "this book": f"{unpruned:,}", "data and scale": "counted, no training",
         "status": "reproduced" if unpruned == 930_270 else "not reproduced", "records": run_keys([counted]),
         "reason": "an exact count: the same architecture gives the same number" if unpruned == 930_270
         else "an exact count, and it differs"},
        {"claim": "Fig. 2(a): with learned adapters each later, smaller column gains a little accuracy; without "
                  "adapters, or with unlearned ones, each loses",
         "paper": "learned: column 2 > 1 and 3 > 2; none and unlearned: 2 < 1 and 3 < 2",
         "this book": "; ".join(f"{names_a[k]}: " + ", ".join(f"{step}: {mean:+.2f}" for step, (mean, _) in v.items())
                                for k, v in steps.items()) + " points",
         "data and scale": line_a, "status": status_a, "records": run_keys(adapters),
         "reason": f"{counted_a} (paired by seed, {n_a} seeds); "
                   + "; ".join(reason for status, reason in parts_a if status != "reproduced")},
        {"claim": "Fig. 2(b): at equal parameters the progressive pruned network beats the unlinked pruned one",
         "paper": "at every pruning level (figure only)", "this book": shown_beats, "data and scale": line_b,
         "status": status_b, "records": run_keys(_paired_runs(fig2b, "progressive pruned", "unlinked pruned", fs)),
         "reason": f"{counted_b} (one part per pruning level, paired by seed, {n_b} seeds)"},
        {"claim": "Fig. 2(b): adapters fed random inputs make the worst pruned network",
         "paper": "random-input pruned has the highest error", "this book": f"{shown_prog}; {shown_unl}",
         "data and scale": line_b, "status": status_r,
         "records": run_keys(_paired_runs(fig2b, "progressive pruned", "random-input pruned", fs),
                             _paired_runs(fig2b, "unlinked pruned", "random-input pruned", fs)),
         "reason": f"{counted_r} (worse than the progressive and than the unlinked network at each level, paired "
                   f"by seed, {n_b} seeds)"},
        {"claim": "Fig. 2(b): only progressive pruned networks lie on the Pareto front of error against size",
         "paper": "progressive pruned only", "this book": ", ".join(front), "data and scale": line_b,
         "status": status_f, "reason": reason_f, "records": run_keys(fig2b)},
        _growth_row(records, p),
        {"claim": "Section 4: with conv columns, the pruned progressive network does no better than a pruned "
                  "unlinked conv network of the same size (MNIST, SVHN, flipped SVHN)",
         "paper": "no benefit (initial experiments, no numbers)", "this book": "not run", "data and scale": "none",
         "status": "not attempted", "records": NO_RECORDS,
         "reason": "the book's progressive networks are fully connected only, and SVHN is not on the build machines; "
                   "the paper gives no numbers, architecture or pruning levels for the convolutional variant"},
    ]  # fmt: skip

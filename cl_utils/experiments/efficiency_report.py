"""Chapter 02's claims table: each of Ball et al.'s figures and tables, our number, and a status.

Statuses follow the shared rules of :mod:`cl_utils.verdicts` (differences paired by seed against their standard
error over the seeds), computed from the records, so a rerun at another scale re-judges every claim. A figure the
parameters leave out (CIFAR-10's Table 1 and Figures 2-4 at the committed scale) gets a "not attempted" row naming
the parameter.

Every number and every scale line is read from the records (their ``config``, ``metrics`` and ``data``), never
from the parameters the notebook was run with: the parameters only say which records belong to which figure
(the datasets, p, N, B and seeds of each point, :func:`point_runs`), so a caption cannot describe other runs
than the ones it shows. :mod:`.efficiency_figures` draws the figures and tables from the same selections.

Why one module: the selections (:func:`point_runs`, :func:`fig_runs`, :func:`matching_runs`), the scale lines and
the rules of each figure's rows are one piece: a row, its caption and its figure must select the same records.
"""
from __future__ import annotations

import math

import numpy as np

from ..claims import NO_RECORDS, run_keys
from ..efficiency import METHODS, compression_ratio
from ..verdicts import binomial_se, combined_se, compound_status, direction_status, paired_direction, seed_se, \
    size_status, weakest_status, Z
from .runs import Records
from .describe import synthetic
from .efficiency_runs import BASE_KEYS, Params, fill_runs, long_params, long_runs, match, match_record, setting
from .efficiency_seeds import SeedRatios, alike_part, ordering_parts, run_cache, seed_ratios, size_part
from .efficiency_trend import POINT_KEYS, trend_clause, trend_records, trend_table

__all__ = ["PAPER_TABLE1", "PAPER_FIG3", "TITLE", "DATA", "point_runs", "accuracy", "fig_runs", "matching_runs",
           "memory_steps_runs", "common", "seeds_of", "subsets", "synthetic", "retraining_budget", "MATCHED_MEAN",
           "ROW_MEANS", "scale", "row_scale", "paper_fig3", "claims", "long_complete"]  # fmt: skip

TITLE = {"mnist": "MNIST", "cifar10": "CIFAR-10"}
#: what each dataset's real data is (the CIFAR-10 of data/ is decoded from a JPEG copy)
DATA = {"mnist": "split MNIST (real)", "cifar10": "split CIFAR-10 (real, JPEG copy)"}
#: Table 1: compression ratio (Memory, Multinet) at PackNet's p
PAPER_TABLE1 = {("mnist", 0.95): (1.17, 1.63), ("mnist", 0.99): (1.45, 2.77), ("mnist", 0.995): (1.54, 3.32),
                ("cifar10", 0.8): (1.60, 2.82), ("cifar10", 0.9): (2.25, 2.26), ("cifar10", 0.95): (2.08, 2.27)}
#: Figure 3's captions: PackNet's mean accuracy (%) at p
PAPER_FIG3 = {("mnist", 0.95): 99.6, ("mnist", 0.99): 98.9, ("mnist", 0.995): 97.0,
              ("cifar10", 0.8): 89.1, ("cifar10", 0.9): 84.3, ("cifar10", 0.95): 79.7}


# ------------------------------------------------------------------------------------ which records go where
def point_runs(records: Records, p: Params, d: str, method: str, free: float, rounds: int, budget: int,
               seeds: list[int], steps: str = "epochs") -> list[dict]:  # fmt: skip
    """The fill records of one point of a figure, one per seed group (the run module's grouping): matched on the
    point's dataset, method, p, N, B and seeds only, so the records' other settings are what a caption reports
    (where two records share those, the scale trend's and the long setting's at B = 72, the images per class and E
    tell them apart); ``steps="packnet"``: Memory's runs at PackNet's gradient steps (else the runs without it)."""
    return [records.one("fill", prefer={k: r.config[k] for k in ("per_class", "epochs")},
                        **{k: r.config[k] for k in POINT_KEYS}, steps=r.config.get("steps"))
            for r in fill_runs(p, d, method, free, rounds, budget, seeds, steps)]  # fmt: skip


def accuracy(runs: list[dict]) -> np.ndarray:
    """Test accuracy (%, tasks x seeds) of the records of one point, their seed groups side by side."""
    return 100 * np.concatenate([np.asarray(r["metrics"]["acc"]) for r in runs], axis=1)


def fig_runs(records: Records, p: Params, fig: str, d: str) -> list[dict]:
    """The fill records of ``fig`` on dataset ``d``: 'fig1' every p and method at N = 1; 'fig2' PackNet at every
    p and N, the budget B shared by the N rounds; 'fig4' PackNet at every p and N, B epochs per round."""
    s = setting(p, d)
    points = {"fig1": [(m, f, 1, s.budget) for f in s.free for m in METHODS],
              "fig2": [("packnet", f, n, s.budget) for f in s.free for n in s.rounds],
              "fig4": [("packnet", f, n, s.budget * n) for f in s.free for n in p.fig4_rounds]}[fig]  # fmt: skip
    return [r for m, f, n, b in points for r in point_runs(records, p, d, m, f, n, b, s.seeds)]


def matching_runs(records: Records, p: Params, d: str, how: str = "grid") -> list[dict]:
    """Table 1's match records of dataset ``d`` (every p, Memory then Multinet), on the grid or by the search."""
    s = setting(p, d)
    return [match_record(records, d, f, m, how, epochs=s.epochs) for f in s.free for m in ("memory", "multinet")]


def memory_steps_runs(records: Records, p: Params, d: str) -> tuple[list[dict], list[dict]]:
    """Memory at PackNet's gradient steps on dataset ``d``: its fill records at every p (Fig. 1's seeds, paired with
    Fig. 1's Memory) and its matchings on the grid; two empty lists where ``memory_equal_steps`` or
    ``matching_datasets`` leaves ``d`` out."""
    if not (d in p.memory_equal_steps and d in p.matching_datasets):
        return [], []
    s = setting(p, d)
    fills = [r for f in s.free for r in point_runs(records, p, d, "memory", f, 1, s.budget, s.seeds, "packnet")]
    return fills, [match_record(records, d, f, "memory", "grid", "packnet", s.epochs) for f in s.free]


# ------------------------------------------------------------------------------------ scale, from the records
#: the settings one caption states for all of a figure's runs: all of :data:`.efficiency_runs.BASE_KEYS` but the seed
#: that draws each record's subset (:func:`subsets` tells it)
CAPTION_KEYS = tuple(k for k in BASE_KEYS if k != "subset_seed")
#: how a scale line says the seeds draw their training subsets (:func:`subsets`)
SUBSET_WORDS = {"shared": ", one subset for every seed", "per seed": ", a subset per seed"}


def common(runs: list[dict]) -> dict:
    """The network, data and training settings (:data:`CAPTION_KEYS`) the runs share, else an error."""
    first = {k: runs[0]["config"].get(k) for k in CAPTION_KEYS}
    differ = sorted({k for r in runs for k in CAPTION_KEYS if r["config"].get(k) != first[k]})
    if differ:
        raise ValueError(f"the runs of one {first['dataset']} figure differ in {differ}: one caption cannot describe "
                         "them")  # fmt: skip
    return first


def seeds_of(runs: list[dict]) -> list[int]:
    return sorted({s for r in runs for s in r["config"]["seeds"]})


def subsets(runs: list[dict]) -> str:
    """How the seeds of ``runs`` draw their training subsets (and validation splits): ``"per seed"`` where every
    record holds one seed and its own subset (:func:`.efficiency_runs._subset_seed`), or is a matching whose runs
    do (seeds not stacked: one run per seed), ``"shared"`` where every model uses seed 0's; an error if the runs mix
    the two (one caption cannot tell it)."""
    drawn_by = [r["config"].get("subset_seed") or 0 for r in runs]
    own = [(r.get("kind") == "match" and r["config"].get("stacked") is False)
           or (len(r["config"]["seeds"]) == 1 and d == r["config"]["seeds"][0]) for r, d in zip(runs, drawn_by)]
    if all(own):
        return "per seed" if len(seeds_of(runs)) > 1 else "shared"
    if any(drawn_by):
        raise ValueError("the runs mix a subset per seed with one shared by every seed: one caption cannot tell it")
    return "shared"


def retraining_budget(runs: list[dict], per_round: bool = False) -> int:
    """The runs' retraining budget B (``per_round``: their epochs per round, Fig. 4's B); an error if they differ."""
    values = {r["config"]["budget"] // (r["config"]["rounds"] if per_round else 1) for r in runs}
    if len(values) != 1:
        raise ValueError(f"the runs differ in their retraining budget {sorted(values)}: one caption cannot tell it")
    return values.pop()


#: what a matching table shows of its seeds: one p_bar per p, matched to the seeds' mean accuracy
MATCHED_MEAN = "ratios and p_bar from one matching of the seeds' mean accuracy (no error bars)"
#: what a claims row shows of its seeds: the means; their standard errors are in the row's reason
ROW_MEANS = "means over the seeds (standard errors in the reason)"


def scale(runs: list[dict], *, per_round: bool = False, note: bool = True, spread: str = "mean ± s.e.m.") -> str:
    """The data and scale of ``runs``, read from their records; ``note`` adds what p counts; ``spread`` says what the
    figure, table or row shows of several seeds (one seed: no error bars)."""
    c, n, b = common(runs), len(seeds_of(runs)), retraining_budget(runs, per_round)
    data = "SYNTHETIC stand-in (tests only)" if synthetic(runs) else DATA[c["dataset"]]
    budget = f"{b} retraining epochs per round (N rounds: {b}N epochs)" if per_round else f"B = {b}"
    drawn = SUBSET_WORDS[subsets(runs)] if n > 1 else ""
    images = f"{c['per_class']} training images/class{drawn}" if c["per_class"] else "all training images"
    line = (f"{data}; {images}; E = {c['epochs']}, {budget}; {n} seed(s), "
            + (spread if n > 1 else "no error bars"))  # fmt: skip
    return line + "; p = free share of body weights (biases, heads kept)" if note else line


def row_scale(runs: list[dict], *, per_round: bool = False) -> str:
    """A claims row's data and scale: :func:`scale` without the note on p, saying the row gives means."""
    return scale(runs, per_round=per_round, note=False, spread=ROW_MEANS)


# ----------------------------------------------------------------------------------------------------- claims
def _acc(records: Records, p: Params, d: str, method: str, free: float, rounds: int = 1, budget: int = 0,
         seeds: list[int] | None = None) -> np.ndarray:  # fmt: skip
    s = setting(p, d)
    return accuracy(point_runs(records, p, d, method, free, rounds, budget or s.budget, seeds or s.seeds))


def _per_seed(records: Records, p: Params, d: str, method: str, free: float, rounds: int = 1, budget: int = 0,
              seeds: list[int] | None = None) -> np.ndarray:  # fmt: skip
    """Mean accuracy (%) over the five tasks per seed (a seed's data order is the same at every point: paired)."""
    return _acc(records, p, d, method, free, rounds, budget, seeds).mean(axis=0)


def _packnet_runs(records: Records, p: Params, d: str, points: list[tuple[float, int, int]],
                  seeds: list[int] | None = None) -> list[dict]:  # fmt: skip
    """PackNet's fill records of dataset ``d`` at each point (p, N, B), at the figure's seeds (or ``seeds``)."""
    s = setting(p, d)
    return [r for f, n, b in points for r in point_runs(records, p, d, "packnet", f, n, b, seeds or s.seeds)]


def _ratio_runs(per_seed: dict[float, tuple[SeedRatios, ...]]) -> list[dict]:
    """The records the per-seed ratios are read from: each matching and its grid run."""
    return [r for ratios in per_seed.values() for one in ratios for r in one.runs]


#: test images behind a five-task mean accuracy (each dataset's whole test split, split into its five tasks)
TEST_IMAGES = 10_000


def _paired_se(ours: np.ndarray, theirs: np.ndarray) -> float:
    """The SE of ``ours - theirs`` (accuracies in %, per seed): over the seeds, paired; with one seed the binomial
    SE of both runs' test sets."""
    if len(ours) > 1:
        return seed_se(list(ours - theirs))
    return combined_se(binomial_se(float(ours[0]), TEST_IMAGES), binomial_se(float(theirs[0]), TEST_IMAGES))


def _direction(ours: np.ndarray, theirs: np.ndarray, *, expected_sign: int = 1, what: str) -> tuple[str, str]:
    """The direction of ``ours - theirs`` against :func:`_paired_se`: over the seeds, paired (as
    :func:`paired_direction`); with one seed, against the binomial SE of both runs' test sets."""
    status, reason = direction_status(float((ours - theirs).mean()), _paired_se(ours, theirs),
                                      expected_sign=expected_sign, what=what)  # fmt: skip
    one_seed = f" (one seed: binomial SE of {TEST_IMAGES:,} test images per run)" if len(ours) == 1 else ""
    return status, reason + one_seed


def _not_attempted(claim: str, paper: str, parameter: str) -> dict:
    return {"claim": claim, "paper": paper, "this book": "not run", "data and scale": "none",
            "status": "not attempted", "reason": f"left out of the committed run by '{parameter}' (CPU time); "
                                                  "the default (paper-scale) parameters run it",
            "records": NO_RECORDS}  # fmt: skip


def claims(records: Records, p: Params) -> list[dict]:
    """Every claim of the paper's Figures 1-4 and Table 1, for both datasets; data and scale from the records."""
    rows = []
    cache = run_cache(records, p) if p.matching_datasets else {}  # read once: the grid runs are inputs, not planned
    for d in ("mnist", "cifar10"):
        matched = d in p.matching_datasets
        per_seed = _seed_ratios(records, cache, p, d) if matched else {}
        rows += _fig1(records, p, d)
        rows += _table1(records, p, d, per_seed)
        rows += _table1_trend(records, p, d, per_seed)
        rows += _table1_alike(records, p, d, per_seed)
        rows += _memory_steps(records, p, d, _seed_ratios(records, cache, p, d, "packnet")
                              if matched and d in p.memory_equal_steps else {})  # fmt: skip
        rows += _fig2(records, p, d)
        rows += _fig2_dip(records, p, d)
        rows += _fig3(records, p, d)
        rows += _fig4(records, p, d)
    long = _long(records, p, cache)
    return [_with_long(r, long.get(r["claim"]), p.long_epochs) for r in rows]


def long_complete(records: Records, p: Params) -> bool:
    """Whether every run of the long setting (``long_epochs``, :func:`.efficiency_runs.long_runs`) is in the records."""
    runs = long_runs(p)
    return bool(runs) and all(records.where(r.kind, **dict(r.config)) for r in runs)


def _long(records: Records, p: Params, cache: dict[str, dict]) -> dict[str, dict]:
    """The MNIST rows of Table 1 and Fig. 2 read in the long setting (:func:`.efficiency_runs.long_params`: E = B =
    ``long_epochs`` on the same images), by claim; empty without one or while any of its runs is missing."""
    q = long_params(p)
    if q is None or not long_complete(records, p):
        return {}
    rows = []
    if q.matching_datasets:
        per_seed = _seed_ratios(records, cache, q, "mnist")  # q matches on MNIST only where p does: cache is read
        rows += _table1(records, q, "mnist", per_seed) + _table1_trend(records, q, "mnist", per_seed)
    if q.fig2_datasets:
        rows += _fig2(records, q, "mnist") + _fig2_dip(records, q, "mnist")
    return {r["claim"]: r for r in rows}


def _with_long(row: dict, long: dict | None, epochs: int) -> dict:
    """``row`` with its claim read in the long setting appended to its reason (numbers, status and reason there);
    the row's status stays the one of the chapter's own setting, and its records gain the long setting's."""
    if long is None:
        return row
    keys = {*row["records"].split(), *long["records"].split()} - {NO_RECORDS}
    return {**row, "reason": f"{row['reason']}; at E = B = {epochs} on the same images ({long['data and scale']}): "
                             f"{long['this book']}, {long['status']}: {long['reason']}",
            "records": " ".join(sorted(keys)) or NO_RECORDS}  # fmt: skip


def _fig1(records: Records, p: Params, d: str) -> list[dict]:
    claim = f"Fig. 1 ({TITLE[d]}): PackNet is the least accurate of the three, and its gap grows with p"
    if d not in p.datasets:
        return [_not_attempted(claim, "yes, at every p", "datasets")]
    ps = setting(p, d).free
    gaps, arms = [], []
    for f in ps:
        other = max(("memory", "multinet"), key=lambda m: float(_acc(records, p, d, m, f).mean()))
        pk, ot = _per_seed(records, p, d, "packnet", f), _per_seed(records, p, d, other, f)
        gaps.append(float(pk.mean() - ot.mean()))
        arms.append((pk, ot))
    parts = [_direction(pk, ot, expected_sign=-1, what=f"p={f:g}") for f, (pk, ot) in zip(ps, arms)]
    for (f0, (pk0, ot0)), (f1, (pk1, ot1)) in zip(zip(ps, arms), list(zip(ps, arms))[1:]):
        change = (pk1 - ot1) - (pk0 - ot0)
        if len(change) > 1:
            parts.append(paired_direction(list(change), [0.0] * len(change), expected_sign=-1,
                                          what=f"gap change p={f0:g} to {f1:g}"))  # fmt: skip
        else:  # four runs' test sets
            se = combined_se(*(binomial_se(float(a[0]), TEST_IMAGES) for a in (pk0, ot0, pk1, ot1)))
            parts.append(direction_status(float(change[0]), se, expected_sign=-1,
                                          what=f"gap change p={f0:g} to {f1:g} (one seed: binomial SE of four runs)"))
    per_seed = [pk - ot for pk, ot in arms]
    status, counted = compound_status(parts)
    shown = fig_runs(records, p, "fig1", d)  # every method at every p: the ones compared
    return [{"claim": claim, "paper": "yes, at every p",
             "this book": "PackNet minus the better other method: "
                          + ", ".join(f"p={f:g}: {g:+.2f}" for f, g in zip(ps, gaps)) + " points",
             "data and scale": row_scale(shown), "status": status,
             "reason": f"{counted} (behind at each p, and the gap wider at each larger p; paired by seed, "
                       f"{len(per_seed[0])} seed(s)): " + "; ".join(r for _, r in parts) + _at_chance(records, p, d),
             "records": run_keys(shown)}]  # fmt: skip


def _at_chance(records: Records, p: Params, d: str) -> str:
    """A clause of Fig. 1's row where some of PackNet's tasks end at chance (two classes: 50 %, within 2 binomial
    SE of its test set, the mean over the seeds), with its leading separator: a method at chance on most tasks has
    little room left to fall behind further, so its gap cannot keep growing with p."""
    test = TEST_IMAGES // 5  # one two-class task's test images
    found = {}
    for f in setting(p, d).free:
        per_task = _acc(records, p, d, "packnet", f).mean(axis=1)  # tasks
        found[f] = int(np.sum(np.abs(per_task - 50.0) <= Z * binomial_se(50.0, test)))
    if not any(found.values()):
        return ""
    return ("; PackNet's tasks at chance (within 2 SE of 50 % on a task's {:,} test images): ".format(test)
            + ", ".join(f"p={f:g}: {n} of 5" for f, n in found.items()))


def _ratios(records: Records, p: Params, d: str) -> dict[float, tuple[float, float]]:
    return {f: tuple(compression_ratio(f, match(records, p, d, f, m)["free"]) for m in ("memory", "multinet"))
            for f in setting(p, d).free}  # fmt: skip


def _matching_scale(runs: list[dict]) -> str:
    """The scale line of a row read from Table 1's grid matchings ``runs``: the data, the seeds and the grid."""
    points = "/".join(dict.fromkeys(str(r["config"]["points"]) for r in runs))
    return f"{row_scale(runs)}; {len(seeds_of(runs))} seeds, a grid of {points} p̄ values"


def _paper_table1(d: str) -> tuple[list[float], str]:
    """The p of the paper's Table 1 on dataset ``d``, and its ratios there as a row's "paper" cell (Memory /
    Multinet)."""
    ps = [f for (dd, f) in PAPER_TABLE1 if dd == d]
    return ps, "; ".join(f"p={f:g}: {PAPER_TABLE1[d, f][0]:.2f} / {PAPER_TABLE1[d, f][1]:.2f}" for f in ps)


def _ratio_row(records: Records, p: Params, d: str, claim: str, paper: str) -> tuple[dict, list[dict], dict]:
    """A Table 1 row before its judgement: the one matching's ratios per p, their scale line and records; with the
    matchings and the ratios it reads (``{p: (Memory's, Multinet's)}``)."""
    ratios, runs = _ratios(records, p, d), matching_runs(records, p, d)
    row = {"claim": claim, "paper": paper,
           "this book": "; ".join(f"p={f:g}: {a:.2f} / {b:.2f}" for f, (a, b) in ratios.items()),
           "data and scale": _matching_scale(runs), "records": run_keys(runs)}
    return row, runs, ratios


def _table1(records: Records, p: Params, d: str, per_seed: dict) -> list[dict]:
    _, paper = _paper_table1(d)
    claim = f"Table 1 ({TITLE[d]}): Memory / Multinet match PackNet's accuracy with fewer weights (compression ratio)"
    if d not in p.matching_datasets:
        return [_not_attempted(claim, paper, "matching_datasets")]
    row, runs, ratios = _ratio_row(records, p, d, claim, paper)
    shared = [f for f in per_seed if (d, f) in PAPER_TABLE1]
    if per_seed and shared:  # each seed matched on its own: the ratios' spread is measured
        parts = [size_part(per_seed[f][i], PAPER_TABLE1[d, f][i], f"p={f:g} {name}") for f in shared
                 for i, name in enumerate(("Memory", "Multinet"))]  # fmt: skip
        return [{**row, "status": weakest_status(st for st, _ in parts),
                 "reason": "each seed matched on its own grid curve against its own PackNet accuracy, judged in "
                           "log10 of the ratio with the SE over the seeds (the row's numbers come from the one "
                           "matching over the seeds' mean; body weights only): "
                           + "; ".join(r for _, r in parts),
                 "records": run_keys(runs, _ratio_runs(per_seed))}]  # fmt: skip
    above_one = all(r > 1 for pair in ratios.values() for r in pair)
    return [{**row, "status": "partly" if above_one else "not reproduced",  # the direction only: no measured SE
             "records": run_keys(runs),
             "reason": ("every ratio above 1, as the paper's" if above_one else "some ratio at or below 1")
                       + "; the sizes come from one matching over the seeds' mean, with no measured uncertainty, "
                       "so only the direction is judged (body weights only; the chapter also shows them with heads "
                       "and biases)"}]  # fmt: skip


def _seed_ratios(records: Records, cache: dict[str, dict], p: Params, d: str, steps: str = "epochs") -> dict:
    """Per p: (Memory's, Multinet's) ratios per seed (:mod:`.efficiency_seeds`; ``cache``: the run cache's records by
    key); empty where any is missing. Memory's alone with ``steps="packnet"``."""
    methods = ("memory",) if steps == "packnet" else ("memory", "multinet")
    s = setting(p, d)
    found = {f: tuple(seed_ratios(records, cache, d, f, m, steps, s.epochs) for m in methods) for f in s.free}
    return {} if any(r is None for pair in found.values() for r in pair) else found


def _table1_trend(records: Records, p: Params, d: str, per_seed: dict) -> list[dict]:
    """Section 2 on Table 1 (MNIST): as p grows, PackNet's relative memory efficiency worsens (both ratios rise) and
    the multitask network needs the fewest weights (Multinet's ratio above Memory's at every p). Each part is an
    ordering of matched ratios, judged paired by seed, each seed matched on its own grid curve
    (:mod:`.efficiency_seeds`). Without the grid runs (a matching of the seeds' mean only, with no measured
    uncertainty) the row is inconclusive whatever the orderings, and says which hold."""
    if d != "mnist":
        return []
    _, paper = _paper_table1(d)
    claim = (f"Table 1 ({TITLE[d]}): the compression ratios grow with p, and Multinet's is above Memory's at every "
             "p")  # fmt: skip
    if d not in p.matching_datasets:
        return [_not_attempted(claim, paper, "matching_datasets")]
    row, runs, ratios = _ratio_row(records, p, d, claim, paper)
    if per_seed:  # the orderings paired by seed, against their measured spread
        status, reason = ordering_parts(per_seed)
        return [{**row, "status": status, "reason": f"{reason} (each seed matched on its own grid curve; the row's "
                                                    "numbers come from the one matching over the seeds' mean)",
                 "records": run_keys(runs, _ratio_runs(per_seed))}]
    shown = {f: tuple(round(r, 2) for r in pair) for f, pair in ratios.items()}  # compared as printed
    fs = sorted(ratios)
    parts = [(f"{m} p={a:g} to {b:g}", shown[b][i] > shown[a][i]) for i, m in enumerate(("Memory", "Multinet"))
             for a, b in zip(fs, fs[1:])] + [(f"Multinet above Memory at p={f:g}", shown[f][1] > shown[f][0])
                                             for f in fs]  # fmt: skip
    held = [w for w, ok in parts if ok]
    return [{**row, "status": "inconclusive",
             "reason": f"{len(held)} of {len(parts)} orderings hold (" + "; ".join(
                 f"{w}: {'holds' if ok else 'fails'}" for w, ok in parts) + "); a matched ratio comes from one "
                 "matching over the seeds' mean, with no measured uncertainty, so no ordering can be told apart "
                 "from the noise (a matching per seed would give one)"}]  # fmt: skip


def _table1_alike(records: Records, p: Params, d: str, per_seed: dict) -> list[dict]:
    """Section 2 on Table 1 (CIFAR-10): Memory and Multinet do about equally well. "Alike" is read against the
    paper's own cells, all of which it calls similar: at most its largest gap apart in log10 (a factor 1.76, p = 0.8),
    each p judged paired by seed (:func:`.efficiency_seeds.alike_part`), the row as its weakest p."""
    if d != "cifar10":
        return []
    ps, paper = _paper_table1(d)
    bound = max(abs(math.log10(PAPER_TABLE1[d, f][1] / PAPER_TABLE1[d, f][0])) for f in ps)
    paper += f", called alike (the largest gap a factor {10 ** bound:.2f}, {bound:.3f} in log10)"
    claim = f"Table 1 ({TITLE[d]}): Memory and Multinet do about equally well (alike compression ratios)"
    if d not in p.matching_datasets:
        return [_not_attempted(claim, paper, "matching_datasets")]
    row, runs, _ = _ratio_row(records, p, d, claim, paper)
    shared = [f for f in per_seed if (d, f) in PAPER_TABLE1]
    if not shared:
        return [{**row, "status": "inconclusive",
                 "reason": "a matched ratio comes from one matching over the seeds' mean, with no measured "
                           "uncertainty, so how far apart the two are cannot be told from the noise"}]  # fmt: skip
    parts = [alike_part(*per_seed[f], bound, f"p={f:g}") for f in shared]
    return [{**row, "status": weakest_status(st for st, _ in parts),
             "reason": "each seed matched on its own grid curve (the row's numbers come from the one matching over "
                       "the seeds' mean): " + "; ".join(r for _, r in parts),
             "records": run_keys(runs, _ratio_runs(per_seed))}]  # fmt: skip


def _memory_steps(records: Records, p: Params, d: str, per_seed: dict) -> list[dict]:
    """Table 1's Memory ratio under the other reading of the paper's "same time budget": Memory given PackNet's
    number of gradient steps instead of its epochs (with the same epochs it rehearses 1 + 2 + ... + 5 tasks' data:
    3 times the steps). Judged as Table 1's row (each seed matched on its own, against the paper's Table 1 ratio;
    without the grid runs, the direction only); the reason adds what the fewer steps cost Memory's accuracy at p,
    paired by seed."""
    fills, matches = memory_steps_runs(records, p, d)
    if not matches:
        return []
    s = setting(p, d)
    ps = s.free
    paper = "; ".join(f"p={f:g}: {PAPER_TABLE1[d, f][0]:.2f}" for f in ps if (d, f) in PAPER_TABLE1)
    ratios = {f: compression_ratio(f, m["metrics"]["free"]) for f, m in zip(ps, matches)}
    same_epochs = [match_record(records, d, f, "memory", epochs=s.epochs) for f in ps]  # Table 1's Memory matchings
    epochs = {f: compression_ratio(f, m["metrics"]["free"]) for f, m in zip(ps, same_epochs)}
    fig1_memory = [r for f in ps for r in point_runs(records, p, d, "memory", f, 1, s.budget, s.seeds)]
    used = [fills, matches, same_epochs, fig1_memory]  # and the grid runs, where each seed is matched
    costs = []
    for f in ps:
        fewer = accuracy([r for r in fills if r["config"]["free"] == f]).mean(axis=0)
        change = fewer - _per_seed(records, p, d, "memory", f)  # Fig. 1's Memory: the same seeds, paired
        costs.append(f"p={f:g}: {change.mean():+.2f} (SE {seed_se(list(change)):.2f})")
    above_one = all(r > 1 for r in ratios.values())
    status = "partly" if above_one else "not reproduced"
    judged = ("every ratio above 1, as the paper's" if above_one else "some ratio at or below 1") + \
        " (the direction only, as Table 1's row: a matched ratio has no measured uncertainty)"  # fmt: skip
    shared = [f for f in per_seed if (d, f) in PAPER_TABLE1]
    if per_seed and shared:
        parts = [size_part(per_seed[f][0], PAPER_TABLE1[d, f][0], f"p={f:g}") for f in shared]
        status = weakest_status(st for st, _ in parts)
        used.append(_ratio_runs(per_seed))
        judged = ("each seed matched on its own grid curve, judged in log10 of the ratio with the SE over the seeds "
                  "against the paper's Table 1 Memory ratio: " + "; ".join(r for _, r in parts))  # fmt: skip
    return [{"claim": f"Table 1 ({TITLE[d]}), Memory given PackNet's number of gradient steps rather than PackNet's "
                      "epochs: it still matches PackNet with fewer weights",
             "paper": f"not run by the paper; its Table 1 (same time budget): {paper}" if paper else "not in the paper",
             "this book": "; ".join(f"p={f:g}: {ratios[f]:.2f} (same epochs: {epochs[f]:.2f})" for f in ps),
             "data and scale": f"{row_scale(fills)}; Memory draws one task's size from the rehearsed data "
                               f"every epoch; a grid of {matches[0]['config']['points']} p̄ values",
             "status": status,
             "reason": f"{judged}; Memory's accuracy at p with PackNet's steps minus with the same epochs, paired "
                       f"by seed ({len(fewer)} seed(s)): " + "; ".join(costs) + " points",
             "records": run_keys(*used)}]  # fmt: skip


def _errors(records: Records, p: Params, d: str, f: float, rounds: list[int], budget_of) -> dict[int, float]:
    return {n: 100 - float(_acc(records, p, d, "packnet", f, n, budget_of(n)).mean()) for n in rounds}


def _fig2(records: Records, p: Params, d: str) -> list[dict]:
    s = setting(p, d)
    if d == "mnist":
        claim = ("Fig. 2 (MNIST): at a fixed retraining budget, more rounds help the MLP; at p=0.995 the worst N has "
                 "about twice the error of the best")  # fmt: skip
        paper, hardest = "p=0.995: 3 % (worst N) against 1.5 % (best N), ratio 2", 0.995
    else:
        claim = "Fig. 2 (CIFAR-10): at a fixed retraining budget, few rounds (often one) are best for the conv net"
        paper, hardest = "one round often best; p=0.95: best and worst N 3.5 points apart", 0.95
    if d not in p.fig2_datasets:
        return [_not_attempted(claim, paper, "fig2_datasets")]
    f = hardest if hardest in s.free else max(s.free)
    errs = _errors(records, p, d, f, s.rounds, lambda n: s.budget)
    used = [(f, n, s.budget) for n in [1, *s.rounds]]  # the points (p, N, B) of PackNet the row reads
    best, worst = min(errs, key=errs.get), max(errs, key=errs.get)
    ours = f"p={f:g}: worst N={worst} {errs[worst]:.2f} %, best N={best} {errs[best]:.2f} % (ratio {errs[worst] / errs[best]:.2f})"
    if d == "mnist":
        rival = best if best != 1 else min((n for n in s.rounds if n != 1), key=errs.get)  # the best of several rounds
        one = 100 - _per_seed(records, p, d, "packnet", f, 1, s.budget)
        many = 100 - _per_seed(records, p, d, "packnet", f, rival, s.budget)
        status, says = paired_direction(list(one), list(many), what=f"N=1 minus N={rival} error")
        reason = (f"{says} (paired by seed, {len(one)} seeds; the best N chosen on these runs); the worst/best ratio "
                  f"is {errs[worst] / errs[best]:.2f} against the paper's 2, at errors far above the paper's")
    else:  # the paper's contrast with the MLP: one round beats many, at every p (one seed: the test sets' SE)
        most = max(s.rounds)
        parts = [_direction(100 - _per_seed(records, p, d, "packnet", q, 1, s.budget),
                            100 - _per_seed(records, p, d, "packnet", q, most, s.budget), expected_sign=-1,
                            what=f"p={q:g}: N=1 minus N={most} error") for q in s.free]  # fmt: skip
        used += [(q, n, s.budget) for q in s.free for n in (1, most)]
        status, counts = compound_status(parts)
        reason = (f"{counts}: {'; '.join(says for _, says in parts)}; at p={f:g} the best N is {best}, the worst "
                  f"{worst}, {errs[worst] - errs[best]:.2f} points apart (the paper: 3.5)")  # fmt: skip
    shown = fig_runs(records, p, "fig2", d)
    scale_line = row_scale(shown)  # it names B
    rows = [{"claim": claim, "paper": paper, "this book": ours, "data and scale": scale_line,
             "status": status, "reason": reason, "records": run_keys(_packnet_runs(records, p, d, used))}]
    if d == "mnist" and {0.99, 0.995} <= set(s.free):  # then f is 0.995 and errs its errors
        errs_99 = _errors(records, p, d, 0.99, s.rounds, lambda n: s.budget)
        best_995, worst_99 = min(errs.values()), max(errs_99.values())
        a = 100 - _per_seed(records, p, d, "packnet", 0.995, best, s.budget)
        b = 100 - _per_seed(records, p, d, "packnet", 0.99, max(errs_99, key=errs_99.get), s.budget)
        status, says = size_status(float(a.mean()), float(b.mean()), seed_se(list(a - b)), runs=len(a),
                                   direction_holds=None)  # fmt: skip
        rows.append({"claim": "Fig. 2 (MNIST): the best N at p=0.995 is about as good as the worst N at p=0.99 "
                              "(twice the compression for free)", "paper": "about 1.5 % against about 1.5-2 %",
                     "this book": f"{best_995:.2f} % against {worst_99:.2f} %", "data and scale": scale_line,
                     "status": status,
                     "reason": says.replace("from the paper's", "from the worst N at 0.99") + " (a two-sided claim, "
                               f"paired by seed): the best at 0.995 is {best_995 - worst_99:+.2f} points from it",
                     "records": run_keys(_packnet_runs(records, p, d, [(q, n, s.budget) for q in (0.99, 0.995)
                                                                       for n in s.rounds]))})  # fmt: skip
    return rows


def _step(high: np.ndarray, low: np.ndarray) -> tuple[float, float, float]:
    """``high`` minus ``low`` (points, per seed): its mean, its SE (:func:`_paired_se`) and the mean in SEs."""
    mean, se = float((high - low).mean()), _paired_se(high, low)
    if se == 0:  # no noise measured: any non-zero difference counts
        return mean, se, math.copysign(math.inf, mean) if mean else 0.0
    return mean, se, mean / se


def _dip_then_rise(acc: dict[int, np.ndarray]) -> tuple[str, str, str]:
    """Section 3.1's MLP pattern at one p: walking N upwards, an accuracy below the best so far (the drop), then, at a
    larger N, one above the best before the drop (the rise). ``acc``: each N's per-seed mean accuracy (%), the seeds
    paired. Returns the finding ('both': drop and rise each beyond 2 SE; 'within': the pattern is in the means but a
    step is within 2 SE; 'no recovery': a drop beyond 2 SE that no larger N climbs back above; 'no drop': none
    beyond 2 SE), a short text for the row's 'this book' and one with the SEs for its reason. Of several candidates
    the one whose weaker step has the most SEs is shown (on a tie, the one whose stronger step has more)."""
    ns = sorted(acc)
    means = {n: float(acc[n].mean()) for n in ns}
    shapes, stuck, small = [], [], []  # ((weaker z, stronger z), drop, rise) of each drop with a rise; the others
    for j in range(1, len(ns)):
        best = max(ns[:j], key=means.get)
        d, d_se, d_z = _step(acc[best], acc[ns[j]])
        if d <= 0:
            continue  # ns[j] is a new best
        drop = (best, ns[j], d, d_se, d_z)
        rises = [(k, *_step(acc[k], acc[best])) for k in ns[j + 1:]]
        rises = [r for r in rises if r[1] > 0]
        if rises:
            shapes += [((min(d_z, r[3]), max(d_z, r[3])), drop, r) for r in rises]
        else:
            (stuck if d_z > Z else small).append(drop)

    def in_se(value: float, se: float, z: float) -> str:
        return f"{value:.2f} points, {z:.1f} SE (SE {se:.2f})"

    def below(best: int, n: int, d: float, d_se: float, d_z: float) -> str:
        return f"N={n} below N={best} (best so far, {means[best]:.2f} %) by {in_se(d, d_se, d_z)}"

    late = max(stuck, key=lambda drop: drop[4]) if stuck else None  # the strongest drop with no rise after it
    unrecovered = f"; no larger N climbs back above N={late[0]}" if late else ""
    if shapes:
        _, (best, n, d, d_se, d_z), (k, r, r_se, r_z) = max(shapes, key=lambda s: s[0])
        short = f"down {d:.2f} at N={n} from N={best}'s {means[best]:.2f} %, then {r:.2f} above it at N={k}"
        long = f"{below(best, n, d, d_se, d_z)}, then N={k} above N={best} by {in_se(r, r_se, r_z)}"
        if len(shapes) > 1:  # the pair shown is chosen among them: say among how many
            long += f" (the strongest of {len(shapes)} drop-and-rise pairs at this p)"
        if late:
            long += f"; later {below(*late)}{unrecovered}"
        return ("both" if min(d_z, r_z) > Z else "within"), short, long
    if late:
        best, n, d = late[:3]
        return "no recovery", f"down {d:.2f} at N={n} from N={best}, never back above it", below(*late) + unrecovered
    if small:
        best, n, d = (weak := max(small, key=lambda drop: drop[4]))[:3]
        return ("no drop", f"largest drop {d:.2f} at N={n} from N={best}, never back above it",
                f"largest drop: {below(*weak)}, within 2 SE, and no larger N above N={best}")
    return "no drop", "higher at every larger N", "every N above the best so far: no drop"


def _fig2_dip(records: Records, p: Params, d: str) -> list[dict]:
    """Section 3.1's remark on the MLP's Fig. 2 (MNIST only): as N grows, accuracy at some point drops below the best so
    far, then rises beyond it. Judged per p on Fig. 2's PackNet records (the seeds paired, every step against 2 SE):
    reproduced where at some p both steps exceed 2 SE; inconclusive where the pattern is in the means at some p but a
    step is within 2 SE; not reproduced otherwise (no drop beyond 2 SE, or no recovery after every such drop)."""
    if d != "mnist":
        return []
    claim = "Fig. 2 (MNIST): as N grows, the MLP's accuracy at some point drops, then rises beyond the best so far"
    paper = "performance drops as N grows, then rises beyond the best so far (MLP)"
    s = setting(p, d)
    if d not in p.fig2_datasets:
        return [_not_attempted(claim, paper, "fig2_datasets")]
    if len(s.rounds) < 3:
        return [{**_not_attempted(claim, paper, "mnist_rounds"), "reason": "a drop and a later rise need at least "
                 "three N ('mnist_rounds')"}]  # fmt: skip
    found = {f: _dip_then_rise({n: _per_seed(records, p, d, "packnet", f, n, s.budget) for n in s.rounds})
             for f in s.free}  # fmt: skip
    kinds = [k for k, _, _ in found.values()]
    if "both" in kinds:
        status, reading = "reproduced", "at some p both the drop and the later rise exceed 2 SE"
    elif "within" in kinds:
        status, reading = "inconclusive", (f"the pattern is in the means at {kinds.count('within')} of {len(kinds)} p, "
                                           "but at each a step (the drop or the rise) is within 2 SE")  # fmt: skip
    elif "no recovery" in kinds:
        status, reading = "not reproduced", ("accuracy drops beyond 2 SE, but at every p where it does, no larger N "
                                             "climbs back above the best before the drop")  # fmt: skip
    else:
        status, reading = "not reproduced", "accuracy never drops beyond 2 SE below the best so far, at any p"
    shown = fig_runs(records, p, "fig2", d)  # every p at every N: the walks read them all
    seeds = len(seeds_of(shown))
    spread = f"the SE over the {seeds} seeds of the difference paired by seed" if seeds > 1 else \
        f"one seed: the binomial SE of both runs' {TEST_IMAGES:,} test images"  # fmt: skip
    return [{"claim": claim, "paper": paper,
             "this book": "; ".join(f"p={f:g}: {short}" for f, (_, short, _) in found.items())
                          + " (mean accuracy; steps in points)",
             "data and scale": row_scale(shown), "status": status,
             "reason": f"{reading} (walking N = {', '.join(map(str, s.rounds))} upwards at each p: a drop below the "
                       "best so far, then at a larger N an accuracy above the best before the drop; accuracy is the "
                       f"mean over the five tasks, and a step counts beyond {Z:g} SE, {spread}; where a p has "
                       "several drop-and-rise pairs, the one shown is the strongest, a choice the 2 SE do not "
                       "correct for): "
                       + "; ".join(f"p={f:g}: {long}" for f, (_, _, long) in found.items()),
             "records": run_keys(shown)}]  # fmt: skip


def _fig3(records: Records, p: Params, d: str) -> list[dict]:
    paper_ps = [f for (dd, f) in PAPER_FIG3 if dd == d]
    claim = f"Fig. 3 ({TITLE[d]}): PackNet's mean accuracy over the five tasks at each p (the matching targets)"
    paper = ", ".join(f"p={f:g}: {PAPER_FIG3[d, f]:.1f} %" for f in paper_ps)
    if d not in p.matching_datasets:
        if d not in p.datasets:
            return [_not_attempted(claim, paper, "datasets")]
        return [_fig3_from_fills(records, p, d, claim, paper)]
    runs = matching_runs(records, p, d)
    s = setting(p, d)
    targets = [match_record(records, d, f, "memory", epochs=s.epochs) for f in s.free]  # PackNet's target, each p
    ours = {f: m["metrics"]["target"] for f, m in zip(s.free, targets)}
    shared = [f for f in ours if (d, f) in PAPER_FIG3]
    parts = []
    for f in shared:
        acc = _per_seed(records, p, d, "packnet", f, seeds=p.matching_seeds)
        parts.append(size_status(float(acc.mean()), PAPER_FIG3[d, f], seed_se(list(acc)), runs=len(acc),
                                 direction_holds=None))  # fmt: skip
    if not parts:
        return [{"claim": claim, "paper": paper,
                 "this book": ", ".join(f"p={f:g}: {a:.1f} %" for f, a in ours.items()),
                 "data and scale": f"{row_scale(runs)}; {len(seeds_of(runs))} seeds",
                 "status": "not attempted", "reason": "not measurable (no p in common)", "records": NO_RECORDS}]
    clause, trend = _trend(records, p, d)
    packnet = _packnet_runs(records, p, d, [(f, 1, s.budget) for f in shared], p.matching_seeds)
    return [{"claim": claim, "paper": paper, "this book": ", ".join(f"p={f:g}: {a:.1f} %" for f, a in ours.items()),
             "data and scale": f"{row_scale(runs)}; {len(seeds_of(runs))} seeds",
             "status": weakest_status(st for st, _ in parts),
             "reason": "; ".join(f"p={f:g}: {r}" for f, (_, r) in zip(shared, parts))
                       + " (the SE over the seeds; the paper gives no spread)" + clause,
             "records": run_keys(targets, packnet, trend)}]  # fmt: skip


def _fig3_from_fills(records: Records, p: Params, d: str, claim: str, paper: str) -> dict:
    """Fig. 3's row where no matching ran: PackNet's accuracy from Fig. 1's fills (N = 1) at each p the paper and the
    run share; with one seed, judged against the binomial SE of the test set (so a size can be at best
    inconclusive: three runs are needed to call it reproduced)."""
    s = setting(p, d)
    shared = [f for f in s.free if (d, f) in PAPER_FIG3]
    left = [f for f in paper_fig3(d) if f not in s.free]
    free_parameter = {"mnist": "mnist_free", "cifar10": "cifar_free"}[d]
    skipped = f"; p={', '.join(f'{f:g}' for f in left)} not run ('{free_parameter}', CPU time)" if left else ""
    if not shared:
        return {**_not_attempted(claim, paper, free_parameter), "reason": "no p in common with the paper's" + skipped}
    accs = {f: _per_seed(records, p, d, "packnet", f) for f in shared}
    parts = []
    for f, acc in accs.items():
        se = seed_se(list(acc)) if len(acc) > 1 else binomial_se(float(acc[0]), TEST_IMAGES)
        parts.append(size_status(float(acc.mean()), PAPER_FIG3[d, f], se, runs=len(acc), direction_holds=None))
    runs = _packnet_runs(records, p, d, [(f, 1, s.budget) for f in shared])
    spread = ("the SE over the seeds" if len(s.seeds) > 1
              else f"one seed: the binomial SE of {TEST_IMAGES:,} test images")  # fmt: skip
    return {"claim": claim, "paper": paper, "this book": ", ".join(f"p={f:g}: {a.mean():.1f} %" for f, a in accs.items()),
            "data and scale": f"{row_scale(runs)}; {len(s.seeds)} seed(s), Fig. 1's PackNet runs",
            "status": weakest_status(st for st, _ in parts),
            "reason": "; ".join(f"p={f:g}: {r}" for f, (_, r) in zip(shared, parts))
                      + f" ({spread}; the paper gives no spread; no matching ran on this dataset, so the accuracies "
                      f"come from Fig. 1's PackNet runs){skipped}", "records": run_keys(runs)}  # fmt: skip


def paper_fig3(d: str) -> dict[float, float]:
    """The paper's Fig. 3 accuracy (%) of dataset ``d`` at each p."""
    return {f: v for (dd, f), v in PAPER_FIG3.items() if dd == d}


def _trend(records: Records, p: Params, d: str) -> tuple[str, list[dict]]:
    """Fig. 3's scale-trend clause (MNIST, where the plan runs one), with its leading separator, and the records it
    reads (none without a clause)."""
    if d != "mnist":
        return "", []
    shown = trend_records(records, p)
    clause = trend_clause(trend_table(shown, paper_fig3(d)))
    return (f"; {clause}", shown) if clause else ("", [])


def _fig4(records: Records, p: Params, d: str) -> list[dict]:
    s = setting(p, d)
    claim = "Fig. 4: without a budget (each round gets B epochs) more rounds give lower error"
    paper = "yes, on CIFAR-10 at p = 0.8, 0.9, 0.95 (figure only)"
    if d not in p.fig4_datasets:
        return [_not_attempted(claim + f" ({TITLE[d]})", paper, "fig4_datasets")] if d == "cifar10" else []
    errs = {f: _errors(records, p, d, f, p.fig4_rounds, lambda n: s.budget * n) for f in s.free}
    n_min, n_max = min(p.fig4_rounds), max(p.fig4_rounds)
    parts = [_direction(100 - _per_seed(records, p, d, "packnet", f, n_min, s.budget * n_min),
                        100 - _per_seed(records, p, d, "packnet", f, n_max, s.budget * n_max),
                        what=f"p={f:g}: N={n_min} minus N={n_max} error") for f in s.free]  # one seed: binomial SE
    status, counted = compound_status(parts)
    shown = fig_runs(records, p, "fig4", d)
    if d != "cifar10" and status == "reproduced":
        status = "partly"  # shown on another dataset than the paper's
    return [{"claim": claim + f" ({TITLE[d]}{'' if d == 'cifar10' else ', the paper draws CIFAR-10'})", "paper": paper,
             "this book": "; ".join(f"p={f:g}: " + " / ".join(f"{v:.2f}" for v in e.values()) + " % (N = "
                                    + ", ".join(map(str, e)) + ")" for f, e in errs.items()),
             "data and scale": row_scale(shown, per_round=True), "status": status,
             "reason": f"{counted}, one part per p (paired by seed): " + "; ".join(r for _, r in parts)
                       + ("" if d == "cifar10" else "; drawn on MNIST, not the paper's CIFAR-10, so at best partly"),
             "records": run_keys(shown)}]  # every p at every N of Fig. 4: the errors shown

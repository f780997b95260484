"""Chapter 02's Table 1 per seed: a measured uncertainty for the compression ratios.

Table 1's matching finds the p̄ at which Memory (or Multinet) reaches PackNet's accuracy *averaged over the
seeds*, so its ratio comes with no uncertainty, and a rule could judge only its direction (above 1). The grid
matching trains every grid point for every seed at once (one stacked ``grid`` run: model ``i × seeds + j`` is
point ``i``, seed ``j``), and PackNet's target is stored per seed (``target_acc``), so each seed can be matched
on its own curve from the stored records, with no training (seeds not stacked: the matching's inputs hold one
``fill`` record per point and seed): each seed's crossing gives one ratio, and the spread
over the seeds measures the ratio's uncertainty.

Ratios are compared in ``log10`` (a ratio is ``10 ** (u(p̄) − u(p))``, with ``u = −log10(1 − p)`` the scale the
grid is even in): the seeds' ratios spread over a factor of several, so their mean in log10 (the geometric mean)
and its standard error describe them better than a mean of ratios. A seed whose crossing lies beyond the grid
counts at the grid's end (a bound); the reasons say how many did.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..efficiency import compression_ratio, grid_frees, match_on_grid
from ..paths import run_results_root
from ..verdicts import MIN_RUNS, Z, compound_status, paired_direction, seed_se, size_status
from .cache import RunCache
from .efficiency_runs import Params, match_record
from .runs import Records

__all__ = ["SeedRatios", "run_cache", "seed_ratios", "grid_inputs", "size_part", "ordering_parts", "alike_part"]


@dataclass(frozen=True)
class SeedRatios:
    """One matching's compression ratio per seed, in log10, how many seeds crossed beyond the grid, and the records
    they are read from (the matching and its grid run)."""

    log10: np.ndarray
    unbracketed: int
    runs: tuple[dict, ...]

    @property
    def geometric_mean(self) -> float:
        return float(10 ** self.log10.mean())

    def describe(self) -> str:
        per_seed = ", ".join(f"{10 ** v:.2f}" for v in self.log10)
        beyond = f", {self.unbracketed} of them beyond the grid (counted at its end)" if self.unbracketed else ""
        return f"geometric mean {self.geometric_mean:.2f} over the seeds ({per_seed}{beyond})"


def run_cache(records: Records, p: Params) -> dict[str, dict]:
    """Every record of the chapter's run cache by key: a matching's grid run is one of its inputs, not a planned
    run, so it is read from the cache (as the grid-against-search table does)."""
    chapter = records.items[0]["chapter"]
    return {r["key"]: r for r in RunCache(chapter, run_results_root(chapter, p.results_dir)).records()}


def seed_ratios(records: Records, cache: dict[str, dict], d: str, free: float, method: str,
                steps: str = "epochs", epochs: int | None = None) -> SeedRatios | None:  # fmt: skip
    """Each seed's own grid matching of ``method`` against PackNet at ``free``, trained for ``epochs`` (None where the
    matching's grid runs are not in the cache, or the matching was not made on a grid)."""
    match = match_record(records, d, free, method, "grid", steps, epochs)
    grid = _grid_curves(match, cache)
    if grid is None:
        return None
    frees, curves, inputs = grid
    targets = np.asarray(match["metrics"]["target_acc"], dtype=float).mean(axis=0)  # PackNet's, per seed
    found = [match_on_grid(float(targets[j]), frees, list(curves[:, j])) for j in range(curves.shape[1])]
    return SeedRatios(np.array([math.log10(compression_ratio(free, m["free"])) for m in found]),
                      sum(not m["bracketed"] for m in found), (match, *inputs))  # fmt: skip


def grid_inputs(match: dict, cache: dict[str, dict]) -> list[dict]:
    """The records of a grid matching's grid: its stacked ``grid`` run, or (seeds not stacked) its ``fill`` runs, one
    per p̄ and seed, points first; empty where any is missing from the cache."""
    grid = _grid(match, cache)
    return [] if grid is None else grid[1]


def _grid(match: dict, cache: dict[str, dict]) -> tuple[list[float], list[dict]] | None:
    """A grid matching's p̄ values and the records of its grid (:func:`grid_inputs`); None if any is missing."""
    inputs = [cache[k] for k in match.get("inputs") or {} if k in cache]
    grids = [r for r in inputs if r["kind"] == "grid"]
    if grids:
        return grids[0]["config"]["frees"], grids[:1]
    c = match["config"]
    if c.get("stacked") is not False or c.get("how") != "grid":
        return None
    frees = grid_frees(c["points"], tuple(c["bounds"]))
    fills = {(r["config"]["free"], r["config"]["seeds"][0]): r for r in inputs
             if r["kind"] == "fill" and r["config"]["method"] == c["method"] and r["config"]["free"] in frees}
    wanted = [(f, s) for f in frees for s in c["seeds"]]
    return (frees, [fills[w] for w in wanted]) if all(w in fills for w in wanted) else None


def _grid_curves(match: dict, cache: dict[str, dict]) -> tuple[list[float], np.ndarray, list[dict]] | None:
    """A grid matching's p̄ values, its accuracy (%, points × seeds, mean over the tasks) and the records it comes
    from (:func:`grid_inputs`); None if any is missing."""
    grid = _grid(match, cache)
    if grid is None:
        return None
    frees, runs = grid
    if runs[0]["kind"] == "grid":
        acc = 100 * np.asarray(runs[0]["metrics"]["acc"], dtype=float)  # tasks × (points × seeds)
        return frees, acc.reshape(acc.shape[0], len(frees), -1).mean(axis=0), runs
    per_run = [100 * float(np.mean(r["metrics"]["acc"])) for r in runs]  # mean over the tasks, points first
    return frees, np.array(per_run).reshape(len(frees), -1), runs


def size_part(ratios: SeedRatios, paper: float, what: str) -> tuple[str, str]:
    """The status of one ratio against the paper's, in log10, with the SE over the seeds: reproduced within 2 SE
    (3 seeds or more); partly when only its direction (a ratio above 1, beyond 2 SE) holds."""
    values, target = ratios.log10, math.log10(paper)
    se = seed_se(list(values))
    above_one = not math.isnan(se) and bool(values.mean() > Z * se)  # se is nan with one seed
    status, says = size_status(float(values.mean()), target, se, runs=len(values), direction_holds=above_one)
    return status, f"{what}: the paper's {paper:.2f}, ours a {ratios.describe()}; in log10 {says}"


def ordering_parts(by_p: dict[float, tuple[SeedRatios, SeedRatios]]) -> tuple[str, str]:
    """Section 2's orderings, paired by seed in log10: each method's ratio grows from each p to the next, and
    Multinet's lies above Memory's at every p."""
    fs = sorted(by_p)
    parts = [paired_direction(list(by_p[b][i].log10), list(by_p[a][i].log10), what=f"{m} log10 ratio p={b:g} minus "
                              f"p={a:g}") for i, m in enumerate(("Memory", "Multinet")) for a, b in zip(fs, fs[1:])]
    parts += [paired_direction(list(by_p[f][1].log10), list(by_p[f][0].log10),
                               what=f"Multinet minus Memory log10 ratio at p={f:g}") for f in fs]  # fmt: skip
    status, counted = compound_status(parts)
    return status, f"{counted}: " + "; ".join(r for _, r in parts)


def alike_part(memory: SeedRatios, multinet: SeedRatios, bound: float, what: str) -> tuple[str, str]:
    """A "the two do about equally well" claim at one p, paired by seed in log10 (Multinet's ratio minus Memory's),
    read as an equivalence against ``bound``, the largest gap the paper itself calls similar.

    *Reproduced* when the difference's 2-SE interval lies inside ``±bound`` and rests on 3 seeds or more; *not
    reproduced* when it lies wholly outside (a gap larger than any the paper calls similar, beyond 2 SE);
    *inconclusive* otherwise (the seeds cannot tell)."""
    d = np.asarray(multinet.log10, dtype=float) - np.asarray(memory.log10, dtype=float)
    mean, se = float(d.mean()), seed_se(list(d))
    says = f"{what}: Multinet minus Memory {mean:+.3f} in log10 (a factor {10 ** mean:.2f})"
    if math.isnan(se):
        return "inconclusive", f"{says}, one seed: no uncertainty could be measured"
    low, high = abs(mean) - Z * se, abs(mean) + Z * se
    says += f", SE {se:.3f} over {len(d)} seeds, so {max(low, 0.0):.3f} to {high:.3f} apart within {Z:g} SE"
    if low > bound:
        return "not reproduced", f"{says}: beyond the paper's largest gap, {bound:.3f}"
    if high > bound:
        return "inconclusive", f"{says}: the paper's largest gap, {bound:.3f}, lies inside that range"
    if len(d) < MIN_RUNS:
        return "inconclusive", f"{says}: within the paper's largest gap, {bound:.3f}, but on fewer than {MIN_RUNS} seeds"
    return "reproduced", f"{says}: within the paper's largest gap, {bound:.3f}"

"""Chapter 01's claims about how much pruning costs and frees, beside :mod:`.packnet_report`'s main rows: the
0.75 start helps the added tasks (section 4), Figure 4's cheap prunes of the initial network, its 50 % prune-and-retrain
that ends an added task below its unpruned error and its 90 % one-shot prune that costs it little (section 5.2; over
every seed of the initial network the records hold, ``fig4_seeds``), and the Taylor ranking's taste for
fc units (section 5.5). Each row is judged by the shared rules of :mod:`cl_utils.verdicts` on the records, and
names them (``records``: the keys of the runs its numbers come from)."""
from __future__ import annotations

import numpy as np

from ..claims import run_keys
from ..verdicts import binomial_se, combined_se, compound_status, direction_status, seed_se, size_status, \
    weakest_status
from .runs import Records
from .packnet_runs import Params
from .packnet_frames import PAPER_TABLE2, filter_stage, fig4_frame
from .packnet_records import by_order, carved, err, initial_error, label, packnet, pruned, tasks

__all__ = ["PAPER_FIG4_90", "fc_share_rows", "fig4_rows", "initial_cost_row", "start_rows"]

#: Mallya & Lazebnik, section 5.2: an added task's top-1 error unpruned -> after a 90 % one-shot prune and
#: retraining, on the 50 %-pruned VGG-16
PAPER_FIG4_90 = {"Stanford Cars": (15.75, 17.84), "CUBS": (24.13, 24.72), "Flowers": (8.96, 9.48)}

#: Mallya & Lazebnik, section 5.5: of the 4,000 units the Taylor ranking pruned from VGG-16, 3,730 were fc neurons;
#: VGG-16 (conv1_1 to fc7) has 4,224 filters and 8,192 fc neurons
PAPER_FC_PRUNED, PAPER_PRUNED, PAPER_FC_UNITS, PAPER_UNITS = 3730, 4000, 8192, 12416


def start_rows(records: Records, p: Params) -> list[dict]:
    """Section 4: starting from the more pruned initial network (the second schedule) leaves more weights to the
    added tasks and lowers their mean error. A direction, judged on the per-run mean over the added tasks of each
    schedule (its SE over the orders and runs)."""
    if len(p.schedules) < 2:
        return []
    names = tasks(records)[1:]
    means = [[float(np.mean([e[d] for d in names])) for e in by_order(records, s).values()] for s in p.schedules[:2]]
    diff = float(np.mean(means[1]) - np.mean(means[0]))
    status = direction_status(diff, combined_se(*(seed_se(m) for m in means)), expected_sign=-1,
                              what="second minus first schedule")  # fmt: skip
    columns = [f"PackNet {', '.join(f'{f:.2f}' for f in s)}" for s in ([0.5, 0.75, 0.75], [0.75, 0.75, 0.75])]
    paper = float((PAPER_TABLE2[columns[1]] - PAPER_TABLE2[columns[0]]).iloc[1:].mean())
    cars = PAPER_TABLE2.loc["Stanford Cars", columns]
    first, second = (" / ".join(f"{f:g}" for f in s) for s in p.schedules[:2])
    return [{"claim": f"Table 2: a more pruned initial network ({second} against {first}) leaves more to the added "
                      "tasks: lower mean error",
             "paper": f"{paper:+.2f} points (mean of the three tasks; Stanford Cars alone {cars.iloc[0]:.2f} → "
                      f"{cars.iloc[1]:.2f} %)",
             "this book": f"{diff:+.2f} points",
             "status": status[0],
             "reason": f"{status[1]} (the mean over the added tasks of each run, {len(means[0])} / {len(means[1])} "
                       "runs over the orders)",
             "records": run_keys(*(packnet(records, s) for s in p.schedules[:2]))}]


def _fig4_se(seeds: list[Records], per_seed: list[float], arms: list[tuple[float, float]]) -> float:
    """The SE of a Figure 4 difference: over the seeds of the initial network where there are several, else the
    binomial SEs of the one run's test set for both ``arms`` (error before and after, %)."""
    if len(seeds) > 1:
        return seed_se(per_seed)
    n_test = 10 * seeds[0].one("initial")["config"]["test_per_class"]
    return combined_se(*(binomial_se(e, n_test) for arm in arms for e in arm))


def _fig4_spread(seeds: list[Records]) -> str:
    """How a Figure 4 row's SE was measured, for its reason."""
    if len(seeds) > 1:
        return f"SE over {len(seeds)} seeds of the initial network, each its own data split"
    return f"one run, binomial SE of {10 * seeds[0].one('initial')['config']['test_per_class']} test images"


def initial_cost_row(seeds: list[Records]) -> dict:
    """Figure 4 on the initial network: pruning it by 50 % / 75 % and retraining costs it little error. A size per
    fraction against the paper's ImageNet cost in Table 2 (PackNet's error there minus the individual network's),
    the mean over the seeds of the initial network (:func:`.packnet_records.fig4_seeds`)."""
    paper = {f: float(PAPER_TABLE2.loc["ImageNet", f"PackNet {f:.2f}, 0.75, 0.75"]
                      - PAPER_TABLE2.loc["ImageNet", "Individual Networks"]) for f in (0.5, 0.75)}  # fmt: skip
    fractions = [f for f in paper if all(f in pruned(runs) for runs in seeds)]
    before = [initial_error(runs) for runs in seeds]
    after = {f: [err(pruned(runs)[f]["after_retrain"]) for runs in seeds] for f in fractions}
    costs = {f: [a - b for a, b in zip(after[f], before)] for f in fractions}
    parts = [size_status(float(np.mean(costs[f])), paper[f], _fig4_se(seeds, costs[f], [(before[0], after[f][0])]),
                         runs=len(seeds), direction_holds=float(np.mean(costs[f])) > 0) for f in fractions]  # fmt: skip
    each = "; per seed: " + "; ".join(f"{f:.0%}: " + ", ".join(f"{c:+.2f}" for c in costs[f]) for f in fractions) \
        if len(seeds) > 1 else ""  # fmt: skip
    return {"claim": "Fig. 4: pruning the initial network by 50 % / 75 % and retraining costs it little error",
            "paper": " / ".join(f"{paper[f]:+.2f}" for f in fractions) + " points",
            "this book": " / ".join(f"{np.mean(costs[f]):+.2f}" for f in fractions) + " points"
                         + (f" (mean over {len(seeds)} seeds)" if len(seeds) > 1 else ""),
            "status": weakest_status(st for st, _ in parts),
            "reason": "; ".join(r for _, r in parts) + f" ({_fig4_spread(seeds)}{each})",
            "records": run_keys(*([*runs.where("initial"), *(runs.one("initial_pruned", rule="weights", fraction=f)
                                                             for f in fractions)] for runs in seeds))}  # fmt: skip


def fig4_rows(seeds: list[Records]) -> list[dict]:
    """Section 5.2 on Figure 4, for a task added to the 50 %-pruned network: pruning it by 50 % and retraining ends
    it below its unpruned error (a direction per task), and even a 90 % one-shot prune with retraining costs it
    little (a size: the mean cost over the added tasks against the paper's mean over its three). ``seeds``: the
    runs of each seed of the initial network (:func:`.packnet_records.fig4_seeds`); the SEs are over them, or with
    one, the binomial SEs of its test set before and after."""
    names, stand_ins = tasks(seeds[0]), carved([r for runs in seeds for r in runs])
    frames = [fig4_frame(runs) for runs in seeds]
    added = [f[f.task != label(names[0], stand_ins)].reset_index(drop=True) for f in frames]
    runs = run_keys([runs.one("fig4", dataset=d) for runs in seeds for d in names[1:]])  # the added tasks' rows
    spread = _fig4_spread(seeds)
    rows = []
    half = [a[a.fraction == 0.5].reset_index(drop=True) for a in added]
    if len(half[0]):
        parts = []
        for i, task in enumerate(half[0].task):
            after, before = [float(h.retrained[i]) for h in half], [float(h.before[i]) for h in half]
            gain = [a - b for a, b in zip(after, before)]
            parts.append(direction_status(float(np.mean(gain)), _fig4_se(seeds, gain, [(before[0], after[0])]),
                                          expected_sign=-1, what=task))  # fmt: skip
        status, counted = compound_status(parts)
        rows.append({"claim": "Fig. 4: pruning an added task by 50 % and retraining ends it below its unpruned error",
                     "paper": "below, on all three added tasks (not on ImageNet)",
                     "this book": ", ".join(f"{t}: {np.mean([h.retrained[i] - h.before[i] for h in half]):+.2f}"
                                            for i, t in enumerate(half[0].task)) + " points"
                                  + (f" (mean over {len(seeds)} seeds)" if len(seeds) > 1 else ""),
                     "status": status,
                     "reason": f"{counted}, one part per added task (retrained minus unpruned, {spread}): "
                               + "; ".join(r for _, r in parts),
                     "records": runs})  # fmt: skip
    most = [a[a.fraction == 0.9].reset_index(drop=True) for a in added]
    if len(most[0]):
        per_seed = [float((m.retrained - m.before).mean()) for m in most]  # each seed's mean cost over the tasks
        tasks_cost = (sum(m.retrained - m.before for m in most) / len(most)).to_numpy()
        mean = float(np.mean(per_seed))
        one = most[0]
        se = seed_se(per_seed) if len(seeds) > 1 else _fig4_se(seeds, per_seed, list(zip(one.before, one.retrained))) \
            / len(one)  # fmt: skip
        paper = float(np.mean([b - a for a, b in PAPER_FIG4_90.values()]))
        status = size_status(mean, paper, se, runs=len(seeds), direction_holds=mean > 0)
        rows.append({"claim": "Fig. 4: even a 90 % one-shot prune of an added task, retrained, costs it little error",
                     "paper": f"{paper:+.2f} points (mean; " + ", ".join(f"{t} {b - a:+.2f}" for t, (a, b)
                                                                     in PAPER_FIG4_90.items()) + ")",
                     "this book": f"{mean:+.2f} points (mean" + (f" over {len(seeds)} seeds" if len(seeds) > 1 else "")
                                  + "; " + ", ".join(
                         f"{t} {c:+.2f}" for t, c in zip(one.task, tasks_cost)) + ")",
                     "status": status[0],
                     "reason": f"{status[1]} (the mean over the added tasks, {spread})",
                     "records": runs})  # fmt: skip
    return rows


def fc_share_rows(records: Records, p: Params) -> list[dict]:
    """Section 5.5: the Taylor ranking takes most units from the fc layers, more than their share of the units.
    Judged as a direction: our fc share of the pruned units minus the fc layers' share of all units, against the
    binomial SE of a share of that many units (one run)."""
    if "taylor" not in p.filter_rankings:
        return []
    stage = filter_stage(records, "taylor")
    freed, units = stage["metrics"]["freed_units"], stage["metrics"]["units"]  # per prunable layer
    fc = stage["metrics"]["fc_layers"]
    pruned_fc, pruned = sum(freed[n] for n in fc), sum(freed.values())
    share, base = pruned_fc / pruned, sum(units[n] for n in fc) / sum(units.values())
    status = direction_status(100 * (share - base), 100 * np.sqrt(base * (1 - base) / pruned), expected_sign=1,
                              what="fc share minus the fc layers' share of the units")  # fmt: skip
    paper_share, paper_base = PAPER_FC_PRUNED / PAPER_PRUNED, PAPER_FC_UNITS / PAPER_UNITS
    return [{"claim": "Section 5.5: filter pruning by Taylor criterion takes most of its units from the fc layers",
             "paper": f"{PAPER_FC_PRUNED:,} of {PAPER_PRUNED:,} ({paper_share:.0%}; fc layers hold {paper_base:.0%} of "
                      "the units)",
             "this book": f"{pruned_fc} of {pruned} ({share:.0%}; fc layers hold {base:.0%} of the units)",
             "status": status[0],
             "reason": f"{status[1]} (points; one run, the binomial SE of a share of {pruned} units)",
             "records": run_keys([stage])}]

"""Chapter 01's claims about how much pruning costs and frees, beside :mod:`.packnet_report`'s main rows: the
0.75 start helps the added tasks (section 4), Figure 4's 50 % prune-and-retrain that ends an added task below its
unpruned error and its 90 % one-shot prune that costs it little (section 5.2), and the Taylor ranking's taste for
fc units (section 5.5). Each row is judged by the shared rules of :mod:`cl_utils.verdicts` on the records, and
names them (``records``: the keys of the runs its numbers come from)."""
from __future__ import annotations

import numpy as np

from ..claims import run_keys
from ..verdicts import binomial_se, combined_se, compound_status, direction_status, seed_se, size_status
from .runs import Records
from .packnet_runs import Params
from .packnet_frames import PAPER_TABLE2, filter_stage, fig4_frame
from .packnet_records import by_order, carved, label, packnet, tasks

__all__ = ["PAPER_FIG4_90", "fc_share_rows", "fig4_rows", "start_rows"]

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
             "paper": f"{paper:+.2f} points (Stanford Cars {cars.iloc[0]:.2f} → {cars.iloc[1]:.2f} %)",
             "this book": f"{diff:+.2f} points",
             "status": status[0],
             "reason": f"{status[1]} (the mean over the added tasks of each run, {len(means[0])} / {len(means[1])} "
                       "runs over the orders)",
             "records": run_keys(*(packnet(records, s) for s in p.schedules[:2]))}]


def fig4_rows(records: Records) -> list[dict]:
    """Section 5.2 on Figure 4, for a task added to the 50 %-pruned network: pruning it by 50 % and retraining ends
    it below its unpruned error (a direction per task), and even a 90 % one-shot prune with retraining costs it
    little (a size: the mean cost over the added tasks against the paper's mean over its three). One run per task:
    binomial SEs of the test set before and after."""
    frame = fig4_frame(records)
    names, stand_ins = tasks(records), carved(list(records))
    added = frame[frame.task != label(names[0], stand_ins)]
    n_test = 10 * records.one("initial")["config"]["test_per_class"]
    runs = run_keys([records.one("fig4", dataset=d) for d in names[1:]])  # the frame's rows of the added tasks
    se = lambda e: binomial_se(e, n_test)  # noqa: E731 (error and accuracy have the same SE)
    rows = []
    half = added[added.fraction == 0.5]
    if len(half):
        parts = [direction_status(r.retrained - r.before, combined_se(se(r.retrained), se(r.before)),
                                  expected_sign=-1, what=r.task) for r in half.itertuples()]  # fmt: skip
        status, counted = compound_status(parts)
        rows.append({"claim": "Fig. 4: pruning an added task by 50 % and retraining ends it below its unpruned error",
                     "paper": "below, on all three added tasks (not on ImageNet)",
                     "this book": ", ".join(f"{r.task}: {r.retrained - r.before:+.2f}" for r in half.itertuples())
                                  + " points",
                     "status": status,
                     "reason": f"{counted}, one part per added task (retrained minus unpruned, one run, binomial SE "
                               f"of {n_test} test images each): " + "; ".join(r for _, r in parts),
                     "records": runs})  # fmt: skip
    most = added[added.fraction == 0.9]
    if len(most):
        costs = (most.retrained - most.before).to_numpy()
        cost_se = combined_se(*(combined_se(se(r.retrained), se(r.before)) for r in most.itertuples())) / len(most)
        paper = float(np.mean([b - a for a, b in PAPER_FIG4_90.values()]))
        status = size_status(float(costs.mean()), paper, cost_se, runs=1, direction_holds=costs.mean() > 0)
        rows.append({"claim": "Fig. 4: even a 90 % one-shot prune of an added task, retrained, costs it little error",
                     "paper": f"{paper:+.2f} points (mean; " + ", ".join(f"{t} {b - a:+.2f}" for t, (a, b)
                                                                     in PAPER_FIG4_90.items()) + ")",
                     "this book": f"{costs.mean():+.2f} points (mean; " + ", ".join(
                         f"{t} {c:+.2f}" for t, c in zip(most.task, costs)) + ")",
                     "status": status[0],
                     "reason": f"{status[1]} (the mean over the added tasks, one run each, binomial SE of {n_test} "
                               "test images before and after)",
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

"""Chapter 01's batch-norm rows, beside :mod:`.packnet_report`'s main ones: on the chapter's batch-norm network,
Table 4's gap to individual networks and the section 4 remark that per-task batch-norm lowers the error further;
and Table 2 like for like, on the paper's network without batch-norm (``without_bn_epochs``). Judged by the shared
rules of :mod:`cl_utils.verdicts`; each row names its records."""
from __future__ import annotations

from ..claims import run_keys
from ..verdicts import compound_status, paired_direction, size_status
from .runs import Records
from .packnet_runs import Params
from .packnet_records import by_order, err, packnet, scale, singles, tasks
from .packnet_frames import PAPER_TABLE4_BN, batchnorm_frame, paper_column, paper_gap, without_bn_gap

__all__ = ["batchnorm_rows", "without_bn_rows"]


def batchnorm_rows(records: Records, first: list[float], frozen: dict, gap: float, gap_se: float,
                    names: list[str], shown: list[str], individual: list[dict]) -> list[dict]:  # fmt: skip
    """The batch-norm rows, where the network has batch-norm: Table 4's gap to individual networks on VGG-16 with
    batch-norm (frozen after task 1, as ours), and the section 4 remark that per-task batch-norm lowers the error
    further (paired by order and run: a per-task run and its frozen twin share the seed). ``individual``: the
    individual networks' runs behind ``gap``, for the rows' ``records``."""
    frozen_runs = packnet(records, first)
    if not frozen_runs[0]["config"]["batch_norm"]:
        return []
    paper = PAPER_TABLE4_BN.iloc[1:]
    paper_gap = float((paper["PackNet 0.50, 0.75, 0.75"] - paper["Individual Networks"]).mean())
    status, why = size_status(gap, paper_gap, gap_se, runs=len(frozen), direction_holds=gap > 0)
    rows = [{"claim": "Table 4, VGG-16 with batch-norm (frozen after the initial task, as ours): PackNet's error above "
                      "Individual Networks', mean over added tasks (first schedule)",
             "paper": f"{paper_gap:.2f} points (0.50, 0.75, 0.75)", "this book": f"{gap:.2f} points",
             "status": status,
             "reason": f"{why} (PackNet over the orders and runs, {len(singles(records, 'individual', names[0]))} "
                       "individual network(s) per task; the individual networks re-fit batch-norm, PackNet keeps "
                       "the initial task's)",
             "records": run_keys(frozen_runs, individual)}]
    own, table = by_order(records, first, batchnorm_per_task=True), batchnorm_frame(records, first)
    if own:
        keys = sorted(own)  # each has its frozen twin (same order, run and seed)
        parts = [paired_direction([own[k][d] for k in keys], [frozen[k][d] for k in keys], expected_sign=-1, what=a)
                 for d, a in zip(names, shown)]  # fmt: skip
        diffs = table["per task"] - table["frozen (task 1's)"]
        own_gap = float((table["per task"] - table["Individual Networks"]).mean())
        twin_gap = float((table["frozen (task 1's)"] - table["Individual Networks"]).mean())
        status, counted = compound_status(parts)
        rows.append({"claim": "Section 4: per-task batch-norm (4 vectors per layer and task) further lowers PackNet's "
                              "error on the added tasks",
                     "paper": "lower (no number given)",
                     "this book": ", ".join(f"{a}: {g:+.2f}" for a, g in zip(shown, diffs)) + " points (per-task minus "
                                  "frozen)",
                     "status": status,
                     "reason": f"{counted}, one part per added task, paired by order and run ({len(keys)} pairs; a "
                               f"per-task run and its frozen twin share the seed): "
                               + "; ".join(r for _, r in parts)
                               + f". Like for like with the individual networks (both re-fit batch-norm), PackNet's "
                                 f"error is {own_gap:.2f} points above theirs (its frozen twins: {twin_gap:.2f}; all "
                                 f"frozen runs: {gap:.2f})",
                     "records": run_keys(packnet(records, first, batchnorm_per_task=True), frozen_runs,
                                         individual)})  # fmt: skip
    return rows


def without_bn_rows(records: Records, p: Params, bn_gap: float) -> list[dict]:
    """Table 2 like for like: the paper's Table 2 network has no batch-norm, ours has (frozen after the initial task
    in PackNet, re-fitted by the individual networks). Where the records hold the runs on the network without it
    (:func:`without_bn_gap`), PackNet's error above the individual networks', mean over the added tasks, is judged as
    a size against the paper's Table 2 gap of the first schedule. ``bn_gap``: the batch-norm network's, for the
    reason."""
    found = without_bn_gap(records, p)
    if found is None:
        return []
    plain, first = found["records"], p.schedules[0]
    column, paper = paper_column(first), paper_gap(first)
    status, why = size_status(found["gap"], paper, found["se"], runs=found["runs"], direction_holds=found["gap"] > 0)
    initial = plain.one("initial")
    return [{"claim": "Table 2 like for like, VGG-16 without batch-norm (as the paper's): PackNet's error above "
                      "Individual Networks', mean over added tasks (first schedule)",
             "paper": f"{paper:.2f} points ({column.removeprefix('PackNet ')})",
             "this book": f"{found['gap']:.2f} points",
             "status": status,
             "reason": f"{why} (PackNet run 0 of each of the {found['runs']} orders, {found['individual_runs']} "
                       "individual network(s) per task, all from one initial network without batch-norm trained "
                       f"{initial['config']['initial_epochs']} epochs, {err(initial['metrics']['test_acc']):.2f} % "
                       f"error on its task; on the chapter's batch-norm network the gap is {bn_gap:.2f})",
             "data and scale": scale(list(plain)),
             "records": run_keys(plain.where("initial"), plain.where("initial_pruned"), packnet(plain, first),
                                 plain.where("single_task", method="individual"))}]  # fmt: skip

"""cl_utils.experiments.stacking: which members train as one stacked network, and their records read one each."""
from __future__ import annotations

import pytest

from cl_utils.experiments.stacking import any_stacked, member_fields, member_groups, member_views


def test_members_stack_only_when_asked_and_two_or_more():
    assert member_groups([0, 1, 2], True) == [[0, 1, 2]]
    assert member_groups([0, 1, 2], False) == [[0], [1], [2]]
    assert member_groups(range(1), True) == [[0]]  # one member: nothing to stack
    assert member_fields([3, 4]) == {"seed": 3, "seeds": [3, 4]}
    assert member_fields([3]) == {"seed": 3}  # the unstacked run's key
    assert member_fields([0, 1], member="run", members="runs") == {"run": 0, "runs": [0, 1]}


def test_a_stacked_record_reads_as_one_view_per_member_and_others_pass_unchanged():
    stacked = {"kind": "train", "key": "k", "inputs": {"a": "b"}, "config": {"lr": 0.1, "seed": 5, "seeds": [5, 6]},
               "metrics": {"per_seed": [{"acc": 0.9}, {"acc": 0.8}], "train_seconds": 10.0}}
    plain = {"kind": "train", "key": "p", "config": {"lr": 0.1, "seed": 7}, "metrics": {"acc": 0.7}}
    views = member_views([stacked, plain], members="seeds", member="seed", results="per_seed",
                         shared=("train_seconds",))  # fmt: skip
    assert [v["config"] for v in views] == [{"lr": 0.1, "seed": 5, "stacked_with": [5, 6]},
                                            {"lr": 0.1, "seed": 6, "stacked_with": [5, 6]}, plain["config"]]
    assert [v["metrics"] for v in views[:2]] == [{"acc": 0.9, "train_seconds": 5.0}, {"acc": 0.8, "train_seconds": 5.0}]
    assert all(v["key"] == "k" and v["inputs"] == {"a": "b"} for v in views[:2]) and views[2] is plain
    assert any_stacked(views) and not any_stacked([plain])
    with pytest.raises(KeyError):  # a stacked record without its members' results is an error, not a silent skip
        member_views([{**stacked, "metrics": {}}], members="seeds", member="seed", results="per_seed")

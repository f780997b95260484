"""cl_utils.validate: bad parameters are rejected with messages that name them."""
from __future__ import annotations

import math

import pytest

from cl_utils import ParameterError
from cl_utils import validate as v

BAD = [
    (v.check_int, "num_epochs", "10", {"min_value": 1}),
    (v.check_int, "num_epochs", 2.5, {"min_value": 1}),
    (v.check_int, "num_epochs", True, {"min_value": 1}),
    (v.check_int, "num_epochs", 0, {"min_value": 1}),
    (v.check_int, "batch_size", 100_000, {"min_value": 1, "max_value": 4096}),
    (v.check_float, "lr", "0.01", {"min_value": 0}),
    (v.check_float, "lr", -0.1, {"min_value": 0}),
    (v.check_float, "lr", math.nan, {}),
    (v.check_float, "prune_fraction", 1.5, {"min_value": 0, "max_value": 1}),
    (v.check_bool, "show_progress", "yes", {}),
    (v.check_bool, "show_progress", 1, {}),
    (v.check_choice, "data_source", "internet", {"choices": ["auto", "cache"]}),
    (v.check_choice, "optimizer", None, {"choices": ["sgd", "adam"]}),
    (v.check_int_list, "seeds", [], {}),
    (v.check_int_list, "seeds", "[0, 1.5]", {}),
    (v.check_int_list, "seeds", "[0, -1]", {"min_value": 0}),
    (v.check_int_list, "seeds", [0, 0], {"unique": True}),
    (v.check_int_list, "hidden_sizes", [256, -1], {"min_value": 1}),
    (v.check_int_list, "hidden_sizes", "not a list", {}),
    (v.check_float_list, "prune_fractions", [0.5, 2.0], {"min_value": 0, "max_value": 1}),
    (v.check_float_list, "prune_fractions", 0.5, {}),
    (v.check_int_lists, "hidden_sizes", [[128, 64], [32]], {"min_value": 1}),
    (v.check_int_lists, "hidden_sizes", [[128, 0]], {"min_value": 1}),
    (v.check_int_lists, "hidden_sizes", [[128, 64]], {"length": 3}),
    (v.check_int_lists, "hidden_sizes", [128, 64], {}),
    (v.check_choice_list, "adapters", ["learned", "lateral"], {"choices": ["none", "learned"]}),
    (v.check_choice_list, "adapters", [], {"choices": ["none", "learned"]}),
    (v.check_device, "device", "gpu", {}),
    (v.check_device, "device", "cuda:x", {}),
    (v.check_class_groups, "class_groups", [[0, 1], [1, 2]], {"num_classes": 10}),
    (v.check_class_groups, "class_groups", [[0, 10]], {"num_classes": 10}),
    (v.check_class_groups, "class_groups", [[]], {"num_classes": 10}),
    (v.check_class_groups, "class_groups", [0, 1], {"num_classes": 10}),
]


@pytest.mark.parametrize("check,name,value,kwargs", BAD, ids=[f"{b[1]}={b[2]!r}" for b in BAD])
def test_bad_values_are_rejected_naming_the_parameter(check, name, value, kwargs):
    with pytest.raises(ParameterError) as err:
        check(name, value, **kwargs)
    message = str(err.value)
    assert f"'{name}'" in message and repr(value) in message and "papermill -p" in message


def test_good_values_come_back_canonical():
    assert v.check_int("n", 3, min_value=1) == 3
    assert v.check_float("lr", 1, min_value=0) == 1.0
    assert v.check_bool("b", False) is False
    assert v.check_choice("c", "adam", ["sgd", "adam"]) == "adam"
    assert v.check_int_list("seeds", "[0, 1, 2]") == [0, 1, 2]  # as papermill -p passes it
    assert v.check_int_list("seeds", (3,)) == [3]
    assert v.check_float_list("p", [0.5, 1]) == [0.5, 1.0]
    assert v.check_device("device", "cuda:1") == "cuda:1"
    assert v.check_class_groups("g", "[[0, 1], [2, 3]]", 10) == [[0, 1], [2, 3]]
    assert v.check_choice_list("a", "['none', 'learned']", ["none", "learned"]) == ["none", "learned"]
    assert v.check_choice_list("a", "[]", ["none"], min_length=0) == []
    assert v.check_int_lists("h", "[[128, 64], [32, 16]]", min_value=1, length=2) == [[128, 64], [32, 16]]

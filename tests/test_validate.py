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
    (v.check_device, "device", "gpu", {}),
    (v.check_device, "device", "cuda:x", {}),
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
    assert v.check_device("device", "cuda:1") == "cuda:1"

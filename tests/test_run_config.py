"""Typed run configs: every run function takes one, every plan's configs are one, and typing them changed no key."""
from __future__ import annotations

import dataclasses
import json
import types

import pytest

from cl_utils import experiments as ex
from cl_utils.experiments.runs import Run, requests
from cl_utils.experiments.drawing import without_data
from cl_utils.experiments.run_config import RunConfig, config_type, optional, typed
from cl_utils.paths import project_root

CHAPTERS = list(ex.CHAPTERS)


def _params(chapter: str, preset: str):
    experiment = ex.load(chapter)
    values = {} if preset == "default" else ex.preset(chapter, preset)
    return experiment, experiment.Params.from_values(values)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_run_function_takes_a_typed_config(chapter):
    experiment = ex.load(chapter)
    for kind, fn in experiment.RUNNERS.items():
        assert issubclass(config_type(fn), RunConfig), f"{chapter}: run kind {kind}"


@pytest.mark.parametrize("preset", ["default", "committed", "smoke"])
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_planned_config_is_its_run_functions_type_and_back(chapter, preset):
    """The JSON a record is keyed by is exactly the typed config's (no field lost, added or renamed)."""
    experiment, params = _params(chapter, preset)
    for run in experiment.plan(params):
        c = typed(experiment.RUNNERS[run.kind], run.config)
        assert c.as_config() == run.config
        assert isinstance(c, config_type(experiment.RUNNERS[run.kind]))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_committed_plan_finds_every_record_it_rests_on(chapter):
    """Typing the configs changed no key: every run of the committed preset matches a committed record (compared
    without the data's checksums, so the test needs no dataset file)."""
    experiment, params = _params(chapter, "committed")
    folder = project_root() / "data" / "results" / experiment.CHAPTER
    stored = {without_data(json.loads(p.read_text())) for p in folder.glob("*.json")}
    planned = requests(experiment, params, missing_data="any")
    missing = [run.describe() for run, request in planned if without_data(request) not in stored]
    assert not missing, f"{len(missing)} of {len(planned)} planned runs have no record: {missing[:3]}"


@dataclasses.dataclass(frozen=True)
class Point(RunConfig):
    """A config of a fake run kind."""

    x: int
    label: str | None = optional()
    seed: int = 0


def point(c: Point, ctx) -> dict:
    return {"x": c.x}


def test_an_optional_field_is_keyed_only_while_it_is_set():
    assert Point(1).as_config() == {"x": 1, "seed": 0}
    assert Point(1, label="a").as_config() == {"x": 1, "label": "a", "seed": 0}  # declaration order
    assert Point.from_config({"x": 1, "seed": 0}) == Point(1)
    assert Run("point", Point(2, label="b"), ()).config == {"x": 2, "label": "b", "seed": 0}


def test_a_misspelt_or_missing_field_stops_before_any_training():
    with pytest.raises(TypeError, match="no field 'y'"):
        Point.from_config({"x": 1, "y": 2})
    with pytest.raises(TypeError, match="needs 'x'"):
        Point.from_config({"seed": 1})
    module = types.ModuleType("fake")
    module.CHAPTER, module.CODE_VERSION, module.Params, module.RUNNERS = "fake", 1, ex.Params, {"point": point}
    module.plan = lambda p: [Run("point", {"x": 1}, ()), Run("point", {"x": 1, "sed": 3}, ())]
    with pytest.raises(TypeError, match="no field 'sed'"):
        requests(module, ex.Params(data_source="synthetic"))
    module.plan = lambda p: [Run("other", {"x": 1}, ())]
    with pytest.raises(TypeError, match="no run function for kind 'other'"):
        requests(module, ex.Params(data_source="synthetic"))


def test_a_run_function_without_its_config_type_is_refused():
    def untyped(c, ctx):
        return {}

    with pytest.raises(TypeError, match="must annotate its first parameter"):
        config_type(untyped)
    with pytest.raises(TypeError, match="takes test_run_config.Point"):
        typed(point, dataclasses.replace(_Other(), y=1))


@dataclasses.dataclass(frozen=True)
class _Other(RunConfig):
    y: int = 0


@dataclasses.dataclass(frozen=True)
class _Wider(Point):
    extra: int = 1


def test_a_config_of_another_kind_or_with_more_fields_is_refused():
    """A subclass with more fields would key another record: ``typed`` wants the exact class."""
    with pytest.raises(TypeError, match="takes test_run_config.Point"):
        typed(point, _Wider(1))
    comparison = ex.load("06")
    joint = next(r for r in comparison.plan(_params("06", "smoke")[1]) if r.config["method"] == "joint").config
    with pytest.raises(TypeError, match="cannot hold"):
        comparison.JointRun.from_config({**joint, "method": "lwf", "warmup": 1, "temperature": 2.0})
    with pytest.raises(TypeError, match="needs 'method'"):
        comparison.StreamRun.from_config({k: v for k, v in joint.items() if k != "method"})
    with pytest.raises(TypeError, match="needs 'hidden'"):
        comparison.StreamRun.from_config({k: v for k, v in joint.items() if k != "hidden"})


def test_pick_names_only_fields():
    assert Point(1, label="a").pick(["x", "label"]) == {"x": 1, "label": "a"}
    assert Point(1).pick(["x", "label"]) == {"x": 1}  # an unset optional field is left out, as in the key
    with pytest.raises(TypeError, match="no field 'lable'"):
        Point(1).pick(["lable"])

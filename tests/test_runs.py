"""cl_utils.runs: keys, reuse, atomic writes, interrupted and crashed runs."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from cl_utils import RunCache, config_key
from cl_utils import runs


def test_key_ignores_device_and_progress_but_not_settings():
    base = {"method": "finetune", "seed": 0, "lr": 1e-3}
    assert config_key(base) == config_key({**base, "device": "cuda", "show_progress": False})
    assert config_key(base) == config_key(dict(reversed(list(base.items()))))  # order-free
    assert config_key(base) != config_key({**base, "seed": 1})
    assert config_key(base) != config_key({**base, "lr": 1e-4})


def test_every_config_key_changes_the_run_key():
    """A key the hash ignored (e.g. batch_size) would make two different runs share one record."""
    base = {"method": "packnet", "seed": 0, "lr": 1e-3, "batch_size": 32, "epochs": 10, "order": ["a", "b"],
            "prune": [0.5, 0.75], "flag": False, "name": "x"}
    changed = {"method": "lwf", "seed": 1, "lr": 1e-2, "batch_size": 64, "epochs": 11, "order": ["b", "a"],
               "prune": [0.5, 0.7], "flag": True, "name": "y"}
    keys = {config_key(base)}
    for name, value in changed.items():
        keys.add(config_key({**base, name: value}))
    assert len(keys) == 1 + len(changed)
    assert config_key(base) != config_key({**base, "new_setting": 1})


def test_finished_run_is_reused(tmp_path):
    cache = RunCache("chap", tmp_path, device="cpu")
    calls = []

    def fn(config):
        calls.append(config)
        return {"acc": np.float32(0.5), "matrix": np.eye(2)}

    first = cache.run({"seed": 0, "device": "cpu"}, fn)
    second = RunCache("chap", tmp_path, device="cuda").run({"seed": 0, "device": "cuda"}, fn)
    assert len(calls) == 1 and first == second
    assert first["metrics"] == {"acc": 0.5, "matrix": [[1.0, 0.0], [0.0, 1.0]]}
    env = first["environment"]
    assert env["device"] == "cpu" and "torch" in env and "git_commit" in env
    assert "device" not in first["config"]
    assert len(cache.records()) == 1


def test_crashed_run_records_nothing(tmp_path):
    cache = RunCache("chap", tmp_path)

    def crash(config):
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        cache.run({"seed": 0}, crash)
    assert cache.load({"seed": 0}) is None
    assert not any(cache.directory.glob("*")) if cache.directory.exists() else True


def test_unserialisable_result_records_nothing(tmp_path):
    cache = RunCache("chap", tmp_path)
    with pytest.raises(TypeError):
        cache.run({"seed": 0}, lambda c: {"model": object()})
    assert cache.load({"seed": 0}) is None


def test_interrupted_write_keeps_finished_runs_and_leaves_no_partial_file(tmp_path, monkeypatch):
    cache = RunCache("chap", tmp_path)
    cache.run({"seed": 0}, lambda c: {"acc": 1.0})

    def interrupted(src, dst):
        raise KeyboardInterrupt  # the user stops the kernel mid-write

    monkeypatch.setattr(runs.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.run({"seed": 1}, lambda c: {"acc": 0.0})
    monkeypatch.undo()
    assert cache.load({"seed": 1}) is None
    assert cache.load({"seed": 0})["metrics"] == {"acc": 1.0}
    assert sorted(p.name for p in cache.directory.iterdir()) == [f"{config_key({'seed': 0})}.json"]
    # and the interrupted run is simply run again next time
    assert cache.run({"seed": 1}, lambda c: {"acc": 0.25})["metrics"] == {"acc": 0.25}


def test_record_on_disk_is_plain_json(tmp_path):
    cache = RunCache("chap", tmp_path)
    cache.run({"seed": 3, "widths": (4, 5)}, lambda c: {"ok": True})
    with open(cache.path({"seed": 3, "widths": [4, 5]})) as f:
        record = json.load(f)
    assert record["config"] == {"seed": 3, "widths": [4, 5]} and record["wall_seconds"] >= 0
    assert os.path.basename(cache.path({"seed": 3, "widths": [4, 5]})) == f"{record['key']}.json"


def test_checkpoint_is_built_once_and_reloaded(tmp_path):
    import torch

    cache = RunCache("chap", tmp_path)
    calls = []

    def build(config):
        calls.append(1)
        return {"w": torch.arange(3.0)}

    first = cache.checkpoint({"stage": "initial"}, build)
    second = cache.checkpoint({"stage": "initial", "device": "cuda"}, build)
    assert len(calls) == 1 and torch.equal(first["w"], second["w"])
    assert list((cache.directory / "checkpoints").glob("*.pt"))
    assert cache.records() == []  # checkpoints are not run records


def test_stage_state_rebuilds_a_missing_checkpoint_deterministically(tmp_path):
    import torch

    cache = RunCache("chap", tmp_path)
    builds = []

    def build(config):
        builds.append(config["seed"])
        torch.manual_seed(config["seed"])
        state = {"w": torch.randn(4, 3)}
        return state, {"norm": float(state["w"].norm())}

    record = cache.run_stage({"stage": "initial", "seed": 3}, build)
    stored = cache.stage_state({"stage": "initial", "seed": 3}, build)
    assert builds == [3]  # the checkpoint written by run_stage is reused
    for path in (tmp_path / "chap" / "checkpoints").glob("*.pt"):
        path.unlink()  # checkpoints are not committed: a fresh clone has none
    rebuilt = cache.stage_state({"stage": "initial", "seed": 3}, build)
    assert builds == [3, 3] and torch.equal(rebuilt["w"], stored["w"])
    assert record["metrics"]["norm"] == float(rebuilt["w"].norm())
    assert cache.stage_state({"stage": "initial", "seed": 3}, build) is not None and builds == [3, 3]

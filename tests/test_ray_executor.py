"""The Ray executor: a local Ray with 2 CPUs trains a chapter's smoke preset into the same records as the local one."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cl_utils import experiments as ex
from cl_utils.experiments.runs import execute

ray = pytest.importorskip("ray", reason="the Ray executor's test needs Ray (pip install '.[ray]')")
ROOT = Path(__file__).resolve().parent.parent
TIMINGS = {"seconds", "wall_seconds", "environment", "finished"}


def _without_timings(value):
    """A record's content apart from wall times and where it ran (these differ between any two runs)."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _records(folder: Path) -> dict[str, dict]:
    return {p.stem: _without_timings(json.loads(p.read_text())) for p in sorted(folder.glob("*.json"))}


def test_ray_executor_makes_the_records_the_local_executor_makes(tmp_path):
    chapter = ex.load("00")
    smoke = ex.preset("00", "smoke")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # each Ray task trains on one thread: the same arithmetic
    try:
        local = execute(chapter, chapter.Params.from_values({"results_dir": str(tmp_path / "local")}, smoke))
    finally:
        torch.set_num_threads(threads)
    out = subprocess.run(
        [sys.executable, "-m", "cl_utils.reproduce", "00", "--preset", "smoke", "--executor", "ray", "--ray-cpus", "2",
         "--results", str(tmp_path / "ray")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(local.records)} trained, 0 reused" in out.stdout
    made_locally = _records(tmp_path / "local" / chapter.CHAPTER)
    made_by_ray = _records(tmp_path / "ray" / chapter.CHAPTER)
    assert len(made_by_ray) == len(local.records) > 0
    assert made_by_ray == made_locally
    # the local executor finds every record Ray made: nothing left to train
    again = execute(chapter, chapter.Params.from_values({"results_dir": str(tmp_path / "ray")}, smoke))
    assert (again.trained, again.reused) == (0, len(local.records))

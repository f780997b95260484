"""The benchmark scripts still run (a few steps each; their timings are not checked: they depend on the machine)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("args, rows_at_least", [
    (["packnet_step.py", "--data-source", "synthetic", "--steps", "3", "--repeats", "1"], 3),
    (["stacked_models.py", "--models", "2", "--steps", "3"], 3),
    (["cpu_numerics.py", "--only", "clnp_narrow", "--steps", "1", "--repeats", "1", "--no-compile"], 2),
    (["stacked_progressive.py", "--models", "2", "--images", "200"], 2),
    (["stacked_clnp.py", "--models", "2", "--images", "300"], 2),
], ids=["packnet_step", "stacked_models", "cpu_numerics", "stacked_progressive", "stacked_clnp"])  # fmt: skip
def test_benchmark_runs_and_prints_its_table(args, rows_at_least):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / args[0]), *args[1:]], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) >= rows_at_least  # the header and the measured rows


def test_packnet_against_plain_loops_runs_every_implementation_on_the_same_rules():
    """The whole-run benchmark prints a row per implementation; the plain loops follow the book's rules, so on
    the same data and initial weights their final accuracies stay close to the book's."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "packnet_vs_plain.py"), "--data-source", "synthetic",
                          "--seeds", "1", "--epochs", "1", "--retrain-epochs", "1"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    names = ["book", "book, fused Adam", "plain", "plain, fused Adam", "plain, DataLoader"]
    rows = {n: line for line in out.stdout.splitlines() for n in names if line.startswith(n + " ") and
            line[len(n):].split()[0].replace(".", "").isdigit()}  # fmt: skip
    assert sorted(rows) == sorted(names), out.stdout
    accuracy = {n: float(rows[n].split()[-1]) for n in names}
    assert all(abs(accuracy[n] - accuracy["book"]) < 5 for n in names), accuracy
    assert "FLOP floor" in out.stdout and "book against plain" in out.stdout

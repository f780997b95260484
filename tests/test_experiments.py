"""The experiments layer: typed parameters, plans, the honest run cache, and the reproduce command."""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from cl_utils import experiments as ex
from cl_utils.data import dataset_identity
from cl_utils.experiments.cache import CorruptRecordError, RunCache, StaleRecordError, checkpoint_mismatches, \
    is_record_input, request_key, state_digest
from cl_utils.experiments.runs import Run, execute, requests
from cl_utils.experiments.run_config import RunConfig
from cl_utils.train import make_optimizer

ROOT = Path(__file__).resolve().parent.parent
JUPYTER = ("papermill", "nbformat", "nbclient", "IPython", "ipykernel", "ipywidgets", "jupyter", "jupyter_client",
           "jupyter_core", "nbval")  # fmt: skip
BLOCKED_RUN = (
    "import sys\n"
    f"for name in {JUPYTER!r}:\n"
    "    sys.modules[name] = None  # any import of it now raises ImportError\n"
    "from cl_utils.reproduce import main\n"
    "code = main(sys.argv[1:])\n"
    f"leaked = [m for m in sys.modules if m.split('.')[0] in {JUPYTER!r} and sys.modules[m] is not None]\n"
    "assert not leaked, leaked\n"
    "sys.exit(code)\n"
)


def reproduce(*args: str) -> subprocess.CompletedProcess:
    """``python -m cl_utils.reproduce ARGS`` in a fresh interpreter where every Jupyter module fails to import."""
    env = {k: v for k, v in os.environ.items() if k != "CL_DATA_DIR"}
    return subprocess.run([sys.executable, "-c", BLOCKED_RUN, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1200)  # fmt: skip


# -- the command on every chapter --------------------------------------------------------------------
# (each chapter's smoke plan runs through the command in tests/test_notebooks.py, before its notebook draws)
@pytest.mark.parametrize("chapter", list(ex.CHAPTERS))
def test_every_chapter_has_presets_and_paper_defaults(chapter):
    experiment = ex.load(chapter)
    for name in ("smoke", "committed"):
        values = ex.preset(chapter, name)
        experiment.Params.from_values({}, values)  # every name known, every value valid
    assert ex.preset(chapter, "smoke")["data_source"] == "synthetic"
    assert experiment.plan(experiment.Params()), "the paper-scale plan is empty"


def test_command_rejects_bad_input_before_training(tmp_path):
    typo = reproduce("00", "--preset", "smoke", "-p", "num_epoch", "2", "--results", str(tmp_path))
    assert typo.returncode == 2 and "'num_epoch'" in typo.stderr and "num_epochs" in typo.stderr
    bad = reproduce("00", "--preset", "smoke", "-p", "seeds", "[0, -1]", "--results", str(tmp_path))
    assert bad.returncode == 2 and "'seeds[1]'" in bad.stderr
    unknown = reproduce("99", "--list")
    assert unknown.returncode == 2 and "unknown chapter" in unknown.stderr
    assert not tmp_path.joinpath("00_forgetting").exists()


def test_command_budget_zero_trains_nothing(tmp_path):
    out = reproduce("00", "--preset", "smoke", "--results", str(tmp_path), "--budget", "0")
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1] == "0 trained, 0 reused, 8 pending"
    assert not list(tmp_path.rglob("*.json"))


def test_command_budget_is_in_seconds(tmp_path):
    """--budget 1: runs start only during the first second, so most of the 40 (20 seeds; 00's smoke runs take 0.1 to
    0.5 s each, and 8 of them once all fitted in one second) stay pending; read as minutes, every run would train."""
    out = reproduce("00", "--preset", "smoke", "--results", str(tmp_path), "-p", "seeds", str(list(range(20))),
                    "--budget", "1")
    trained, _, pending = (int(part.split()[0]) for part in out.stdout.strip().splitlines()[-1].split(", "))
    assert out.returncode == 0 and trained >= 1 and pending >= 4, out.stdout[-500:]
    assert len(list(tmp_path.rglob("*.json"))) == trained
    again = reproduce("00", "--preset", "smoke", "--results", str(tmp_path), "-p", "seeds", "[97, 98]", "--budget", "0.5")
    first = next(line for line in again.stdout.splitlines() if "training" in line)
    assert "(0 of 8 trained; this run ~" in first and "the 8 left ~" in first, first  # estimates from the records


def test_listing_names_runs_that_started_from_another_state_than_their_stage(tmp_path):
    folder = tmp_path / "00_forgetting"
    folder.mkdir()
    records = [{"key": "stage", "inputs": {"stage": "d1"}}, {"key": "same", "inputs": {"stage": "d1"}},
               {"key": "rebuilt", "inputs": {"stage": "d2"}}]  # fmt: skip
    for r in records:
        (folder / f"{r['key']}.json").write_text(json.dumps({**r, "kind": "x", "config": {}, "metrics": {}}))
    out = reproduce("00", "--preset", "smoke", "--results", str(tmp_path), "--list")
    assert out.returncode == 0 and "checkpoints: 1 record(s) started from another state" in out.stdout, out.stdout
    assert "rebuilt" in out.stdout.split("checkpoints:")[1]


def test_no_run_module_hides_progress():
    """Every run passes the chapter's show_progress on: none hard-codes False (a run of hours showed one line)."""
    folder = Path(ex.__file__).parent
    offenders = [p.name for p in folder.glob("*.py") if "show_progress=False" in p.read_text()]
    assert not offenders, offenders


# -- execute(): budget, interruption ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Sleep(RunConfig):
    """The config of the fake chapters' runs."""

    i: int


def fake_experiment(seconds: float, fail_at: int | None = None) -> types.ModuleType:
    """A chapter whose five runs sleep, so budgets can be checked without training."""
    module = types.ModuleType("fake")
    module.CHAPTER, module.CODE_VERSION, module.SOURCES = "fake", 1, ("cl_utils.experiments.runs",)
    module.Params = ex.Params
    module.plan = lambda p: [Run("sleep", {"i": i}, ("mnist",)) for i in range(5)]

    def sleep(c: Sleep, ctx):
        if c.i == fail_at:
            raise KeyboardInterrupt
        time.sleep(seconds)
        return {"i": c.i}

    module.RUNNERS = {"sleep": sleep}
    return module


def test_budget_stops_new_runs_and_interruption_keeps_finished_ones(tmp_path):
    params = ex.Params(data_source="synthetic", results_dir=str(tmp_path), show_progress=False)
    out = execute(fake_experiment(0.3), params, budget_seconds=0.45, require_all=False)
    assert (out.trained, out.reused, len(out.pending)) == (2, 0, 3)  # starts at 0 s and 0.3 s, none at 0.6 s
    with pytest.raises(KeyboardInterrupt):
        execute(fake_experiment(0.0, fail_at=3), params)
    again = execute(fake_experiment(0.0), params)
    assert (again.trained, again.reused) == (2, 3), "runs finished before the interruption were kept"
    with pytest.raises(RuntimeError, match="not trained within the budget"):
        execute(fake_experiment(0.0), ex.Params(data_source="synthetic", results_dir=str(tmp_path / "new")),
                budget_seconds=0.0)  # fmt: skip


def test_retraining_unverified_records_replaces_only_those_and_an_interruption_keeps_the_old(tmp_path, monkeypatch):
    from cl_utils.experiments import identity

    monkeypatch.setattr(identity, "module_hashes", lambda experiment: {"fake": "v1"})  # the fake chapter's code
    params = ex.Params(data_source="synthetic", results_dir=str(tmp_path), show_progress=False)
    first = execute(fake_experiment(0.0), params)
    paths = sorted(first.directory.glob("*.json"), key=lambda p: json.loads(p.read_text())["config"]["i"])  # plan order
    assert len(paths) == 5 and all(json.loads(p.read_text())["code_hashes"] for p in paths)
    legacy = {p: {k: v for k, v in json.loads(p.read_text()).items() if k != "code_hashes"} for p in paths[:2]}
    changed = {**json.loads(paths[2].read_text()), "code_hash": "old", "code_hashes": {"cl_utils.x": "old"}}
    for p, record in [*legacy.items(), (paths[2], changed)]:
        p.write_text(json.dumps({**record, "metrics": {"i": -1}}))  # an old result, to see it replaced
    assert execute(fake_experiment(0.0), params).trained == 0, "without the option every record is reused"
    with pytest.raises(KeyboardInterrupt):  # the first unverified run fails: its old record stays
        execute(fake_experiment(0.0, fail_at=0), params, retrain_unverified=True)
    assert json.loads(paths[0].read_text())["metrics"] == {"i": -1}
    untouched = {p: p.read_text() for p in paths[3:]}
    again = execute(fake_experiment(0.0), params, retrain_unverified=True)
    assert (again.trained, again.reused) == (3, 2)
    for p in paths[:3]:
        record = json.loads(p.read_text())
        assert record["metrics"] == {"i": record["config"]["i"]} and record["code_hashes"], p.name
    assert {p: p.read_text() for p in paths[3:]} == untouched, "records of the current code are not retrained"
    assert execute(fake_experiment(0.0), params, retrain_unverified=True).trained == 0


@dataclasses.dataclass(frozen=True)
class Base(RunConfig):
    """The config of the fake chapter's shared input run."""

    j: int


def reading_experiment(value: float) -> types.ModuleType:
    """A chapter whose three runs each read one shared input run (as 02's matchings read PackNet's run)."""
    module = fake_experiment(0.0)

    def base(c: Base, ctx):
        return {"value": value}

    def uses(c: Sleep, ctx):
        return {"i": c.i, "read": ctx.record("base", {"j": 0}, ("mnist",), base)["metrics"]["value"]}

    module.plan = lambda p: [Run("uses", {"i": i}, ("mnist",)) for i in range(3)]
    module.RUNNERS = {"uses": uses, "base": base}
    return module


def test_a_record_made_from_an_input_replaced_since_is_found_and_retrained(tmp_path, monkeypatch):
    from cl_utils.experiments import identity
    from cl_utils.experiments.cache import input_mismatches

    monkeypatch.setattr(identity, "module_hashes", lambda experiment: {"fake": "v1"})
    params = ex.Params(data_source="synthetic", results_dir=str(tmp_path), show_progress=False)
    first = execute(reading_experiment(1.0), params)
    cache = RunCache("fake", tmp_path)
    assert first.trained == 3 and not input_mismatches(cache.records())
    (base,) = [p for p in cache.directory.glob("*.json") if json.loads(p.read_text())["kind"] == "base"]
    base.write_text(json.dumps({**json.loads(base.read_text()), "metrics": {"value": 2.0}}))  # retrained since
    readers = sorted(r["key"] for r in cache.records() if r["kind"] == "uses")
    assert sorted(input_mismatches(cache.records())) == readers
    assert checkpoint_mismatches(cache.records()) == ([], []), "a record input is not a checkpoint"
    assert "3 made from an input record that was replaced since" in execute(reading_experiment(1.0), params).report()
    again = execute(reading_experiment(1.0), params, retrain_unverified=True)
    assert again.trained == 3 and [r["metrics"]["read"] for r in again.records] == [2.0] * 3
    assert not input_mismatches(cache.records())


def test_a_record_of_the_current_code_is_verified_even_where_the_ledger_carries_its_hash_on(monkeypatch):
    """A checked refactor from this code, reverted since, leaves a ledger step *from* the current hash: the records
    this code makes must still count as its own (else --retrain-unverified retrains each of them on every call)."""
    from cl_utils.experiments import identity
    from cl_utils.experiments.runs import made_by_changed_code, unverified

    now = {"fake": "v1"}
    current = identity.combined_hash(now)
    monkeypatch.setattr(identity, "ledger", lambda: [{"chapter": "fake", "from": current, "to": "0123456789ab"}])
    fresh = {"chapter": "fake", "code_hash": current, "code_hashes": dict(now)}
    assert made_by_changed_code(fresh, now) is False and not unverified(now)(fresh)
    other = {"chapter": "fake", "code_hash": "0123456789ab", "code_hashes": {"fake": "v2"}}
    assert made_by_changed_code(other, now) is True and unverified(now)(other)


# -- parameters as papermill and reproduce deliver them ---------------------------------------------
@pytest.mark.parametrize("chapter", list(ex.CHAPTERS))
def test_every_value_the_parameters_cell_shows_is_accepted_back_as_a_string(chapter):
    """papermill -p NAME 'VALUE' and reproduce -p NAME VALUE pass strings: the cell's own text must parse back."""
    P = ex.load(chapter).Params
    defaults = P.defaults()
    for name in P.names():
        shown = repr(defaults[name])
        assert getattr(P.from_values({name: shown}), name) == defaults[name], f"{name} = {shown}"


def _g(value):
    """A value written the way people write numbers: 1e-07, not 1e-07's repr with a decimal point."""
    return "[" + ", ".join(_g(v) for v in value) + "]" if isinstance(value, list) else (
        f"{value:g}" if isinstance(value, float) else repr(value))  # fmt: skip


@pytest.mark.parametrize("chapter", list(ex.CHAPTERS))
def test_float_lists_accept_exponents_without_a_decimal_point(chapter):
    P = ex.load(chapter).Params
    defaults = P.defaults()
    floats = [n for n in P.names() if "float" in str(P.__dataclass_fields__[n].type)]
    for name in floats:
        assert getattr(P.from_values({name: _g(defaults[name])}), name) == defaults[name], name


@pytest.mark.parametrize("text", ["1e-7", "1E-7", "1e-07", "0.1", "1", " 2.5e-3 "])
def test_a_float_parameter_takes_every_usual_spelling(text):
    P = ex.load("03").Params
    assert P.from_values({"wide_margin": text}).wide_margin == float(text)
    assert P.from_values({"wide_alphas": f"[{text}, {text}, {text}]"}).wide_alphas == [float(text)] * 3


@pytest.mark.parametrize("chapter, name, value, expected", [
    ("03", "wide_alphas", [1e-7, 1e-5, 1e-6, 1e-6], "exactly 3"),
    ("03", "narrow_alphas", [1e-5, 1e-5], "exactly 3"),
    ("03", "cifar_alphas", [1e-6] * 7, "exactly 6"),
    ("01", "schedules", [[0.5, 0.75, 0.75, 0.75]], "3 prune fractions"),
    ("06", "clnp_cifar_alphas", [1e-6] * 5, "6 entries"),
    ("06", "clnp_cifar_alphas", [1e-6] * 7, "6 values"),
])  # fmt: skip
def test_a_list_of_the_wrong_length_is_refused_before_any_data_is_read(chapter, name, value, expected):
    with pytest.raises(ex.ParameterError, match=expected) as err:
        ex.load(chapter).Params.from_values({name: value})
    assert name in str(err.value)


# -- several processes on one results folder ---------------------------------------------------------
SHARED_WORKER = """
import dataclasses, json, os, sys, time, types
from cl_utils import experiments as ex
from cl_utils.experiments.runs import Run, execute
from cl_utils.experiments.run_config import RunConfig
@dataclasses.dataclass(frozen=True)
class Sleep(RunConfig):
    i: int
log, results = sys.argv[1], sys.argv[2]
module = types.ModuleType("shared")
module.CHAPTER, module.CODE_VERSION, module.SOURCES = "shared", 1, ("cl_utils.experiments.runs",)
module.Params = ex.Params
module.plan = lambda p: [Run("sleep", {"i": i}, ("mnist",)) for i in range(6)]
@dataclasses.dataclass(frozen=True)
class Base(RunConfig):
    j: int
def base(c: Base, ctx):
    with open(log, "a") as f:
        f.write(f"base {os.getpid()}\\n")
    time.sleep(float(os.environ.get("RUN_SECONDS", "0.4")))
    return {"j": c.j}
def sleep(c: Sleep, ctx):
    if os.environ.get("ASK_INPUT"):  # every run asks for one shared input run (as 02's matchings share a grid)
        ctx.record("base", {"j": 0}, ("mnist",), base)
    with open(log, "a") as f:
        f.write(f"{c.i} {os.getpid()}\\n")
    time.sleep(float(os.environ.get("RUN_SECONDS", "0.4")))
    return {"i": c.i}
module.RUNNERS = {"sleep": sleep}
out = execute(module, ex.Params(data_source="synthetic", results_dir=results, show_progress=False), poll_seconds=0.1)
print(json.dumps({"trained": out.trained, "records": [r["metrics"]["i"] for r in out.records]}))
"""


def _worker(log: Path, results: Path, seconds: float = 0.4, ask_input: bool = False) -> subprocess.Popen:
    env = dict(os.environ, RUN_SECONDS=str(seconds), **({"ASK_INPUT": "1"} if ask_input else {}))
    return subprocess.Popen([sys.executable, "-c", SHARED_WORKER, str(log), str(results)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_two_processes_on_one_plan_train_each_run_once_and_both_end_with_every_record(tmp_path):
    log = tmp_path / "trained.log"
    workers = [_worker(log, tmp_path / "results") for _ in range(2)]
    outs = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), [o[1][-2000:] for o in outs]
    results = [json.loads(o[0].strip().splitlines()[-1]) for o in outs]
    started = [line.split()[0] for line in log.read_text().splitlines()]
    assert sorted(started) == [str(i) for i in range(6)], f"a run was trained twice or not at all: {started}"
    assert sum(r["trained"] for r in results) == 6 and all(r["trained"] > 0 for r in results), results
    assert all(r["records"] == list(range(6)) for r in results), "each process ends with every record, in plan order"
    assert len(list((tmp_path / "results" / "shared").glob("*.json"))) == 6
    assert not list((tmp_path / "results" / "shared" / ".locks").glob("*")), "claims are released"


def test_a_run_two_processes_ask_for_at_once_is_trained_once(tmp_path):
    log = tmp_path / "trained.log"
    workers = [_worker(log, tmp_path / "results", seconds=1.0, ask_input=True) for _ in range(2)]
    outs = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), [o[1][-2000:] for o in outs]
    started = [line.split()[0] for line in log.read_text().splitlines()]
    assert started.count("base") == 1, f"the shared input was trained {started.count('base')} times: {started}"
    assert sorted(s for s in started if s != "base") == [str(i) for i in range(6)]
    assert not list((tmp_path / "results" / "shared" / ".locks").glob("*")), "claims are released"


def test_a_negative_budget_and_a_missing_gpu_stop_with_a_message(tmp_path):
    negative = reproduce("00", "--preset", "smoke", "--results", str(tmp_path), "--budget", "-5")
    assert negative.returncode == 2 and "--budget" in negative.stderr and "Traceback" not in negative.stderr
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    cuda = reproduce("00", "--preset", "smoke", "--results", str(tmp_path), "--device", "cuda")
    assert cuda.returncode == 2 and "'device'" in cuda.stderr and "Traceback" not in cuda.stderr, cuda.stderr[-1500:]
    assert not (tmp_path / "00_forgetting").exists()


def test_kinds_restrict_the_plan_and_an_unknown_kind_is_named(tmp_path):
    listed = reproduce("03", "--preset", "smoke", "--results", str(tmp_path), "--kinds", "single_task,wide", "--list")
    assert listed.returncode == 0, listed.stderr[-2000:]
    lines = [line for line in listed.stdout.splitlines() if "pending" in line and ":" in line]
    assert lines and all(" single_task:" in line or " wide:" in line for line in lines), listed.stdout
    bad = reproduce("03", "--preset", "smoke", "--results", str(tmp_path), "--kinds", "wide,bogus")
    assert bad.returncode == 2 and "--kinds" in bad.stderr and "bogus" in bad.stderr and "narrow" in bad.stderr
    assert not (tmp_path / "03_clnp").exists(), "nothing may be trained before the kinds are checked"


def test_a_killed_process_leaves_no_run_stuck(tmp_path):
    log = tmp_path / "trained.log"
    first = _worker(log, tmp_path / "results", seconds=60)
    deadline = time.time() + 60
    while not (log.is_file() and log.read_text()) and time.time() < deadline:
        time.sleep(0.05)
    first.kill()  # dies holding the claim of run 0
    first.communicate()
    assert list((tmp_path / "results" / "shared" / ".locks").glob("*.lock")), "the killed process left its claim"
    second = _worker(log, tmp_path / "results", seconds=0.0)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err[-2000:]
    assert json.loads(out.strip().splitlines()[-1]) == {"trained": 6, "records": list(range(6))}


def test_a_claim_held_by_a_live_process_is_respected_and_a_dead_ones_is_taken(tmp_path):
    import socket

    cache = RunCache("c", tmp_path)
    request = _request()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = cache.lock_path(request)
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout)}))
    assert cache.claim(request), "a lock whose process has died must not block the run"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock.write_text(json.dumps({"host": socket.gethostname(), "pid": live.pid}))
        assert not cache.claim(request), "a live process's claim was taken"
    finally:
        live.kill()
        live.wait()
    assert cache.claim(request)
    cache.release(request)
    assert not lock.exists()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock.write_text(json.dumps({"host": socket.gethostname(), "pid": other.pid}))
        cache.release(request)
        assert lock.exists(), "a process released a claim it does not hold"
    finally:
        other.kill()
        other.wait()


# -- the cache ----------------------------------------------------------------------------------------
def _request(**changes) -> dict:
    return {"chapter": "c", "kind": "k", "code_version": 1, "config": {"seed": 0},
            "data": [{"dataset": "mnist", "source": "file", "sha256": "abc"}], **changes}  # fmt: skip


def test_key_changes_with_code_version_data_and_config():
    keys = {request_key(_request()), request_key(_request(code_version=2)), request_key(_request(config={"seed": 1})),
            request_key(_request(data=[{"dataset": "mnist", "source": "file", "sha256": "abd"}])),
            request_key(_request(data=[{"dataset": "mnist", "source": "synthetic", "sha256": "abc"}]))}  # fmt: skip
    assert len(keys) == 5


def test_data_identity_is_a_checksum_of_the_file(tmp_path, monkeypatch):
    from cl_utils.data import synthetic_dataset, write_cache

    monkeypatch.setenv("CL_DATA_DIR", str(tmp_path))
    arrays = synthetic_dataset("mnist", n_train=50, n_test=20)
    write_cache(tmp_path / "mnist.npz", arrays)
    first = dataset_identity("mnist", "cache")
    arrays["x_train"][0, 0, 0, 0] ^= 1  # one pixel differs (e.g. JPEG-decoded vs original CIFAR-10)
    write_cache(tmp_path / "mnist.npz", arrays)
    second = dataset_identity("mnist", "cache")
    assert first["source"] == "file" and first["sha256"] != second["sha256"]
    assert dataset_identity("mnist", "synthetic")["source"] == "synthetic"
    experiment = ex.load("00")
    key = lambda source: requests(experiment, experiment.Params(data_source=source, seeds=[0]))[0][1]  # noqa: E731
    assert request_key(key("cache")) != request_key(key("synthetic"))


def test_key_changes_with_the_experiments_code_version(monkeypatch):
    experiment = ex.load("00")
    params = experiment.Params(data_source="synthetic", seeds=[0])
    before = request_key(requests(experiment, params)[0][1])
    monkeypatch.setattr(experiment, "CODE_VERSION", experiment.CODE_VERSION + 1)
    assert request_key(requests(experiment, params)[0][1]) != before


def test_a_per_kind_code_version_changes_only_that_kinds_keys(monkeypatch):
    experiment = ex.load("03")
    params = experiment.Params.from_values({}, ex.preset("03", "smoke"))
    before = {request_key(req): run.kind for run, req in requests(experiment, params)}
    versions = dict(experiment.CODE_VERSION)
    monkeypatch.setattr(experiment, "CODE_VERSION", versions | {"narrow": versions["narrow"] + 1})
    after = {request_key(req): run.kind for run, req in requests(experiment, params)}
    changed = {kind for key, kind in after.items() if key not in before}
    assert changed == {"narrow"}, changed
    monkeypatch.setattr(experiment, "CODE_VERSION", {k: v for k, v in versions.items() if k != "cifar"})
    with pytest.raises(KeyError, match="cifar"):
        requests(experiment, params)


def test_an_optimizer_kernel_is_keyed_per_kind_and_its_runs_train_under_it(tmp_path):
    """A kind the experiment trains with the fused kernel has it in its key and builds fused optimizers."""
    experiment = fake_experiment(0.0)
    experiment.plan = lambda p: [Run("sleep", {"i": 0}, ("mnist",)), Run("plain", {"i": 1}, ("mnist",))]
    def built(c: Sleep, ctx):
        optimizer = make_optimizer([torch.nn.Parameter(torch.ones(2))], "adam", 1e-3)  # "auto", as the runs ask
        return {"fused": bool(optimizer.defaults["fused"])}

    experiment.RUNNERS = {"sleep": built, "plain": built}
    params = ex.Params(data_source="synthetic", results_dir=str(tmp_path), show_progress=False)
    before = [request_key(req) for _, req in requests(experiment, params)]
    experiment.OPTIMIZER_KERNEL = {"sleep": "fused"}
    planned = requests(experiment, params)
    assert [req["config"].get("optimizer_kernel") for _, req in planned] == ["fused", None]
    assert [request_key(req) for _, req in planned] != before and request_key(planned[1][1]) == before[1]
    out = execute(experiment, params)
    assert [r["metrics"]["fused"] for r in out.records] == [True, False]
    assert {run.kind for run, req in requests(ex.load("03"), ex.load("03").Params.from_values(
        {}, ex.preset("03", "smoke"))) if "optimizer_kernel" in req["config"]} == {"wide", "narrow", "single_task"}


def test_listing_needs_no_data_and_matches_the_books_records_by_all_but_the_checksum(tmp_path):
    """With no dataset file at all, --list still shows every committed run of chapter 00 as cached (made on
    the book's copy of the data) and names what is missing; a real run would stop instead."""
    env = {**{k: v for k, v in os.environ.items() if k != "CL_RESULTS_DIR"}, "CL_DATA_DIR": str(tmp_path)}
    args = [sys.executable, "-m", "cl_utils.reproduce", "00", "--preset", "committed", "--results",
            str(ROOT / "data" / "results")]  # fmt: skip
    listed = subprocess.run([*args, "--list"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr[-2000:]
    plan = ex.load("00").plan(ex.load("00").Params.from_values({}, ex.preset("00", "committed")))
    assert listed.stdout.startswith("not here: mnist")
    assert listed.stdout.strip().splitlines()[-1].startswith(f"{len(plan)} cached, 0 pending"), listed.stdout[-500:]
    trained = subprocess.run([*args, "--budget", "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert trained.returncode == 2 and "mnist" in trained.stderr


def test_cost_rates_are_per_kind_and_per_device(tmp_path):
    """A GPU's seconds per cost never time a CPU run, and each kind has its own rate."""
    cache = RunCache("rates", tmp_path)
    cache.directory.mkdir(parents=True)
    for i, (kind, device, seconds) in enumerate([("a", "cpu", 10.0), ("a", "cpu", 30.0), ("b", "cpu", 100.0),
                                                 ("a", "cuda:0", 1.0)]):  # fmt: skip
        (cache.directory / f"{i}.json").write_text(json.dumps(
            {"kind": kind, "config": {}, "metrics": {}, "cost": 1.0, "wall_seconds": seconds,
             "environment": {"device": device}}))  # fmt: skip
    from cl_utils.experiments.runs import seconds_per_cost

    assert seconds_per_cost(cache, "cpu") == {"a": 20.0, "b": 100.0, None: 30.0}
    assert seconds_per_cost(cache, "cuda") == {"a": 1.0, None: 1.0}


# -- run identity: the code a record was made by, and the data ---------------------------------------
def test_the_modules_of_a_chapter_come_from_its_imports():
    from cl_utils.experiments import identity

    for chapter in ("00", "03", "05"):  # FrozenEntries lives in masks, reached through train
        assert "cl_utils.masks" in identity.run_modules(ex.load(chapter))
    assert "cl_utils.models" in identity.run_modules(ex.load("04"))
    for chapter in ex.CHAPTERS:
        modules = identity.run_modules(ex.load(chapter))
        assert {"cl_utils.data", "cl_utils.train", "cl_utils.experiments.data_cache"} <= set(modules), chapter
        assert not any(m.endswith("_report") or m in identity.NOT_RUN for m in modules), chapter


@pytest.mark.parametrize("module", __import__("cl_utils.experiments.identity", fromlist=["x"]).run_modules(ex.load("00")))
def test_a_change_in_any_module_a_run_reaches_flags_its_records(module, monkeypatch, tmp_path):
    from cl_utils.experiments import identity
    from cl_utils.experiments.runs import code_hashes, made_by_changed_code

    experiment = ex.load("00")
    hashes = code_hashes(experiment)
    record = RunCache("c", tmp_path).run(_request(), lambda: {"acc": 0.5}, code_hash=identity.combined_hash(hashes),
                                         code_hashes=hashes)  # fmt: skip
    assert made_by_changed_code(record, code_hashes(experiment)) is False
    real = identity._source_hash
    monkeypatch.setattr(identity, "_source_hash", lambda name: "edited" if name == module else real(name))
    now = code_hashes(experiment)
    assert made_by_changed_code(record, now) is True
    assert identity.changed_modules(record, now) == [module]
    legacy = {k: v for k, v in record.items() if k != "code_hashes"}
    assert made_by_changed_code(legacy, now) is None, "a record without module hashes cannot tell"


def test_a_checked_refactor_in_the_ledger_unflags_only_its_chapters_records(monkeypatch, tmp_path):
    from cl_utils.experiments import identity
    from cl_utils.experiments.runs import code_hashes, made_by_changed_code

    hashes = code_hashes(ex.load("00"))
    record = RunCache("c", tmp_path).run(_request(), lambda: {"acc": 0.5}, code_hash=identity.combined_hash(hashes),
                                         code_hashes=hashes)  # fmt: skip
    refactored = dict(hashes, **{"cl_utils.train": "moved"})
    ledger = tmp_path / "equivalent_code.json"
    monkeypatch.setattr(identity, "LEDGER", ledger)
    assert made_by_changed_code(record, refactored) is True  # no ledger: flagged
    entry = {"from": identity.combined_hash(hashes), "to": identity.combined_hash(refactored), "evidence": "test"}
    ledger.write_text(json.dumps([dict(entry, chapter="another chapter")]))
    assert made_by_changed_code(record, refactored) is True  # another chapter's refactor: still flagged
    ledger.write_text(json.dumps([dict(entry, chapter=record["chapter"])]))
    assert made_by_changed_code(record, refactored) is False
    assert identity.changed_modules(record, refactored) == [] and identity.refactored_since(record, refactored)
    assert not identity.refactored_since(record, hashes)  # made by the current code: nothing to carry over
    edited = dict(refactored, **{"cl_utils.data": "edited"})  # a change after the checked refactor
    assert made_by_changed_code(record, edited) is True
    assert identity.changed_modules(record, edited) == ["cl_utils.data", "cl_utils.train"]


def test_the_equivalence_check_compares_results_not_timings(tmp_path):
    from cl_utils.experiments.equivalence import differences

    record = {"key": "k", "config": {"seed": 0}, "metrics": {"acc": [[0.5]], "history": [{"loss": 1.0, "seconds": 2.0}],
              "train_seconds": 3.0}, "wall_seconds": 4.0, "environment": {"device": "cpu"}, "code_hash": "a"}  # fmt: skip
    other_run = {**record, "metrics": {**record["metrics"], "history": [{"loss": 1.0, "seconds": 9.0}],
                 "train_seconds": 8.0}, "wall_seconds": 7.0, "environment": {"device": "cuda"}, "code_hash": "b",
                 "cost": 2.0e9}  # an estimate, re-estimated by the new plan: not a result  # fmt: skip
    changed = {**record, "metrics": {**record["metrics"], "acc": [[0.51]]}}
    for side, content in (("before", record), ("after", other_run), ("changed", changed)):
        (tmp_path / side).mkdir()
        (tmp_path / side / "k.json").write_text(json.dumps(content))
    assert differences(tmp_path / "before", tmp_path / "after") == []
    assert differences(tmp_path / "before", tmp_path / "changed") == ["differs: k.json"]
    (tmp_path / "after" / "extra.json").write_text("{}")  # a run the change adds: not a difference
    assert differences(tmp_path / "before", tmp_path / "after") == []
    (tmp_path / "before" / "gone.json").write_text("{}")  # a run the change no longer makes: a difference
    assert differences(tmp_path / "before", tmp_path / "after") == ["only before: gone.json"]


def test_a_changed_dataset_file_changes_every_key(tmp_path, monkeypatch):
    from cl_utils import data

    arrays = data.synthetic_dataset("mnist", n_train=50, n_test=20)
    data.write_cache(tmp_path / "mnist.npz", arrays)
    monkeypatch.setenv("CL_DATA_DIR", str(tmp_path))
    experiment = ex.load("00")
    params = experiment.Params.from_values({"data_source": "cache", "seeds": [0]})
    before = [request_key(req) for _, req in requests(experiment, params)]
    arrays["x_train"][0, 0, 0, 0] ^= 1  # one pixel of one image
    data.write_cache(tmp_path / "mnist.npz", arrays)
    after = [request_key(req) for _, req in requests(experiment, params)]
    assert before and all(a != b for a, b in zip(before, after))


def test_corrupt_stale_and_temporary_records(tmp_path):
    cache = RunCache("c", tmp_path)
    record = cache.run(_request(), lambda: {"acc": 0.5})
    path = cache.path(_request())
    assert cache.load(_request())["metrics"] == record["metrics"] == {"acc": 0.5}
    (cache.directory / ".tmp-abc.part").write_text("{")  # an interrupted write
    (cache.directory / ".tmp-def.json").write_text("{")
    assert len(cache.records()) == 1, "temporary files are never read as records"
    stored = json.loads(path.read_text())
    path.write_text(json.dumps({**stored, "config": {"seed": 1}}))  # a record that does not match its key
    with pytest.raises(StaleRecordError, match=path.name):
        cache.load(_request())
    path.write_text(path.read_text()[:40])  # truncated
    with pytest.raises(CorruptRecordError, match=f"{path.name}.*Delete that file"):
        cache.load(_request())


def test_failed_run_stores_nothing(tmp_path):
    cache = RunCache("c", tmp_path)
    with pytest.raises(ZeroDivisionError):
        cache.run(_request(), lambda: {"x": 1 / 0})
    assert not list(tmp_path.rglob("*")) or not list(tmp_path.rglob("*.json"))


def test_runs_record_the_checkpoints_they_read(tmp_path):
    cache = RunCache("c", tmp_path)
    state = {"w": torch.arange(4.0)}
    record = cache.run(_request(), lambda: {"sum": float(cache.checkpoint(_request(kind="stage"), lambda: state)["w"].sum())})
    assert list(record["inputs"].values()) == [__import__("cl_utils.experiments.cache", fromlist=["x"]).state_digest(state)]


def test_a_stage_run_stores_its_own_state_over_a_rebuilt_checkpoint(tmp_path):
    """A stage's record and its checkpoint are one state: the run that makes the stage replaces a file that a
    later run rebuilt (the rebuild may differ on other hardware), and records its digest."""
    cache = RunCache("c", tmp_path)
    stage = _request(kind="stage")
    cache.checkpoint(stage, lambda: {"w": torch.zeros(2)})  # rebuilt by a run that needed it
    made = {"w": torch.ones(2)}
    record = cache.run(stage, lambda: {"sum": float(cache.checkpoint(stage, lambda: made, replace=True)["w"].sum())})
    assert record["metrics"]["sum"] == 2.0 and record["inputs"] == {record["key"]: state_digest(made)}
    assert torch.equal(cache.checkpoint(stage, lambda: {"w": torch.zeros(2)})["w"], made["w"])


def test_runs_that_started_from_another_state_than_their_stage_record_are_found():
    stage = {"key": "s", "inputs": {"s": "d1"}}
    same, other = {"key": "a", "inputs": {"s": "d1", "x": "record"}}, {"key": "b", "inputs": {"s": "d2"}}
    assert checkpoint_mismatches([stage, same, other]) == (["b"], [])
    old_stage = {"key": "s", "inputs": {}}  # made before stage runs recorded their own digest
    assert checkpoint_mismatches([old_stage, same, other]) == ([], ["a", "b"])
    # no stage record (a checkpoint built where it was first needed): its readers must agree
    assert checkpoint_mismatches([same, {"key": "c", "inputs": {"s": "d1"}}]) == ([], [])
    assert checkpoint_mismatches([same, other]) == (["a", "b"], [])
    from cl_utils.experiments.runs import Outcome, Records

    env = {"environment": {"torch": "2"}, "code_hashes": {}, "wall_seconds": 1.0}
    line = Outcome(Records([{**r, **env} for r in (stage, same, other)]), 0, 3, [], Path(".")).report()
    assert "1 started from another state than the one their checkpoint's stage record describes" in line


def test_the_report_names_the_commits_the_records_were_made_at_from_the_records():
    """A chapter's provenance is read from its records, never typed: each record's git commit, counted."""
    from cl_utils.experiments.runs import Outcome, Records

    made = lambda key, commit: {"key": key, "inputs": {}, "code_hashes": {}, "wall_seconds": 1.0,  # noqa: E731
                                "environment": {"torch": "2", "git_commit": commit}}
    records = [made("a", "4c944226a46"), made("b", "4c944226a46"), made("c", "7ca4acade28"), made("d", None)]
    line = Outcome(Records(records), 0, 4, [], Path(".")).report()
    assert "made at commit 4c94422 (2), 7ca4aca (1), unknown (1)" in line, line


def test_packnet_initial_checkpoint_is_rebuilt_bit_exactly(tmp_path):
    experiment = ex.load("01")
    params = experiment.Params.from_values({"results_dir": str(tmp_path)}, ex.preset("01", "smoke"))
    run, request = requests(experiment, params)[0]
    assert run.kind == "initial"
    from cl_utils.experiments.runs import RunContext

    ctx = RunContext(torch.device("cpu"), "synthetic", RunCache(experiment.CHAPTER, tmp_path), 1)
    first, _ = experiment.build_initial(experiment.InitialRun.from_config(run.config), ctx)
    second, _ = experiment.build_initial(experiment.InitialRun.from_config(run.config), ctx)
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


# -- parameters -----------------------------------------------------------------------------------------
def test_params_validate_names_types_and_ranges():
    P = ex.load("00").Params
    with pytest.raises(ex.ParameterError, match="did you mean 'num_epochs'"):
        P.from_values({"num_epoch": 2})
    with pytest.raises(ex.ParameterError, match="'lr'"):
        P.from_values({"lr": -1.0})
    with pytest.raises(ex.ParameterError, match="'num_epochs'"):
        P.from_values({"num_epochs": 2.5})
    with pytest.raises(ex.ParameterError, match="'device'"):
        P.from_values({"device": "tpu"})
    with pytest.raises(ex.ParameterError, match="'class_groups'"):
        P.from_values({"class_groups": [[0, 1], [1, 2]]})
    p = P.from_values({"seeds": "[3, 4]", "num_epochs": "2"})  # the strings papermill -p and the command pass
    assert p.seeds == [3, 4] and p.num_epochs == 2
    help_text = P.help()
    assert all(f"  {name}: " in help_text for name in P.names())


def test_params_from_a_notebook_namespace_with_a_preset():
    P = ex.load("00").Params
    namespace = {"np": np, "dataset": "mnist", "num_epochs": 3, "seeds": [0, 1, 2, 3, 4], "preset": "smoke",
                 "_private": 1, "In": []}  # fmt: skip
    p = P.from_namespace(namespace, lambda name: ex.preset("00", name))
    assert p.num_epochs == 3, "a value set explicitly wins over the preset"
    assert p.seeds == [0, 1] and p.data_source == "synthetic", "values left at their default come from the preset"
    with pytest.raises(ex.ParameterError, match="'num_epoch'"):
        P.from_namespace({"num_epoch": 3})


def test_a_value_set_to_its_default_is_still_an_explicit_choice_the_preset_keeps():
    """papermill -p cifar_epochs 60 (the default) with the preset 'committed' (fewer epochs) runs 60 epochs."""
    P = ex.load("03").Params
    committed, default = ex.preset("03", "committed")["cifar_epochs"], P.defaults()["cifar_epochs"]
    assert committed not in (3, default), "the checks below tell the preset's value from the default and a hand edit"
    cell = P.parameters_cell()
    values = dict(P.defaults(), preset="committed")
    injected = f"# Parameters\ncifar_epochs = {default}\npreset = 'committed'\n"
    load = lambda name: ex.preset("03", name)  # noqa: E731
    history = ["import cl_utils", cell, injected, "experiment, params = experiments.from_notebook('03', globals())"]
    p = P.from_namespace({**values, "In": history}, load)
    assert p.cifar_epochs == default, "the user's explicit default was overridden by the preset"
    assert p.cifar_train_per_class == 600, "values the user left alone come from the preset"
    edited = cell.replace(f"\ncifar_epochs: int = {default}", "\ncifar_epochs: int = 3")  # the cell edited by hand (Colab)
    assert P.from_namespace({**values, "cifar_epochs": 3, "In": ["x = 1", edited, "preset = 'committed'"]},
                            load).cifar_epochs == 3  # fmt: skip
    untouched = P.from_namespace({**values, "In": [cell, "preset = 'committed'"]}, load)
    assert untouched.cifar_epochs == committed and untouched.cifar_train_per_class == 600
    reworded = cell.replace("# epochs per task (Zenke et al.'s split-CIFAR setting)", "# (an older help text)")
    assert reworded != cell
    assert P.from_namespace({**values, "In": [reworded, "preset = 'committed'"]}, load).cifar_epochs == committed, \
        "an older parameters cell's defaults are not explicit choices"


def test_a_checkpoint_build_leaves_the_callers_random_state_alone(tmp_path):
    """A run continues identically whether its checkpoint was cached or had to be built (e.g. its dropout draws)."""
    from cl_utils.experiments.runs import RunContext

    ctx = RunContext(torch.device("cpu"), "synthetic", RunCache("c", tmp_path), 1, data_ids={})
    build = lambda: {"w": torch.randn(3)}  # noqa: E731  (a build draws random numbers, as training does)
    draws = []
    for _ in range(2):  # first: built; second: loaded from the cache
        torch.manual_seed(0)
        ctx.checkpoint("stage", {"a": 1}, (), build)
        draws.append(torch.rand(4))
    assert torch.equal(draws[0], draws[1])


def test_a_matching_search_stores_each_evaluation_and_resumes_where_it_stopped(tmp_path, monkeypatch):
    """Chapter 02's Table 1 search: every point it evaluates is a stored run; a rerun retrains only what is missing."""
    experiment = ex.load("02")
    values = {"results_dir": str(tmp_path), "datasets": ["mnist"], "matching_datasets": ["mnist"], "mnist_free": [0.9],
              "fig2_datasets": [], "fig4_datasets": [], "match_maxiter": 2, "scale_trend": [],
              "memory_equal_steps": []}  # fmt: skip
    params = experiment.Params.from_values(values, ex.preset("02", "smoke"))
    first = execute(experiment, params)
    match = first.records.one("match", method="memory", how="search")
    folder = tmp_path / experiment.CHAPTER
    evaluated = {k for k, how in match["inputs"].items() if is_record_input(how)}
    assert len(evaluated) == len(match["metrics"]["evaluations"]) + 1, "PackNet's target and every point searched"
    assert all((folder / f"{k}.json").is_file() for k in evaluated)
    trained = []
    original = experiment.run_fill
    @functools.wraps(original)  # its config type too
    def counted(c, ctx):
        trained.append(c.free)
        return original(c, ctx)

    monkeypatch.setattr(experiment, "run_fill", counted)
    (folder / f"{match['key']}.json").unlink()  # the search was killed after its evaluations ...
    last = max(evaluated - {first.records.one("fill", method="packnet")["key"]})
    (folder / f"{last}.json").unlink()  # ... and during one of them
    again = execute(experiment, params)
    assert len(trained) == 1, "only the evaluation in flight is trained again"
    assert again.records.one("match", method="memory", how="search")["metrics"] == match["metrics"]
    # the grid: one stacked run for every point; a killed grid match retrains only the run at its p_bar
    grid_match = again.records.one("match", method="memory", how="grid")
    grids = [k for k in grid_match["inputs"] if json.loads((folder / f"{k}.json").read_text())["kind"] == "grid"]
    assert len(grids) == 1
    at_found = [k for k in grid_match["inputs"]
                if json.loads((folder / f"{k}.json").read_text())["config"].get("free") == grid_match["metrics"]["free"]]
    (folder / f"{grid_match['key']}.json").unlink()
    (folder / f"{at_found[0]}.json").unlink()
    trained.clear()
    grid_trained = []
    @functools.wraps(experiment.run_grid)
    def grid_counted(c, ctx):
        grid_trained.append(c)
        return {}

    monkeypatch.setattr(experiment, "run_grid", grid_counted)
    third = execute(experiment, params)
    assert (len(trained), grid_trained) == (1, []), "the grid run is reused; only the run at p_bar is trained"
    assert third.records.one("match", method="memory", how="grid")["metrics"] == grid_match["metrics"]


def test_a_notebook_draws_stored_runs_and_trains_only_when_asked(tmp_path, monkeypatch):
    """experiments.execute (the notebooks' entry): with train off, a missing run stops before any training, naming
    the count and the way on; stored runs are drawn; a record made on another copy of the data file (the book's)
    is drawn and counted; train = True trains what is missing."""
    from cl_utils import data
    from cl_utils.experiments.drawing import RunsNotStored

    arrays = data.synthetic_dataset("mnist", n_train=50, n_test=20)
    data.write_cache(tmp_path / "mnist.npz", arrays)
    monkeypatch.setenv("CL_DATA_DIR", str(tmp_path))
    experiment = fake_experiment(0.0)
    values = {"data_source": "cache", "results_dir": str(tmp_path / "runs"), "show_progress": False}
    with pytest.raises(RunsNotStored, match=r"5 of the 5 runs .* train = True"):
        ex.execute(experiment, ex.Params(**values))
    assert not list((tmp_path / "runs").rglob("*.json")), "nothing was trained"
    trained = ex.execute(experiment, ex.Params(**values, train=True))
    assert trained.trained == 5
    drawn = ex.execute(experiment, ex.Params(**values))
    assert (drawn.trained, drawn.reused, drawn.other_data) == (0, 5, 0)
    arrays["x_train"][0, 0, 0, 0] ^= 1  # the user's copy of the data differs from the one the records were made on
    data.write_cache(tmp_path / "mnist.npz", arrays)
    other = ex.execute(experiment, ex.Params(**values))
    assert (other.trained, other.other_data) == (0, 5) and "book's copy of the data" in other.report()
    assert [r["metrics"] for r in other.records] == [r["metrics"] for r in drawn.records]


def test_each_record_says_how_busy_its_machine_was():
    """Timings are claims too (chapters 05 and 06): a record keeps the machine's CPU count and its load when written."""
    from cl_utils.experiments.cache import environment_record

    env = environment_record("cpu")
    assert env["cpus"] == os.cpu_count() and env["cpus"] >= 1
    assert env["load_average"] is None or env["load_average"] >= 0.0


def test_a_checkpoint_another_live_process_is_building_is_waited_for_not_built_again(tmp_path):
    """Two reproduce processes that start together need the same initial network: the second waits for the
    first's file (the first holds the checkpoint's claim) instead of spending the same minutes building it."""
    import threading

    from cl_utils.experiments.cache import save_state

    cache = RunCache("c", tmp_path)
    cache.poll_seconds = 0.02
    request = {"stage": "initial", "seed": 0}
    lock = {"checkpoint": request}
    assert cache.claim(lock)  # "the other process" (this pid is alive): it is building
    state = {"w": torch.arange(4.0)}
    path = cache.directory / "checkpoints" / f"{ex.cache.request_key(request)}.pt"

    def other_finishes() -> None:
        time.sleep(0.2)
        save_state(path, state)
        cache.release(lock)

    threading.Thread(target=other_finishes).start()
    built = []
    loaded = cache.checkpoint(request, lambda: built.append(1) or {"w": torch.zeros(4)})
    assert not built and torch.equal(loaded["w"], state["w"])
    # nobody building and no file: this process builds it, and leaves no claim behind
    other = cache.checkpoint({"stage": "pruned"}, lambda: {"w": torch.ones(2)})
    assert torch.equal(other["w"], torch.ones(2)) and not list((cache.directory / ".locks").glob("*.lock"))

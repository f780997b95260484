"""cl_utils.gpu_batch: the queue, one archive out of a run, and an import that checks every record."""
from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from cl_utils import gpu_batch
from cl_utils.experiments.cache import request_key


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("batch")
    queue = root / "queue.yaml"
    queue.write_text('- {chapter: "00", preset: smoke, workers: 2, why: test}\n')
    packed = gpu_batch.run_queue(gpu_batch.read_queue(queue), budget=600, out=root / "records.tar.gz",
                                 results=root / "results", device="cpu", log=lambda *_: None)  # fmt: skip
    return root / "records.tar.gz", packed


def test_the_book_queue_is_valid():
    entries = gpu_batch.read_queue()
    assert entries and all(e.get("why") for e in entries)


def test_a_queue_entry_with_an_unknown_kind_is_refused(tmp_path):
    queue = tmp_path / "q.yaml"
    queue.write_text('- {chapter: "03", kinds: [wide, bogus]}\n')
    with pytest.raises(ValueError, match="bogus"):
        gpu_batch.read_queue(queue)


def test_the_round_trip_merges_every_new_record_once(archive, tmp_path):
    path, packed = archive
    with tarfile.open(path) as tar:
        names = sorted(m.name for m in tar.getmembers())
    assert len(names) == len(packed) == 8 and all(n.startswith("00_forgetting/") for n in names)
    first = gpu_batch.import_archive(path, tmp_path, log=lambda *_: None)
    assert len(first["merged"]) == 8 and not first["refused"]
    again = gpu_batch.import_archive(path, tmp_path, log=lambda *_: None)
    assert not again["merged"] and len(again["present"]) == 8


def _rekey(record: dict, **changes) -> None:
    """Change request fields and file the record under the new request's hash, as a careful forger would."""
    record.update(changes)
    record["key"] = request_key({k: record[k] for k in ("chapter", "kind", "code_version", "config", "data")})


def _tampered(archive: Path, tmp_path: Path, change) -> Path:
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.isfile())
        record = json.loads(tar.extractfile(member).read())
    change(record)
    out = tmp_path / "bad.tar.gz"
    body = tmp_path / f"{record['key']}.json"  # filed under its (possibly recomputed) key
    body.write_text(json.dumps(record))
    with tarfile.open(out, "w:gz") as tar:
        tar.add(body, arcname=f"{record['chapter']}/{body.name}")
    return out


@pytest.mark.parametrize("change, why", [
    (lambda r: r["config"].update(seed=99), "not the hash of its request"),
    (lambda r: _rekey(r, code_version=r["code_version"] + 1), "code version"),
    (lambda r: _rekey(r, data=[{"dataset": "mnist", "source": "file", "sha256": "0" * 16}]), "dataset 'mnist'"),
    (lambda r: _rekey(r, chapter="00"), "not a chapter's folder name"),
])  # fmt: skip
def test_an_edited_or_stale_record_is_refused(archive, tmp_path, change, why):
    bad = _tampered(archive[0], tmp_path, change)
    outcome = gpu_batch.import_archive(bad, tmp_path / "results", log=lambda *_: None)
    assert not outcome["merged"] and len(outcome["refused"]) == 1 and why in outcome["refused"][0]
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("*.json"))


def test_an_entry_can_retrain_unverified_records():
    entry = {"chapter": "03", "preset": "committed", "kinds": ["single_task"], "retrain_unverified": True}
    assert gpu_batch._command(entry, Path("r"), 60, "cuda")[-1] == "--retrain-unverified"
    assert "--retrain-unverified" not in gpu_batch._command({"chapter": "03"}, Path("r"), 60, "cuda")


def test_an_archived_record_replaces_a_local_one_only_if_that_is_unverified(archive, tmp_path):
    path, _ = archive
    gpu_batch.import_archive(path, tmp_path, log=lambda *_: None)
    local = sorted((tmp_path / "00_forgetting").glob("*.json"))
    old = {k: v for k, v in json.loads(local[0].read_text()).items() if k != "code_hashes"}
    local[0].write_text(json.dumps({**old, "metrics": {"old": True}}))  # made before records named their modules
    verified_but_other = {**json.loads(local[1].read_text()), "metrics": {"other": True}}
    local[1].write_text(json.dumps(verified_but_other))
    outcome = gpu_batch.import_archive(path, tmp_path, log=lambda *_: None)
    assert outcome["replaced"] == [f"00_forgetting/{local[0].name}"] and not outcome["merged"]
    assert json.loads(local[0].read_text())["code_hashes"], "the archive's record of the current code is in"
    assert json.loads(local[1].read_text())["metrics"] == {"other": True}, "a record of the current code is kept"
    assert any("a different record is kept" in p for p in outcome["present"])


def test_an_unverified_archived_record_never_replaces_a_local_one(archive, tmp_path):
    bad = _tampered(archive[0], tmp_path, lambda r: r.pop("code_hashes"))  # made before records named modules
    with tarfile.open(bad) as tar:
        (member,) = tar.getmembers()
        incoming = json.loads(tar.extractfile(member).read())
    local = tmp_path / "results" / member.name
    local.parent.mkdir(parents=True)
    local.write_text(json.dumps({**incoming, "metrics": {"old": True}}))  # also unverified
    outcome = gpu_batch.import_archive(bad, tmp_path / "results", log=lambda *_: None)
    assert not outcome["replaced"] and json.loads(local.read_text())["metrics"] == {"old": True}

"""The scratch results folder (``_build/runs/results``) and the committed records it is seeded with."""
from __future__ import annotations

import os

from cl_utils import paths


def test_the_scratch_folder_follows_a_committed_record_replaced_in_place_and_keeps_its_own_newer_ones(tmp_path,
                                                                                                      monkeypatch):
    """A record retrained in place (or replaced by an import) is rewritten at its path: the scratch copy made before
    must not keep the old one; a record retrained in the scratch folder after its committed one stays."""
    monkeypatch.setattr(paths, "project_root", lambda: tmp_path)
    monkeypatch.delenv("CL_RESULTS_DIR", raising=False)
    committed = tmp_path / "data" / "results" / "ch"
    committed.mkdir(parents=True)
    (committed / "a.json").write_text('{"made": "old code"}')
    (committed / "b.json").write_text('{"made": "committed"}')
    scratch = paths.run_results_root("ch") / "ch"
    assert (scratch / "a.json").read_text() == '{"made": "old code"}'

    def later(path, than, seconds: float = 10.0):  # mtimes told apart whatever the file system's resolution
        t = than.stat().st_mtime_ns + int(seconds * 1e9)
        os.utime(path, ns=(t, t))

    (committed / "a.json").write_text('{"made": "current code"}')  # retrained in place
    later(committed / "a.json", scratch / "a.json")
    (scratch / "b.json").write_text('{"made": "in the scratch folder"}')  # retrained here, after the committed one
    later(scratch / "b.json", committed / "b.json")
    paths.run_results_root("ch")
    assert (scratch / "a.json").read_text() == '{"made": "current code"}'
    assert (scratch / "b.json").read_text() == '{"made": "in the scratch folder"}'

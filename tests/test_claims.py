"""cl_utils.claims: each chapter's claims as data, and the scorecard page generated from them."""
from __future__ import annotations

import pandas as pd
import pytest

from cl_utils import claims, plots

ROW = {"claim": "Fig. 1: A beats B", "paper": "yes", "this book": "+1.0 points", "data and scale": "MNIST, 3 seeds",
       "status": "reproduced", "reason": "A beats B by 1 point"}  # fmt: skip


def test_rows_need_every_field_and_a_known_status():
    with pytest.raises(ValueError, match="reason"):
        claims.claims_frame([{k: v for k, v in ROW.items() if k != "reason"}])
    with pytest.raises(ValueError, match="status"):
        claims.claims_frame([{**ROW, "status": "mostly"}])
    with pytest.raises(ValueError, match="empty"):
        claims.claims_frame([{**ROW, "data and scale": " "}])
    with pytest.raises(ValueError):
        claims.claims_frame([])


def test_the_chapter_table_stores_its_rows_and_the_scorecard_counts_them(tmp_path):
    folder = tmp_path / "results"
    rows = [ROW, {**ROW, "claim": "Table 2: C | D", "status": "not attempted", "reason": "no GPU"}]
    shown = plots.paper_vs_book(rows, unit="", save_to=folder / "01_packnet")
    assert list(shown.index) == [r["claim"] for r in rows]
    first = (folder / "01_packnet" / "claims.csv").read_bytes()
    plots.paper_vs_book(rows, unit="", save_to=folder / "01_packnet")
    assert (folder / "01_packnet" / "claims.csv").read_bytes() == first, "same rows, same file"
    plots.paper_vs_book([{**ROW, "status": "partly"}], unit="", save_to=folder / "03_clnp")
    frame = claims.read_all(folder)
    assert list(frame.chapter) == ["01_packnet", "01_packnet", "03_clnp"]
    page = claims.scorecard_markdown(frame)
    assert "| PackNet | 1 | 0 | 0 | 0 | 1 | 2 |" in page
    assert "| Continual Learning via Neural Pruning | 0 | 1 | 0 | 0 | 0 | 1 |" in page
    assert "| **all** | **1** | **1** | **0** | **0** | **1** | **3** |" in page
    assert "Table 2: C \\| D" in page, "a '|' inside a cell must not split the markdown table"
    assert "## [PackNet](01_packnet.ipynb)" in page  # each chapter's rows link to the chapter
    assert page.count(ROW["data and scale"]) == 2, "a scale line appears once per chapter, not once per row"
    assert "* **Table 2: C \\| D**: not attempted. no GPU" in page


def test_a_table_without_save_to_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plots.paper_vs_book([{"claim": "x", "paper": "1", "this book": "2"}])
    assert not list(tmp_path.rglob("*.csv"))
    assert isinstance(claims.claims_frame([ROW]), pd.DataFrame)

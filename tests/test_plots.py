"""cl_utils.plots: the style, heat maps, saving and the paper-vs-book table."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cl_utils import plots  # noqa: E402


def test_heatmap_and_savefig(tmp_path):
    plots.set_style()
    fig, ax = plt.subplots()
    plots.accuracy_heatmap(ax, [[99.0, 10.0], [50.0, 98.0]], ["A", "B"], title="t")
    assert ax.get_xlabel() == "evaluated on task"
    assert [t.get_text() for t in ax.texts] == ["99.0", "50.0", "98.0"]  # the untrained cell is hidden
    path = plots.savefig(fig, "fig1_heatmap", tmp_path / "figs")
    plt.close(fig)
    assert path.name == "fig1_heatmap.svg" and path.stat().st_size > 1000


def test_paper_vs_book_table():
    table = plots.paper_vs_book(
        [
            {"claim": "average accuracy", "paper": "98.42 ± 0.04", "this book": "98.1 ± 0.1", "setting": "x"},
            {"claim": "single task", "paper": None, "this book": 98.5},
        ]
    )
    assert list(table.columns) == ["paper (%)", "this book (%)", "setting"]
    assert table.loc["single task", "paper (%)"] == "n/a"
    with pytest.raises(KeyError, match="paper"):
        plots.paper_vs_book([{"claim": "x", "this book": 1}])

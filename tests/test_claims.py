"""cl_utils.claims: each chapter's claims as data, and the scorecard page generated from them."""
from __future__ import annotations

import os
import shlex
import subprocess
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from cl_utils import claims, experiments, plots

KEYS = ("0123456789abcdef", "fedcba9876543210")
ROW = {"claim": "Fig. 1: A beats B", "paper": "yes", "this book": "+1.0 points", "data and scale": "MNIST, 3 seeds",
       "status": "reproduced", "reason": "A beats B by 1 point", "records": " ".join(KEYS),
       "command": "make reproduce NB=book/01_packnet.ipynb"}  # fmt: skip
UNTESTED = {**ROW, "status": "not attempted", "records": claims.NO_RECORDS}


def test_rows_need_every_field_and_a_known_status():
    with pytest.raises(ValueError, match="reason"):
        claims.claims_frame([{k: v for k, v in ROW.items() if k != "reason"}])
    with pytest.raises(ValueError, match="status"):
        claims.claims_frame([{**ROW, "status": "mostly"}])
    with pytest.raises(ValueError, match="empty"):
        claims.claims_frame([{**ROW, "data and scale": " "}])
    with pytest.raises(ValueError):
        claims.claims_frame([])
    with pytest.raises(ValueError, match="records"):
        claims.claims_frame([{k: v for k, v in ROW.items() if k != "records"}])


def test_a_row_names_its_records_and_only_a_row_no_run_tests_names_none():
    assert claims.run_keys([{"key": KEYS[1]}, {"key": KEYS[0]}], [{"key": KEYS[1]}]) == " ".join(KEYS)
    assert claims.run_keys([], []) == claims.NO_RECORDS
    claims.claims_frame([ROW, UNTESTED])
    with pytest.raises(ValueError, match="rests on no record"):
        claims.claims_frame([{**ROW, "records": claims.NO_RECORDS}])
    with pytest.raises(ValueError, match="rests on 2 record"):
        claims.claims_frame([{**UNTESTED, "records": ROW["records"]}])
    with pytest.raises(ValueError, match="run keys"):
        claims.claims_frame([{**ROW, "records": "wide_0 wide_1"}])


def _params(chapter: str, values: dict, preset: str | None = None):
    module = experiments.load(chapter)
    return module.Params.from_values({**values, **({"preset": preset} if preset else {})},
                                      experiments.preset(chapter, preset) if preset else None)


def _parsed(command: str) -> dict:
    """The -p values of a ``make run ... ARGS="..."`` command, as the shell and papermill pass them on."""
    words = shlex.split(command)
    assert words[:2] == ["make", "run"]
    args = shlex.split(words[-1].removeprefix("ARGS="))
    assert args[::3] == ["-p"] * (len(args) // 3) and len(args) % 3 == 0
    return {args[i + 1]: args[i + 2] for i in range(0, len(args), 3)}


def test_the_command_reruns_the_rows_parameters():
    committed = _params("03_clnp", {}, "committed")
    assert claims.regenerate_command("03_clnp", committed) == "make reproduce NB=book/03_clnp.ipynb"
    changed = _params("03_clnp", {"repetitions": 2, "wide_alphas": [1e-7, 2e-5, 1e-6], "wide_lr": 0.001,
                                  "data_source": "auto"})  # fmt: skip
    values = _parsed(claims.regenerate_command("03_clnp", changed))
    assert set(values) == {"repetitions", "wide_alphas", "wide_lr"}, "only what differs, never a running setting"
    assert _params("03_clnp", values) == changed, "the command's values read back as the run's parameters"
    on_top = committed.repetitions + 1  # a value the preset does not hold
    on_preset = _params("03_clnp", {"repetitions": on_top}, "committed")
    values = _parsed(claims.regenerate_command("03_clnp", on_preset))
    assert values == {"preset": "committed", "repetitions": str(on_top)}, "a preset, and what is set on top of it"


def test_stored_rows_carry_the_command_and_the_table_shows_a_count(tmp_path):
    rows = [{k: v for k, v in ROW.items() if k != "command"}]
    with pytest.raises(TypeError, match="params"):
        plots.paper_vs_book(rows, unit="", save_to=tmp_path / "03_clnp")
    shown = plots.paper_vs_book(rows, unit="", save_to=tmp_path / "03_clnp", params=_params("03_clnp", {}, "committed"))
    assert "records" not in shown and "command" not in shown and list(shown["runs"]) == [2]
    stored = pd.read_csv(tmp_path / "03_clnp" / "claims.csv")
    assert list(stored["command"]) == ["make reproduce NB=book/03_clnp.ipynb"]
    assert list(stored["records"]) == [ROW["records"]]


def test_the_chapter_table_stores_its_rows_and_the_scorecard_counts_them(tmp_path):
    folder = tmp_path / "results"
    rows = [ROW, {**UNTESTED, "claim": "Table 2: C | D", "reason": "no GPU"}]
    shown = plots.paper_vs_book(rows, unit="", save_to=folder / "01_packnet", params=_params("01_packnet", {}))
    assert list(shown.index) == [r["claim"] for r in rows]
    first = (folder / "01_packnet" / "claims.csv").read_bytes()
    plots.paper_vs_book(rows, unit="", save_to=folder / "01_packnet", params=_params("01_packnet", {}))
    assert (folder / "01_packnet" / "claims.csv").read_bytes() == first, "same rows, same file"
    plots.paper_vs_book([{**ROW, "status": "partly"}], unit="", save_to=folder / "03_clnp",
                        params=_params("03_clnp", {}))
    frame = claims.read_all(folder)
    assert list(frame.chapter) == ["01_packnet", "01_packnet", "03_clnp"]
    page = claims.scorecard_markdown(frame)
    assert "| PackNet | 1 | 0 | 0 | 0 | 1 | 2 |" in page
    assert "| Continual Learning via Neural Pruning | 0 | 1 | 0 | 0 | 0 | 1 |" in page
    assert "| **all** | **1** | **1** | **0** | **0** | **1** | **3** |" in page
    assert "Table 2: C \\| D" in page, "a '|' inside a cell must not split the markdown table"
    assert "## [PackNet](01_packnet.ipynb)" in page  # each chapter's rows link to the chapter
    assert page.count(ROW["data and scale"]) == 2, "a scale line appears once per chapter, not once per row"
    assert "* **Table 2: C \\| D**: not attempted. no GPU (no run)" in page
    assert "* **Fig. 1: A beats B**: reproduced. A beats B by 1 point (2 run records)" in page
    assert "`make reproduce NB=book/01_packnet.ipynb`" in page, "the rows' own command regenerates them"


def test_a_table_without_save_to_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plots.paper_vs_book([{"claim": "x", "paper": "1", "this book": "2"}])
    assert not list(tmp_path.rglob("*.csv"))
    assert isinstance(claims.claims_frame([ROW]), pd.DataFrame)


class _Odd:
    """Parameters with values that need quoting: a list of strings with a space, a string, tiny floats."""

    RUNNING = ("train",)
    preset = "smoke"

    @staticmethod
    def defaults() -> dict:
        return {"names": [], "label": "", "alphas": [1.0], "train": False}

    @classmethod
    def from_values(cls, values: dict, preset_values: dict) -> SimpleNamespace:
        """As Params: the preset's values over the defaults, then ``values``."""
        return SimpleNamespace(as_dict=lambda: {**cls.defaults(), **preset_values, **values})

    @staticmethod
    def as_dict() -> dict:
        return {"names": ["split mnist", "it's"], "label": 'say "hi" $HOME', "alphas": [1e-07, 2e-05],
                "train": True, "preset": "smoke"}  # fmt: skip


def test_the_command_survives_the_users_shell_and_makes_recipe_shell(monkeypatch, tmp_path):
    """make hands ARGS to its recipe's shell, which parses the words again: what papermill receives must read
    back (as the parameters read a -p value, with YAML) as the values the run had."""
    monkeypatch.setattr(experiments, "preset", lambda chapter, name: {})
    command = claims.regenerate_command("03_clnp", _Odd)
    words = shlex.split(command)  # the user's shell
    assert words[:3] == ["make", "run", "NB=book/03_clnp.ipynb"] and words[3].startswith("ARGS=")
    args = shlex.split(words[3].removeprefix("ARGS=").replace("$$", "$"))  # make, then the recipe's shell
    values = {args[i + 1]: yaml.safe_load(args[i + 2]) for i in range(0, len(args), 3)}
    assert values == {"preset": "smoke", **{k: v for k, v in _Odd.as_dict().items() if k not in ("train", "preset")}}
    makefile = tmp_path / "Makefile"  # and through a real make: ARGS as the recipe's shell passes it on
    makefile.write_text("run:\n\t@printf '%s\\n' $(ARGS)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # not a sub-make of make test
    shell = subprocess.run(["bash", "-c", f"cd {shlex.quote(str(tmp_path))} && {command}"], capture_output=True,
                           text=True, check=True, env=env)  # fmt: skip
    assert shell.stdout.splitlines() == args

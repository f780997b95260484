"""The claims table: every paper claim a chapter checks, with our number and a status, stored as data.

Each chapter ends with a "paper vs. this book" table (:func:`cl_utils.plots.paper_vs_book`).
Its rows are also written to ``<results>/<chapter>/claims.csv`` beside the chapter's run
records, and the book's scorecard page (``book/scorecard.md``) is generated from those
files by ``python -m cl_utils.claims``, so a claim's status is typed once, in its chapter.

A row has: ``claim`` (what the paper says is true, with its figure or table number),
``paper`` (its value), ``this book`` (ours), ``data and scale`` (what ours came from),
``status`` (one of :data:`STATUSES`, judged by the rules of :mod:`cl_utils.verdicts` where a
chapter has moved to them), ``reason`` (one line: why that status), ``records`` (the keys of the run
records the row rests on, :func:`run_keys`; a reader can open each ``<key>.json`` beside the file) and
``command`` (the one command that trains those records at this scale and writes the rows again,
:func:`regenerate_command`). Only a "not attempted" row rests on no record, and it must rest on none.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
import yaml

from .chapters import REGISTRY
from .paths import project_root, results_root

__all__ = ["STATUSES", "COLUMNS", "NO_RECORDS", "run_keys", "regenerate_command", "claims_frame", "write",
           "read_all", "scorecard_markdown", "main"]

STATUSES = ("reproduced", "partly", "inconclusive", "not reproduced", "not attempted")
COLUMNS = ("claim", "paper", "this book", "data and scale", "status", "reason", "records", "command")
NO_RECORDS = "none"  # the records of a row that no run tests ("not attempted")
FILE = "claims.csv"
CHAPTER_TITLES = {c.folder: c.title for c in REGISTRY}  # derived from cl_utils.chapters
_KEY = re.compile(r"[0-9a-f]{16}")


def run_keys(*groups: Iterable[Mapping[str, Any]]) -> str:
    """The ``records`` field of a row: the keys of the run records in ``groups``, sorted, each once,
    space-separated; :data:`NO_RECORDS` when there are none."""
    return " ".join(sorted({r["key"] for group in groups for r in group})) or NO_RECORDS


def _cli_value(value: Any) -> str:
    """``value`` as one shell word that the parameters' YAML parsing (:func:`yaml.safe_load`) reads back
    unchanged: YAML flow style, which quotes a string only where it must, and with single quotes."""
    text = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True, width=10**6)
    return shlex.quote(text.strip().removesuffix("\n...").strip())


def regenerate_command(chapter: str, params: Any) -> str:
    """The one command that trains the records of ``chapter`` at ``params`` (those missing) and writes its rows
    again: ``make reproduce`` for the committed preset as it is (what the book shows), else ``make run`` with
    the preset and every value set on top of it (``-p name value``, as papermill passes them)."""
    from .experiments import preset as preset_values  # late: experiments imports this module's users

    # the preset as parameters, validated as the run's were (a preset's 1e-3 is a float there, not YAML's string)
    base = params.from_values({"preset": params.preset}, preset_values(chapter, params.preset)).as_dict() \
        if params.preset else params.defaults()
    running = set(params.RUNNING)
    overrides = {k: v for k, v in params.as_dict().items() if k not in running and base.get(k) != v}
    notebook = f"book/{chapter}.ipynb"
    if params.preset == "committed" and not overrides:
        return f"make reproduce NB={notebook}"
    args = ([f"-p preset {params.preset}"] if params.preset else []) + [f"-p {k} {_cli_value(v)}"
                                                                          for k, v in overrides.items()]
    if not args:
        return f"make run NB={notebook}"
    # make expands $ in ARGS ($$ is a $) and hands it to the recipe's shell, which parses the words again: quote
    # the whole value once more
    joined = " ".join(args).replace("$", "$$")
    return f"make run NB={notebook} ARGS=" + (f'"{joined}"' if not set(joined) & set("\"$`\\") else shlex.quote(joined))


def claims_frame(rows: Sequence[Mapping[str, str]]) -> pd.DataFrame:
    """The rows as a table with :data:`COLUMNS`; a missing field or an unknown status is an error."""
    frame = pd.DataFrame([dict(r) for r in rows])
    missing = [c for c in COLUMNS if c not in frame]
    if missing or frame.empty:
        raise ValueError(f"claims rows need the fields {list(COLUMNS)}; missing {missing or 'every row'}")
    bad = sorted(set(frame["status"]) - set(STATUSES))
    if bad:
        raise ValueError(f"unknown claim status {bad}; use one of {STATUSES}")
    empty = frame[list(COLUMNS)].isna() | (frame[list(COLUMNS)].astype(str).apply(lambda c: c.str.strip()) == "")
    if empty.any().any():
        raise ValueError(f"empty claim fields in rows {sorted(frame.index[empty.any(axis=1)].tolist())}")
    for i, row in frame.iterrows():
        keys = str(row["records"]).split()
        if keys != [NO_RECORDS] and not all(_KEY.fullmatch(k) for k in keys):
            raise ValueError(f"row {i} ({row['claim']!r}): records must be run keys (cl_utils.claims.run_keys) "
                             f"or {NO_RECORDS!r}, not {row['records']!r}")
        if (keys == [NO_RECORDS]) != (row["status"] == "not attempted"):
            raise ValueError(f"row {i} ({row['claim']!r}) is {row['status']!r} but rests on "
                             f"{'no record' if keys == [NO_RECORDS] else f'{len(keys)} record(s)'}: only a 'not "
                             f"attempted' row rests on none, and it on none")
    return frame[list(COLUMNS)].astype(str)


def write(rows: Sequence[Mapping[str, str]], directory: str | os.PathLike, command: str | None = None) -> Path:
    """Store a chapter's claims as ``<directory>/claims.csv`` (byte-stable: same rows, same file). ``command``
    (:func:`regenerate_command`) fills the ``command`` field of every row that has none."""
    path = Path(directory) / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    filled = [{**row, "command": command} if command and not row.get("command") else row for row in rows]
    claims_frame(filled).to_csv(path, index=False, lineterminator="\n")
    return path


def read_all(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every chapter's claims, with a ``chapter`` column, in chapter order."""
    folder = results_root(root)
    frames = [pd.read_csv(path, dtype=str, keep_default_na=False).assign(chapter=path.parent.name)
              for path in sorted(folder.glob(f"*/{FILE}"))]  # fmt: skip
    if not frames:
        raise FileNotFoundError(f"no {FILE} under {folder}; execute the chapters first")
    return pd.concat(frames, ignore_index=True)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def scorecard_markdown(claims: pd.DataFrame) -> str:
    """The scorecard page: counts per status and chapter, then every claim (MyST markdown)."""
    counts = pd.crosstab(claims["chapter"], claims["status"]).reindex(columns=list(STATUSES), fill_value=0)
    lines = [
        "# Scorecard: every claim, and whether this book reproduced it",
        "",
        "<!-- Generated by `python -m cl_utils.claims` from data/results/<chapter>/claims.csv; do not edit. -->",
        "",
        "Each chapter ends with a table of its paper's claims beside our numbers. This page collects",
        "those rows, unchanged, from the files the chapters write beside their run records. A status",
        "says what our committed run shows at the scale it ran (stated in the row, and in the chapter):",
        "",
        "* **reproduced**: our number agrees with the paper's claim, in direction and roughly in size;",
        "* **partly**: the direction holds but not the size, or it holds for some settings only;",
        "* **inconclusive**: our data cannot test the claim (a difference inside the noise, a stand-in",
        "  that lacks the property);",
        "* **not reproduced**: our run contradicts the claim;",
        "* **not attempted**: no committed run tests it (the reason says why: data or compute).",
        "",
        "Every chapter's statuses are earned by the shared rules of `cl_utils.verdicts`: the distance to",
        "the paper's number in standard errors (over seeds or orders, paired where two settings share",
        "them, or of the test set for one run, combined with the paper's own spread): within 2 SE on at",
        "least 3 runs is reproduced; a claim about several settings at once is reproduced when each part",
        "is, partly when at least half are. Each row's reason, with the data and scale it rests on, is",
        "folded under its chapter's table.",
        "",
        "## Counts",
        "",
        "| chapter | " + " | ".join(STATUSES) + " | claims |",
        "|---|" + "---:|" * (len(STATUSES) + 1),
    ]
    for chapter, row in counts.iterrows():
        lines.append(f"| {CHAPTER_TITLES.get(chapter, chapter)} | " + " | ".join(str(int(row[s])) for s in STATUSES)
                     + f" | {int(row.sum())} |")  # fmt: skip
    total = counts.sum()
    lines.append("| **all** | " + " | ".join(f"**{int(total[s])}**" for s in STATUSES) + f" | **{int(total.sum())}** |")
    for chapter, rows in claims.groupby("chapter", sort=False):
        lines += _chapter_section(chapter, rows)
    return "\n".join(lines) + "\n"


def _chapter_section(chapter: str, rows: pd.DataFrame) -> list[str]:
    """A chapter's rows: a short table (claim, the two numbers, status) under a link to the chapter, then, folded,
    the data and scale (each distinct line once, numbered), every row's reason and number of records, and the
    command that regenerates the rows (the long text stays out of the table, so the page stays short)."""
    title = CHAPTER_TITLES.get(chapter, chapter)
    scales = list(dict.fromkeys(rows["data and scale"]))
    out = ["", f"## [{title}]({chapter}.ipynb)", "", "| claim | paper | this book | status | scale |",
           "|---|---|---|---|---:|"]  # fmt: skip
    out += [f"| {_cell(r['claim'])} | {_cell(r['paper'])} | {_cell(r['this book'])} | {r['status']} | "
            f"[{scales.index(r['data and scale']) + 1}] |" for _, r in rows.iterrows()]  # fmt: skip
    out += ["", ":::{dropdown} Data and scale, the reason for each status, and how to regenerate these rows", ""]
    out += [f"[{i + 1}] {_cell(text)}" + "\n" for i, text in enumerate(scales)]
    out += [f"* **{_cell(r['claim'])}**: {r['status']}. {_cell(r['reason'])} ({_records_said(r['records'])})"
            for _, r in rows.iterrows()]  # fmt: skip
    commands = " or ".join(f"`{c}`" for c in dict.fromkeys(rows["command"]))
    out += ["", f"Regenerate these rows: {commands} (trains the runs whose records are missing, then executes the "
            f"chapter). The keys of each row's records are in the `records` column of "
            f"`data/results/{chapter}/{FILE}`; each record is `data/results/{chapter}/<key>.json`.", ":::"]
    return out


def _records_said(records: str) -> str:
    """A row's ``records`` field in words for the scorecard: "no run" or "N run record(s)"."""
    keys = str(records).split()
    return "no run" if keys == [NO_RECORDS] else f"{len(keys)} run record{'s' if len(keys) > 1 else ''}"


def page_path() -> Path:
    return project_root() / "book" / "scorecard.md"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write book/scorecard.md from every chapter's claims.csv.")
    parser.add_argument("--results", default=None, help="results folder (default: the book's data/results)")
    parser.add_argument("--check", action="store_true", help="only check that the page is up to date")
    args = parser.parse_args(argv)
    text = scorecard_markdown(read_all(args.results))
    if args.check:
        current = page_path().read_text() if page_path().is_file() else ""
        if current != text:
            print(f"{page_path()} is out of date: run python -m cl_utils.claims")
            return 1
        return 0
    page_path().write_text(text)
    print(f"wrote {page_path()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

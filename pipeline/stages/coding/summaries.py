"""Analysts' summaries of matrix cells (a framework matrix), written in ``evidence_matrix.html``
and saved as ``summaries.csv`` (any name) under ``coding/`` beside the coding files.

A summaries file has the columns :data:`pipeline.schemas.SUMMARY_COLUMNS`: ``matrix`` (the
matrix of the cell: ``question_by_group``), ``question`` (an evaluation question id),
``column`` (a stakeholder group id), ``coder`` (who wrote it), ``summary`` (the text) and
``segments`` (the segment ids it cites, separated by spaces). Summaries are the reviewers' own
text, so the privacy guard scans them as it scans memos (field ``summary``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.config.evaluation import Evaluation
from pipeline.errors import InputError, Problem
from pipeline.exchange.spreadsheets import read_sheet
from pipeline.schemas import SUMMARY_COLUMNS

MATRICES = ("question_by_group",)  # the matrices whose cells take a summary
# The placed summaries: the file's columns, with the file and row they came from.
COLUMNS = ["file", "row", "session_id", *SUMMARY_COLUMNS]


def is_summaries(columns) -> bool:
    """Whether a file under ``coding/`` with these (lower-case) columns holds summaries."""
    return "summary" in set(columns)


def empty_summaries() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS).astype(str)


def read_summaries(paths: list[Path], *, evaluation: Evaluation) -> pd.DataFrame:
    """The summaries in those of ``paths`` that are summaries files (:func:`is_summaries`), one
    row per summary (columns :data:`COLUMNS`; ``session_id`` is empty: a summary speaks of a
    cell, not a session), in file and row order. Every problem (a missing column, an unknown
    matrix, question or group, an empty coder) raises :class:`InputError`, all at once."""
    questions, groups = set(evaluation.ids("questions")), set(evaluation.ids("stakeholder_groups"))
    rows, problems = [], []
    for path in paths:
        try:
            table = read_sheet(path, lower_columns=True)
        except (OSError, ValueError):
            continue  # the human-coding reader reports a file it cannot read
        if not is_summaries(table.columns):
            continue
        missing = [c for c in SUMMARY_COLUMNS if c not in table.columns]
        if missing:
            problems.append(Problem(str(path), f"lacks the column(s) {', '.join(missing)}.",
                                    "Export the summaries again from evidence_matrix.html (README.md, "
                                    "'Reviewing in the browser').", "row 1"))
            continue
        for number, row in enumerate(table.to_dict("records"), start=2):
            if not any(row.values()):
                continue
            where = f"row {number}"
            found = [(row["matrix"] in MATRICES, f"matrix '{row['matrix']}' is not one of {', '.join(MATRICES)}."),
                     (row["question"] in questions, f"'{row['question']}' is not a question of evaluation.yaml."),
                     (row["column"] in groups, f"'{row['column']}' is not a stakeholder group of evaluation.yaml."),
                     (bool(row["coder"].strip()), "the coder is empty.")]
            wrong = [message for ok, message in found if not ok]
            if wrong:
                problems.append(Problem(str(path), " ".join(wrong), "Correct the row or export it again.", where))
                continue
            rows.append({"file": path.name, "row": number, "session_id": "",
                         **{c: str(row[c]).strip() if c != "summary" else str(row[c]) for c in SUMMARY_COLUMNS}})
    if problems:
        raise InputError(problems)
    return pd.DataFrame(rows, columns=COLUMNS).astype({"row": "int64"}) if rows else empty_summaries()


def cited_segments(summary: str) -> list[str]:
    """The segment ids of a summary's ``segments`` cell."""
    return [s for s in str(summary).replace(",", " ").split() if s]


def unknown_citations(summaries: pd.DataFrame, segments: pd.DataFrame) -> list[Problem]:
    """A warning per summary citing a segment SEGMENTS does not hold (the transcript changed)."""
    known = set(segments["segment_id"])
    problems = []
    for r in summaries.itertuples(index=False):
        gone = [s for s in cited_segments(r.segments) if s not in known]
        if gone:
            problems.append(Problem(f"coding/{r.file}", f"the summary of {r.question} x {r.column} cites "
                                                       f"{', '.join(gone)}, which no longer exist(s); the summary "
                                                       f"is shown, those citations are marked as gone.",
                                    "Check the summary against the new segments and export it again.",
                                    f"row {r.row}"))
    return problems

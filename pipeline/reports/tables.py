"""The run's tables as CSV and JSON, for spreadsheets and other programs.

Three reports: the matrices (``matrices/<name>.csv`` and all of them in ``evidence.json``,
both streamed, :mod:`pipeline.reports.pieces`), the tables of the run (sessions, segments,
codings, the review queue, the quotes that could not be placed), and, under ``redact`` only,
the redaction log.
"""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from pipeline.reports.pieces import csv_pieces, json_pieces
from pipeline.reports.report import Output, Report, RunTables
from pipeline.runtime.outputs import SPLICE, StreamedText
from pipeline.schemas import CODINGS_COLUMNS
from pipeline.stages.coding.combine import review_queue
from pipeline.stages.turns import RESPONDENT


def build_matrix_tables(tables: RunTables) -> Iterator[tuple[str, StreamedText]]:
    """``matrices/<name>.csv`` for each of :meth:`RunTables.sheets`, then ``evidence.json`` with them all."""
    sheets = tables.sheets()
    for name, frame in sheets.items():
        yield f"matrices/{name}.csv", StreamedText.of(csv_pieces(frame))
    # No indentation: Python's JSON encoder in C only serves unindented output (6x faster).
    yield "evidence.json", StreamedText(SPLICE + "\n", json_pieces(sheets, ensure_ascii=False, default=str))


def sessions_table(transcripts: pd.DataFrame, turns: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """One row per session for people: the register's metadata (TRANSCRIPTS without the text)
    and what was found in it (``turns``, ``respondent_turns``, ``segments``, ``words``)."""
    per_turn = turns.assign(respondent=turns["role"] == RESPONDENT).groupby("session_id").agg(
        turns=("turn_id", "size"), respondent_turns=("respondent", "sum"))
    per_segment = segments.groupby("session_id").agg(segments=("segment_id", "size"), words=("words", "sum"))
    return (transcripts.drop(columns=["text"]).set_index("session_id")
            .join(per_turn).join(per_segment).fillna({"segments": 0, "words": 0})
            .astype({"turns": "int64", "respondent_turns": "int64", "segments": "int64", "words": "int64"})
            .reset_index())


def build_run_tables(tables: RunTables) -> Iterator[tuple[str, pd.DataFrame]]:
    """``sessions.csv``, ``segments.csv``, ``codings.csv``, ``review_queue.csv`` and ``unplaced_quotes.csv``."""
    yield "sessions.csv", sessions_table(tables.transcripts, tables.turns, tables.segments)
    yield "segments.csv", tables.segments
    yield "codings.csv", tables.codings[CODINGS_COLUMNS]
    yield "review_queue.csv", review_queue(tables.codings, tables.segments)
    yield "unplaced_quotes.csv", tables.unplaced


def build_redaction_log(tables: RunTables) -> Iterator[tuple[str, pd.DataFrame]]:
    """``redaction_log.csv``: what ``redact`` replaced, where (never the text it replaced)."""
    yield "redaction_log.csv", tables.redaction_log


MATRICES = Report("matrix tables", (Output("matrices", "csv", folder=True), Output("evidence.json", "json")),
                  build_matrix_tables)
RUN = Report("run tables", tuple(Output(name, "csv") for name in (
    "sessions.csv", "segments.csv", "codings.csv", "review_queue.csv", "unplaced_quotes.csv")), build_run_tables)
REDACTION_LOG = Report("redaction log", (Output("redaction_log.csv", "csv"),), build_redaction_log,
                       when=lambda tables: tables.privacy_policy == "redact")

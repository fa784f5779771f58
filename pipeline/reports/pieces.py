"""Large tables as text a few thousand rows at a time, for reports written as they are made.

At 50x the sample, the evidence matrix page built whole took a gigabyte more than the run held;
its data, ``evidence.json`` and the matrices' CSV files are therefore made as pieces that
:class:`pipeline.runtime.outputs.StreamedText` writes as they come. Joined, the pieces are what
one call to ``json.dumps`` or ``to_csv`` gives (tested).
"""

from __future__ import annotations

import json
from typing import Iterator

import pandas as pd

from pipeline.exchange.spreadsheets import formula_safe

ROWS_PER_PIECE = 2000  # rows of a large table turned into text together


def row_lists(frame: pd.DataFrame) -> list[list]:
    """Each row of ``frame`` as the list of its values (missing values as None), as :func:`records`."""
    columns = [[None if v is pd.NA else v for v in frame[c].tolist()] for c in frame.columns]
    return [list(row) for row in zip(*columns)]


def records(frame: pd.DataFrame) -> list[dict]:
    """``frame.to_dict("records")``, built from column lists: several times faster on
    Arrow-backed columns, with missing values (``pd.NA``) as None as there."""
    columns = [[None if v is pd.NA else v for v in frame[c].tolist()] for c in frame.columns]
    names = [str(c) for c in frame.columns]
    return [dict(zip(names, row)) for row in zip(*columns)]


class Rows:
    """A table for :func:`json_pieces` to write as a list of rows, each the list of its values in
    column order: a page's large table without its column names repeated on every row."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame


def json_pieces(data: dict, **options) -> Iterator[str]:
    """``json.dumps(data, sort_keys=True, **options)`` in pieces, where ``data``'s tables are
    lists of records (:func:`records`), or of row lists for a :class:`Rows`, made
    :data:`ROWS_PER_PIECE` rows at a time."""
    options = {**options, "sort_keys": True}
    yield "{"
    for number, key in enumerate(sorted(data)):
        yield (", " if number else "") + json.dumps(key, **options) + ": "
        value = data[key]
        if isinstance(value, Rows):
            yield "["
            for first in range(0, len(value.frame), ROWS_PER_PIECE):
                yield (", " if first else "") + json.dumps(row_lists(value.frame.iloc[first:first + ROWS_PER_PIECE]),
                                                           **options)[1:-1]
            yield "]"
            continue
        if not isinstance(value, pd.DataFrame):
            yield json.dumps(value, **options)
            continue
        yield "["
        for first in range(0, len(value), ROWS_PER_PIECE):
            # A list's JSON is its items' JSON between brackets, joined by ", ".
            yield (", " if first else "") + json.dumps(records(value.iloc[first:first + ROWS_PER_PIECE]), **options)[1:-1]
        yield "]"
    yield "}"


def safe_json(data: dict) -> Iterator[str]:
    """:func:`json_pieces` for a page's data block: "</script>" inside a quote must not close it."""
    for piece in json_pieces(data, ensure_ascii=False):
        yield piece.replace("<", "\\u003c").replace(">", "\\u003e")


def csv_pieces(frame: pd.DataFrame) -> Iterator[str]:
    """``frame.to_csv(index=False)``, :data:`ROWS_PER_PIECE` rows at a time."""
    for first in range(0, max(len(frame), 1), ROWS_PER_PIECE):
        yield formula_safe(frame.iloc[first:first + ROWS_PER_PIECE]).to_csv(index=False, header=first == 0,
                                                                             lineterminator="\n")

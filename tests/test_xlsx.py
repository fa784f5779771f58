"""The workbook writer: what goes in comes back out, through openpyxl, in both its modes."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

import pipeline.reports.workbook
from pipeline.runtime.outputs import stable_zip
from pipeline.reports.workbook import column_letters, workbook


def test_column_letters():
    assert [column_letters(n) for n in (0, 25, 26, 51, 52, 701, 702)] == ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]


@pytest.mark.parametrize("read_only", [True, False])
def test_values_come_back_as_written(read_only):
    frame = pd.DataFrame({
        "text": ["plain", " leading and trailing ", "<b>markup</b> & \"quotes\"", "ñandú, acción", "", None],
        "count": np.arange(6, dtype="int64"),
        "share": [0.5, 1 / 3, float("nan"), 2.0, -1e-9, 1e20],
        "flag": [True, False, True, False, True, False],
        "stance": pd.array(["positive", "negative", None, "mixed", "neutral", "x\x0by"], dtype="string"),
    })
    book = openpyxl.load_workbook(io.BytesIO(workbook({"a sheet name longer than thirty-one chars": frame,
                                                       "other": frame.head(0)})), read_only=read_only)
    assert book.sheetnames == ["a sheet name longer than thirty", "other"]
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0] == ("text", "count", "share", "flag", "stance")
    assert [r[0] for r in rows[1:]] == ["plain", " leading and trailing ", "<b>markup</b> & \"quotes\"",
                                        "ñandú, acción", None, None]
    assert [r[1] for r in rows[1:]] == [0, 1, 2, 3, 4, 5]
    assert [r[2] for r in rows[1:]] == [0.5, 1 / 3, None, 2, -1e-9, 1e20]
    assert [r[3] for r in rows[1:]] == [True, False, True, False, True, False]
    assert [r[4] for r in rows[1:]] == ["positive", "negative", None, "mixed", "neutral", "xy"]
    assert list(book.worksheets[1].iter_rows(values_only=True)) == [("text", "count", "share", "flag", "stance")]


def test_the_file_is_the_same_bytes_every_time():
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    first = workbook({"t": frame})
    assert first == workbook({"t": frame})
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2000, 1, 1, 0, 0, 0)}
        assert archive.namelist() == sorted(archive.namelist())


def test_sheet_names_that_clash_once_cut_are_refused():
    with pytest.raises(ValueError, match="31 characters"):
        workbook({"x" * 31 + "a": pd.DataFrame(), "x" * 31 + "b": pd.DataFrame()})


def test_equal_values_of_different_types_keep_their_own_type():
    """Cells are made once per distinct value: True, 1 and 1.0 are equal in Python, not in a cell."""
    frame = pd.DataFrame({"mixed": pd.array([True, 1, 1.0, "1", None, True, 1, float("nan"), 1.5], dtype=object)})
    rows = list(openpyxl.load_workbook(io.BytesIO(workbook({"t": frame}))).worksheets[0].iter_rows(values_only=True))
    values = [r[0] for r in rows[1:]]
    assert values == [True, 1, 1, "1", None, True, 1, None, 1.5]
    assert [type(v) for v in values] == [bool, int, float, str, type(None), bool, int, type(None), float]


def test_a_member_given_in_pieces_zips_as_the_whole_does():
    rng = np.random.default_rng(0)
    words = np.array(["coordinación", "mesa", "fiscal", "<c r=", "1", "\n", "ñ"])
    pieces = ["".join(rng.choice(words, size=int(n))).encode() for n in rng.integers(0, 40_000, size=60)]
    assert sum(map(len, pieces)) > 2_000_000
    assert stable_zip({"a.xml": iter(pieces), "b": b"x"}) == stable_zip({"a.xml": b"".join(pieces), "b": b"x"})


def test_sheets_written_a_few_rows_at_a_time_are_the_same_bytes(monkeypatch):
    frame = pd.DataFrame({"text": [f"quote {i % 7} <&>" for i in range(53)], "n": np.arange(53),
                          "share": [i / 3 for i in range(53)]})
    tables = {"quotes": frame, "empty": frame.head(0), "one": frame.head(1)}
    whole = workbook(tables)
    monkeypatch.setattr(pipeline.reports.workbook, "ROWS_PER_PIECE", 5)
    assert workbook(tables) == whole
    rows = list(openpyxl.load_workbook(io.BytesIO(whole)).worksheets[0].iter_rows(values_only=True))
    assert rows[1:] == [(f"quote {i % 7} <&>", i, i / 3) for i in range(53)]

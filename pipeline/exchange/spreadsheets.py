"""Tables people keep in spreadsheets: CSV (any of the accepted encodings, comma or semicolon)
or XLSX, read as text so that nothing is reinterpreted (a session id "007" stays "007").

The register, code sheets and human-coding files are all read with :func:`read_sheet`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd

from pipeline.text import decode


# A cell a spreadsheet would run as a formula, or as one after a tab or a return (OWASP, "CSV
# Injection"): a CSV the product writes prefixes such a text with a single quote, and a sheet
# read back loses that quote again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA = "^[=+\\-@\t\r]"


def formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell that starts with one of :data:`FORMULA_STARTS` prefixed with
    ``'``, so that Excel and LibreOffice show it as text and never run it (numbers are left as
    they are: a negative number is no formula). ``frame`` is not changed."""
    texts = [c for c in frame.columns if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype)]
    changed = {}
    for column in texts:
        values = frame[column]
        risky = values.astype("string").str.contains(_FORMULA, regex=True, na=False).to_numpy(dtype=bool)
        if risky.any():
            changed[column] = values.mask(risky, "'" + values.astype("string"))
    return frame.assign(**changed) if changed else frame


def formula_restored(value: str) -> str:
    """A cell as it was before :func:`formula_safe`."""
    return value[1:] if value[:1] == "'" and value[1:2] in FORMULA_STARTS else value


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class RaggedRow(ValueError):
    """A CSV row with more cells than the header names columns: ``row`` (its line, the header's
    being 1), ``cells``, ``columns`` and the ``separator``. pandas would say "C error: Expected 8
    fields in line 3, saw 9", or, for the first row, take its first cell for an index and shift
    every value one column to the left without a word."""

    def __init__(self, row: int, cells: int, columns: int, separator: str):
        self.row, self.cells, self.columns, self.separator = row, cells, columns, separator
        super().__init__(f"row {row} has {cells} cells but the header names {columns} columns (a value "
                         f"holding '{separator}' that is not in double quotes?)")


def _check_rows(text: str, sep: str) -> None:
    """Raise :class:`RaggedRow` for the first row longer than the header."""
    try:
        reader = csv.reader(io.StringIO(text), delimiter=sep)
        columns = len(next(reader, []))
        for row in reader:
            if len(row) > columns:
                raise RaggedRow(reader.line_num, len(row), columns, sep)
    except csv.Error:
        pass  # pandas reads it, or says why not


def read_sheet(path: Path, *, lower_columns: bool = False) -> pd.DataFrame:
    """Every cell as stripped text. Raises :class:`RaggedRow` for a CSV row longer than the
    header, ValueError (with the parser's reason) if the file is otherwise not a table,
    :class:`pipeline.errors.TranscriptError` if a CSV cannot be decoded."""
    if path.suffix.lower() == ".xlsx":
        frame = pd.read_excel(path, dtype=object, engine="openpyxl").map(_cell_text)
    else:
        text, _ = decode(path.read_bytes(), str(path))
        header = text.split("\n", 1)[0]
        # Spreadsheets in Spanish locales save CSV with semicolons.
        sep = ";" if header.count(";") > header.count(",") else ","
        _check_rows(text, sep)
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep)
        except (pd.errors.ParserError, csv.Error) as exc:
            raise ValueError(str(exc).strip()) from None
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = [c.lower() for c in columns] if lower_columns else columns
    return frame.map(lambda v: formula_restored(v).strip() if isinstance(v, str) else v)

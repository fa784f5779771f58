"""A workbook of plain tables, written straight as SpreadsheetML (the XML inside an .xlsx).

``matrices.xlsx`` holds every matrix and every quote: at 10x the sample that is 1.3 million
cells, and openpyxl, even in write-only mode, took about 10 s building a cell object per value.
Plain tables need none of what it offers (styles, formulas, merged cells), so each sheet is
written here as XML, a few thousand rows at a time: text as inline strings, numbers as
numbers, booleans as booleans, missing values as empty cells. The zip is deterministic (entries in name order at
a fixed time: :func:`pipeline.runtime.outputs.stable_zip`), so reruns are byte-identical. The tests
read it back with openpyxl; no Excel or LibreOffice was at hand to open it.

:data:`REPORT` is ``matrices.xlsx``, one sheet per table of :meth:`RunTables.sheets`.
"""

from __future__ import annotations

import math
import re
from typing import Iterable, Iterator
from xml.sax.saxutils import escape

import pandas as pd

from pipeline.reports.report import Output, Report, RunTables
from pipeline.reports.review import framework_table
from pipeline.runtime.outputs import stable_zip

# Characters XML 1.0 cannot hold; a transcript never should, but a cell must not break the file.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
ROWS_PER_PIECE = 2000  # rows of a sheet made into XML and compressed together


def column_letters(number: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    number += 1
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _cell(reference: str, value) -> str:
    return f'<c r="{reference}"{_tail(value)}'


def _tail(value) -> str:
    """A cell's XML after ``<c r="A1"``, from its value."""
    if value is None or value == "":
        return "/>"  # an empty cell (openpyxl writes an empty string as one too)
    if isinstance(value, str):
        text = escape(_ILLEGAL.sub("", value))
        space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
        return f' t="inlineStr"><is><t{space}>{text}</t></is></c>'
    if isinstance(value, bool):
        return f' t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return "/>"
        return f'><v>{value!r}</v></c>'
    return _tail(str(value))


def _plain(value):
    """numpy and pandas scalars as Python ones; missing values as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _column_cells(letter: str, values: list, integers: bool, first_row: int = 2) -> list[str]:
    """The cells of one column, ``values`` from row ``first_row`` on. Each distinct value's XML
    is made once: a quote, a group or a code recurs on many rows."""
    if integers:
        return [f'<c r="{letter}{number}"><v>{value}</v></c>' for number, value in enumerate(values, first_row)]
    tails: dict[tuple[type, object], str] = {}  # by type too: True, 1 and 1.0 are equal keys
    out = []
    for number, value in enumerate(values, first_row):
        if not isinstance(value, str):
            value = _plain(value)
        try:
            key = (type(value), value)
            tail = tails.get(key)
            if tail is None:
                tail = tails[key] = _tail(value)
        except TypeError:  # an unhashable value
            tail = _tail(value)
        out.append(f'<c r="{letter}{number}"{tail}')
    return out


def _integers(series: pd.Series) -> bool:
    """Whether every value of ``series`` is an integer (not a boolean), none missing."""
    dtype = series.dtype
    return pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) and not series.hasnans


def sheet_pieces(frame: pd.DataFrame) -> Iterator[str]:
    """A sheet's XML, :data:`ROWS_PER_PIECE` rows at a time: a large evaluation's quotes sheet
    is never one string (at 50x the sample, the workbook built whole took 950 MB more)."""
    letters = [column_letters(i) for i in range(len(frame.columns))]
    header = "".join(_cell(f"{letter}1", str(c)) for letter, c in zip(letters, frame.columns))
    last = f"{letters[-1] if letters else 'A'}{len(frame) + 1}"
    yield (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_MAIN}">'
           f'<dimension ref="A1:{last}"/><sheetData><row r="1">{header}</row>')
    integers = [_integers(frame[c]) for c in frame.columns]
    for first in range(0, len(frame), ROWS_PER_PIECE):
        rows = frame.iloc[first:first + ROWS_PER_PIECE]
        columns = [_column_cells(letter, rows[c].tolist(), integer, first + 2)
                   for letter, c, integer in zip(letters, frame.columns, integers)]
        yield "".join(f'<row r="{number}">{"".join(cells)}</row>' for number, cells in enumerate(zip(*columns), first + 2))
    yield "</sheetData></worksheet>"


def sheet_xml(frame: pd.DataFrame) -> str:
    return "".join(sheet_pieces(frame))


def workbook(tables: dict[str, pd.DataFrame]) -> bytes:
    """An .xlsx with one sheet per table (names cut to Excel's 31 characters), header row first."""
    names = [name[:31] for name in tables]
    if len(set(names)) != len(names):
        raise ValueError(f"sheet names clash once cut to 31 characters: {names}")
    count = len(names)
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_SHEET_TYPE}"/>'
                      for i in range(1, count + 1)) + "</Types>"),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PACKAGE_RELS}">'
            f'<Relationship Id="rId1" Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/></Relationships>'),
        "docProps/core.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            '<dcterms:created xsi:type="dcterms:W3CDTF">2000-01-01T00:00:00Z</dcterms:created>'
            '<dcterms:modified xsi:type="dcterms:W3CDTF">2000-01-01T00:00:00Z</dcterms:modified>'
            '</cp:coreProperties>'),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}">'
            "<sheets>" + "".join(f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
                                 for i, name in enumerate(names, 1)) + "</sheets></workbook>"),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PACKAGE_RELS}">'
            + "".join(f'<Relationship Id="rId{i}" Type="{_RELS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                      for i in range(1, count + 1))
            + f'<Relationship Id="rId{count + 1}" Type="{_RELS}/styles" Target="styles.xml"/></Relationships>'),
        "xl/styles.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{_MAIN}">'
            '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
    }
    members: dict[str, bytes | Iterable[bytes]] = {name: text.encode("utf-8") for name, text in files.items()}
    for number, frame in enumerate(tables.values(), 1):
        members[f"xl/worksheets/sheet{number}.xml"] = (piece.encode("utf-8") for piece in sheet_pieces(frame))
    return stable_zip(members)


def build_matrices_workbook(tables: RunTables) -> Iterator[tuple[str, bytes]]:
    """``matrices.xlsx``: the findings, every matrix, the quotes and saturation, a sheet each; and
    with analysts' summaries, the framework matrix (:func:`pipeline.reports.review.framework_table`)."""
    sheets = tables.sheets()
    if len(tables.summaries):
        sheets["framework"] = framework_table(tables)
    yield "matrices.xlsx", workbook(sheets)


REPORT = Report("matrices workbook", (Output("matrices.xlsx", "xlsx"),), build_matrices_workbook)

"""Codebooks kept in spreadsheets: one row per code, to and from the YAML code files.

Columns: ``id``, ``label``, ``parent``, ``roll_up``, ``definition`` (or ``description``),
``include``, ``exclude``, ``example`` (or ``examples``), ``questions``, ``patterns``; only ``id``
and ``label`` are required. A text given per language goes in one column per
language (``label_es``, ``label_en``); a plain column (``label``) is a text for all languages.
Several examples go on separate lines of the ``example`` cell; ``questions`` are separated by
commas, semicolons or spaces; ``patterns_es`` (one per language) holds one pattern per line:
a lemma phrase, ``regex: ...`` or ``tokens: [...]`` (JSON).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import yaml
from pydantic import ValidationError

from pipeline.config.codebook import Code, Codebook, Pattern
from pipeline.config.evaluation import LANGUAGE_PATTERN, Localized, describe_error
from pipeline.errors import InputError, Problem
from pipeline.exchange.spreadsheets import formula_safe, read_sheet

TEXT_FIELDS = ("label", "definition", "include", "exclude")
COLUMNS = ("id", *TEXT_FIELDS, "parent", "roll_up", "example", "questions", "patterns")
REQUIRED = ("id", "label")
# Other names real sheets give a column (the description of a code is its definition).
ALIASES = {"description": "definition", "examples": "example"}
SECTION = "README.md, 'The codebook in a spreadsheet, and the manual'"


def _localized_cells(field: str, text: Localized) -> dict[str, str]:
    return {(f"{field}_{language}" if language else field): value for language, value in text.texts}


def _pattern_cell(pattern: Pattern) -> str:
    if pattern.kind == "phrase" and not pattern.id:
        return pattern.value
    text = f"{pattern.kind}: {pattern.value}"
    return f"{text}  # id: {pattern.id}" if pattern.id else text


def code_rows(codebook: Codebook) -> pd.DataFrame:
    """One row per code, with the columns described in this module's docstring."""
    rows = []
    for code in codebook.codes:
        row = {"id": code.id, "parent": code.parent or "", "roll_up": "yes" if code.roll_up else "",
               "example": "\n".join(code.examples), "questions": ", ".join(code.questions)}
        for field in TEXT_FIELDS:
            row |= _localized_cells(field, getattr(code, field))
        for language, patterns in code.patterns:
            row[f"patterns_{language}"] = "\n".join(_pattern_cell(p) for p in patterns)
        rows.append(row)
    frame = pd.DataFrame(rows).fillna("")
    order = [c for base in COLUMNS for c in sorted(frame.columns) if c == base or c.startswith(base + "_")]
    return frame[order]


def write_code_sheet(codebook: Codebook, path: Path) -> None:
    """Write the codes to ``path``: ``.xlsx`` (one sheet, ``codes``) or ``.csv`` (UTF-8)."""
    frame = code_rows(codebook)
    if path.suffix.lower() == ".xlsx":
        frame.to_excel(path, index=False, sheet_name="codes", engine="openpyxl")
    else:
        formula_safe(frame).to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


def _text(row: dict, field: str):
    plain = row.get(field, "")
    per_language = {c.split("_", 1)[1]: v for c, v in row.items()
                    if c.startswith(field + "_") and v and re.fullmatch(LANGUAGE_PATTERN, c.split("_", 1)[1])}
    if per_language:
        return per_language | ({"": plain} if plain else {})
    return plain or None


def _pattern(cell: str):
    text = re.sub(r"\s+# id: (\S+)$", "", cell)
    pattern_id = cell[len(text):].replace("# id:", "").strip()
    kind, _, rest = text.partition(":")
    if kind.strip() in ("regex", "tokens", "phrase") and rest.strip():
        value = json.loads(rest) if kind.strip() == "tokens" else rest.strip()
        return {kind.strip(): value, **({"id": pattern_id} if pattern_id else {})}
    return {"phrase": text, "id": pattern_id} if pattern_id else text


def _code_from_row(row: dict) -> dict:
    code = {"id": row.get("id", "")}
    for field in TEXT_FIELDS:
        value = _text(row, field)
        if value is not None:
            code[field] = value
    if row.get("parent"):
        code["parent"] = row["parent"]
    if row.get("roll_up", "").lower() in ("yes", "true", "1", "sí", "si", "x"):
        code["roll_up"] = True
    examples = [line.strip() for line in row.get("example", "").split("\n") if line.strip()]
    questions = [q for q in re.split(r"[\s,;]+", row.get("questions", "")) if q]
    code |= {"examples": examples} if examples else {}
    code |= {"questions": questions} if questions else {}
    patterns = {}
    for column, cell in row.items():
        if column.startswith("patterns_") and cell:
            patterns[column.split("_", 1)[1]] = [_pattern(line.strip()) for line in cell.split("\n") if line.strip()]
    if patterns:
        code["patterns"] = patterns
    return code


def _aliased(columns: list[str]) -> dict[str, str]:
    """Renames of the columns named by an alias (``description`` -> ``definition``, with its
    ``_es`` and ``_en`` siblings), unless the sheet also has the column itself."""
    renames = {}
    for column in columns:
        base, _, language = column.partition("_")
        target = ALIASES.get(base)
        if target and (f"{target}_{language}" if language else target) not in columns:
            renames[column] = f"{target}_{language}" if language else target
    return renames


def read_code_sheet(path: Path) -> list[dict]:
    """The codes of a sheet, as YAML-ready mappings; :class:`InputError` lists unusable rows."""
    name = str(path)
    try:
        frame = read_sheet(path, lower_columns=True)  # "ID", "Label" as teams write them
    except (OSError, ValueError) as exc:
        raise InputError(Problem(name, f"cannot be read as a sheet ({exc}).",
                                 "Save it as .xlsx or as CSV (UTF-8).")) from None
    frame = frame.rename(columns=_aliased(list(frame.columns)))
    absent = [c for c in REQUIRED if c not in frame.columns and not any(k.startswith(c + "_") for k in frame.columns)]
    if absent:
        raise InputError(Problem(name, f"has no {' and no '.join(repr(c) for c in absent)} column.",
                                 f"The first row must name the columns: at least {' and '.join(REQUIRED)}, and any of "
                                 f"{', '.join(c for c in COLUMNS if c not in REQUIRED)} ({SECTION}).", "row 1"))
    codes, problems = [], []
    for number, row in enumerate(frame.to_dict("records"), start=2):
        if not any(row.values()):
            continue
        try:
            code = _code_from_row(row)
        except json.JSONDecodeError as exc:
            problems.append(Problem(name, f"a tokens pattern is not valid JSON ({exc.msg}).",
                                    "Write it as tokens: [{\"LEMMA\": \"...\"}].", f"row {number}"))
            continue
        try:
            Code.model_validate(code)
        except ValidationError as exc:
            for error in exc.errors():
                message, fix = describe_error(error)
                if error["type"] == "missing":
                    message, fix = f"the '{error['loc'][-1]}' cell is empty.", f"Fill it in ({SECTION})."
                elif fix == "Correct the value.":
                    fix = f"Correct the value ({SECTION})."
                column = ".".join(str(p) for p in error["loc"] if p != "texts") or "row"
                problems.append(Problem(name, f"{column}: {message}", fix, f"row {number}"))
            continue
        codes.append(code)
    if problems:
        raise InputError(problems)
    return codes


def import_code_sheet(sheet: Path | str, into: Path | str) -> Path:
    """Turn a sheet into a code file ``codes_<sheet name>.yaml`` in the codebook folder ``into``.

    Nothing is written if any row cannot be used, or if that file exists already.
    Returns the path written.
    """
    sheet, into = Path(sheet), Path(into)
    codes = read_code_sheet(sheet)
    if not into.is_dir():
        raise InputError(Problem(str(into), "is not a folder.", "Give the codebook folder with --into."))
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", sheet.stem).strip("_").lower() or "sheet"
    target = into / f"codes_{stem}.yaml"
    if target.exists():
        raise InputError(Problem(str(target), "exists already.",
                                 "Rename the sheet, or move the old file away first."))
    header = f"# Imported from {sheet.name}. Edit here; README.md, 'Codes', documents every field.\n"
    target.write_text(header + yaml.safe_dump({"codes": codes}, allow_unicode=True, sort_keys=False,
                                              width=100), encoding="utf-8")
    return target

"""The register of sessions: ``register.csv`` (or ``register.xlsx``) in the transcripts folder.

One row per session. Required columns: ``file``, ``session_id``, ``method``,
``stakeholder_group``, ``participants``; optional: ``language`` (where it is empty, the
transcript reader tells it from the text), ``region``, ``date``, ``institution``,
``interviewer``, ``women``, ``men``, ``notes``. Values are checked against the vocabularies of
``evaluation.yaml``, and the folder against the register: every row's file must exist and every
transcript file must have a row.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import re
from pathlib import Path

import pandas as pd

from pipeline.config.evaluation import ID_PATTERN, LANGUAGE_PATTERN, Evaluation
from pipeline.errors import PipelineWarning, Problem
from pipeline.stages.ingest.formats import READERS, extension_list
from pipeline.exchange.spreadsheets import RaggedRow, read_sheet
from pipeline.schemas import REGISTER_COLUMNS as COLUMNS, REGISTER_OPTIONAL as OPTIONAL, REGISTER_REQUIRED as REQUIRED

REGISTER_FILES = ("register.csv", "register.xlsx")


def find_register(folder: Path) -> tuple[Path | None, list[Problem]]:
    found = [folder / name for name in REGISTER_FILES if (folder / name).is_file()]
    if len(found) == 1:
        return found[0], []
    if not found:
        return None, [Problem(str(folder), "has no register.csv or register.xlsx.",
                              "Add a register with one row per session and the columns "
                              f"{', '.join(REQUIRED)} (see README.md, 'The register').")]
    return None, [Problem(str(folder), "has both register.csv and register.xlsx.",
                          "Keep one of them, so there is no doubt which one is the register.")]


def _integer(value: str) -> int | None:
    if re.fullmatch(r"\d+(?:\.0+)?", value):
        return int(float(value))
    return None


def _suggest(value: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(value, allowed, n=1)
    hint = f"Did you mean '{close[0]}'? " if close else ""
    return f"{hint}Use one of: {', '.join(allowed)} (declared in evaluation.yaml)."


def _check_row(row: dict, evaluation: Evaluation) -> list[tuple[str, str]]:
    """(message, fix) for every invalid value of one register row."""
    found = []
    if not re.fullmatch(ID_PATTERN, row["session_id"]):
        found.append((f"session_id '{row['session_id']}' is not a valid id.",
                      "Use letters, digits, '_', '-' or '.', starting with a letter or digit."))
    for column, vocabulary in (("method", "methods"), ("stakeholder_group", "stakeholder_groups")):
        allowed = evaluation.ids(vocabulary)
        if row[column] not in allowed:
            what = f"unknown {column.replace('_', ' ')} '{row[column]}'" if row[column] else f"{column} is empty"
            found.append((f"{what}.", _suggest(row[column], allowed)))
    if row.get("region"):
        allowed = evaluation.ids("regions")
        if row["region"] not in allowed:
            found.append((f"unknown region '{row['region']}'.", _suggest(row["region"], allowed)
                          if allowed else "Declare the regions in evaluation.yaml."))
    # An empty language is told from the transcript's text (pipeline.stages.ingest.transcripts).
    language = row["language"]
    if language and not re.fullmatch(LANGUAGE_PATTERN, language):
        found.append((f"language '{language}' is not an ISO 639 code.", "Use a code such as es, en or qu."))
    elif language and language not in evaluation.evaluation.languages:
        found.append((f"language '{language}' is not one of the evaluation's languages "
                      f"({', '.join(evaluation.evaluation.languages)}).",
                      "Correct it, or add it to evaluation.languages in evaluation.yaml."))
    participants = _integer(row["participants"])
    if participants is None or participants < 1:
        found.append((f"participants must be a whole number of at least 1, not '{row['participants']}'.",
                      "Write how many people spoke for the respondent side (1 for an interview)."))
    for column in ("women", "men"):
        if row.get(column) and _integer(row[column]) is None:
            found.append((f"{column} must be a whole number or empty, not '{row[column]}'.", "Correct it."))
    if row.get("date"):
        try:
            dt.date.fromisoformat(row["date"])
        except ValueError:
            found.append((f"date '{row['date']}' is not a date written YYYY-MM-DD.", "Write it as, e.g., 2024-09-12."))
    return found


def _paths_under(folder: Path, ancestors: frozenset[Path] = frozenset()) -> list[Path]:
    """Every file and folder under ``folder``, sorted. A link to a folder is followed like a real
    subfolder (what it holds is checked like what a subfolder holds), unless it leads back to a
    folder it is in."""
    here = folder.resolve()
    if here in ancestors:
        return []
    found = []
    for path in folder.iterdir():
        found.append(path)
        if path.is_dir():
            found += _paths_under(path, ancestors | {here})
    return sorted(found)


def _transcript_files(folder: Path, ignore: tuple[str, ...], register: Path) -> tuple[list[str], list[str]]:
    """Relative paths of the transcript files in ``folder``, and of other unignored files."""
    transcripts, others = [], []
    for path in _paths_under(folder):
        relative = path.relative_to(folder).as_posix()
        if not path.is_file() or path == register or any(fnmatch.fnmatch(relative, p) for p in ignore):
            continue
        (transcripts if path.suffix.lower() in READERS else others).append(relative)
    return transcripts, others


def read_register(folder: Path, *, evaluation: Evaluation, errors: list[Problem]) -> pd.DataFrame:
    """The valid rows of the register, as strings, with ``_row`` (its row number in the file).

    Every problem found is appended to ``errors``; rows with a problem are left out. Problems
    a person can ignore (an unused column, other files in the folder) are warned about.
    """
    import warnings

    path, problems = find_register(folder)
    errors += problems
    if path is None:
        return pd.DataFrame(columns=[*COLUMNS, "_row"])
    name = str(path)
    try:
        table = read_sheet(path)
    except RaggedRow as exc:
        sep = exc.separator
        errors.append(Problem(name, f"has {exc.cells} cells but the header names {exc.columns} columns (a value "
                                    f"holding '{sep}' that is not in double quotes?).",
                              f"Put the value that holds '{sep}' in double quotes (\"Lima{sep} Cusco\"), or "
                              f"remove the extra cell.", f"row {exc.row}"))
        return pd.DataFrame(columns=[*REQUIRED, *OPTIONAL, "_row"])
    except (ValueError, OSError) as exc:
        errors.append(Problem(name, f"cannot be read as a table: {exc}",
                              "Open it in a spreadsheet and save it again as CSV (UTF-8) or .xlsx."))
        return pd.DataFrame(columns=[*COLUMNS, "_row"])
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        errors.append(Problem(name, f"lacks the required column(s) {', '.join(missing)}.",
                              f"The header must name at least: {', '.join(REQUIRED)}.", "row 1"))
        return pd.DataFrame(columns=[*COLUMNS, "_row"])
    for column in sorted(set(table.columns) - set(REQUIRED) - set(OPTIONAL)):
        warnings.warn(PipelineWarning(Problem(
            name, f"the column '{column}' is not one the pipeline uses; it is ignored.",
            f"Rename it if it was meant to be one of: {', '.join(OPTIONAL)}.", "row 1")))
    table = table.assign(**{c: "" for c in OPTIONAL if c not in table.columns})
    table = table.assign(_row=range(2, len(table) + 2))
    table = table[~(table[COLUMNS] == "").all(axis=1)]
    if table.empty:
        errors.append(Problem(name, "has no sessions.",
                              "Add one row per interview, group interview, focus group or document."))

    valid = []
    seen_ids: dict[str, int] = {}
    seen_files: dict[str, int] = {}
    for row in table.to_dict("records"):
        where = f"row {row['_row']}"
        row_problems = [Problem(name, message, fix, where) for message, fix in _check_row(row, evaluation)]
        if row["session_id"] in seen_ids:
            row_problems.append(Problem(name, f"session_id '{row['session_id']}' is already used in "
                                              f"row {seen_ids[row['session_id']]}.",
                                        "Give each session its own id.", where))
        seen_ids.setdefault(row["session_id"], row["_row"])
        file = row["file"].replace("\\", "/")
        target = folder / file
        if not file:
            row_problems.append(Problem(name, "the file column is empty.",
                                        "Write the transcript's path relative to the register's folder.", where))
        elif Path(file).is_absolute() or ".." in Path(file).parts:
            row_problems.append(Problem(name, f"the file '{file}' is not inside the transcripts folder.",
                                        "Move the transcript into the folder and write its relative path.", where))
        elif not target.is_file():
            row_problems.append(Problem(name, f"the file '{file}' does not exist in {folder}.",
                                        "Correct the path (it is relative to the register's folder) "
                                        "or add the transcript.", where))
        elif not target.resolve().is_relative_to(folder.resolve()):
            row_problems.append(Problem(name, f"the file '{file}' is a link to {target.resolve()}, outside the "
                                              f"transcripts folder.",
                                        "Copy the transcript into the folder instead of linking to it.", where))
        elif Path(file).suffix.lower() not in READERS:
            row_problems.append(Problem(name, f"the file '{file}' is not a supported transcript format.",
                                        f"Convert it to {extension_list()}.", where))
        elif file in seen_files:
            row_problems.append(Problem(name, f"the file '{file}' is already the transcript of row "
                                              f"{seen_files[file]}.", "Each session has its own file.", where))
        seen_files.setdefault(file, row["_row"])
        if row_problems:
            errors += row_problems
            continue
        women, men = _integer(row["women"] or "0"), _integer(row["men"] or "0")
        if women + men > _integer(row["participants"]):
            warnings.warn(PipelineWarning(Problem(
                name, f"women ({women}) and men ({men}) add up to more than participants "
                      f"({row['participants']}).", "Check the three counts.", where)))
        valid.append({**row, "file": file})

    transcripts, others = _transcript_files(folder, evaluation.transcripts.ignore, path)
    listed = set(table["file"].str.replace("\\", "/", regex=False))
    for file in transcripts:
        if file not in listed:
            errors.append(Problem(str(folder / file), "is a transcript that is not in the register.",
                                  f"Add a row for it to {path.name}, or move it out of the folder."))
    for file in others:
        warnings.warn(PipelineWarning(Problem(
            str(folder / file), "is not a transcript format the pipeline reads; it is ignored.",
            f"Convert it to {extension_list()} and register it, or add it to "
            "transcripts.ignore in evaluation.yaml.")))
    return pd.DataFrame(valid, columns=[*COLUMNS, "_row"])

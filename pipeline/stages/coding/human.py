"""Human coding: CSV or XLSX files from coders, placed on the transcripts they code, and the
coder that puts them among the codings (:class:`HumanCoder`), one row per segment each covers.

Columns: ``session_id`` (or ``file``), ``code`` (an id, or a label in any language),
``coder``, and either ``start``/``end`` (code points of the normalised text) or ``quote``;
optional ``memo`` and ``stance``. Teams who code in spreadsheets paste quotes: a quote is
found in its transcript even when lightly edited (whitespace, punctuation, quotation marks,
ellipses for omitted words, a few typos), with rapidfuzz. A quote that cannot be placed with
confidence, or that fits several places, is listed with the closest candidate, never guessed.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rapidfuzz import fuzz

from pipeline.config.codebook import Codebook
from pipeline.errors import InputError, Problem
from pipeline.exchange.spreadsheets import read_sheet
from pipeline.schemas import STANCES
from pipeline.stages.coding.coder import HUMAN, Coded, CodingRun
from pipeline.stages.turns import RESPONDENT
from pipeline.text import fold

# A fuzzy match at or above this score (0-100) places a quote; below it, the quote is reported.
MIN_SCORE = 90.0
_ELLIPSIS = re.compile(r"\s*(?:\[\s*(?:\.\.\.|…)\s*\]|\(\s*(?:\.\.\.|…)\s*\)|\.\.\.+|…)\s*")

HUMAN_COLUMNS = ["file", "row", "session_id", "code", "coder", "start", "end", "quote", "memo", "stance",
                 "located", "score"]
UNPLACED_COLUMNS = ["file", "row", "session_id", "code", "coder", "quote", "reason", "score", "closest",
                    "closest_start", "closest_end"]


@dataclass(frozen=True)
class Placement:
    start: int
    end: int
    score: float
    ambiguous: bool = False


def _searchable(text: str) -> tuple[str, list[int]]:
    """Text folded for matching (lower case, no accents, no punctuation, single spaces), with
    the original offset of each kept character."""
    out, positions = [], []
    for index, char in enumerate(text):
        for c in fold(char):
            if c.isalnum():
                out.append(c)
                positions.append(index)
            elif out and out[-1] != " ":
                out.append(" ")
                positions.append(index)
    return "".join(out), positions


def _span(positions: list[int], start: int, end: int, searchable: str) -> tuple[int, int]:
    while start < end and searchable[start] == " ":
        start += 1
    while end > start and searchable[end - 1] == " ":
        end -= 1
    return positions[start], positions[end - 1] + 1


def _whole_words(haystack: str, start: int, end: int) -> tuple[int, int]:
    """A fuzzy alignment widened to whole words: people quote words, not parts of them."""
    while start > 0 and haystack[start - 1] != " ":
        start -= 1
    while end < len(haystack) and haystack[end] != " " and end > start:
        end += 1
    return start, end


def place_quote(quote: str, text: str, *, begin: int = 0, finish: int | None = None) -> Placement:
    """Where ``quote`` stands in ``text[begin:finish]`` (offsets in ``text``), with a score.

    Parts of a quote separated by an ellipsis are found in order and the span runs from the
    first to the last. ``ambiguous`` is set when the exact quote appears more than once.
    """
    finish = len(text) if finish is None else finish
    haystack, positions = _searchable(text[begin:finish])
    positions = [p + begin for p in positions]
    parts = [p for p in (_searchable(part)[0].strip() for part in _ELLIPSIS.split(quote)) if p]
    if not parts or not haystack:
        return Placement(0, 0, 0.0)
    cursor, spans, scores, ambiguous = 0, [], [], False
    for part in parts:
        found = haystack.find(part, cursor)
        if found >= 0:
            ambiguous = ambiguous or (len(parts) == 1 and haystack.find(part, found + 1) >= 0)
            spans.append((found, found + len(part)))
            scores.append(100.0)
        else:
            alignment = fuzz.partial_ratio_alignment(part, haystack[cursor:])
            if alignment is None:
                return Placement(0, 0, 0.0)
            spans.append(_whole_words(haystack, cursor + alignment.dest_start, cursor + alignment.dest_end))
            scores.append(alignment.score)
        cursor = spans[-1][1]
    start, _ = _span(positions, spans[0][0], spans[0][1], haystack)
    _, end = _span(positions, spans[-1][0], spans[-1][1], haystack)
    return Placement(start, end, min(scores), ambiguous)


def _code_lookup(codebook: Codebook) -> dict[str, str]:
    lookup = {}
    for code in codebook.codes:
        for _, label in code.label.texts:
            lookup.setdefault(label.casefold(), code.id)
    lookup |= {code.id.casefold(): code.id for code in codebook.codes}
    return lookup


def read_human_coding(
    paths: list[Path],
    *,
    transcripts: pd.DataFrame,
    turns: pd.DataFrame,
    codebook: Codebook,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read coding files and place every coding on its transcript.

    Returns (placed, unplaced): ``placed`` has one row per coding with ``start``/``end`` in
    the session's normalised text (columns :data:`HUMAN_COLUMNS`); ``unplaced`` lists the
    quotes that could not be placed with confidence, with the closest candidate (columns
    :data:`UNPLACED_COLUMNS`). Structural problems (a missing column, an unknown session or
    code, offsets outside the text, a span in no respondent turn) raise :class:`InputError`,
    all of them at once.
    """
    sessions = transcripts.set_index("session_id")
    by_file = dict(zip(transcripts["file"], transcripts["session_id"]))
    answers = turns[turns["role"] == RESPONDENT]
    # (start, end) of each session's respondent turns, looked up per coding.
    spans_of: dict[str, list[tuple[int, int]]] = {}
    for session_id, start, end in zip(answers["session_id"].tolist(), answers["start"].tolist(), answers["end"].tolist()):
        spans_of.setdefault(session_id, []).append((start, end))
    codes = _code_lookup(codebook)
    placed, unplaced, problems = [], [], []
    for path in paths:
        name = str(path)
        try:
            table = read_sheet(path, lower_columns=True)
        except (OSError, ValueError) as exc:
            problems.append(Problem(name, f"cannot be read as a table ({exc}).", "Save it as CSV (UTF-8) or .xlsx."))
            continue
        missing = [c for c in ("code", "coder") if c not in table.columns]
        if "session_id" not in table.columns and "file" not in table.columns:
            missing.insert(0, "session_id (or file)")
        if "quote" not in table.columns and not {"start", "end"} <= set(table.columns):
            missing.append("start and end (or quote)")
        if missing:
            problems.append(Problem(name, f"lacks the column(s) {', '.join(missing)}.",
                                    "See README.md, 'Human coding'.", "row 1"))
            continue
        for number, row in enumerate(table.to_dict("records"), start=2):
            if not any(row.values()):
                continue
            where = f"row {number}"
            session = row.get("session_id") or by_file.get(row.get("file", "").replace("\\", "/"), "")
            if session not in sessions.index:
                shown = row.get("session_id") or row.get("file", "")
                problems.append(Problem(name, f"'{shown}' is not a session of the register.",
                                        "Use a session_id (or file) from register.csv.", where))
                continue
            code = codes.get(row["code"].casefold())
            if code is None:
                problems.append(Problem(name, f"'{row['code']}' is neither a code id nor a code label.",
                                        "Use an id from the codebook (README.md, 'Codes').", where))
                continue
            if not row["coder"]:
                problems.append(Problem(name, "the coder is empty.", "Write who coded it (initials are fine).", where))
                continue
            stance = row.get("stance", "").lower()
            if stance and stance not in STANCES:
                problems.append(Problem(name, f"stance '{row['stance']}' is not one of {', '.join(STANCES)}.",
                                        "Correct it or leave it empty.", where))
                continue
            text = sessions.at[session, "text"]
            record = {"file": path.name, "row": number, "session_id": session, "code": code, "coder": row["coder"],
                      "quote": row.get("quote", ""), "memo": row.get("memo", ""), "stance": stance}
            if row.get("start", "") != "" and row.get("end", "") != "":
                try:
                    start, end = int(row["start"]), int(row["end"])
                except ValueError:
                    problems.append(Problem(name, f"start '{row['start']}' and end '{row['end']}' must be whole numbers.",
                                            "Give code-point offsets, or leave them empty and give a quote.", where))
                    continue
                if not 0 <= start < end <= len(text):
                    problems.append(Problem(name, f"the span {start}-{end} is outside the text of {session} "
                                                  f"(0-{len(text)}).", "Correct the offsets.", where))
                    continue
                record |= {"start": start, "end": end, "located": "offsets", "score": 100.0}
            else:
                placement = place_quote(row["quote"], text)
                if placement.score < MIN_SCORE or placement.ambiguous:
                    reason = ("appears more than once; add words to make it unique" if placement.ambiguous
                              else "was not found with confidence")
                    unplaced.append({**{k: record[k] for k in ("file", "row", "session_id", "code", "coder", "quote")},
                                     "reason": reason, "score": round(placement.score, 1),
                                     "closest": text[placement.start:placement.end],
                                     "closest_start": placement.start, "closest_end": placement.end})
                    continue
                record |= {"start": placement.start, "end": placement.end, "located": "quote",
                           "score": round(placement.score, 1)}
            if not any(start < record["end"] and end > record["start"] for start, end in spans_of.get(session, [])):
                problems.append(Problem(name, f"the coded text ({record['start']}-{record['end']}) lies in no "
                                              f"respondent turn of {session}.",
                                        "Code what respondents said, not the interviewer's questions.", where))
                continue
            placed.append(record)
    if problems:
        raise InputError(problems)
    placed_frame = pd.DataFrame(placed, columns=HUMAN_COLUMNS)
    unplaced_frame = pd.DataFrame(unplaced, columns=UNPLACED_COLUMNS)
    return (placed_frame.sort_values(["session_id", "start", "end", "code", "coder"], kind="stable").reset_index(drop=True),
            unplaced_frame)


def human_codings_by_segment(human: pd.DataFrame, segments: pd.DataFrame) -> list[dict]:
    """Placed human codings (:func:`read_human_coding`) as coding rows, one per segment each
    covers, with the span clipped to the segment: by session, in the coding's order, then the
    segments' order. A row's ``human_stance`` is the person's stance, if given."""
    if human.empty:
        return []
    # Each session's segments by start (they do not overlap): a coding's segments are found by
    # bisection, not by pairing every coding with every segment of its session (a large
    # corpus's pairs took most of a run's memory).
    by_session: dict[str, list[tuple[int, int, int, str]]] = {}
    for index, (sid, segment_id, start, end) in enumerate(zip(*(segments[c].tolist() for c in (
            "session_id", "segment_id", "start", "end")))):
        by_session.setdefault(sid, []).append((start, end, index, segment_id))
    for found in by_session.values():
        found.sort()
    ends = {sid: [end for _, end, _, _ in found] for sid, found in by_session.items()}
    rows = []
    coded = zip(*(human[c].tolist() for c in ("session_id", "code", "coder", "start", "end", "memo", "stance")))
    for sid, code, coder, start, end, memo, stance in sorted(coded, key=lambda row: row[0]):  # stable: coding order
        found = by_session.get(sid, [])
        first = bisect.bisect_right(ends.get(sid, []), start)
        overlapping = []
        for seg_start, seg_end, index, segment_id in found[first:]:
            if seg_start >= end:
                break
            if seg_end > start:
                overlapping.append((index, segment_id, max(start, seg_start), min(end, seg_end)))
        for _, segment_id, clipped_start, clipped_end in sorted(overlapping):
            rows.append({"segment_id": segment_id, "session_id": sid, "code": code, "source": HUMAN,
                         "coder": coder, "start": clipped_start, "end": clipped_end, "match": "", "confidence": 1.0,
                         "negated": False, "memo": memo, "human_stance": stance})
    return rows


class HumanCoder:
    """People's coding, as placed on the transcripts (``run.human``), clipped to segments."""

    source = HUMAN

    def code(self, run: CodingRun, earlier: list[dict]) -> Coded:
        return Coded(human_codings_by_segment(run.human, run.segments))

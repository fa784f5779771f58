"""Human coding: CSV or XLSX files from coders, placed on the transcripts they code, and the
coder that puts them among the codings (:class:`HumanCoder`), one row per segment each covers.

Columns: ``session_id`` (or ``file``), ``code`` (an id, or a label in any language),
``coder``, and either ``start``/``end`` (code points of the normalised text) or ``quote``;
optional ``memo`` and ``stance``. Teams who code in spreadsheets paste quotes: a quote is
found in its transcript even when lightly edited (whitespace, punctuation, quotation marks,
ellipses for omitted words, a few typos), with rapidfuzz. A quote that cannot be placed with
confidence, or that fits several places, is listed with the closest candidate, never guessed.

Coding from other tools is taken as it is: a coding is split onto the speaker turns it covers;
a part on an interviewer's turn is a coding of context (status ``context``: kept and shown,
never evidence). Only what cannot be placed at all is left out, with its reason (:data:`REASONS`).
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
from pipeline.schemas import CONTEXT, HUMAN_COLUMNS, STANCES, UNPLACED_COLUMNS
from pipeline.stages.coding.coder import HUMAN, Coded, CodingRun
from pipeline.stages.coding.decisions import REJECT, REVIEW_MATCH, STALE, check_decision, is_decisions
from pipeline.stages.coding.summaries import is_summaries
from pipeline.stages.turns import INTERVIEWER, RESPONDENT
from pipeline.text import fold

# A fuzzy match at or above this score (0-100) places a quote; below it, the quote is reported.
MIN_SCORE = 90.0
_ELLIPSIS = re.compile(r"\s*(?:\[\s*(?:\.\.\.|…)\s*\]|\(\s*(?:\.\.\.|…)\s*\)|\.\.\.+|…)\s*")

# Why a coding could not be placed at all: unplaced_quotes.csv's ``reason``.
REASONS = {
    "not_found": "was not found with confidence",
    "ambiguous": "appears more than once; add words to make it unique",
    "no_turn": "lies in no speaker turn (a title, a header or a note between turns)",
    "outside": "its start and end lie outside the text, and it has no quote to place instead",
    "offsets": "its start and end are not whole numbers, and it has no quote to place instead",
    "nothing": "has neither start and end nor a quote",
}


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


class _Grouped:
    """Problems of a coding file that stop a run, each kind and value once, with all its rows."""

    def __init__(self):
        self.rows: dict[tuple[str, str, str], list[int]] = {}

    def add(self, file: str, message: str, fix: str, row: int) -> None:
        self.rows.setdefault((file, message, fix), []).append(row)

    def problems(self) -> list[Problem]:
        return [Problem(file, message, fix, ("row " if len(rows) == 1 else "rows ") + ", ".join(map(str, rows)))
                for (file, message, fix), rows in self.rows.items()]


def _turns_by_session(turns: pd.DataFrame) -> dict[str, list[tuple[int, int, str, str]]]:
    """Each session's turns as (start, end, turn_id, role), by start."""
    found: dict[str, list[tuple[int, int, str, str]]] = {}
    for sid, start, end, turn_id, role in zip(*(turns[c].tolist() for c in ("session_id", "start", "end", "turn_id",
                                                                               "role"))):
        found.setdefault(sid, []).append((start, end, turn_id, role))
    for spans in found.values():
        spans.sort()
    return found


def split_on_turns(start: int, end: int, text: str, turns: list[tuple[int, int, str, str]]) -> list[dict]:
    """The parts of the span [start, end) of ``text`` that lie in speaker ``turns`` ((start, end,
    turn_id, role), by start), one per turn it covers, clipped to the turn: ``start``, ``end``,
    ``turn_id``, ``role``. A part holding no letter or digit (the line end or label between two
    turns a span runs over) is no part. Empty if the span lies in no turn (a title, a header)."""
    parts = []
    for turn_start, turn_end, turn_id, role in turns:
        if turn_start >= end:
            break
        a, b = max(start, turn_start), min(end, turn_end)
        if a < b and any(c.isalnum() for c in text[a:b]):
            parts.append({"start": a, "end": b, "turn_id": turn_id, "role": role})
    return parts


def _unplaced(record: dict, reason: str, score: float = 0.0, start: int = 0, end: int = 0, text: str = "") -> dict:
    return {**{k: record[k] for k in ("file", "row", "session_id", "code", "coder", "quote")}, "reason": reason,
            "score": round(score, 1), "closest": text[start:end], "closest_start": start, "closest_end": end}


def _offsets(row: dict, text: str) -> tuple[int, int] | str:
    """The row's start and end, or why they cannot be used."""
    try:
        start, end = int(row["start"]), int(row["end"])
    except ValueError:
        return REASONS["offsets"]
    return (start, end) if 0 <= start < end <= len(text) else REASONS["outside"]


def _located(row: dict, record: dict, text: str) -> dict:
    """``record`` with its ``start``, ``end``, ``located`` and ``score``, or an unplaced row
    (with ``reason``): offsets where they are usable, else the quote."""
    reason = None
    if row.get("start", "") != "" and row.get("end", "") != "":
        found = _offsets(row, text)
        if isinstance(found, tuple):
            return record | {"start": found[0], "end": found[1], "located": "offsets", "score": 100.0}
        reason = found
    if not record["quote"]:
        return _unplaced(record, reason or REASONS["nothing"])
    placement = place_quote(record["quote"], text)
    if placement.score < MIN_SCORE or placement.ambiguous:
        return _unplaced(record, REASONS["ambiguous" if placement.ambiguous else "not_found"], placement.score,
                         placement.start, placement.end, text)
    return record | {"start": placement.start, "end": placement.end, "located": "quote",
                     "score": round(placement.score, 1)}


def read_human_coding(
    paths: list[Path],
    *,
    transcripts: pd.DataFrame,
    turns: pd.DataFrame,
    codebook: Codebook,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read coding files and place every coding on its transcript, split onto the turns it covers.

    Returns (placed, unplaced): ``placed`` has one row per part of a coding (columns
    :data:`HUMAN_COLUMNS`), ``start``/``end`` in the session's normalised text, clipped to its
    turn: ``role`` says whether the turn is a respondent's (evidence) or the interviewer's (a
    coding of context), ``part``/``parts`` which piece of the coding it is. ``unplaced`` lists
    the codings that cannot be placed at all, each with its ``reason`` (:data:`REASONS`) and
    the closest candidate (columns :data:`UNPLACED_COLUMNS`). A file that cannot be read, lacks
    a column, or whose rows name a session or code that does not exist, an empty coder or an
    unknown stance, raises :class:`InputError` with every such problem, each once with its rows.
    """
    sessions = transcripts.set_index("session_id")
    by_file = dict(zip(transcripts["file"], transcripts["session_id"]))
    turns_of = _turns_by_session(turns)
    codes = _code_lookup(codebook)
    placed, unplaced, problems, grouped = [], [], [], _Grouped()
    for path in paths:
        name = str(path)
        try:
            table = read_sheet(path, lower_columns=True)
        except (OSError, ValueError) as exc:
            problems.append(Problem(name, f"cannot be read as a table ({exc}).", "Save it as CSV (UTF-8) or .xlsx."))
            continue
        if is_summaries(table.columns):  # analysts' cell summaries (summaries.py), not coding
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
            session = row.get("session_id") or by_file.get(row.get("file", "").replace("\\", "/"), "")
            if session not in sessions.index:
                shown = row.get("session_id") or row.get("file", "")
                grouped.add(name, f"'{shown}' is not a session of the register.",
                            "Use a session_id (or file) from register.csv.", number)
                continue
            code = codes.get(row["code"].casefold())
            if code is None:
                grouped.add(name, f"'{row['code']}' is neither a code id nor a code label.",
                            "Use an id from the codebook (README.md, 'Codes'), or add the code.", number)
                continue
            if not row["coder"]:
                grouped.add(name, "the coder is empty.", "Write who coded it (initials are fine).", number)
                continue
            stance = row.get("stance", "").lower()
            if stance and stance not in STANCES:
                grouped.add(name, f"stance '{row['stance']}' is not one of {', '.join(STANCES)}.",
                            "Correct it or leave it empty.", number)
                continue
            text = sessions.at[session, "text"]
            record = {"file": path.name, "row": number, "session_id": session, "code": code, "coder": row["coder"],
                      "quote": row.get("quote", ""), "memo": row.get("memo", ""), "stance": stance, "decision": ""}
            if is_decisions(table.columns):  # a reviewer's decisions file (pipeline.stages.coding.decisions)
                decision, trouble, stale = check_decision(row, text)
                if trouble:
                    problems.append(Problem(name, trouble, "Export the decisions again from the page, or correct "
                                                           "the row (README.md, 'Reviewing in the browser').",
                                            f"row {number}"))
                    continue
                if stale:
                    unplaced.append(_unplaced(record, f"{decision} {STALE}"))
                    continue
                record["decision"] = decision
            record = _located(row, record, text)
            if "reason" in record:
                unplaced.append(record)
                continue
            parts = split_on_turns(record["start"], record["end"], text, turns_of.get(session, []))
            if not parts:
                unplaced.append(_unplaced(record, REASONS["no_turn"], record["score"], record["start"], record["end"],
                                          text))
                continue
            placed += [record | part | {"part": index, "parts": len(parts)} for index, part in enumerate(parts, 1)]
    problems += grouped.problems()
    if problems:
        raise InputError(problems)
    placed_frame = pd.DataFrame(placed, columns=HUMAN_COLUMNS)
    unplaced_frame = pd.DataFrame(unplaced, columns=UNPLACED_COLUMNS)
    return (placed_frame.sort_values(["session_id", "start", "end", "code", "coder"], kind="stable").reset_index(drop=True),
            unplaced_frame)


def placement_counts(placed: pd.DataFrame, unplaced: pd.DataFrame) -> dict:
    """How the human coding was placed (:func:`read_human_coding`'s two tables), for the run's
    summary and manifest: codings read; placed on respondent turns only, on interviewer turns
    only (context), or split across turns (and into how many parts: ``respondent_parts`` count
    as evidence, ``context_parts`` as context); unplaced, by reason."""
    codings = placed.groupby(["file", "row"], sort=False)["role"].agg(lambda roles: tuple(sorted(set(roles))))
    parts = placed.groupby(["file", "row"], sort=False)["parts"].first()
    return {
        "codings": len(codings) + len(unplaced),
        "placed": len(codings),
        "respondent": int((codings == (RESPONDENT,)).sum()),
        "context": int((codings == (INTERVIEWER,)).sum()),
        "split": int((parts > 1).sum()),
        "respondent_parts": int((placed["role"] == RESPONDENT).sum()),
        "context_parts": int((placed["role"] == INTERVIEWER).sum()),
        "unplaced": {reason: int(n) for reason, n in unplaced["reason"].value_counts().sort_index().items()},
    }


def human_codings_by_segment(human: pd.DataFrame, segments: pd.DataFrame) -> list[dict]:
    """Placed human codings (:func:`read_human_coding`) as coding rows, by session, in the
    codings' order. A part on a respondent turn gives one row per segment it covers, the span
    clipped to the segment, status ``accepted``; a part on an interviewer's turn one row of
    context, its ``segment_id`` the turn's id, status ``context`` (:data:`pipeline.schemas.CONTEXT`):
    shown with the transcript, never counted as evidence. A row's ``human_stance`` is the
    person's stance, if given."""
    if "decision" in human.columns:  # a rejection is no coding (decisions.rejections reads those)
        human = human[human["decision"] != REJECT]
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
    decisions = human["decision"].tolist() if "decision" in human.columns else [""] * len(human)
    coded = zip(*(human[c].tolist() for c in ("session_id", "code", "coder", "start", "end", "memo", "stance",
                                               "role", "turn_id")), decisions)
    for sid, code, coder, start, end, memo, stance, role, turn_id, decision in sorted(coded, key=lambda row: row[0]):
        row = {"session_id": sid, "code": code, "source": HUMAN, "coder": coder, "confidence": 1.0,
               "match": f"{REVIEW_MATCH}{decision}" if decision else "",
               "negated": False, "memo": memo, "human_stance": stance, "decision": decision}
        if role != RESPONDENT:
            rows.append(row | {"segment_id": turn_id, "start": start, "end": end, "status": CONTEXT})
            continue
        found = by_session.get(sid, [])
        first = bisect.bisect_right(ends.get(sid, []), start)
        overlapping = []
        for seg_start, seg_end, index, segment_id in found[first:]:
            if seg_start >= end:
                break
            if seg_end > start:
                overlapping.append((index, segment_id, max(start, seg_start), min(end, seg_end)))
        for _, segment_id, clipped_start, clipped_end in sorted(overlapping):
            rows.append(row | {"segment_id": segment_id, "start": clipped_start, "end": clipped_end,
                               "status": "accepted"})
    return rows


class HumanCoder:
    """People's coding, as placed on the transcripts (``run.human``), clipped to segments."""

    source = HUMAN

    def code(self, run: CodingRun, earlier: list[dict]) -> Coded:
        return Coded(human_codings_by_segment(run.human, run.segments))


def placement_warnings(placed: pd.DataFrame, unplaced: pd.DataFrame, folder: str, *, listed_in: str) -> list[Problem]:
    """What a team should know of how its coding was placed, one warning per kind: codings left
    out (by reason, listed in ``listed_in``), and codings of context (on interviewer turns)."""
    counts = placement_counts(placed, unplaced)
    found = []
    if len(unplaced):
        reasons = "; ".join(f"{n} {reason}" for reason, n in counts["unplaced"].items())
        found.append(Problem(folder, f"{len(unplaced)} coding(s) could not be placed in their transcript and are left "
                                     f"out ({reasons}); {listed_in} lists each with the closest candidate.",
                             "Correct the quotes (or give start and end) and run again."))
    if counts["context_parts"]:
        covering = placed.loc[placed["role"] != RESPONDENT, ["file", "row"]].drop_duplicates()
        found.append(Problem(folder, f"{len(covering)} coding(s) cover an interviewer's turn ({counts['context']} "
                                     f"wholly, {len(covering) - counts['context']} in part): the "
                                     f"{counts['context_parts']} part(s) on interviewer turns are kept as context "
                                     f"(status context), not counted as evidence.",
                             "Nothing to do if the team coded the interviewer's words on purpose; else check the "
                             "speaker labels of those transcripts."))
    return found

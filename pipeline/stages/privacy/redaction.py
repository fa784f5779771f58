"""Redaction: hits replaced by their placeholders, the :class:`Edit` of each replacement, and
offsets (of turns, human codings, unplaced quotes) moved from the original text to the
redacted one."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from pipeline.stages.privacy.hits import PLACEHOLDERS, Hit


@dataclass(frozen=True)
class Edit:
    """One replacement: ``text[start:end]`` of the original became ``new_start:new_end``."""

    start: int
    end: int
    new_start: int
    new_end: int
    kind: str


def redact(text: str, hits: list[Hit]) -> tuple[str, list[Edit]]:
    """``text`` with every hit replaced by its kind's placeholder, and the edits made."""
    pieces, edits, cursor, shift = [], [], 0, 0
    for hit in hits:
        placeholder = PLACEHOLDERS[hit.kind]
        pieces += [text[cursor:hit.start], placeholder]
        new_start = hit.start + shift
        edits.append(Edit(hit.start, hit.end, new_start, new_start + len(placeholder), hit.kind))
        shift += len(placeholder) - (hit.end - hit.start)
        cursor = hit.end
    pieces.append(text[cursor:])
    return "".join(pieces), edits


def shift_offset(position: int, edits: list[Edit], *, end: bool = False) -> int:
    """Where an offset of the original text falls in the redacted one. An offset inside a
    replaced span moves to the placeholder's start (a start) or end (an end)."""
    moved = 0
    for edit in edits:
        if position <= edit.start:
            break
        if position < edit.end:
            return edit.new_end if end else edit.new_start
        moved = edit.new_end - edit.end
    return position + moved


def _replace_all(value: str, replaced: dict[str, str]) -> str:
    for original in sorted(replaced, key=len, reverse=True):
        if original in value:
            value = re.sub(rf"(?<!\w){re.escape(original)}(?!\w)", replaced[original], value)
    return value


def _move(frame: pd.DataFrame, edits_of: dict, cells: dict, *, texts: dict | None) -> pd.DataFrame:
    """Human codings (or unplaced quotes) at the redacted offsets, their memos and quotes redacted."""
    if frame.empty:
        return frame
    records = frame.to_dict("records")
    for r in records:
        edits = edits_of.get(r["session_id"], [])
        for column in ("memo", "quote"):
            key = (f"coding/{r['file']}", int(r["row"]), column)
            if column in r and key in cells:
                r[column] = cells[key]
        for a, b in (("start", "end"), ("closest_start", "closest_end")):
            if a in r and edits:
                r[a], r[b] = shift_offset(int(r[a]), edits), shift_offset(int(r[b]), edits, end=True)
        if texts is not None and "closest" in r and r["session_id"] in texts:
            r["closest"] = texts[r["session_id"]][r["closest_start"]:r["closest_end"]]
    return pd.DataFrame(records, columns=frame.columns).astype(frame.dtypes.to_dict())

"""What in a transcript is not anyone's words: bracketed notes and stage directions.

Timestamps and transcriber notes (``[risas]``, ``(inaudible)``, ``[pausa larga]``) are notes;
upper-case placeholders of anonymisation (``[NOMBRE]``) are words.
Round brackets count only around a known note word or a timestamp, since people also speak in
parentheses, or when they hold a whole line: a stage direction (``(K griner)``, ``(Båndet
slukker)``, ``(07.45)``). A line holding only a timestamp (``00:01:15``) is a note too.
"""

from __future__ import annotations

import re

from pipeline.text import fold

# A timestamp: 00:01:02, 1:40, with tenths or milliseconds.
TS = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
# Also 0:0 (a transcriber's start) and dots for colons (*2.33 =, 1.01.35 =): read only where the
# line's shape says it is a timestamp (a star before it, an equals sign or a tab after it).
LOOSE_TS = r"\d{1,2}[:.]\d{1,2}(?:[:.]\d{2})?(?:[.,]\d{1,3})?"

_NOTE_WORDS = {
    "inaudible", "ininteligible", "incomprensible", "risas", "risa", "ríe", "rie", "pausa",
    "silencio", "llanto", "llora", "suspira", "interrupción", "interrupcion", "ruido",
    "cruce de voces", "voces", "corte", "fin", "laughs", "laughter", "crosstalk", "pause",
    "silence", "unintelligible", "inaudible", "interruption", "noise", "cough", "tos",
    "griner", "ler", "latter", "utydeligt", "uforståeligt", "larm",
}
_BRACKETED = re.compile(r"\[[^\[\]\n]{1,80}\]|\([^()\n]{1,40}\)")
_TIMESTAMP = re.compile(rf"^\s*{TS}\s*$")
# A line that is all one parenthesis (nested brackets allowed), perhaps with a stray mark after it.
_STAGE_DIRECTION = re.compile(r"(?m)^[ \t\u00a0]*\((?:[^()\n]|\([^()\n]*\))*\)[ \t\u00a0.*]*$")
# A line that is only a timestamp (00:01:15, 0:00:00.0, 00.10.06).
_TIMESTAMP_LINE = re.compile(rf"(?m)^[ \t\u00a0]*(?:{TS}|\d{{1,2}}\.\d{{2}}\.\d{{2}})[ \t\u00a0]*$")


def note_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Offsets of the bracketed notes and stage directions in ``text[start:end]``, in order,
    that are not words of a speaker."""
    end = len(text) if end is None else end
    spans = []
    for match in _BRACKETED.finditer(text, start, end):
        inner = match.group()[1:-1].strip()
        folded = fold(inner).strip(" .…")
        known = folded in _NOTE_WORDS or folded.split(" ")[0] in _NOTE_WORDS
        if match.group()[0] == "(":
            if known or _TIMESTAMP.match(inner):
                spans.append(match.span())
        elif known or _TIMESTAMP.match(inner) or not _is_placeholder(inner):
            spans.append(match.span())
    directions = [m.span() for pattern in (_STAGE_DIRECTION, _TIMESTAMP_LINE)
                  for m in pattern.finditer(text, start, end)]
    if not directions:
        return spans
    kept = [s for s in spans if not any(a <= s[0] and s[1] <= b for a, b in directions)]
    return sorted(kept + directions)


def is_stage_direction(line: str) -> bool:
    """True if ``line`` is all one parenthesis: ``(K griner)``, ``(07.45)``."""
    return bool(_STAGE_DIRECTION.fullmatch(line))


def _is_placeholder(inner: str) -> bool:
    letters = [c for c in inner if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def mask_notes(text: str, start: int = 0, end: int | None = None) -> str:
    """``text[start:end]`` with every note replaced by spaces, so offsets stay exact."""
    end = len(text) if end is None else end
    chars = list(text[start:end])
    for a, b in note_spans(text, start, end):
        chars[a - start:b - start] = " " * (b - a)
    return "".join(chars)


def is_speech(text: str, start: int, end: int) -> bool:
    return bool(mask_notes(text, start, end).strip())

"""What a finding is: a :class:`Hit` in one text, its kind, the placeholder that replaces it
and the words that name it for people; overlapping hits merged into one."""

from __future__ import annotations

from dataclasses import dataclass

PLACEHOLDERS = {"private_name": "[NOMBRE]", "name": "[NOMBRE]", "email": "[CORREO]", "url": "[URL]",
                "dni": "[DNI]", "phone": "[TELEFONO]", "address": "[DIRECCION]"}
# When findings overlap, the merged finding takes the first kind of this order. An address
# before a name: English NER takes the street of "221 Baker Street" for a person.
_PRIORITY = ("private_name", "address", "name", "email", "url", "dni", "phone")
KIND_NAMES = {"private_name": "a name from the private names file", "name": "a person's name",
              "email": "an email address", "url": "a URL or social-media handle", "dni": "a DNI number",
              "phone": "a phone number", "address": "a street address"}


@dataclass(frozen=True)
class Hit:
    """One finding in one text: offsets in that text, kind, recogniser and score."""

    start: int
    end: int
    kind: str
    recognizer: str
    score: float


def _merge(hits: list[Hit]) -> list[Hit]:
    """Overlapping findings become one, named after the most specific kind among them."""
    merged: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        if merged and hit.start < merged[-1].end:
            last = merged[-1]
            first = min((last, hit), key=lambda h: _PRIORITY.index(h.kind))
            merged[-1] = Hit(last.start, max(last.end, hit.end), first.kind, first.recognizer,
                             max(last.score, hit.score))
        else:
            merged.append(hit)
    return merged


def _line_column(text: str, start: int) -> tuple[int, int]:
    """The line and column (both from 1) of offset ``start`` in ``text``."""
    return text.count("\n", 0, start) + 1, start - (text.rfind("\n", 0, start) + 1) + 1

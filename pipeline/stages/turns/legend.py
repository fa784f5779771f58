"""The legend at the top of a transcript: which speaker key stands for whom.

Transcripts often declare their speakers before the first turn, in one of these shapes (one
declaration a line, or several on a line separated by ``;`` or ``,``)::

    I1: Interviewer 1          I = Interviewer; X = Informant, kvinde; Y = Informant, mand
    M: Mand                    Interviewer (I) Interviewer (O) Kvindelig informant (X)

A legend is read from the first lines of a transcript (after a title, the recording's length
or other lines above it, which belong to the header) when at least one of its roles is an
interviewer's (``interviewer_labels``, numbered or not, or within a typo of one: ``Interviever``).
Its lines are not speech. Each key's role holds for that file: an interviewer where the role
is an interviewer's, a respondent otherwise.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from pipeline.stages.turns.labels import is_interviewer, normalise_label

_KEY = r"[^\W\d_]{1,3}\d{0,2}"
_ROLE = r"[^\W\d_][^:;=()\n]{0,59}?"
_EQUALS = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<sign>[:=])\s*(?P<role>{_ROLE})\s*$")
_BEFORE_KEY = re.compile(rf",(?=\s*{_KEY}\s*[:=])")
_PAREN = re.compile(rf"\s*(?P<role>[^\W\d_][\w'’\-]*(?:[ ][^\W\d_][\w'’\-]*){{0,3}})\s*\(\s*(?P<key>{_KEY})\s*\)\s*[;,]?")
_SENTENCE = re.compile(r"[.?!…]")
# How far down a legend may start: a title and the recording's length may stand above it.
_FIRST_LINES = 6


@dataclass(frozen=True)
class Legend:
    """A transcript's legend: ``keys`` (normalised key -> True for an interviewer, in the
    order declared), the line ``numbers`` it holds and ``header`` lines above it (0-based
    indices into the lines of the text's body)."""

    keys: dict[str, bool] = field(default_factory=dict)
    lines: tuple[int, ...] = ()
    header: tuple[int, ...] = ()


def _entries(line: str) -> list[tuple[str, str, str]] | None:
    """The (key, sign, role) declarations ``line`` holds if it is all declarations, else None."""
    parens = list(_PAREN.finditer(line))
    if parens and "".join(m.group() for m in parens).strip() == line.strip():
        return [(m.group("key"), "()", m.group("role")) for m in parens]
    parts = [p for chunk in line.split(";") for p in _BEFORE_KEY.split(chunk) if p.strip()]
    entries = []
    for part in parts:
        match = _EQUALS.match(part)
        if not match:
            return None
        role = match.group("role").strip()
        if match.group("sign") == ":" and (len(role.split()) > 4 or _SENTENCE.search(role)):
            return None  # "K: Ja." or "M: Det tror jeg ikke" is speech
        entries.append((match.group("key"), match.group("sign"), role))
    return entries or None


def _interviewer_role(role: str, interviewer_labels: frozenset[str]) -> bool:
    if is_interviewer(role, interviewer_labels):
        return True
    word = re.sub(r"\s?\d{1,2}$", "", normalise_label(role))
    long_labels = [label for label in interviewer_labels if len(label) >= 6]
    return len(word) >= 6 and bool(difflib.get_close_matches(word, long_labels, n=1, cutoff=0.85))


def read_legend(lines: list[str], interviewer_labels: frozenset[str]) -> Legend:
    """The legend in ``lines`` (a text's body split at line ends), or an empty one.

    ``interviewer_labels`` must be normalised. A legend's lines follow each other (blank lines
    between them only for ``=`` and ``(key)`` declarations) and declare each key once; lines
    above it are its header."""
    numbers = [i for i, line in enumerate(lines) if line.strip()][:_FIRST_LINES + 40]
    for first_position, first in enumerate(numbers[:_FIRST_LINES]):
        if _entries(lines[first]) is None:
            continue
        keys: dict[str, bool] = {}
        held = []
        for number in numbers[first_position:]:
            entries = _entries(lines[number])
            if entries is None or any(normalise_label(key) in keys for key, _, _ in entries):
                break  # speech, or a key declared again: the first turn ("I1: Hej")
            if held and number != held[-1] + 1 and all(sign == ":" for _, sign, _ in entries):
                break  # "K: Ja" after a blank line is speech; a legend of "K: Kvinde" lines is one block
            held.append(number)
            for key, _, role in entries:
                keys[normalise_label(key)] = _interviewer_role(role, interviewer_labels)
        if any(keys.values()):
            return Legend(keys=keys, lines=tuple(held), header=tuple(numbers[:first_position]))
        return Legend()
    return Legend()

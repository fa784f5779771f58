"""Speaker lines: the shapes a speaker label is written in, and who a label is.

Recognised speaker lines (the label may be wrapped in ``**`` as Markdown bold):

- ``Nombre: texto``, ``E: texto``, ``P1: texto``, ``X og Y: texto``, ``I1 + I2: texto``
- ``[00:01:02] NOMBRE: texto`` (also with round brackets or a bare timestamp), ``28:32
  PARTICIPANT 33: text``, and a timestamp after a star or before an equals sign, with colons or
  dots (``*1:40 = I1: ...``, ``*0:0 = I1: ...``, ``*2.33 = I1: ...``, ``13:00 = K: ...``)
- a timestamp, a tab, the label and a tab or a colon (``0:57<tab>I1<tab>text``), as a table
  pasted into Word leaves it
- ``NOMBRE (00:01:02): texto`` and ``NOMBRE [00:01:02]``
- a speaker line with the timestamp and no text (``Speaker 1 (00:00:05):``,
  ``Speaker 1  0:05``, ``00:00:05 Speaker 1``): the speech follows on the next lines
- with a ``?``, ``.`` or ``;`` where the colon belongs (``28:32 PARTICIPANT 33? text``), or no
  space after the colon (``O:Hvor længe``), when the label is a known speaker of the file: one its
  legend declares or one written as a speaker line elsewhere in it; so also after a timestamp
  with dots and no star (``1.42.30 K: text``).
"""

from __future__ import annotations

import re

from pipeline.stages.turns.notes import LOOSE_TS, TS
from pipeline.text import fold

# A label: starts with a letter, up to 40 characters of letters, digits, spaces and . ' - / # + &
_LABEL = r"[^\W\d_][\w .'’\-/#+&]{0,39}?"
_BOLD = r"\*{0,2}"

SPEAKER_LINES = (
    # *1:40 = I1: text   /   *2.33 I1: text   /   13:00 = K: text
    re.compile(rf"^\s*(?:\*\s*(?P<ts>{LOOSE_TS})\s*[-–=]?|(?P<ts2>{LOOSE_TS})\s*=)\s*{_BOLD}(?P<label>{_LABEL}){_BOLD}"
               rf"\s*:{_BOLD}\s*(?P<rest>.*)$"),
    # 0:57<tab>I1<tab>text   /   2:48<tab>Y:<tab>text
    re.compile(rf"^\s*(?P<ts>{LOOSE_TS})[ \t]*\t[ \t]*(?P<label>{_LABEL})[ \t]*(?::[ \t]*|\t[ \t]*)(?P<rest>.*)$"),
    # [00:01:02] NAME: text   /   00:01:02 - NAME: text
    re.compile(rf"^\s*[\[(]?(?P<ts>{TS})[\])]?\s*[-–]?\s*{_BOLD}(?P<label>{_LABEL}){_BOLD}\s*:{_BOLD}\s*(?P<rest>.*)$"),
    # NAME (00:01:02): text   /   NAME [00:01:02] alone on its line
    re.compile(rf"^\s*{_BOLD}(?P<label>{_LABEL})\s*[\[(](?P<ts>{TS})[\])]{_BOLD}\s*(?::{_BOLD}\s*(?P<rest>.*)|)$"),
    # NAME  0:05   alone on its line
    re.compile(rf"^\s*(?P<label>{_LABEL})\s+(?P<ts>{TS})\s*$"),
    # 00:00:05 NAME   alone on its line
    re.compile(rf"^\s*[\[(]?(?P<ts>{TS})[\])]?\s+(?P<label>{_LABEL})\s*$"),
    # NAME: text   /   Participante 3 (mujer): text
    re.compile(rf"^\s*{_BOLD}(?P<label>{_LABEL}(?:\s*\([^()\n]{{1,20}}\))?){_BOLD}\s*:{_BOLD}(?:\s+(?P<rest>.*)|\s*)$"),
)
# A slip where the colon belongs: read only when the label is a known speaker of the file.
_SLIP = re.compile(rf"^\s*(?:\*?\s*[\[(]?(?P<ts>{LOOSE_TS})[\])]?\s*[-–=]?\s*)?{_BOLD}(?P<label>{_LABEL}){_BOLD}"
                   rf"\s*[?.;:](?![.?!…]){_BOLD}\s*(?P<rest>.*)$")
# Initials and numbered labels (F, P5, Participante 5, Speaker 3).
CODE_LABEL = re.compile(r"^(?:[A-Za-z]{1,3}\s?\d{0,2}|\w+\s\d{1,2})$")

# A line that starts like a speaker line ("something: text") but whose label is not one that is
# read (markup, a quote or a digit first, characters a label does not hold): it joins the turn
# before, where it may hide another speaker's words. Ordinary speech with a colon ("y le dije:
# mira") starts with a lower-case letter.
_SPEAKER_LIKE = re.compile(r"^\s*\**(?P<label>[^\s:*][^:\n]{0,39}?)\**\s*:(?:\s|$)")
_SPEECH_OPENERS = "¿¡\"'“‘«(-–—…"
# Several speakers at once: "X og Y", "I1 + I2", "P1 & P2", "P1 y P2".
_JOINED = re.compile(r"\s*[+&/]\s*|\s+(?:og|and|und|et|y|e|eller|or|o)\s+", re.IGNORECASE)
_PARENTHETICAL = re.compile(r"^(?P<base>.+?)\s*\([^()]*\)$")


def normalise_label(label: str) -> str:
    """Speaker labels compare without case, accents, surrounding punctuation or extra spaces."""
    return re.sub(r"\s+", " ", fold(label)).strip(" .-_*")


def is_interviewer(label: str, interviewer_labels: frozenset[str]) -> bool:
    """True if ``label`` is one of ``interviewer_labels`` (normalised), optionally numbered.

    ``Entrevistadora 2`` and ``E1`` match ``Entrevistadora`` and ``E``.
    """
    key = normalise_label(label)
    return key in interviewer_labels or re.sub(r"\s?\d{1,2}$", "", key) in interviewer_labels


def match_speaker(line: str) -> re.Match | None:
    """The first of :data:`SPEAKER_LINES` that ``line`` matches, or None."""
    for pattern in SPEAKER_LINES:
        match = pattern.match(line)
        if match:
            return match
    return None


def match_slip(line: str, known: set[str]) -> re.Match | None:
    """``line`` read as a speaker line with ``?``, ``.`` or ``;`` for its colon, if its label
    (normalised) is in ``known`` and is initials or a numbered label (``K``, ``PARTICIPANT 33``)
    or a timestamp stands before it; else None. A sentence that starts with a name known as a
    speaker ("Orbán Viktor... nemcsak") is speech, as is an ellipsis."""
    match = _SLIP.match(line)
    if not match or normalise_label(match.group("label")) not in known:
        return None
    return match if match.group("ts") or CODE_LABEL.match(match.group("label").strip()) else None


def timestamp(match: re.Match) -> str:
    found = match.groupdict()
    return found.get("ts") or found.get("ts2") or ""


def plausible_label(label: str, interviewer_labels: frozenset[str]) -> bool:
    """A bare ``Label: text`` line is a speaker only if the label looks like one.

    Labels are short (at most four words) and start with a capital or a digit-bearing code
    (``P1``); ordinary sentences with a colon (``y le dije: mira...``) are not labels.
    """
    words = label.split()
    if not words or len(words) > 4:
        return False
    if is_interviewer(label, interviewer_labels):
        return True
    return label[0].isupper()


def base_label(label: str, keys: dict[str, str]) -> str:
    """``label`` without a stage direction after it (``X (til I2)`` -> ``X``) when what comes
    before the parenthesis is one of the legend's ``keys``; else ``label``."""
    match = _PARENTHETICAL.match(label)
    if match and normalise_label(match.group("base")) in keys:
        return match.group("base")
    return label


def joined(label: str) -> list[str]:
    """The speakers of a label that names several at once (``X og Y``, ``I1 + I2``), or []."""
    parts = [p for p in _JOINED.split(label) if p.strip()]
    return parts if len(parts) > 1 else []


def role_of(label: str, keys: dict[str, str], interviewer_labels: frozenset[str]) -> bool:
    """True if ``label`` is an interviewer's: as the legend's ``keys`` (normalised key -> True
    for an interviewer) declare it, else by ``interviewer_labels``; several speakers at once
    (``I1 + I2``) are the interviewers' only if each is one."""
    key = normalise_label(label)
    if key in keys:
        return keys[key]
    # An undeclared number of a declared key, or a declared key's letters alone (I1 for I, I for I1 and I2).
    family = {keys[k] for k in keys if _letters(k) == _letters(key)}
    if len(family) == 1:
        return family.pop()
    parts = joined(label)
    if parts:
        return all(role_of(p, keys, interviewer_labels) for p in parts)
    return is_interviewer(label, interviewer_labels)


def _letters(key: str) -> str:
    return re.sub(r"\s?\d{1,2}$", "", key)


def hidden_speaker(line: str) -> str:
    """The label-like start of a line that is not read as a speaker line, or ''."""
    match = _SPEAKER_LIKE.match(line)
    if not match:
        return ""
    label = " ".join(match.group("label").split())
    if label[0].islower() or label[0] in _SPEECH_OPENERS or "," in label or len(label.split()) > 4:
        return ""  # speech with a colon ("¿Sabe qué?: ...", "Bueno, mire: ..."), or too long for a label
    return label

"""A text's language told from its letters (lingua), among the languages an evaluation declares.

The transcript reader asks it where the register leaves a session's language empty, and to warn
where the register and the text disagree: a register that gives the wrong language reads the
text with the other language's tokenizer, lemmas, rules, stance words and name recogniser.

Measured: lingua's low-accuracy mode (character trigrams; about 20 MB, loaded in 0.1 s) tells
each of the sample's 60 transcripts (Spanish or English) and 30 Danish interviews apart, among
Spanish, English and Danish, with a confidence of 1.0 from 1,500, 3,000 or 6,000 of their
characters as from the whole text. Reading costs about 1 ms per 1,000 characters (a whole
Danish interview, 70,000 characters, 70 ms), so only :data:`SAMPLED` characters of a text are
read, in three windows (its beginning, middle and end): a transcript whose first minutes are
small talk in another language is still told by the rest. The sample's 60 take 0.16 s.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

# Characters of a text read to tell its language: three windows of a third each.
SAMPLED = 3000
# Fewer letters than this are too few to tell a language by (lingua's low-accuracy mode is
# unreliable on a sentence or two).
MIN_LETTERS = 100
# The least confidence (lingua's, among the candidate languages: they sum to 1) that fills an
# empty register language or makes the register's wrong.
CONFIDENT = 0.9


@dataclass(frozen=True)
class Detected:
    """A text's language among ``candidates`` (an ISO 639 code as the evaluation writes it), and
    lingua's confidence in it (0 to 1); ``language`` is None when the text has too few letters."""

    language: str | None
    confidence: float

    @property
    def confident(self) -> bool:
        return self.language is not None and self.confidence >= CONFIDENT


def _lingua_language(code: str):
    """lingua's Language for an ISO 639-1 or 639-3 code, or None if lingua does not know it."""
    from lingua import IsoCode639_1, IsoCode639_3, Language

    try:
        if len(code) == 2:
            return Language.from_iso_code_639_1(IsoCode639_1.from_str(code))
        return Language.from_iso_code_639_3(IsoCode639_3.from_str(code))
    except ValueError:
        return None


def unknown_languages(candidates: tuple[str, ...]) -> tuple[str, ...]:
    """The codes of ``candidates`` lingua cannot tell (Quechua, for one): where one of an
    evaluation's languages is among them, no text's language can be told by elimination."""
    return tuple(code for code in candidates if _lingua_language(code) is None)


@functools.lru_cache(maxsize=8)
def _detector(candidates: tuple[str, ...]):
    from lingua import LanguageDetectorBuilder

    languages = {_lingua_language(code): code for code in candidates}
    detector = LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()
    return detector, languages


def _windows(text: str, size: int) -> str:
    """At most ``size`` characters of ``text``: all of it, or three windows of a third each (its
    beginning, middle and end), each cut to whole words."""
    if len(text) <= size:
        return text
    third = size // 3
    pieces = []
    for start in (0, (len(text) - third) // 2, len(text) - third):
        piece = text[start:start + third]
        if start > 0 and not text[start - 1].isspace():
            piece = piece.split(None, 1)[-1]  # not the end of a word cut in two
        if start + third < len(text) and not text[start + third].isspace():
            piece = piece.rsplit(None, 1)[0]  # nor its beginning
        pieces.append(piece)
    return "\n".join(pieces)


def detect_language(text: str, candidates: tuple[str, ...]) -> Detected:
    """The language of ``text`` among ``candidates`` (ISO 639 codes, each known to lingua: see
    :func:`unknown_languages`), read from at most :data:`SAMPLED` of its characters; None when
    they hold fewer than :data:`MIN_LETTERS` letters. With one candidate, that one, with
    confidence 1."""
    if len(candidates) == 1:
        return Detected(candidates[0], 1.0)
    sampled = _windows(text, SAMPLED)
    if not candidates or sum(char.isalpha() for char in sampled) < MIN_LETTERS:
        return Detected(None, 0.0)
    detector, languages = _detector(tuple(sorted(set(candidates))))
    values = detector.compute_language_confidence_values(sampled)
    if not values or values[0].value <= 0:
        return Detected(None, 0.0)
    return Detected(languages[values[0].language], round(float(values[0].value), 3))

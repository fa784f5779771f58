"""Bytes into the normalised text every offset in the product refers to.

:func:`decode` turns a file's bytes into text; :func:`normalise` makes that text NFC with
``\\n`` line ends and no byte-order mark. Offsets are Unicode code points of the normalised
text, from 0, end exclusive. The transcript readers (:mod:`pipeline.stages.ingest.formats`),
the spreadsheets and the REFI-QDA exchange (:mod:`pipeline.exchange`) and the benchmark's
corpus all read text this way, so none of them imports another's room for it.

:func:`fold` is how the product compares words (speaker labels, lemma phrases, stance words,
coders' quotes, names): lower case without accents or compatibility forms;
:func:`fold_one_for_one` does the same one character for one, so that offsets into the folded
text are offsets into the original.

Encodings accepted: UTF-8 (with or without BOM), UTF-16 and UTF-32 with BOM, and
Windows-1252 (which covers Latin-1 text), common for Word exports in Peru.
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata

from pipeline.errors import Problem, TranscriptError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 controls other than tab, line feed, form feed and carriage return: binary data, or a
# UTF-16 file without its BOM.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@functools.lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case (casefold) without accents (combining marks) or compatibility forms (NFKD)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


class _OneForOne(dict):
    """``str.translate`` table: each character to its :func:`fold`, where that is one character,
    else to its lower case, where that is one, else to itself; filled as characters are met."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = next((f for f in (fold(char), char.lower()) if len(f) == 1), char)
        self[code] = folded
        return folded


_ONE_FOR_ONE = _OneForOne()


def fold_one_for_one(text: str) -> str:
    """:func:`fold`, one character for one: ``len`` and every offset are the original's."""
    return text.translate(_ONE_FOR_ONE)


def normalise(text: str) -> str:
    """NFC, ``\\n`` line ends, no byte-order mark."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode a file's bytes; return (text, encoding) or raise :class:`TranscriptError`.

    ``name`` is how messages name the file."""
    fix = "Open it in a text editor and save it as UTF-8."
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding).removeprefix("\ufeff"), encoding
            except UnicodeDecodeError as exc:
                raise TranscriptError(Problem(
                    name, f"starts with a {encoding} byte-order mark but is not valid "
                          f"{encoding} ({exc.reason} at byte {exc.start}).", fix)) from None
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            text, encoding = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as exc:
            raise TranscriptError(Problem(
                name, f"cannot be decoded: it is neither UTF-8 (invalid byte 0x{data[utf8_error.start]:02x} "
                      f"at byte {utf8_error.start}) nor Windows-1252 (byte 0x{data[exc.start]:02x} "
                      f"at byte {exc.start} is undefined there).", fix)) from None
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise TranscriptError(Problem(
            name, f"contains binary data (control character U+{ord(bad.group()):04X}); it is not "
                  f"a text transcript, or it is UTF-16 without a byte-order mark.", fix, f"line {line}"))
    return text, encoding

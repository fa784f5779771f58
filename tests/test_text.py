"""Bytes into normalised text: the encodings accepted, and the ones refused with a fix."""

from __future__ import annotations

import codecs

import pytest

from pipeline.errors import TranscriptError
from pipeline.text import decode, normalise


def test_decode_is_strict_about_a_wrong_bom():
    with pytest.raises(TranscriptError, match="byte-order mark"):
        decode(codecs.BOM_UTF8 + b"\xff\xfe bad", "x.txt")


def test_decode_names_the_encoding_and_normalise_the_text():
    text = "F: Sí, señora.\r\n"
    assert decode(codecs.BOM_UTF32_LE + text.encode("utf-32-le"), "x.txt") == (text, "utf-32")
    assert decode(text.encode("cp1252"), "x.txt") == (text, "cp1252")
    assert normalise("\ufeffF: Si\u0301.\r\nE: ¿Y?\r") == "F: Sí.\nE: ¿Y?\n"
    with pytest.raises(TranscriptError, match=r"x.txt, line 2: contains binary data \(control character U\+0000\)"):
        decode(b"F: uno\n\x00", "x.txt")

"""Bytes into normalised text: the encodings accepted, and the ones refused with a fix."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, strategies as st

from pipeline.errors import TranscriptError
from pipeline.text import decode, fold, fold_one_for_one, normalise


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


@pytest.mark.parametrize("text, folded", [("Ñandú ÁRBOL", "nandu arbol"), ("Straße", "strasse"), ("ﬁesta", "fiesta"),
                                          ("Søren Ærø", "søren ærø"), ("İzmir", "izmir")])
def test_fold_is_lower_case_without_accents_or_compatibility_forms(text, folded):
    assert fold(text) == folded


@given(st.text(max_size=40))
def test_folding_one_for_one_keeps_every_offset_and_agrees_with_fold_where_it_can(text):
    folded = fold_one_for_one(text)
    assert len(folded) == len(text)
    for char, one in zip(text, folded):
        if len(fold(char)) == 1:
            assert one == fold(char)

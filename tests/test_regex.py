"""A codebook regex run by RE2 finds what Python's re finds (pipeline/config/regex.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings, strategies as st

from pipeline.config.regex import UnsupportedRegex, compile_regex


def python_spans(pattern: str, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(pattern, text, re.IGNORECASE) if m.end() > m.start()]


# Pieces of patterns, and of texts, around the places where RE2's ASCII \b, \w, \d and \s differ
# from Python's: accented and non-Latin letters, digits of other scripts, no-break spaces.
ATOMS = ["a", "á", "ó", "n", "ñ", "s", "x", "_", "1", "٣", " ", "-", ".", "\\.", "\\b", "\\B", "\\w", "\\W",
         "\\d", "\\D", "\\s", "\\S", "[aá]", "[^a]", "[\\w-]", "[^\\W\\d]", "[a-z]", "[ñ-ó]", "^", "$", "\\Z",
         "\\A", "(?i:Á)", "(?-i:a)"]
# (Not Turkish dotted İ, which Python folds onto "i" and RE2 does not: the one known difference.)
TEXT = st.text(alphabet="aAáÁóÓnNñÑsSxX_1٣ \u00a0-.\n\u017f\u212a", max_size=40)


@st.composite
def patterns(draw, depth=0):
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["atom"] * 4 + (["group", "branch", "repeat"] if depth < 2 else [])))
        if kind == "atom":
            parts.append(draw(st.sampled_from(ATOMS)))
        elif kind == "group":
            parts.append("(" + draw(patterns(depth + 1)) + ")")
        elif kind == "branch":
            parts.append("(?:" + draw(patterns(depth + 1)) + "|" + draw(patterns(depth + 1)) + ")")
        else:
            body = draw(st.sampled_from(ATOMS[:20])) if draw(st.booleans()) else "(?:" + draw(patterns(depth + 1)) + ")"
            parts.append(body + draw(st.sampled_from(["*", "+", "?", "{1,3}", "{2}", "*?", "+?", "{0,2}?"])))
    return "".join(parts)


@settings(max_examples=400, deadline=None)
@given(patterns(), TEXT)
def test_re2_finds_what_pythons_re_finds(pattern, text):
    try:
        re.compile(pattern)
    except re.error:
        assume(False)  # not a regex at all
    text = text.rstrip("\n")  # Python's '$' also matches before a final line end, RE2's not (as documented)
    try:
        compiled = compile_regex(pattern)
    except UnsupportedRegex as exc:
        assert "no text at all" in str(exc)  # the only refusal these pieces can meet
        assume(False)
    assert compiled.finditer_spans(text) == python_spans(pattern, text), (pattern, text)


@pytest.mark.parametrize("pattern, text", [
    (r"\bnos (consult|pregunt)(aron|aban|ó)\b", "nos preguntó, y nos consultaron"),  # \b after an accented letter
    (r"\bmás\b", "Más o menos, demás"),
    (r"\bco-?constru\w+", "co-construcción y coconstruimos"),
    (r"\b2030\b", "la agenda 2030; 20301"),
    (r"\bniñ[oa]s?\b", "Niños, niñas y niñez"),
])
def test_sample_like_patterns(pattern, text):
    assert compile_regex(pattern).finditer_spans(text) == python_spans(pattern, text) != []


def test_a_nested_repeat_that_backtracks_in_python_runs_at_once():
    # Python's re would try every way of cutting 40 a's (2**40) before finding no match.
    assert compile_regex(r"(a+)+$").finditer_spans("a" * 40 + "b") == []
    assert compile_regex(r"(a+)+b").finditer_spans("a" * 40 + "b") == [(0, 41)]
    assert compile_regex(r"(x+x+)+y").finditer_spans("x" * 5000) == []


@pytest.mark.parametrize("pattern, refused", [
    (r"(a)\1", "a backreference"),
    (r"(?P<x>a)(?P=x)", "a backreference"),
    (r"(a)?(?(1)b|c)", "a conditional group"),
    (r"a(?=b)", "a lookahead or lookbehind"),
    (r"(?<=a)b", "a lookahead or lookbehind"),
    (r"a(?!b)", "a negative lookahead"),
    (r"(?>ab)", "an atomic group"),
    (r"a++", "a possessive repeat"),
    (r"(?m)^a", "'^' and '$' with (?m)"),
    (r"a{1001}", "a repeat count above 1000"),
    (r"(foo)?", "it can match where there is no text at all"),
    (r"\bx*\b", "it can match where there is no text at all"),
])
def test_what_re2_cannot_run_is_refused_with_what_to_write(pattern, refused):
    with pytest.raises(UnsupportedRegex, match=re.escape(refused)):
        compile_regex(pattern)


def test_a_pattern_that_does_not_compile_says_so():
    with pytest.raises(ValueError, match="does not compile: missing \\), unterminated subpattern") as info:
        compile_regex("(unclosed")
    assert not isinstance(info.value, UnsupportedRegex)

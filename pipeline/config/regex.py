"""A codebook regex, run by Google's RE2 in linear time with Python's ``re`` meaning.

A user writes a Python regular expression (README.md, "Patterns"); Python's ``re`` backtracks,
so ``(a+)+$`` on a line of 40 ``a``s and a ``b`` would never finish. RE2 runs every pattern it
accepts in time linear in the text, but it refuses backreferences, lookaround, atomic groups
and possessive repeats, and its ``\\b``, ``\\w``, ``\\d`` and ``\\s`` know only ASCII ("más" has
no ``\\b`` after its "á" for RE2). :func:`compile_regex` therefore parses the pattern with
Python's own parser and writes it out again for RE2:

- ``\\w``, ``\\d``, ``\\s`` and their negations become the very code points Python's ``re``
  gives them (worked out once by Python's ``re`` itself);
- every character of the text is scanned as three, ``F c F``, where ``F`` is ``_`` if Python
  counts ``c`` a word character and ``\\x01`` if not, and every one-character item of the
  pattern as ``[_\\x01] item [_\\x01]``. Between two characters RE2's ASCII ``\\b`` then sees
  exactly the word-ness Python's ``\\b`` sees, and ``\\b`` and ``\\B`` stay as they are.

What the pattern uses that RE2 cannot run is refused (:class:`UnsupportedRegex`) with the fix.
A pattern that can match the empty string is refused too: Python's ``re`` goes on after an
empty match in a way RE2 has no counterpart for, and an empty match codes nothing. Matches are
the same as Python's ``re.finditer`` with ``re.IGNORECASE`` (tests/test_regex.py), except that
``$`` is the end of the text only (Python's also matches before a final line end) and RE2's
case folding, which leaves out a few of Python's (Turkish dotted İ).
"""

from __future__ import annotations

import functools
import re
import sys
from re import _constants as sre, _parser as sre_parse

import numpy as np
import re2

_WORD_FLAG, _OTHER_FLAG = "_", "\x01"
_FLAGS = "[_\\x01]"
_WORD = re.compile(r"\w")


class UnsupportedRegex(ValueError):
    """A regex RE2 cannot run in linear time; the message says what to write instead."""


def _options(capture: bool) -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # the reason is raised, not printed
    options.never_capture = not capture
    options.max_mem = 64 << 20
    return options


@functools.lru_cache(maxsize=None)
def _category_ranges(category) -> tuple[tuple[int, int], ...]:
    """The code points Python's ``re`` gives a category (``\\w``, ``\\d``, ``\\s`` or their
    negation), as ranges, found by Python's ``re`` itself."""
    positive = {sre.CATEGORY_WORD: r"\w", sre.CATEGORY_NOT_WORD: r"\w", sre.CATEGORY_DIGIT: r"\d",
                sre.CATEGORY_NOT_DIGIT: r"\d", sre.CATEGORY_SPACE: r"\s", sre.CATEGORY_NOT_SPACE: r"\s"}
    if category not in positive:
        raise UnsupportedRegex(f"the class {category} is not one RE2 can run")
    everything = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, sys.maxunicode + 1)))
    runs = []
    for match in re.finditer(positive[category] + "+", everything):
        runs.append((ord(match.group()[0]), ord(match.group()[-1])))
    if category in (sre.CATEGORY_WORD, sre.CATEGORY_DIGIT, sre.CATEGORY_SPACE):
        return tuple(runs)
    gaps, start = [], 0
    for low, high in runs:
        if low > start:
            gaps.append((start, low - 1))
        start = high + 1
    if start <= sys.maxunicode:
        gaps.append((start, sys.maxunicode))
    return tuple(gaps)


def _char(code: int) -> str:
    return f"\\x{{{code:X}}}"


def _class(items) -> str:
    """An RE2 character class with what Python's ``[...]`` ``items`` hold."""
    negate, parts = False, []
    for op, value in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            parts.append(_char(value))
        elif op is sre.RANGE:
            parts.append(f"{_char(value[0])}-{_char(value[1])}")
        elif op is sre.CATEGORY:
            parts += [_char(low) if low == high else f"{_char(low)}-{_char(high)}" for low, high in _category_ranges(value)]
        else:
            raise UnsupportedRegex(f"the class item {op} is not one RE2 can run")
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _one(item: str) -> str:
    """A one-character item, as it is found among the text's ``F c F`` triples."""
    return f"{_FLAGS}{item}{_FLAGS}"


def _emit(items, flags: int) -> str:
    out = []
    for op, value in items:
        if op is sre.LITERAL:
            out.append(_one(_char(value)))
        elif op is sre.NOT_LITERAL:
            out.append(_one(f"[^{_char(value)}]"))
        elif op is sre.IN:
            out.append(_one(_class(value)))
        elif op is sre.ANY:
            out.append(_one("(?s:.)" if flags & re.DOTALL else "[^\\n]"))
        elif op is sre.AT:
            out.append(_anchor(value, flags))
        elif op is sre.SUBPATTERN:
            _, add, remove, body = value
            out.append(_group(body, (flags | add) & ~remove, add, remove))
        elif op is sre.BRANCH:
            out.append("(?:" + "|".join(_emit(branch, flags) for branch in value[1]) + ")")
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, body = value
            if low > 1000 or (high is not sre.MAXREPEAT and high > 1000):
                raise UnsupportedRegex("a repeat count above 1000 (RE2's limit): write a smaller count")
            count = f"{{{low},}}" if high is sre.MAXREPEAT else f"{{{low},{high}}}"
            out.append("(?:" + _emit(body, flags) + ")" + count + ("?" if op is sre.MIN_REPEAT else ""))
        else:
            raise UnsupportedRegex(_REFUSED.get(op, f"the construct {op} is not one RE2 can run"))
    return "".join(out)


def _group(body, flags: int, add: int, remove: int) -> str:
    """A group, with the case flag it turns on or off (other inline flags only change how
    ``.`` and the anchors are written out)."""
    case = ("i" if add & re.IGNORECASE else "") + ("-i" if remove & re.IGNORECASE else "")
    return f"(?{case}:" + _emit(body, flags) + ")"


def _anchor(value, flags: int) -> str:
    if value in (sre.AT_BEGINNING, sre.AT_END) and flags & re.MULTILINE:
        raise UnsupportedRegex("'^' and '$' with (?m) (the start and end of each line) cannot run in RE2 "
                               "the way Python's re runs them: match the line end itself with '\\n'")
    return {sre.AT_BEGINNING: "\\A", sre.AT_BEGINNING_STRING: "\\A", sre.AT_END: "\\z", sre.AT_END_STRING: "\\z",
            sre.AT_BOUNDARY: "\\b", sre.AT_NON_BOUNDARY: "\\B"}[value]


def _nullable(items) -> bool:
    """Whether ``items`` can match without consuming a character."""
    for op, value in items:
        if op in (sre.LITERAL, sre.NOT_LITERAL, sre.IN, sre.ANY):
            return False
        if op is sre.SUBPATTERN and not _nullable(value[-1]):
            return False
        if op is sre.BRANCH and not any(_nullable(branch) for branch in value[1]):
            return False
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and value[0] >= 1 and not _nullable(value[2]):
            return False
        if op is sre.ATOMIC_GROUP and not _nullable(value):
            return False
    return True


_REFUSED = {
    sre.GROUPREF: "a backreference (\\1, (?P=name)) cannot run in linear time: write the repeated text out, "
                  "or use two patterns",
    sre.GROUPREF_EXISTS: "a conditional group ((?(1)...)) cannot run in linear time: write the alternatives "
                         "out with '|'",
    sre.ASSERT: "a lookahead or lookbehind ((?=...), (?<=...)) cannot run in linear time: match the text "
                "itself (rules widen a match to whole words), or use \\b",
    sre.ASSERT_NOT: "a negative lookahead or lookbehind ((?!...), (?<!...)) cannot run in linear time: "
                    "leave it out and add an exclusion to the code's definition, or use \\b",
    sre.ATOMIC_GROUP: "an atomic group ((?>...)) cannot run in RE2: write a plain group (?:...)",
    sre.POSSESSIVE_REPEAT: "a possessive repeat (*+, ++, ?+) cannot run in RE2: write the plain repeat (*, +, ?)",
}


class LinearRegex:
    """A user's regex (``pattern``, Python syntax, case-insensitive) compiled for RE2.

    :meth:`spans` gives the (start, end) code point offsets of its non-empty matches in a
    :class:`ScanText`, as ``re.finditer`` would, in time linear in the text.
    """

    def __init__(self, pattern: str):
        self.pattern = pattern
        try:
            parsed = sre_parse.parse(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"does not compile: {exc}") from None
        flags = parsed.state.flags
        if flags & re.ASCII:
            raise UnsupportedRegex("the (?a) flag (ASCII classes) is not supported: write the classes out, "
                                   "e.g. [a-z] for letters")
        body = "(?i)" + _emit(list(parsed), flags)
        if _nullable(list(parsed)):
            raise UnsupportedRegex("it can match where there is no text at all (every part of it may be left out), "
                                   "and such a match codes nothing: make a part of it required ('x+' for 'x*')")
        try:
            self._search = re2.compile(body, _options(capture=False))
            # The same, anchored where it is asked to start and skipping whole triples, for the
            # rare match RE2's search finds starting inside a triple (see :meth:`spans`).
            self._aligned = re2.compile("(?s:...)*?(" + body + ")", _options(capture=True))
        except re2.error as exc:
            reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            raise UnsupportedRegex(f"RE2 cannot run it: {reason}") from None

    def spans(self, text: "ScanText") -> list[tuple[int, int]]:
        found, position, end = [], 0, len(text.encoded)
        while position <= end:
            match = self._search.search(text.encoded, position)
            if match is None:
                break
            start, stop = match.span()
            if not text.aligned(start):  # it starts inside a triple: find the true one
                match = self._aligned.match(text.encoded, position)
                if match is None:
                    break
                start, stop = match.span(1)
            if stop > start:
                found.append((text.char(start), text.char(stop)))
                position = stop
            else:
                position = text.next_triple(start)
        return found

    def finditer_spans(self, text: str) -> list[tuple[int, int]]:
        """:meth:`spans` of a plain text."""
        return self.spans(ScanText(text))


def compile_regex(pattern: str) -> LinearRegex:
    """``pattern`` compiled for RE2 (see the module's docstring); :class:`UnsupportedRegex`
    says what RE2 cannot run and what to write instead, ``ValueError`` that it does not
    compile at all."""
    return _compiled(pattern)


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> LinearRegex:
    return LinearRegex(pattern)


class ScanText:
    """A text as the compiled regexes scan it: each character ``c`` as ``F c F`` in UTF-8,
    with the byte offset where each character's triple starts."""

    def __init__(self, text: str):
        table = {ord(c): (_WORD_FLAG if _WORD.match(c) else _OTHER_FLAG) * 2 for c in set(text)}
        table = {code: flags[0] + chr(code) + flags[1] for code, flags in table.items()}
        self.encoded = text.translate(table).encode("utf-8")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        sizes = 3 + (codes >= 0x80).astype(np.int64) + (codes >= 0x800) + (codes >= 0x10000)
        self.starts = np.concatenate([[0], np.cumsum(sizes)])  # byte offset of character i; the last is the end

    def aligned(self, offset: int) -> bool:
        index = int(np.searchsorted(self.starts, offset))
        return index < len(self.starts) and int(self.starts[index]) == offset

    def char(self, offset: int) -> int:
        """The character index of a byte offset where a triple starts."""
        return int(np.searchsorted(self.starts, offset))

    def next_triple(self, offset: int) -> int:
        """The byte offset of the first triple after ``offset`` (past the end if none)."""
        index = int(np.searchsorted(self.starts, offset, side="right"))
        return int(self.starts[index]) if index < len(self.starts) else len(self.encoded) + 1

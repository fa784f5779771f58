"""Speed-ups of the rule matching: what a text or a doc must hold for a pattern to match it.

A pattern need not run on a text that lacks what every one of its matches holds, and a test
for that is far cheaper than running it:

- :func:`required_text`: strings one of which every match of a regex holds (Python's ``re``
  scans a whole text once per pattern, which makes regexes the costly patterns); looked for in
  the text folded by :func:`caseless`.
- :func:`required_values`: the token attribute values a doc must hold for a spaCy token
  pattern to match it (a ``Matcher``'s Python predicates, such as ``IN``, cost a call for
  every token of every doc).

Neither changes what matches: a text without what is required has no match (checked against
every code point and by a property test in tests/test_rules.py).
"""

from __future__ import annotations

import itertools
import re
import string
from re import _constants as sre, _parser as sre_parse

# Characters a case-insensitive literal may hold for :func:`required_text`: those whose matches
# under ``re.IGNORECASE`` are exactly what :func:`caseless` folds onto them.
# (Checked against every code point by tests/test_rules.py.)
_PLAIN = frozenset(c for c in string.ascii_lowercase + string.digits + string.punctuation + " "
                   + "".join(map(chr, range(0xDF, 0x17F))) if c == c.lower() and c not in "\u0131\u017f")
# What ``re.IGNORECASE`` matches to a plain character besides its upper and lower case.
_ALSO_FOLDS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})
_MAX_ALTERNATIVES = 32


def caseless(text: str) -> str:
    """``text`` as :func:`required_text`'s strings are looked for in it."""
    return text.translate(_ALSO_FOLDS).lower()


def required_text(pattern: str, flags: int = re.IGNORECASE) -> tuple[frozenset[str], ...]:
    """Sets of strings (folded by :func:`caseless`) such that every match of ``pattern`` holds
    one string of each set; only sets whose strings have 3 characters or more. Empty when none
    is found.

    Worked out from the parsed pattern: runs of literal characters (small classes like
    ``[oó]`` spelled out), inside groups and repeats that must occur, and alternatives of which
    each has its own.
    """
    try:
        found = _required(sre_parse.parse(pattern, flags))
    except (re.error, RecursionError):
        return ()
    return tuple(sorted({c for c in found if min(map(len, c)) >= 3}, key=sorted))


def holds_required_text(folded: str, required: tuple[frozenset[str], ...]) -> bool:
    """Whether ``folded`` (a text folded by :func:`caseless`) holds one string of each set of
    ``required`` (from :func:`required_text`)."""
    return all(any(needle in folded for needle in among) for among in required)


def _letters(op, value) -> list[str] | None:
    """The characters one pattern item matches, if it is a literal or a small class of them."""
    if op is sre.LITERAL:
        chars = [chr(value).lower()]
    elif op is sre.IN and all(kind is sre.LITERAL for kind, _ in value):
        chars = sorted({chr(code).lower() for _, code in value})
    else:
        return None
    return chars if all(c in _PLAIN for c in chars) else None


def _extend(run: set[str], chars: list[str]) -> set[str] | None:
    if len(run) * len(chars) > _MAX_ALTERNATIVES:
        return None
    return {prefix + c for prefix, c in itertools.product(run, chars)}


def _leading(items) -> set[str]:
    """The strings a match of ``items`` starts with ({""} if it starts with no literal)."""
    run = {""}
    for op, value in items:
        chars = _letters(op, value)
        longer = None if chars is None else _extend(run, chars)
        if longer is None:
            break
        run = longer
    return run


def _required(items) -> list[frozenset[str]]:
    """Sets of strings such that a match of ``items`` holds one string of each."""
    found: list[frozenset[str]] = []
    run = {""}

    def flush():
        nonlocal run
        if min(map(len, run)):
            found.append(frozenset(run))
        run = {""}

    for op, value in items:
        chars = _letters(op, value)
        longer = None if chars is None else _extend(run, chars)
        if longer is not None:
            run = longer
            continue
        if op is sre.BRANCH and min(map(len, run)):
            # The parser moves what all alternatives start with out of them ("jue(z|ces)"):
            # the run goes on into each alternative's own start.
            starts = set().union(*(_leading(branch) for branch in value[1]))
            if len(run) * len(starts) <= _MAX_ALTERNATIVES:
                run = {prefix + start for prefix in run for start in starts}
        flush()
        if op is sre.SUBPATTERN:
            found += _required(value[-1])
        elif op is sre.ATOMIC_GROUP:
            found += _required(value)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and value[0] >= 1:
            found += _required(value[2])
        elif op is sre.BRANCH:
            alternatives: set[str] = set()
            for branch in value[1]:
                best = max(_required(branch), key=lambda c: (min(map(len, c)), -len(c), sorted(c)), default=None)
                if best is None:
                    break
                alternatives |= best
            else:
                if len(alternatives) <= _MAX_ALTERNATIVES:
                    found.append(frozenset(alternatives))
    flush()
    return found


# Token attributes whose values a token pattern may require literally.
_LITERAL_ATTRS = {"ORTH": "ORTH", "TEXT": "ORTH", "LOWER": "LOWER", "LEMMA": "LEMMA", "NORM": "NORM"}


def required_values(tokens: list[dict]) -> tuple[tuple[str, frozenset[str]], ...]:
    """``(attribute, values)`` pairs such that a doc matching the token pattern ``tokens`` has,
    for each pair, a token whose attribute is one of the values: from the tokens that must
    occur (no ``OP``, or ``+``) and their attributes given as a string or an ``IN`` list."""
    required = set()
    for spec in tokens:
        if spec.get("OP", "+") != "+":
            continue
        for attr, value in spec.items():
            attr = _LITERAL_ATTRS.get(str(attr).upper())
            if attr is None:
                continue
            if isinstance(value, str):
                required.add((attr, frozenset([value])))
            elif isinstance(value, dict) and set(value) == {"IN"} and all(isinstance(v, str) for v in value["IN"]):
                required.add((attr, frozenset(value["IN"])))
    return tuple(sorted(required, key=lambda item: (item[0], sorted(item[1]))))

"""Deductive coding: the codebook's patterns and stance vocabulary as a spaCy component.

:class:`CodebookMatcher` follows spaCy's ``SpanRuler`` contract: ``__call__(doc) -> doc``, it
finds matches and then sets annotations, here ``doc.spans["codes"]`` (label = code id,
``id_`` = the pattern that fired) and ``doc.spans["stance"]`` (label ``positive``,
``negative``, ``negator`` or ``hedge``). Lemma phrases match on a folded lemma (lower case,
no accents) kept in ``token.norm_``, so "Mesas de Trabajo" and "mesa de trabajo" and
"coordinacion" typed without its accent all match.
"""

from __future__ import annotations

import itertools
import re
import string
from dataclasses import dataclass
from re import _constants as sre, _parser as sre_parse

from spacy.attrs import IDS
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from pipeline.config.codebook import Codebook, Pattern

STANCE_KINDS = ("positive", "negative", "negators", "hedges")
# A negator governs a word at most this many tokens later, with no punctuation between.
NEGATION_WINDOW = 4
_CLAUSE_BREAK = {".", ",", ";", ":", "?", "!", "¿", "¡", "…", "(", ")", "—", "–"}


def pattern_key(code_id: str, language: str, index: int, pattern: Pattern) -> str:
    """The id recorded with a coding: the pattern's own id, or code, language and position."""
    return pattern.id or f"{code_id}:{language}{index}"


def rule_key(code_id: str, pattern: str) -> str:
    """What names one pattern of one code in a matcher: ``code|pattern id``."""
    return f"{code_id}|{pattern}"


def code_patterns(codebook: Codebook, language: str):
    """(code id, pattern id, pattern) of every code pattern in ``language``, in codebook order."""
    for code in codebook.codes:
        for index, pattern in enumerate(code.patterns_for(language)):
            yield code.id, pattern_key(code.id, language, index, pattern), pattern


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

    A regex need not scan a text that lacks one of them: a test for a substring is far cheaper
    than the scan. Worked out from the parsed pattern: runs of literal characters (small
    classes like ``[oó]`` spelled out), inside groups and repeats that must occur, and
    alternatives of which each has its own.
    """
    try:
        found = _required(sre_parse.parse(pattern, flags))
    except (re.error, RecursionError):
        return ()
    return tuple(sorted({c for c in found if min(map(len, c)) >= 3}, key=sorted))


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
    occur (no ``OP``, or ``+``) and their attributes given as a string or an ``IN`` list.

    A doc without them need not be run through the pattern's ``Matcher``, whose Python
    predicates (``IN``) cost a call for every token of every doc."""
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


@dataclass(frozen=True)
class _Rule:
    code: str
    pattern: str


class CodebookMatcher:
    """Finds every code pattern and stance word of one language in a doc."""

    def __init__(self, nlp: Language, codebook: Codebook, language: str, rules: frozenset[str] | None = None):
        """``rules``, if given, limits the code patterns to those (:func:`rule_key`); the stance
        vocabulary is always matched: negation depends on it."""
        self.language = language
        self.phrases = PhraseMatcher(nlp.vocab, attr="NORM")
        # One Matcher per token pattern, with the word hashes a doc must hold for it to match.
        self.tokens: dict[str, tuple[Matcher, tuple[tuple[int, frozenset[int]], ...]]] = {}
        self.regexes: list[tuple[_Rule, re.Pattern]] = []
        self._needles: dict[str, tuple[frozenset[str], ...]] = {}  # regex source -> required_text
        self.rules: dict[str, _Rule] = {}
        self._kinds: dict[str, str] = {}
        self._phrase_norms: dict[str, frozenset[str]] = {}  # phrase rule -> the norms it is made of
        phrase_texts: list[tuple[str, str]] = []
        for code_id, pattern_id, pattern in code_patterns(codebook, language):
            rule = _Rule(code_id, pattern_id)
            key = rule_key(code_id, pattern_id)
            if rules is not None and key not in rules:
                continue
            self.rules[key] = rule
            self._kinds[key] = pattern.kind
            if pattern.kind == "regex":
                self.regexes.append((rule, re.compile(pattern.value, re.IGNORECASE)))
                self._needles[pattern.value] = required_text(pattern.value)
            elif pattern.kind == "tokens":
                matcher = Matcher(nlp.vocab)
                matcher.add(key, [pattern.tokens()])
                self.tokens[key] = (matcher, tuple((IDS[attr], frozenset(map(nlp.vocab.strings.add, values)))
                                                   for attr, values in required_values(pattern.tokens())))
            else:
                phrase_texts.append((key, pattern.value))
        stance = codebook.stance
        for kind in STANCE_KINDS:
            for word in stance.words(kind, language):
                phrase_texts.append((f"stance|{kind}", word))
        # Phrases are lemmatised by the same pipeline as the transcripts, in one batch.
        docs = nlp.pipe([text for _, text in phrase_texts])
        by_key: dict[str, list[Doc]] = {}
        for (key, _), doc in zip(phrase_texts, docs):
            by_key.setdefault(key, []).append(doc)
        for key, patterns in sorted(by_key.items()):
            self.phrases.add(key, patterns)
            if key in self.rules:
                self._phrase_norms[key] = frozenset(token.norm_ for doc in patterns for token in doc)
        # What each match id means, worked out once: (stance kind, or code and pattern id).
        strings = nlp.vocab.strings
        self._stance = {strings.add(f"stance|{kind}"): kind for kind in STANCE_KINDS}
        self._codes = {strings.add(key): (rule.code, rule.pattern) for key, rule in self.rules.items()}

    def possible(self, norms: set[str], regex_found: list[tuple[int, int, str, str]]) -> frozenset[str]:
        """The rules that may match a text whose tokens have ``norms`` and whose regex matches
        are ``regex_found``: a phrase only if all its norms are there, a regex only if it
        matched; token patterns always."""
        matched = {rule_key(code, pattern) for _, _, code, pattern in regex_found}
        return frozenset(key for key, kind in self._kinds.items()
                         if kind == "tokens" or (kind == "regex" and key in matched)
                         or (kind == "phrase" and self._phrase_norms.get(key, frozenset()) <= norms))

    def regex_matches(self, text: str, known: dict[str, list] | None = None) -> list[tuple[int, int, str, str]]:
        """(start, end, code, pattern id) of every regex pattern's matches in ``text``.

        Python's ``re`` scans the whole text once per pattern, which makes regexes the costly
        patterns. ``known`` maps a regex's source to its (start, end) matches in this very
        text, from an earlier run; patterns missing from it are run and added to it, so after
        a codebook edit only new or changed regexes scan the text.
        """
        known = {} if known is None else known
        found = []
        folded = None
        for rule, regex in self.regexes:
            if regex.pattern not in known:
                needles = self._needles.get(regex.pattern, ())
                if needles:
                    folded = caseless(text) if folded is None else folded
                    if not all(any(needle in folded for needle in among) for among in needles):
                        known[regex.pattern] = []  # what every match holds is not there
                if regex.pattern not in known:
                    known[regex.pattern] = [[m.start(), m.end()] for m in regex.finditer(text) if m.end() > m.start()]
            found += [(start, end, rule.code, rule.pattern) for start, end in known[regex.pattern]]
        return found

    def _token_matches(self, doc: Doc) -> list[tuple[int, int, int]]:
        """The token patterns' matches, each pattern run only on a doc holding what it requires."""
        found, present = [], {}
        for matcher, required in self.tokens.values():
            for attr, values in required:
                if attr not in present:
                    present[attr] = set(doc.to_array(attr).tolist())
                if present[attr].isdisjoint(values):
                    break
            else:
                found += matcher(doc)
        return found

    def __call__(self, doc: Doc, regex_matches: list[tuple[int, int, str, str]] | None = None) -> Doc:
        """Set ``doc.spans["codes"]`` and ``doc.spans["stance"]``. ``regex_matches``, in the
        doc's character offsets, are the regex patterns' matches if already found."""
        # token.norm_ holds the folded lemma: set by the pipeline's ``folded_norms`` component.
        codes, stance = [], []
        matches = self.phrases(doc) + self._token_matches(doc)
        for match_id, start, end in matches:
            kind = self._stance.get(match_id)
            if kind is not None:
                stance.append((start, end, kind))
            else:
                codes.append((start, end, *self._codes[match_id]))
        if regex_matches is None:
            regex_matches = self.regex_matches(doc.text)
        for start_char, end_char, code, pattern in regex_matches:
            span = doc.char_span(start_char, end_char, alignment_mode="expand")
            if span is not None:
                codes.append((span.start, span.end, code, pattern))
        # Spans made once, in a fixed order: by position, then code and pattern.
        doc.spans["codes"] = [Span(doc, start, end, label=code, span_id=pattern)
                              for start, end, code, pattern in sorted(codes)]
        doc.spans["stance"] = [Span(doc, start, end, label=kind) for start, end, kind in sorted(stance)]
        return doc


def negated(span: Span, negators: list[Span]) -> bool:
    """Whether a negator stands shortly before ``span`` in the same clause."""
    doc = span.doc
    for negator in negators:
        if negator.end <= span.start and span.start - negator.end < NEGATION_WINDOW:
            between = doc[negator.end:span.start]
            after = doc[negator.end] if negator.end < len(doc) else None
            if after is not None and after.text == "?":
                continue  # a question tag ("¿no?") negates nothing
            if not any(t.text in _CLAUSE_BREAK for t in between):
                return True
    return False


def segment_stance(doc: Doc, start_char: int, end_char: int) -> tuple[str, bool, int, int]:
    """(stance, hedged, positives, negatives) of the text ``doc.text[start_char:end_char]``.

    Stance words count for their polarity, flipped when negated; both polarities present make
    it ``mixed``, none ``neutral``.
    """
    inside = [s for s in doc.spans["stance"] if s.start_char >= start_char and s.end_char <= end_char]
    negators = [s for s in inside if s.label_ == "negators"]
    hedged = any(s.label_ == "hedges" for s in inside)
    # "no funcionó" is one negative phrase, not a negated positive "funcionar" as well.
    words = filter_spans([s for s in inside if s.label_ in ("positive", "negative")])
    positives = negatives = 0
    for span in words:
        if any(n.start <= span.start and span.end <= n.end for n in negators):
            continue  # "no" listed as a negative word would otherwise negate itself
        polarity = span.label_ == "positive"
        if negated(span, negators):
            polarity = not polarity
        positives += polarity
        negatives += not polarity
    return classify(positives, negatives), hedged, positives, negatives


def classify(positives: int, negatives: int) -> str:
    if positives and negatives:
        return "mixed"
    if positives:
        return "positive"
    if negatives:
        return "negative"
    return "neutral"

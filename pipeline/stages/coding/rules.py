"""Deductive coding: the codebook's patterns and stance vocabulary as a spaCy component.

:class:`CodebookMatcher` follows spaCy's ``SpanRuler`` contract: ``__call__(doc) -> doc``, it
finds matches and then sets annotations, here ``doc.spans["codes"]`` (label = code id,
``id_`` = the pattern that fired) and ``doc.spans["stance"]`` (label ``positive``,
``negative``, ``negator`` or ``hedge``). Lemma phrases match on a folded lemma (lower case,
no accents) kept in ``token.norm_``, so "Mesas de Trabajo" and "mesa de trabajo" and
"coordinacion" typed without its accent all match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.attrs import IDS
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from pipeline.config.codebook import Codebook, Pattern
from pipeline.nlp.prefilter import caseless, holds_required_text, required_text, required_values

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


@dataclass(frozen=True)
class _Rule:
    code: str
    pattern: str


class CodebookMatcher:
    """Finds every code pattern and stance word of one language in a doc."""

    def __init__(self, nlp: Language, codebook: Codebook, language: str, rules: frozenset[str] | None = None):
        """Token patterns run only on docs holding the words they require, regexes only on texts
        holding what every match of them holds (:mod:`pipeline.nlp.prefilter`). ``rules``, if
        given, limits the code patterns to those (:func:`rule_key`); the stance
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
                    if not holds_required_text(folded, needles):
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

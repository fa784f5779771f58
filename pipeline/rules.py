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

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from pipeline.codebook import Codebook, Pattern

STANCE_KINDS = ("positive", "negative", "negators", "hedges")
# A negator governs a word at most this many tokens later, with no punctuation between.
NEGATION_WINDOW = 4
_CLAUSE_BREAK = {".", ",", ";", ":", "?", "!", "¿", "¡", "…", "(", ")", "—", "–"}


def pattern_key(code_id: str, language: str, index: int, pattern: Pattern) -> str:
    """The id recorded with a coding: the pattern's own id, or code, language and position."""
    return pattern.id or f"{code_id}:{language}{index}"


@dataclass(frozen=True)
class _Rule:
    code: str
    pattern: str


class CodebookMatcher:
    """Finds every code pattern and stance word of one language in a doc."""

    def __init__(self, nlp: Language, codebook: Codebook, language: str, codes: frozenset[str] | None = None):
        """``codes``, if given, limits the code patterns to those codes (the stance vocabulary
        is always matched: negation depends on it)."""
        self.language = language
        self.phrases = PhraseMatcher(nlp.vocab, attr="NORM")
        self.tokens = Matcher(nlp.vocab)
        self.regexes: list[tuple[_Rule, re.Pattern]] = []
        self.rules: dict[str, _Rule] = {}
        phrase_texts: list[tuple[str, str]] = []
        for code in codebook.codes:
            if codes is not None and code.id not in codes:
                continue
            for index, pattern in enumerate(code.patterns_for(language)):
                key = f"{code.id}|{pattern_key(code.id, language, index, pattern)}"
                rule = _Rule(code.id, pattern_key(code.id, language, index, pattern))
                self.rules[key] = rule
                if pattern.kind == "regex":
                    self.regexes.append((rule, re.compile(pattern.value, re.IGNORECASE)))
                elif pattern.kind == "tokens":
                    self.tokens.add(key, [pattern.tokens()])
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
        # What each match id means, worked out once: (stance kind, or code and pattern id).
        strings = nlp.vocab.strings
        self._stance = {strings.add(f"stance|{kind}"): kind for kind in STANCE_KINDS}
        self._codes = {strings.add(key): (rule.code, rule.pattern) for key, rule in self.rules.items()}

    def regex_matches(self, text: str, known: dict[str, list] | None = None) -> list[tuple[int, int, str, str]]:
        """(start, end, code, pattern id) of every regex pattern's matches in ``text``.

        Python's ``re`` scans the whole text once per pattern, which makes regexes the costly
        patterns. ``known`` maps a regex's source to its (start, end) matches in this very
        text, from an earlier run; patterns missing from it are run and added to it, so after
        a codebook edit only new or changed regexes scan the text.
        """
        known = {} if known is None else known
        found = []
        for rule, regex in self.regexes:
            if regex.pattern not in known:
                known[regex.pattern] = [[m.start(), m.end()] for m in regex.finditer(text) if m.end() > m.start()]
            found += [(start, end, rule.code, rule.pattern) for start, end in known[regex.pattern]]
        return found

    def __call__(self, doc: Doc, regex_matches: list[tuple[int, int, str, str]] | None = None) -> Doc:
        """Set ``doc.spans["codes"]`` and ``doc.spans["stance"]``. ``regex_matches``, in the
        doc's character offsets, are the regex patterns' matches if already found."""
        # token.norm_ holds the folded lemma: set by the pipeline's ``folded_norms`` component.
        codes, stance = [], []
        matches = self.phrases(doc) + (self.tokens(doc) if len(self.tokens) else [])
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

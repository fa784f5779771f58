"""Evidence matrices, triangulation and the reports: counts trace to segments, quotes are exact text."""

from __future__ import annotations

import io
import json
import zipfile

import docx
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pipeline.reports.pieces
from pipeline import commands, flow, schemas
from pipeline.config.codebook import load_codebook
from pipeline.stages.matrices import build_evidence_matrices
from pipeline.runtime.outputs import SPLICE, StreamedText
from pipeline.stages.triangulate import divergence, triangulate

from conftest import S1, S2, write_evaluation


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrices")
    hostile = S1.replace("Eso ayudó bastante", "<script>alert('x')</script> <b>Eso</b> ayudó bastante")
    codebook, transcripts = write_evaluation(root, files={"s1.txt": hostile, "s2.txt": S2})
    out = root / "out"
    flow.run(codebook, transcripts, out)
    return codebook, transcripts, out


def test_every_quote_is_the_exact_text_of_its_segment(run):
    _, _, out = run
    evidence = json.loads((out / "evidence.json").read_text(encoding="utf-8"))["quotes"]
    segments = commands.read_table(out, schemas.SEGMENTS).set_index("segment_id")
    texts = {p.stem: p.read_text(encoding="utf-8") for p in (out / "interim/texts").iterdir()}
    assert evidence
    for row in evidence:
        segment = segments.loc[row["segment_id"]]
        assert row["text"] == segment["text"] == texts[row["session_id"]][segment["start"]:segment["end"]]


def test_markup_in_a_transcript_renders_as_text(run):
    _, _, out = run
    for name in ("evidence_matrix.html", "transcripts/S1.html", "triangulation_report.html"):
        html = (out / name).read_text(encoding="utf-8")
        assert "<script>alert" not in html and "<b>Eso</b>" not in html, name
    assert "\\u003cscript\\u003ealert" in (out / "evidence_matrix.html").read_text(encoding="utf-8")


def test_reports_open_without_the_network(run):
    _, _, out = run
    for name in ("evidence_matrix.html", "triangulation_report.html", "transcripts/S1.html"):
        html = (out / name).read_text(encoding="utf-8")
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html


def test_word_and_excel_files_hold_the_findings(run):
    _, _, out = run
    document = docx.Document(str(out / "triangulation_report.docx"))
    assert any(p.text.startswith("EQ1: ") for p in document.paragraphs)
    book = openpyxl.load_workbook(out / "matrices.xlsx")
    assert {"findings", "question_by_group", "quotes", "co_occurrence"} <= set(book.sheetnames)
    for name in ("triangulation_report.docx", "matrices.xlsx"):
        with zipfile.ZipFile(out / name) as archive:
            assert {i.date_time for i in archive.infolist()} == {(2000, 1, 1, 0, 0, 0)}


def test_the_transcript_view_anchors_every_segment(run):
    _, _, out = run
    html = (out / "transcripts/S1.html").read_text(encoding="utf-8")
    for segment_id in commands.read_table(out, schemas.SEGMENTS).query("session_id == 'S1'")["segment_id"]:
        assert f'id="{segment_id}"' in html


stances = st.sampled_from(["positive", "negative", "mixed", "neutral"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["coordination", "monitoring", "design_needs"]),
                          st.sampled_from(["rule", "human", "model"]), st.sampled_from(["accepted", "suggested"]),
                          stances), min_size=1, max_size=40))
def test_matrix_totals_equal_the_codings_they_count(tmp_path_factory, rows):
    codebook, _ = write_evaluation(tmp_path_factory.mktemp("prop"))
    book = load_codebook(codebook)
    groups = ["justice_sector", "donor"]
    segments = schemas.conform([{
        "segment_id": f"S{i % 3}-t0001-s{i:02d}", "session_id": f"S{i % 3}", "turn_id": f"S{i % 3}-t0001",
        "speaker": "F", "role": "respondent", "start": 0, "end": 5, "text": f"texto {i}", "sentences": 1, "words": 2,
        "prompt_turn_id": "", "prompt": "", "method": "interview", "stakeholder_group": groups[i % 3 % 2],
        "language": "es", "participants": 1 + i % 3, "region": "lima"} for i in range(8)], schemas.SEGMENTS)
    codings = schemas.conform([{
        "segment_id": f"S{i % 3}-t0001-s{i:02d}", "session_id": f"S{i % 3}", "code": code, "source": source,
        "coder": f"{source}-{n}", "start": 0, "end": 5, "match": "", "confidence": 0.9, "stance": stance,
        "negated": False, "hedged": False, "status": status, "memo": ""}
        for n, (i, code, source, status, stance) in enumerate(rows)], schemas.CODINGS)
    matrices = build_evidence_matrices(segments, codings, codebook=book)
    evidence = matrices["evidence"]
    accepted = codings[codings.status == "accepted"]
    expected = {(s, q) for s, c in zip(accepted.segment_id, accepted.code) for q in book.questions_of(c)}
    assert set(zip(evidence.segment_id, evidence.question)) == expected
    assert matrices["question_by_group"]["segments"].sum() == len(expected)
    assert matrices["code_by_group"]["segments"].sum() == len(set(zip(accepted.segment_id, accepted.code)))
    for _, cell in matrices["question_by_group"].iterrows():
        own = evidence[(evidence.question == cell.question) & (evidence.stakeholder_group == cell.stakeholder_group)]
        assert cell.sessions == own.session_id.nunique()
        assert cell.participants == own.drop_duplicates("session_id").participants.sum()
        assert cell[["positive", "negative", "mixed", "neutral"]].sum() == cell.segments
    findings = triangulate(evidence, segments.assign(file="", format="txt", encoding="utf-8", sha256="", text="",
                                                     date="", institution="", interviewer="", women=None, men=None,
                                                     notes="").drop(columns=[]), codebook=book)
    assert set(findings["rating"]) <= {"strong", "moderate", "thin", "none"}


def _assessments(*sessions):
    """Evidence rows from (session, group, [stances])."""
    return pd.DataFrame([{"session_id": sid, "stakeholder_group": group, "stance": stance}
                         for sid, group, stances in sessions for stance in stances])


def test_divergence_names_the_group_that_disagrees():
    evidence = _assessments(("s1", "a", ["positive"] * 3), ("s2", "a", ["positive", "neutral"]),
                            ("s3", "b", ["positive", "negative", "positive"]), ("s4", "b", ["positive"]),
                            ("s5", "c", ["negative"]), ("s6", "c", ["negative", "mixed"]),
                            ("s7", "d", ["positive"]))
    assert divergence(evidence, 0.6, 2) == ("positive", {"c": 1.0})
    # "d" has one assessing session only: not judged.
    assert divergence(evidence.replace({"stance": {"positive": "negative", "negative": "positive"}}), 0.6, 2) \
        == ("negative", {"c": 1.0})
    divided = _assessments(("s1", "a", ["positive"]), ("s2", "a", ["positive"]), ("s3", "b", ["negative"]),
                           ("s4", "b", ["negative"]))
    assert divergence(divided, 0.6, 2) == ("divided", {})


def test_sessions_not_segments_make_the_majority():
    # One long critical interview does not outweigh three favourable ones.
    evidence = _assessments(("s1", "a", ["negative"] * 12), ("s2", "b", ["positive"]), ("s3", "b", ["positive"]),
                            ("s4", "c", ["positive", "neutral"]))
    assert divergence(evidence, 0.6, 2)[0] == "positive"
    # A session whose assessments are even counts half for each side: 1.5 of 3 is divided.
    even = _assessments(("s1", "a", ["positive", "negative"]), ("s2", "b", ["positive"]), ("s3", "c", ["negative"]))
    assert divergence(even, 0.6, 2)[0] == "divided"
    assert divergence(_assessments(("s1", "a", ["neutral"])), 0.6, 2) == ("neutral", {})


def _written(streamed: StreamedText) -> str:
    out = io.StringIO()
    streamed.write(out)
    return out.getvalue()


@pytest.mark.parametrize("rows", [0, 1, 7, 23])
def test_large_reports_written_in_pieces_are_what_one_call_gives(monkeypatch, rows):
    monkeypatch.setattr(pipeline.reports.pieces, "ROWS_PER_PIECE", 5)
    frame = pd.DataFrame({"quote": [f"cita {i} </script> ñ \"x\"" for i in range(rows)],
                          "n": list(range(rows)), "share": [i / 3 for i in range(rows)],
                          "stance": pd.array([None if i % 4 == 0 else "positive" for i in range(rows)], dtype="string")})
    data = {"quotes": frame, "groups": {"b": "Bé", "a": ["<x>", 1.5]}, "empty": frame.head(0)}
    whole = json.dumps({k: pipeline.reports.pieces.records(v) if isinstance(v, pd.DataFrame) else v for k, v in data.items()},
                       ensure_ascii=False, sort_keys=True, default=str)
    assert "".join(pipeline.reports.pieces.json_pieces(data, ensure_ascii=False, default=str)) == whole
    assert "".join(pipeline.reports.pieces.safe_json(data)) == whole.replace("<", "\\u003c").replace(">", "\\u003e")
    assert "".join(pipeline.reports.pieces.csv_pieces(frame)) == frame.to_csv(index=False, lineterminator="\n")
    rows_only = {"quotes": pipeline.reports.pieces.Rows(frame)}
    assert "".join(pipeline.reports.pieces.json_pieces(rows_only, ensure_ascii=False)) == json.dumps(
        {"quotes": pipeline.reports.pieces.row_lists(frame)}, ensure_ascii=False, sort_keys=True)
    assert pipeline.reports.pieces.row_lists(frame) == [list(r.values()) for r in pipeline.reports.pieces.records(frame)]
    assert _written(StreamedText(f"<p>{SPLICE}</p>", iter(["a", "b"]))) == "<p>ab</p>"
    assert _written(StreamedText.of(["x", "y"])) == "xy"
    for text in ("no marker", SPLICE * 2):
        with pytest.raises(ValueError, match="once"):
            StreamedText(text, [])

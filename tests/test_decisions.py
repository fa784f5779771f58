"""Reviewers' decisions and analysts' summaries under coding/: what the next run does with them."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from pipeline import flow
from pipeline.errors import InputError
from pipeline.exchange.spreadsheets import formula_safe, read_sheet
from pipeline.schemas import DECISION_COLUMNS, SUMMARY_COLUMNS

from conftest import S1, S2, write_evaluation

TWO_CODERS = ("session_id,code,coder,quote\n"
              "S1,coordination,A,con las mesas de trabajo\nS1,coordination,B,con las mesas de trabajo\n")


def _csv(columns, rows) -> str:
    return pd.DataFrame(rows, columns=columns).to_csv(index=False, lineterminator="\n")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The tiny evaluation coded by A and B, run once: (root, its segments, its codings)."""
    root = tmp_path_factory.mktemp("decisions")
    codebook, transcripts = write_evaluation(root, files={"s1.txt": S1, "s2.txt": S2, "coding/ab.csv": TWO_CODERS})
    flow.run(codebook, transcripts, root / "first")
    segments = pd.read_csv(root / "first" / "segments.csv", dtype=str, keep_default_na=False)
    codings = pd.read_csv(root / "first" / "codings.csv", dtype=str, keep_default_na=False)
    return root, segments.set_index("segment_id"), codings


def _decision(segments, segment_id, code, coder, decision, stance="", quote=None):
    s = segments.loc[segment_id]
    return {"session_id": s["session_id"], "code": code, "coder": coder, "start": s["start"], "end": s["end"],
            "quote": s["text"] if quote is None else quote, "memo": "", "stance": stance, "decision": decision,
            "segment_id": segment_id}


def test_rejections_confirmations_conflicts_and_stale_decisions(first_run, tmp_path):
    root, segments, first = first_run
    rule = first[(first["source"] == "rule") & (first["session_id"] == "S2")].iloc[0]
    coordination = first[(first["source"] == "rule") & (first["code"] == "coordination")].iloc[0]
    rows = [_decision(segments, rule["segment_id"], rule["code"], "C", "reject"),
            # A and B coded coordination here: C's rejection is a conflict, and both are kept.
            _decision(segments, coordination["segment_id"], "coordination", "C", "reject"),
            _decision(segments, rule["segment_id"], "monitoring", "C", "add"),
            _decision(segments, coordination["segment_id"], "coordination", "D", "stance", stance="negative"),
            # The transcript changed since: the text at the span is not the quote the reviewer saw.
            _decision(segments, coordination["segment_id"], "coordination", "C", "confirm", quote="otra cosa")]
    codebook, transcripts = root / "codebook", root / "transcripts"
    (transcripts / "coding" / "decisions_C.csv").write_text(_csv(DECISION_COLUMNS, rows), encoding="utf-8")
    try:
        result = flow.run(codebook, transcripts, tmp_path / "out")
    finally:
        (transcripts / "coding" / "decisions_C.csv").unlink()
    out = tmp_path / "out"
    codings = pd.read_csv(out / "codings.csv", dtype=str, keep_default_na=False)
    rejected = codings[(codings["segment_id"] == rule["segment_id"]) & (codings["code"] == rule["code"])]
    assert set(rejected["status"]) == {"rejected"} and rejected["memo"].str.startswith("rejected by C").all()
    quotes = pd.read_csv(out / "matrices" / "quotes.csv", dtype=str, keep_default_na=False)
    assert not quotes.loc[quotes["segment_id"] == rule["segment_id"], "codes"].str.contains(rule["code"]).any()
    added = codings[(codings["segment_id"] == rule["segment_id"]) & (codings["code"] == "monitoring")]
    assert list(added[["source", "coder", "match"]].itertuples(index=False, name=None)) == [("human", "C", "review: add")]
    restanced = codings[(codings["coder"] == "D")]
    assert list(restanced[["stance", "stance_by", "status"]].itertuples(index=False, name=None)) == \
        [("negative", "coder", "accepted")]
    kept = codings[(codings["segment_id"] == coordination["segment_id"]) & (codings["source"] == "human")]
    assert set(kept["coder"]) == {"A", "B", "D"} and set(kept["status"]) == {"accepted"}
    conflicts = pd.read_csv(out / "review_conflicts.csv", dtype=str, keep_default_na=False)
    assert conflicts.to_dict("records") == [{"segment_id": coordination["segment_id"], "session_id": "S1",
                                             "code": "coordination", "kept_by": "A, B, D", "rejected_by": "C"}]
    reliability = json.loads((out / "reliability.json").read_text(encoding="utf-8"))
    assert reliability["review_conflicts"] == 1 and reliability["coders"] == ["A", "B"]  # reviewers are no coders
    unplaced = pd.read_csv(out / "unplaced_quotes.csv", dtype=str, keep_default_na=False)
    assert list(unplaced["reason"]) == ["confirm decision on a segment whose text is no longer at this span "
                                        "(the transcript changed); not applied"]
    rejected_codings = int((codings["status"] == "rejected").sum())  # every pattern's coding and roll-up
    assert rejected_codings >= 2
    assert result.counts["review"] == {"confirm": 0, "reject": 2, "stance": 1, "add": 1,
                                       "rejected_codings": rejected_codings, "conflicts": 1, "stale": 1, "summaries": 0}
    assert any("could not be placed" in w.message for w in result.warnings)


def test_a_wrong_decision_is_an_error_naming_the_file_and_row(first_run, tmp_path):
    root, segments, first = first_run
    segment_id = first.iloc[0]["segment_id"]
    rows = [_decision(segments, segment_id, "coordination", "C", "maybe"),
            _decision(segments, segment_id, "coordination", "C", "stance")]
    codebook, transcripts = root / "codebook", root / "transcripts"
    path = transcripts / "coding" / "decisions_C.csv"
    path.write_text(_csv(DECISION_COLUMNS, rows), encoding="utf-8")
    try:
        with pytest.raises(InputError) as caught:
            flow.run(codebook, transcripts, tmp_path / "out")
    finally:
        path.unlink()
    problems = [str(p) for p in caught.value.problems]
    assert problems[0].startswith(f"{path}, row 2: decision 'maybe' is not one of confirm, reject, stance, add.")
    assert problems[1].startswith(f"{path}, row 3: a 'stance' decision gives no stance.")


def test_a_summary_goes_through_the_privacy_guard(first_run, tmp_path):
    root, _, _ = first_run
    codebook, transcripts = root / "codebook", root / "transcripts"
    path = transcripts / "coding" / "summaries_C.csv"
    summary = "Coordinación débil al inicio; la fiscal dio su celular 987 654 321."
    path.write_text(_csv(SUMMARY_COLUMNS, [{"matrix": "question_by_group", "question": "EQ1",
                                            "column": "justice_sector", "coder": "C", "summary": summary,
                                            "segments": "S1-t0001-s00 S9-gone"}]), encoding="utf-8")
    try:
        with pytest.raises(InputError) as caught:
            flow.run(codebook, transcripts, tmp_path / "blocked")
        result = flow.run(codebook, transcripts, tmp_path / "redacted", privacy_policy="redact")
    finally:
        path.unlink()
    (problem,) = caught.value.problems
    assert problem.file == str(path) and problem.where.startswith("row 2, summary") and "987" not in str(problem)
    report = (tmp_path / "redacted" / "triangulation_report.html").read_text(encoding="utf-8")
    assert "la fiscal dio su celular [TELEFONO]." in report and "987 654 321" not in report
    markdown = (tmp_path / "redacted" / "triangulation_report.md").read_text(encoding="utf-8")
    assert "la fiscal dio su celular" in markdown and "987 654 321" not in markdown
    assert any("S9-gone" in w.message and "no longer exist" in w.message for w in result.warnings)
    assert result.counts["review"]["summaries"] == 1


def test_no_csv_cell_can_run_a_formula_and_it_reads_back_as_it_was(tmp_path):
    risky = ["=HYPERLINK(\"http://x\")", "+1", "-2 personas", "@SUM(A1)", "\tx", "\rx", "ok", "a=b"]
    frame = pd.DataFrame({"text": risky, "n": range(len(risky))}).astype({"text": "string"})
    safe = formula_safe(frame)
    assert list(safe["text"])[:6] == ["'" + v for v in risky[:6]] and list(safe["text"])[6:] == ["ok", "a=b"]
    assert list(safe["n"]) == list(range(len(risky))) and list(frame["text"]) == risky  # input not changed
    safe.to_csv(tmp_path / "t.csv", index=False)
    assert list(read_sheet(tmp_path / "t.csv")["text"])[:4] == risky[:4]


def test_a_quote_that_starts_like_a_formula_is_neutralised_in_every_csv_a_run_writes(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path, files={
        "s1.txt": S1.replace("F: Poco, muy poco.", "F: =1+1 Poco, muy poco."), "s2.txt": S2})
    flow.run(codebook, transcripts, tmp_path / "out")
    written = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "out").rglob("*.csv")}
    assert any("'=1+1 Poco" in text for text in written.values())
    for name, text in written.items():
        assert not any(cell.startswith(("=", "+", "@")) for row in csv.reader(io.StringIO(text)) for cell in row), name

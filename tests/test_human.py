"""Human coding: quotes placed on edited text, every unplaceable one reported, bad rows named."""

from __future__ import annotations

import pytest

from pipeline import flow
from pipeline.cli import main
from pipeline.config.codebook import load_codebook
from pipeline.errors import InputError
from pipeline.stages.coding.human import MIN_SCORE, place_quote, read_human_coding
from pipeline.stages.ingest.transcripts import read_transcripts
from pipeline.stages.turns import build_turns

from conftest import S1

TEXT = ("E: ¿Cómo fue?\nF: Bueno, eh, al inicio no hubo coordinación con la fiscalía. Después sí, "
        "con las mesas de trabajo se fue armando todo.\n\nEso ayudó bastante, la verdad, \"muchísimo\".\n")


def placed(quote: str):
    found = place_quote(quote, TEXT)
    return TEXT[found.start:found.end], found.score


@pytest.mark.parametrize("quote, expected", [
    ("al inicio no hubo coordinación con la fiscalía", "al inicio no hubo coordinación con la fiscalía"),
    ("Al inicio  no hubo\ncoordinacion con la fiscalia.", "al inicio no hubo coordinación con la fiscalía"),
    ("“Eso ayudó bastante, la verdad, «muchísimo»”", "Eso ayudó bastante, la verdad, \"muchísimo"),
    ("al inicio no hubo coordinación … mesas de trabajo", "al inicio no hubo coordinación con la fiscalía. "
                                                          "Después sí, con las mesas de trabajo"),
    ("al inicio no hubo cordinación con la fizcalía", "al inicio no hubo coordinación con la fiscalía"),
])
def test_lightly_edited_quotes_are_placed(quote, expected):
    text, score = placed(quote)
    assert text == expected
    assert score >= MIN_SCORE


def test_a_quote_not_in_the_text_scores_low():
    _, score = placed("el presupuesto regional fue suficiente para todo el año")
    assert score < MIN_SCORE


def test_an_ambiguous_quote_is_flagged():
    assert place_quote("sí", "F: sí, sí, claro").ambiguous


@pytest.fixture
def evaluation(tiny):
    codebook, transcripts = tiny
    book = load_codebook(codebook)
    frame = read_transcripts(transcripts, evaluation=book.evaluation)
    turns = build_turns(frame, interviewer_labels=book.evaluation.interviewer_labels)
    return book, frame, turns, transcripts


def read(evaluation, tmp_path, content: str, name="coding.csv"):
    book, frame, turns, _ = evaluation
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return read_human_coding([path], transcripts=frame, turns=turns, codebook=book)


def test_quotes_offsets_labels_and_files(evaluation, tmp_path):
    placed_, unplaced = read(evaluation, tmp_path,
                             "session_id,file,code,coder,start,end,quote,memo\n"
                             "S1,,coordination,A,,,\"Después sí, con las mesas de trabajo\",m1\n"
                             ",s2.txt,Monitoring,B,,,Weak on outcomes,\n"
                             "S1,,design_needs,A,95,130,,\n"
                             "S1,,coordination,A,,,la comisión nunca se reunió,\n")
    assert list(placed_["code"]) == ["design_needs", "coordination", "monitoring"]
    assert list(placed_["located"]) == ["offsets", "quote", "quote"]
    assert unplaced["quote"].tolist() == ["la comisión nunca se reunió"]
    assert unplaced["reason"].tolist() == ["was not found with confidence"]
    assert unplaced["closest"].iloc[0] != ""


def test_bad_rows_are_all_reported(evaluation, tmp_path):
    with pytest.raises(InputError) as caught:
        read(evaluation, tmp_path, "session_id,code,coder,start,end\n"
                                   "S9,coordination,A,1,5\n"
                                   "S1,no_such_code,A,1,5\n"
                                   "S1,coordination,,1,5\n"
                                   "S1,coordination,A,5,99999\n"
                                   "S1,coordination,A,3,20\n")
    found = [str(p) for p in caught.value.problems]
    assert [f.split(": ", 1)[1] for f in found] == [
        "'S9' is not a session of the register. Use a session_id (or file) from register.csv.",
        "'no_such_code' is neither a code id nor a code label. Use an id from the codebook (README.md, 'Codes').",
        "the coder is empty. Write who coded it (initials are fine).",
        f"the span 5-99999 is outside the text of S1 (0-{len(S1)}). Correct the offsets.",
        "the coded text (3-20) lies in no respondent turn of S1. Code what respondents said, not the "
        "interviewer's questions.",
    ]
    assert [f.split(": ", 1)[0].rsplit(", ", 1)[1] for f in found] == ["row 2", "row 3", "row 4", "row 5", "row 6"]


def test_missing_columns(evaluation, tmp_path):
    with pytest.raises(InputError, match=r"lacks the column\(s\) session_id \(or file\), start and end \(or quote\)"):
        read(evaluation, tmp_path, "code,coder\nx,A\n")


def test_coding_import_command_reports_unplaced_quotes(tiny, tmp_path, capsys):
    codebook, transcripts = tiny
    coding = tmp_path / "team.csv"
    coding.write_text("session_id,code,coder,quote\nS1,coordination,A,con las mesas de trabajo\n"
                      "S1,coordination,A,algo que nadie dijo nunca en ninguna entrevista\n", encoding="utf-8")
    out = tmp_path / "placed"
    assert main(["coding", "import", str(coding), "--codebook", str(codebook), "--transcripts", str(transcripts),
                 "--out", str(out)]) == 1
    assert "Placed 1 codings; 1 quote(s) could not be placed" in capsys.readouterr().out
    assert (out / "coding_team.csv").read_text(encoding="utf-8").splitlines()[1].startswith(
        "S1,coordination,A,")
    assert "algo que nadie dijo" in (out / "unplaced_team.csv").read_text(encoding="utf-8")


def test_run_imports_the_coding_folder_and_warns_about_unplaced_quotes(tiny, tmp_path):
    codebook, transcripts = tiny
    (transcripts / "coding").mkdir()
    (transcripts / "coding" / "a.csv").write_text(
        "session_id,code,coder,quote\nS1,coordination,A,con las mesas de trabajo\n"
        "S2,monitoring,A,this sentence is not in the transcript at all\n", encoding="utf-8")
    result = flow.run(codebook, transcripts, tmp_path / "out")
    assert result.counts["codings_by_source"]["human/accepted"] == 1
    assert any("1 quote(s) could not be placed" in w.message for w in result.warnings)


def test_xlsx_coding_with_labels_in_another_language(evaluation, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Session_ID", "Code", "Coder", "Quote", "Memo"])
    sheet.append(["S1", "Coordinación", "A", "con las mesas de trabajo", "label, not id"])
    sheet.append(["S2", "Design and needs", "B", "The design responded to what the prosecutors needed", None])
    path = tmp_path / "team.xlsx"
    book.save(path)
    codebook, frame, turns, _ = evaluation
    placed_, unplaced = read_human_coding([path], transcripts=frame, turns=turns, codebook=codebook)
    assert list(zip(placed_.session_id, placed_.code, placed_.coder)) == [
        ("S1", "coordination", "A"), ("S2", "design_needs", "B")]
    assert placed_.memo.tolist() == ["label, not id", ""] and unplaced.empty

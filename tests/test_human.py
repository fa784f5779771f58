"""Human coding: quotes placed on edited text, every unplaceable one reported, bad rows named."""

from __future__ import annotations

import json
import zipfile

import pandas as pd
import pytest

from pipeline import flow
from pipeline.exchange import refi
from pipeline.cli import main
from pipeline.config.codebook import load_codebook
from pipeline.errors import InputError
from pipeline.stages.coding.human import MIN_SCORE, REASONS, place_quote, placement_counts, read_human_coding
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


def test_rows_naming_no_session_or_code_stop_each_kind_once_with_its_rows(evaluation, tmp_path):
    with pytest.raises(InputError) as caught:
        read(evaluation, tmp_path, "session_id,code,coder,start,end\n"
                                   "S9,coordination,A,1,5\n"
                                   "S1,no_such_code,A,1,5\n"
                                   "S1,coordination,,1,5\n"
                                   "S9,monitoring,A,1,5\n"
                                   "S1,no_such_code,B,1,5\n"
                                   "S1,coordination,A,60,70\n")
    found = [str(p).split("coding.csv, ", 1)[1] for p in caught.value.problems]
    assert found == [
        "rows 2, 5: 'S9' is not a session of the register. Use a session_id (or file) from register.csv.",
        "rows 3, 6: 'no_such_code' is neither a code id nor a code label. Use an id from the codebook "
        "(README.md, 'Codes'), or add the code.",
        "row 4: the coder is empty. Write who coded it (initials are fine).",
    ]


def test_codings_that_cannot_be_placed_are_listed_with_their_reason_and_stop_nothing(evaluation, tmp_path):
    placed_, unplaced = read(evaluation, tmp_path,
                             "session_id,code,coder,start,end,quote\n"
                             "S1,coordination,A,5,99999,\n"
                             "S1,coordination,A,5,99999,con las mesas de trabajo\n"
                             "S1,coordination,A,x,y,\n"
                             "S1,coordination,A,,,\n")
    assert unplaced["row"].tolist() == [2, 4, 5]
    assert unplaced["reason"].tolist() == [REASONS["outside"], REASONS["offsets"], REASONS["nothing"]]
    assert placed_["row"].tolist() == [3] and placed_["located"].tolist() == ["quote"]


def test_a_coding_of_the_interviewers_turn_is_context_and_a_span_across_turns_is_split(evaluation, tmp_path):
    start = S1.index("Después")
    end = S1.index("presupuesto") + len("presupuesto")  # runs on into the interviewer's next question
    question = S1.index("¿Cómo fue")
    placed_, unplaced = read(evaluation, tmp_path,
                             "session_id,code,coder,start,end\n"
                             f"S1,coordination,A,{question},{question + 20}\n"
                             f"S1,monitoring,A,{start},{end}\n")
    assert unplaced.empty
    rows = placed_.sort_values(["row", "part"])
    assert list(zip(rows["row"], rows["role"], rows["part"], rows["parts"])) == [
        (2, "interviewer", 1, 1), (3, "respondent", 1, 2), (3, "interviewer", 2, 2)]
    assert [S1[a:b] for a, b in zip(rows["start"], rows["end"])] == [
        S1[question:question + 20],
        S1[start:S1.index("\nE: ¿Y el")],
        "¿Y el presupuesto"]
    counts = placement_counts(placed_, unplaced)
    assert {k: counts[k] for k in ("codings", "placed", "respondent", "context", "split", "respondent_parts",
                                   "context_parts")} == {"codings": 2, "placed": 2, "respondent": 0, "context": 1,
                                                         "split": 1, "respondent_parts": 1, "context_parts": 2}


def test_context_codings_are_kept_shown_and_never_counted_as_evidence(tiny, tmp_path):
    codebook, transcripts = tiny
    question = S1.index("¿Y el presupuesto?")
    answer = S1.index("Poco, muy poco")
    (transcripts / "coding").mkdir()
    (transcripts / "coding" / "a.csv").write_text(
        "session_id,code,coder,start,end,stance\n"
        f"S1,monitoring,A,{question},{question + 18},negative\n"
        f"S1,monitoring,A,{question + 3},{answer + 14},\n", encoding="utf-8")
    out = tmp_path / "out"
    result = flow.run(codebook, transcripts, out, privacy_policy="off")
    assert result.counts["human_coding"]["context"] == 1 and result.counts["human_coding"]["split"] == 1
    assert result.counts["codings_by_source"]["human/context"] == 2
    assert result.counts["codings_by_source"]["human/accepted"] == 1
    assert any("2 coding(s) cover an interviewer's turn (1 wholly, 1 in part)" in w.message for w in result.warnings)
    codings = pd.read_csv(out / "codings.csv", dtype=str, keep_default_na=False)
    context = codings[codings["status"] == "context"]
    assert set(context["segment_id"]) == {"S1-t0002"} and set(context["code"]) == {"monitoring"}
    evidence = pd.read_csv(out / "matrices" / "quotes.csv", dtype=str, keep_default_na=False)
    human = evidence[evidence["sources"].str.contains("human")]
    assert set(human["segment_id"]) <= set(codings.loc[codings["status"] == "accepted", "segment_id"])
    assert not evidence["segment_id"].isin(context["segment_id"]).any()
    page = (out / "transcripts" / "S1.html").read_text(encoding="utf-8")
    assert 'class="context"' in page and "context: monitoring" in page
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["human_coding"]["context_parts"] == 2
    # ...and exported to REFI-QDA as the person's selections of the interviewer's words.
    with zipfile.ZipFile(refi.export_qdpx(codebook, out, tmp_path / "a.qdpx", transcripts_dir=transcripts)) as archive:
        project = archive.read("project.qde").decode("utf-8")
    for _, row in context.iterrows():
        assert f'startPosition="{row["start"]}" endPosition="{row["end"]}"' in project


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
                 "--out", str(out)]) == 0
    shown = capsys.readouterr()
    assert "Placed 1 of 2 codings" in shown.out and "1 could not be placed (1 was not found with confidence)" in shown.out
    assert "1 coding(s) could not be placed in their transcript" in shown.err
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
    assert any("1 coding(s) could not be placed" in w.message for w in result.warnings)
    assert result.counts["human_coding"]["unplaced"] == {REASONS["not_found"]: 1}


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

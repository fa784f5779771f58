"""The register and the folder: every bad input named with its file, row and fix."""

from __future__ import annotations

import openpyxl
import pytest

from pipeline import commands, schemas
from pipeline.errors import InputError

from conftest import REGISTER, S1, S2, write_evaluation


def problems_of(codebook, transcripts) -> list[str]:
    with pytest.raises(InputError) as caught:
        commands.validate(codebook, transcripts)
    return [str(p) for p in caught.value.problems]


def test_the_tiny_evaluation_is_valid(tiny):
    result = commands.validate(*tiny)
    assert result.counts == {"sessions": 2, "participants": 2, "turns": 8, "respondent_turns": 4}
    assert result.warnings == ()


def test_the_register_holds_the_file_the_session_and_the_transcripts_metadata():
    """The register's columns are declared once: a metadata column added to the transcripts is one
    the register (and the REFI-QDA import that writes one) must carry too."""
    assert schemas.REGISTER_COLUMNS == ["file", "session_id", *(c.name for c in schemas.METADATA)]


def test_register_row_whose_file_does_not_exist(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path, files={"s1.txt": S1})
    assert problems_of(codebook, transcripts) == [
        f"{transcripts}/register.csv, row 3: the file 's2.txt' does not exist in {transcripts}. "
        "Correct the path (it is relative to the register's folder) or add the transcript."]


def test_transcript_not_in_the_register(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path, files={"s1.txt": S1, "s2.txt": S2, "sub/s3.md": S1})
    assert problems_of(codebook, transcripts) == [
        f"{transcripts}/sub/s3.md: is a transcript that is not in the register. "
        "Add a row for it to register.csv, or move it out of the folder."]


def test_readme_guide_and_coding_folder_are_ignored(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path, files={
        "s1.txt": S1, "s2.txt": S2, "README.md": "# Sample", "interview_guide.md": "# Guide",
        "coding/a.csv": "session_id,code\n"})
    assert commands.validate(codebook, transcripts).warnings == ()


def test_other_files_are_warned_not_dropped_silently(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path, files={"s1.txt": S1, "s2.txt": S2, "notas.wpd": "x"})
    warnings = commands.validate(codebook, transcripts).warnings
    assert [w.message for w in warnings] == ["is not a transcript format the pipeline reads; it is ignored."]
    assert warnings[0].fix == ("Convert it to .txt, .md, .docx, .odt, .rtf, .vtt, .srt or .pdf and register it, or add it to "
                               "transcripts.ignore in evaluation.yaml.")


def test_the_formats_read_are_the_registered_ones(tmp_path, readers):
    from pipeline.stages.ingest.formats import plain, reader

    register = REGISTER.replace("s2.txt,S2", "s2.wpd,S2")
    codebook, transcripts = write_evaluation(tmp_path, register=register, files={"s1.txt": S1, "s2.wpd": S2})
    assert problems_of(codebook, transcripts) == [
        f"{transcripts}/register.csv, row 3: the file 's2.wpd' is not a supported transcript format. "
        "Convert it to .txt, .md, .docx, .odt, .rtf, .vtt, .srt or .pdf."]
    reader(".wpd")(plain.read_plain)
    assert commands.validate(codebook, transcripts).counts["sessions"] == 2


def test_duplicate_session_id(tmp_path):
    register = REGISTER.replace("s2.txt,S2", "s2.txt,S1")
    codebook, transcripts = write_evaluation(tmp_path, register=register)
    assert problems_of(codebook, transcripts) == [
        f"{transcripts}/register.csv, row 3: session_id 'S1' is already used in row 2. "
        "Give each session its own id."]


def test_unknown_stakeholder_group_and_method_suggest_the_right_one(tmp_path):
    register = REGISTER.replace("interview,justice_sector", "interveiw,justice").replace(",lima,", ",callao,")
    codebook, transcripts = write_evaluation(tmp_path, register=register)
    found = problems_of(codebook, transcripts)
    assert found == [
        f"{transcripts}/register.csv, row 2: unknown method 'interveiw'. Did you mean 'interview'? "
        "Use one of: interview, group_interview, focus_group, document (declared in evaluation.yaml).",
        f"{transcripts}/register.csv, row 2: unknown stakeholder group 'justice'. Did you mean "
        "'justice_sector'? Use one of: justice_sector, donor (declared in evaluation.yaml).",
        f"{transcripts}/register.csv, row 3: unknown region 'callao'. Use one of: lima, cusco "
        "(declared in evaluation.yaml).",
    ]


@pytest.mark.parametrize("value", ["dos", "0", "1.5", ""])
def test_participants_must_be_a_whole_number(tmp_path, value):
    register = REGISTER.replace("es,1,cusco", f"es,{value},cusco")
    codebook, transcripts = write_evaluation(tmp_path, register=register)
    assert problems_of(codebook, transcripts) == [
        f"{transcripts}/register.csv, row 2: participants must be a whole number of at least 1, not "
        f"'{value}'. Write how many people spoke for the respondent side (1 for an interview)."]


def test_language_and_date(tmp_path):
    register = REGISTER.replace(",es,1,", ",pt,1,").replace("2024-09-02", "02/09/2024")
    codebook, transcripts = write_evaluation(tmp_path, register=register)
    found = problems_of(codebook, transcripts)
    assert "language 'pt' is not one of the evaluation's languages (es, en)" in found[0]
    assert "date '02/09/2024' is not a date written YYYY-MM-DD" in found[1]


def test_missing_required_columns(tmp_path):
    register = REGISTER.replace("participants,", "people,")
    codebook, transcripts = write_evaluation(tmp_path, register=register)
    found = problems_of(codebook, transcripts)
    assert found[0] == (f"{transcripts}/register.csv, row 1: lacks the required column(s) participants. "
                        "The header must name at least: file, session_id, method, stakeholder_group, "
                        "participants.")


def test_unknown_columns_are_warned(tmp_path):
    register = REGISTER.replace("date\n", "date,ciudad\n").replace("09-01\n", "09-01,Cusco\n")
    codebook, transcripts = write_evaluation(tmp_path, register=register)
    warnings = commands.validate(codebook, transcripts).warnings
    assert [w.message for w in warnings] == ["the column 'ciudad' is not one the pipeline uses; it is ignored."]


def test_missing_register(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path)
    (transcripts / "register.csv").unlink()
    found = problems_of(codebook, transcripts)
    assert found[0].startswith(f"{transcripts}: has no register.csv or register.xlsx.")
    assert len(found) == 1  # the transcripts are not each reported as unregistered


def test_semicolon_register_from_a_spanish_spreadsheet(tmp_path):
    register = REGISTER.replace(",", ";").encode("cp1252")
    codebook, transcripts = write_evaluation(tmp_path)
    (transcripts / "register.csv").write_bytes(register)
    assert commands.validate(codebook, transcripts).counts["sessions"] == 2


def test_xlsx_register(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path)
    (transcripts / "register.csv").unlink()
    book = openpyxl.Workbook()
    sheet = book.active
    for line in REGISTER.strip().split("\n"):
        cells = line.split(",")
        sheet.append([int(c) if c.isdigit() else c for c in cells])
    book.save(transcripts / "register.xlsx")
    result = commands.validate(codebook, transcripts)
    assert result.counts["sessions"] == 2


def test_every_problem_of_the_folder_is_reported_in_one_pass(tmp_path):
    register = REGISTER.replace("justice_sector", "jueces") + "s3.txt,S3,interview,donor,en,1,,\n"
    codebook, transcripts = write_evaluation(tmp_path, register=register, files={
        "s1.txt": S1, "s2.txt": "F: Fine.".encode("utf-16"), "s4.txt": S2, "s3.txt": "E: Only questions?\n"})
    found = problems_of(codebook, transcripts)
    assert [p.split(": ", 1)[1].split(".")[0] for p in found] == [
        "unknown stakeholder group 'jueces'",
        "is a transcript that is not in the register",
        "has no respondent speech: every speaker label (E) is an interviewer's, or the respondents' turns are empty",
    ]
    assert found[1].startswith(f"{transcripts}/s4.txt: ")
    assert found[2].startswith(f"{transcripts}/s3.txt: ")


def test_an_empty_transcript_and_an_undecodable_one(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path, files={"s1.txt": "  \n", "s2.txt": b"F: \x81\x8d"})
    found = problems_of(codebook, transcripts)
    assert found[0] == (f"{transcripts}/s1.txt: is empty. Put the transcript's text in it, or remove "
                        "its row from the register.")
    assert found[1].startswith(f"{transcripts}/s2.txt: cannot be decoded")


def test_a_ragged_row_is_named_with_its_row(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path, register=REGISTER.replace("cusco,2024", "cusco,extra,2024"))
    assert problems_of(codebook, transcripts) == [
        f"{transcripts}/register.csv, row 2: has 9 cells but the header names 8 columns (a value holding ',' that "
        "is not in double quotes?). Put the value that holds ',' in double quotes (\"Lima, Cusco\"), or remove the "
        "extra cell."]


def test_a_link_inside_the_transcripts_folder_is_read_as_its_target(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path, files={"s1.txt": S1, "real/s2.txt": S2})
    (transcripts / "s2.txt").symlink_to(transcripts / "real" / "s2.txt")
    (transcripts / "register.csv").write_text(REGISTER + "real/s2.txt,S3,interview,donor,en,1,lima,2024-09-03\n",
                                              encoding="utf-8")
    assert commands.validate(codebook, transcripts).counts["sessions"] == 3

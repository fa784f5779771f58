"""The codebook manual, spreadsheet import and export, and the scaffold of a new evaluation."""

from __future__ import annotations

import shutil

import openpyxl
import pytest

from pipeline import flow
from pipeline.cli import main
from pipeline.config.codebook import load_codebook
from pipeline.config.code_sheet import code_rows, import_code_sheet, write_code_sheet
from pipeline.errors import InputError
from pipeline.reports.manual import codebook_manual
from pipeline.config.scaffold import init_evaluation

from conftest import SAMPLE_CODEBOOK, write_evaluation


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_a_sheet_exported_from_the_yaml_imports_back_to_the_same_codes(tmp_path, suffix):
    original = load_codebook(SAMPLE_CODEBOOK)
    sheet = tmp_path / f"peru{suffix}"
    write_code_sheet(original, sheet)
    folder = tmp_path / "codebook"
    folder.mkdir()
    for name in ("evaluation.yaml", "stance.yaml"):
        shutil.copy(SAMPLE_CODEBOOK / name, folder / name)
    written = import_code_sheet(sheet, folder)
    assert written.name == "codes_peru.yaml"
    imported = load_codebook(folder)
    assert imported.codes == original.codes


def test_export_columns_follow_the_languages(tmp_path):
    codebook, _ = write_evaluation(tmp_path)
    rows = code_rows(load_codebook(codebook))
    assert list(rows.columns) == ["id", "label", "label_en", "label_es", "definition", "definition_en",
                                  "definition_es", "include", "exclude", "parent", "roll_up", "example",
                                  "questions", "patterns_en", "patterns_es"]
    coordination = rows[rows.id == "coordination"].iloc[0]
    assert coordination["patterns_es"] == "mesa de trabajo\ntokens: [{\"LEMMA\": \"coordinación\"}]  # id: coord-token"


def test_a_hand_made_sheet_with_unusable_rows_is_reported_and_not_written(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "label_es", "label_en", "definition", "include", "exclude", "example", "questions",
                  "patterns_es"])
    sheet.append(["rotacion", "Rotación", "Turnover", "Cambio de personal.", "Cuando cambian.", "Equipo.",
                  "Cambian al fiscal.", "EQ18, EQ20", "rotación de personal\nregex: \\brotaci[oó]n\\b"])
    sheet.append(["", "Sin id", "", "x", "x", "x", "x", "EQ1", ""])
    sheet.append(["sin ejemplo", "X", "", "x", "x", "x", "", "EQ1", "tokens: [{LEMMA: x}]"])
    path = tmp_path / "codes.xlsx"
    book.save(path)
    with pytest.raises(InputError) as caught:
        import_code_sheet(path, tmp_path)
    found = [str(p) for p in caught.value.problems]
    assert found[0].startswith(f"{path}, row 3: id: string should match pattern") or "row 3" in found[0]
    assert any("row 4" in p and "not valid JSON" in p for p in found)
    assert not (tmp_path / "codes_codes.yaml").exists()


def test_import_a_good_sheet_then_refuse_to_overwrite(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text("id;label;definition;include;exclude;example;questions;patterns_es\n"
                    "rotacion;Rotación;Cambio de personal.;Cuando cambian.;Equipo.;Cambian al fiscal.;"
                    "EQ1 EQ2;\"rotación de personal\nregex: \\brotaci[oó]n\\b\"\n", encoding="utf-8")
    target = import_code_sheet(path, tmp_path)
    text = target.read_text(encoding="utf-8")
    assert "- id: rotacion" in text and "questions:\n  - EQ1\n  - EQ2" in text
    with pytest.raises(InputError, match="exists already"):
        import_code_sheet(path, tmp_path)


def test_a_sheet_with_only_id_label_description_and_questions_imports_and_runs(tmp_path):
    codebook, _ = write_evaluation(tmp_path)
    path = tmp_path / "team codes.csv"
    path.write_text("ID,Label,Description,Questions\nrotacion,Rotación,Cambio de personal.,EQ1\n"
                    "plain,Plain,,EQ2\n", encoding="utf-8")
    target = import_code_sheet(path, codebook)
    text = target.read_text(encoding="utf-8")
    assert "definition: Cambio de personal." in text and "examples" not in text and "include" not in text
    with pytest.warns(Warning, match=r"definition \(1: plain\); include, exclude, examples \(2: rotacion, plain\)"):
        book = load_codebook(codebook)
    manual = codebook_manual(book, language="es")
    assert "Codes without a recommended field" in manual["codebook.html"]
    assert "| Definition | 1 | `plain` |" in manual["codebook.md"]


def test_a_sheet_without_a_label_points_to_the_code_sheets_section(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("id,definition\nx,Something.\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        import_code_sheet(path, tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}, row 1: has no 'label' column. The first row must name the columns: at least id and label, and "
        f"any of definition, include, exclude, parent, roll_up, example, questions, patterns (README.md, 'The "
        f"codebook in a spreadsheet, and the manual')."]
    path.write_text("id,label\nx,\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        import_code_sheet(path, tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}, row 2: label: the 'label' cell is empty. Fill it in (README.md, 'The codebook in a spreadsheet, "
        f"and the manual')."]


def test_the_sample_manual_has_no_table_of_missing_fields():
    manual = codebook_manual(load_codebook(SAMPLE_CODEBOOK), language="es")
    assert "Codes without a recommended field" not in manual["codebook.html"] + manual["codebook.md"]


def test_the_manual_lists_every_code_and_question(tmp_path):
    codebook = load_codebook(SAMPLE_CODEBOOK)
    manual = codebook_manual(codebook, language="es")
    html, markdown = manual["codebook.html"], manual["codebook.md"]
    for code in codebook.codes:
        assert f'id="code-{code.id}"' in html and f"`{code.id}`" in markdown
    for question in codebook.evaluation.questions:
        assert f'id="q-{question.id}"' in html and f"### {question.id}" in markdown
    assert "<script" not in html and "http" not in html.split("<body>")[1]


def test_manual_escapes_what_it_shows(tmp_path):
    codebook, _ = write_evaluation(tmp_path)
    path = codebook / "codes.yaml"
    path.write_text(path.read_text().replace("We counted trainings, not changes.",
                                             "<script>alert(1)</script>"), encoding="utf-8")
    html = codebook_manual(load_codebook(codebook))["codebook.html"]
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_codebook_render_command(tmp_path, capsys):
    assert main(["codebook", "render", "--codebook", str(SAMPLE_CODEBOOK), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "codebook.html").is_file() and (tmp_path / "codebook.md").is_file()


def test_init_then_validate_says_what_is_missing(tmp_path, capsys):
    folder = tmp_path / "eval2"
    assert main(["init", str(folder)]) == 0
    assert main(["validate", "--codebook", str(folder / "codebook"), "--transcripts",
                 str(folder / "transcripts")]) == 1
    errors = [line for line in capsys.readouterr().err.split("\n") if line.startswith("Error:")]
    line = (folder / "codebook/evaluation.yaml").read_text().split("\n").index("questions: []") + 1
    assert errors == [
        f"Error: {folder}/codebook/evaluation.yaml, line {line} (questions): declares no evaluation "
        "questions. List them under 'questions:' (id, criterion, text).",
        f"Error: {folder}/codebook: has no codes. Write them in a code file such as codes.yaml "
        "(README.md, 'Codes').",
        f"Error: {folder}/transcripts/register.csv: has no sessions. Add one row per interview, group "
        "interview, focus group or document.",
    ]
    with pytest.raises(InputError, match="exists already"):
        init_evaluation(folder)


def test_a_filled_in_scaffold_runs(tmp_path):
    folder = tmp_path / "eval2"
    init_evaluation(folder)
    config = folder / "codebook" / "evaluation.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "questions: []", "questions:\n  - id: EQ1\n    criterion: relevance\n    text: Was it relevant?"),
        encoding="utf-8")
    (folder / "codebook" / "codes.yaml").write_text(
        "codes:\n  - id: fit\n    label: Fit\n    definition: Fit to needs.\n    include: Fit.\n"
        "    exclude: Results.\n    examples: [It fitted.]\n    questions: [EQ1]\n", encoding="utf-8")
    register = folder / "transcripts" / "register.csv"
    register.write_text(register.read_text(encoding="utf-8") + "s1.txt,S1,interview,donor,en,1,,,,,,,\n",
                        encoding="utf-8")
    (folder / "transcripts" / "s1.txt").write_text("Interviewer: Was it relevant?\nDonor: Yes, it fitted.\n")
    result = flow.run(folder / "codebook", folder / "transcripts", folder / "reports")
    assert result.counts["segments"] == 1

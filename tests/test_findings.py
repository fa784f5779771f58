"""The findings file and its check: load errors with file and line, each planted defect reported
with id and line, support equal to the matrices' figures, quotes chosen for breadth, and the
sample's findings report and annex read back (Word, Chromium)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import docx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pipeline import commands, flow, schemas
from pipeline.cli import main
from pipeline.config.codebook import load_codebook
from pipeline.config.findings import Findings, FindingsFile, load_findings
from pipeline.config.yamlfile import YamlDocument
from pipeline.errors import FindingsError, InputError
from pipeline.stages.findings.check import check_findings
from pipeline.stages.findings.quotes import choose_quotes, counter_quotes, passage_traits
from pipeline.stages.matrices import build_evidence_matrices
from pipeline.stages.triangulate import triangulate

from conftest import (CHROMIUM, CHROMIUM_FLAGS, SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS, TINY_FINDINGS, needs_chromium,
                      write_evaluation)



def _tiny_with(tmp_path: Path, findings: str = TINY_FINDINGS) -> tuple[Path, Path]:
    codebook, transcripts = write_evaluation(tmp_path)
    (codebook / "findings.yaml").write_text(findings, encoding="utf-8")
    return codebook, transcripts


def _problems(tmp_path: Path, text: str) -> list[str]:
    codebook, _ = _tiny_with(tmp_path, text)
    with pytest.raises(FindingsError) as raised:
        load_findings(codebook, load_codebook(codebook))
    return [str(p) for p in raised.value.problems]


# ---------------------------------------------------------------- loading


def test_the_tiny_findings_file_loads_and_the_codebook_does_not_take_it_for_codes(tmp_path):
    codebook, _ = _tiny_with(tmp_path)
    book = load_codebook(codebook)
    loaded = load_findings(codebook, book)
    assert [f.id for f in loaded.content.findings] == ["F1", "F2"]
    assert loaded.content.findings[0].statement.get("es") == "El diseño respondió a las fiscalías."
    assert "findings.yaml" not in dict(book.files)
    assert loaded.where(("findings", 1, "direction")) == "line 13 (findings[1].direction)"


def test_no_findings_file_is_no_findings(tiny):
    assert load_findings(tiny[0], load_codebook(tiny[0])) is None


def test_yaml_syntax_errors_name_the_line(tmp_path):
    problems = _problems(tmp_path, TINY_FINDINGS.replace("    direction: negative", "    direction: [negative"))
    assert len(problems) == 1 and ", line 14, column 13: is not valid YAML" in problems[0] and "is not valid YAML" in problems[0]


def test_an_unknown_key_names_its_line_and_the_documentation(tmp_path):
    problems = _problems(tmp_path, TINY_FINDINGS.replace("    statement: Monitoring", "    statment: Monitoring"))
    assert any(p.endswith("findings.yaml, line 12 (findings[1].statment): unknown key 'statment'. Remove it or correct "
                          "its spelling (README.md, 'The findings file', lists every key).") for p in problems), problems


def test_a_missing_direction_and_a_wrong_one_are_reported_where_they_are(tmp_path):
    text = TINY_FINDINGS.replace("    direction: positive\n", "").replace("direction: negative", "direction: down")
    problems = _problems(tmp_path, text)
    assert any("line 2 (findings[0]): the required key 'direction' is missing. Add 'direction' (see README.md, "
               "'The findings file')." in p for p in problems), problems
    assert any("line 12 (findings[1].direction): input should be 'positive', 'negative' or 'mixed'" in p
               for p in problems), problems


def test_unknown_questions_codes_groups_and_references_are_named_with_a_suggestion(tmp_path):
    text = (TINY_FINDINGS.replace("questions: [EQ2]", "questions: [EQ22]").replace("codes: [design_needs]",
                                                                                  "codes: [design_need]")
            .replace("groups: [donor]", "groups: [donors]").replace("findings: [F1, F2]", "findings: [F1, F3]")
            .replace("follows_from: [C1]", "follows_from: [C2]"))
    problems = _problems(tmp_path, text)
    expected = ["line 11 (findings[1].questions[0]): the question 'EQ22' does not exist. Did you mean 'EQ2'?",
                "line 8 (findings[0].evidence.codes[0]): the code 'design_need' does not exist. Did you mean 'design_needs'?",
                "line 9 (findings[0].evidence.groups[0]): the stakeholder group 'donors' does not exist. Did you mean 'donor'?",
                "line 19 (conclusions[0].findings[1]): the finding 'F3' does not exist. Use the id of a finding of this file.",
                "line 26 (recommendations[0].follows_from[0]): the conclusion or finding 'C2' does not exist. "
                "Use the id of a conclusion or finding of this file."]
    for message in expected:
        assert any(message in p for p in problems), (message, problems)
    assert len(problems) == len(expected)


def test_an_id_used_twice_is_reported_at_its_second_place(tmp_path):
    problems = _problems(tmp_path, TINY_FINDINGS.replace("  - id: R1", "  - id: C1"))
    assert len(problems) == 1
    assert "line 21 (recommendations[0].id): the id 'C1' is already used at line 17 (conclusions[0].id)." in problems[0]


def test_a_date_or_a_number_in_the_report_block_is_read_as_written(tmp_path):
    codebook, _ = _tiny_with(tmp_path, "report: {date: 2024-12-01, project_code: 2017}\n" + TINY_FINDINGS)
    report = load_findings(codebook, load_codebook(codebook)).content.report
    assert (report.date, report.project_code) == ("2024-12-01", "2017")


def test_validate_reports_the_findings_files_problems(tmp_path):
    codebook, transcripts = _tiny_with(tmp_path, TINY_FINDINGS.replace("groups: [donor]", "groups: [donors]"))
    with pytest.raises(InputError) as raised:
        commands.validate(codebook, transcripts)
    assert [p.where for p in raised.value.problems] == ["line 9 (findings[0].evidence.groups[0])"]


# ---------------------------------------------------------------- the check, on the tiny evaluation


TINY_PROBLEMS = [
    ("line 15 (findings[1].evidence)", "finding F2 has no coded passage on EQ2 among its evidence."),
    ("line 15 (findings[1].evidence.segments[0])", "finding F2 cites S2-t0003-s00, which is not coded."),
    ("line 13 (findings[1].direction)", "finding F2 claims 'negative', but no session assesses EQ2."),
]


def test_a_run_checks_the_findings_and_warns_of_each_problem(tmp_path):
    codebook, transcripts = _tiny_with(tmp_path)
    result = flow.run(codebook, transcripts, tmp_path / "out")
    assert [(w.where, w.message) for w in result.warnings] == TINY_PROBLEMS
    assert all(w.file == str(codebook / "findings.yaml") for w in result.warnings)
    assert result.counts["findings"] == {"claims": 2, "conclusions": 1, "recommendations": 1, "problems": 3}
    for name in ("findings.html", "findings_annex.md", "findings_annex.docx"):
        assert name in result.outputs
    page = (tmp_path / "out" / "findings.html").read_text(encoding="utf-8")
    assert "finding F2 cites S2-t0003-s00, which is not coded." in page and "Measure change" in page


def test_strict_makes_the_problems_errors_and_nothing_is_written(tmp_path):
    codebook, transcripts = _tiny_with(tmp_path, "strict: true\n" + TINY_FINDINGS)
    with pytest.raises(FindingsError) as raised:
        flow.run(codebook, transcripts, tmp_path / "out")
    assert [p.message for p in raised.value.problems] == [m for _, m in TINY_PROBLEMS]
    assert not (tmp_path / "out" / "findings.html").exists() and not (tmp_path / "out" / "manifest.json").exists()


def test_the_findings_reports_go_when_the_findings_file_does(tmp_path):
    codebook, transcripts = _tiny_with(tmp_path)
    flow.run(codebook, transcripts, tmp_path / "out")
    (codebook / "findings.yaml").unlink()
    result = flow.run(codebook, transcripts, tmp_path / "out")
    assert "findings" not in result.counts and not (tmp_path / "out" / "findings.html").exists()


def test_the_check_alone_writes_what_the_run_wrote_and_strict_fails(tmp_path, capsys):
    codebook, transcripts = _tiny_with(tmp_path)
    out = tmp_path / "out"
    flow.run(codebook, transcripts, out)
    written = {n: (out / n).read_bytes() for n in ("findings.html", "findings_annex.md", "findings_annex.docx")}
    args = ["findings", "check", "--codebook", str(codebook), "--transcripts", str(transcripts), "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr()
    assert "Warning: " + str(codebook / "findings.yaml") + ", line 15 (findings[1].evidence.segments[0]): finding F2 " \
           "cites S2-t0003-s00, which is not coded." in printed.err
    assert "Checked 2 findings, lessons and practices: 3 problem(s)." in printed.out
    assert {n: (out / n).read_bytes() for n in written} == written  # same bytes as the run's
    assert main(args + ["--strict"]) == 1
    assert "3 problems found. Nothing was written" in capsys.readouterr().err


def test_the_check_alone_needs_a_run_of_these_transcripts(tmp_path):
    codebook, transcripts = _tiny_with(tmp_path)
    with pytest.raises(InputError, match="holds no finished run"):
        commands.findings_check(codebook, transcripts, tmp_path / "out")
    flow.run(codebook, transcripts, tmp_path / "out")
    (transcripts / "s2.txt").write_text("Interviewer: Hi.\nOfficer: Changed.\n", encoding="utf-8")
    with pytest.raises(InputError) as raised:
        commands.findings_check(codebook, transcripts, tmp_path / "out")
    assert [Path(p.file).name for p in raised.value.problems] == ["s2.txt"]
    (codebook / "findings.yaml").unlink()
    with pytest.raises(FindingsError, match="findings.yaml: does not exist"):
        commands.findings_check(codebook, transcripts, tmp_path / "out")


def test_the_findings_reports_are_the_same_bytes_on_a_rerun(tmp_path):
    codebook, transcripts = _tiny_with(tmp_path)
    flow.run(codebook, transcripts, tmp_path / "a")
    flow.run(codebook, transcripts, tmp_path / "b", force=True)
    for name in ("findings.html", "findings_annex.md", "findings_annex.docx"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# ---------------------------------------------------------------- choosing quotes


def _rows(*rows) -> pd.DataFrame:
    columns = ["segment_id", "session_id", "stakeholder_group", "method", "sources", "stance", "text"]
    return pd.DataFrame([dict(zip(columns, row)) for row in rows], columns=columns)


def _traits(rows: pd.DataFrame, openings=(), short=()) -> pd.DataFrame:
    return pd.DataFrame({"opening": [s in openings for s in rows["segment_id"]],
                         "words": [5 if s in short else 40 for s in rows["segment_id"]]},
                        index=pd.Index(rows["segment_id"], name="segment_id"))


def test_quotes_come_from_other_groups_and_methods_first():
    rows = _rows(("a1", "A", "justice", "interview", "human", "positive", ""),
                 ("a2", "A", "justice", "interview", "human", "positive", ""),
                 ("b1", "B", "justice", "focus_group", "rule", "positive", ""),
                 ("c1", "C", "donor", "interview", "rule", "positive", ""))
    chosen = choose_quotes(rows, limit=3, traits=_traits(rows))
    assert chosen["segment_id"].tolist() == ["a1", "c1", "b1"]


def test_substance_before_introductions_then_peoples_codings_before_machines():
    rows = _rows(("a0", "A", "justice", "interview", "human", "neutral", ""),
                 ("a1", "A", "justice", "interview", "rule", "positive", ""),
                 ("a2", "A", "justice", "interview", "human", "positive", ""),
                 ("a3", "A", "justice", "interview", "human", "positive", ""))
    traits = _traits(rows, openings={"a0"}, short={"a3"})
    assert choose_quotes(rows, limit=4, traits=traits)["segment_id"].tolist() == ["a2", "a1", "a3", "a0"]
    assert choose_quotes(rows, limit=1, traits=traits, cited=frozenset({"a1"}))["segment_id"].tolist() == ["a1"]


def test_a_divided_question_shows_both_stances():
    rows = _rows(("a1", "A", "g1", "interview", "human", "positive", ""),
                 ("b1", "B", "g2", "interview", "human", "positive", ""),
                 ("c1", "C", "g3", "interview", "rule", "negative", ""))
    assert choose_quotes(rows, limit=2, traits=_traits(rows))["segment_id"].tolist() == ["a1", "b1"]
    assert choose_quotes(rows, limit=2, traits=_traits(rows), balance=True)["segment_id"].tolist() == ["a1", "c1"]


def test_counter_evidence_is_one_passage_per_group_leaning_sessions_first():
    rows = _rows(("a1", "A", "g1", "interview", "human", "negative", ""),
                 ("b1", "B", "g1", "interview", "rule", "negative", ""),
                 ("c1", "C", "g2", "interview", "human", "negative", ""),
                 ("d1", "D", "g2", "interview", "human", "positive", ""))
    leanings = pd.DataFrame({"session_id": ["A", "B", "C", "D"], "stakeholder_group": ["g1", "g1", "g2", "g2"],
                             "stance": ["positive", "negative", "negative", "positive"]})
    chosen = counter_quotes(rows, stance="negative", leanings=leanings, traits=_traits(rows))
    assert chosen["segment_id"].tolist() == ["b1", "c1"]  # B leans negative, A does not


def test_openings_are_the_answers_to_a_sessions_first_question():
    segments = pd.DataFrame({"segment_id": ["S1-t1-s0", "S1-t3-s0", "S2-t0-s0", "S2-t0-s1", "S2-t2-s0"],
                             "session_id": ["S1", "S1", "S2", "S2", "S2"], "turn_id": ["S1-t1", "S1-t3", "S2-t0", "S2-t0", "S2-t2"],
                             "prompt_turn_id": ["S1-t0", "S1-t2", "", "", "S2-t1"], "start": [10, 50, 0, 20, 60],
                             "words": [30, 30, 30, 30, 30]})
    assert passage_traits(segments)["opening"].to_dict() == {"S1-t1-s0": True, "S1-t3-s0": False, "S2-t0-s0": True,
                                                            "S2-t0-s1": True, "S2-t2-s0": False}


# ---------------------------------------------------------------- the sample


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """The sample run once, with its findings file: (output folder, run result)."""
    out = tmp_path_factory.mktemp("sample") / "reports"
    return out, flow.run(SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS, out)


@pytest.fixture(scope="module")
def tables(sample_run):
    out, _ = sample_run
    book = load_codebook(SAMPLE_CODEBOOK)
    found = {t.name: commands.read_table(out, t) for t in (schemas.TRANSCRIPTS, schemas.TURNS, schemas.SEGMENTS,
                                                       schemas.CODINGS)}
    rubric = book.evaluation.triangulation
    matrices = build_evidence_matrices(found["segments"], found["codings"], codebook=book,
                                       include_suggestions=rubric.include_suggestions, min_confidence=rubric.min_confidence)
    return {"book": book, **found, "evidence": matrices["evidence"],
            "questions": triangulate(matrices["evidence"], found["transcripts"], codebook=book)}


def _checked(tables: dict, content: dict):
    """The check of a findings file given as data (lines are not known: key paths only)."""
    findings = Findings.model_validate(content)
    file = FindingsFile("findings.yaml", findings, YamlDocument("findings.yaml", content, None), "")
    return check_findings(file, evidence=tables["evidence"], questions=tables["questions"],
                          transcripts=tables["transcripts"], segments=tables["segments"], turns=tables["turns"],
                          codings=tables["codings"], codebook=tables["book"])


def test_the_sample_run_warns_only_of_its_findings(sample_run):
    _, result = sample_run
    assert result.warnings and all(w.file.endswith("findings.yaml") for w in result.warnings)
    assert result.counts["findings"]["problems"] == len(result.warnings)
    messages = [w.message for w in result.warnings]
    assert "question EQ7 (coherence) has no finding." in messages
    assert any(m.startswith("finding F1 claims 'positive', but the sessions assessing EQ1 lean negative") for m in messages)
    assert not any(" cites " in m for m in messages)  # every citation of the sample is a coded respondent's passage


def test_a_finding_on_all_of_a_questions_codes_is_rated_as_the_question(tables):
    book = tables["book"]
    content = {"findings": [{"id": f"F{q.id}", "questions": [q.id], "statement": "x", "direction": "positive",
                             "evidence": {"codes": book.codes_for(q.id)}} for q in book.evaluation.questions]}
    support = _checked(tables, content).support.set_index("question")
    expected = tables["questions"].set_index("question")
    columns = [c for c in support.columns if c in expected.columns]
    pd.testing.assert_frame_equal(support[columns], expected.loc[support.index, columns], check_dtype=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_findings_support_equals_the_matrices_figures_for_its_evidence(tables, data):
    book, evidence = tables["book"], tables["evidence"]
    question = data.draw(st.sampled_from(book.evaluation.ids("questions")))
    codes = data.draw(st.lists(st.sampled_from(book.codes_for(question)), max_size=3, unique=True))
    own = evidence[evidence["question"] == question]
    cited = data.draw(st.lists(st.sampled_from(sorted(own["segment_id"])), max_size=4, unique=True))
    checked = _checked(tables, {"findings": [{"id": "F", "questions": [question], "statement": "x",
                                              "direction": "mixed", "evidence": {"codes": codes, "segments": cited}}]})
    support = checked.support.iloc[0]
    carries = own["codes"].str.split(", ").map(lambda found: bool(set(codes) & set(found)))
    segments = set(own.loc[carries | own["segment_id"].isin(cited), "segment_id"])
    # The matrices of the same evidence: every coding of those segments, and no other.
    codings = tables["codings"]
    matrices = build_evidence_matrices(tables["segments"], codings[codings["segment_id"].isin(segments)].reset_index(drop=True),
                                       codebook=book)
    cells = {name: matrices[f"question_by_{name}"][matrices[f"question_by_{name}"]["question"] == question]
             for name in ("group", "method", "region")}
    assert support["segments"] == cells["group"]["segments"].sum() == len(segments)
    assert support["sessions"] == cells["group"]["sessions"].sum()
    assert support["participants"] == cells["group"]["participants"].sum()
    assert support["groups"] == len(cells["group"]) and support["methods"] == len(cells["method"])
    assert support["regions"] == (cells["region"]["region"] != "").sum()
    rated = triangulate(matrices["evidence"], tables["transcripts"], codebook=book).set_index("question").loc[question]
    assert (support["rating"], support["majority"]) == (rated["rating"], rated["majority"])


def _copy_of_run(out: Path, copy: Path) -> Path:
    """What the check reads of a finished run (its manifest and tables), copied to ``copy``."""
    (copy / "interim").mkdir(parents=True)
    shutil.copy(out / "manifest.json", copy)
    for table in out.glob("interim/*.parquet"):
        shutil.copy(table, copy / "interim")
    return copy


def _line_of(text: str, needle: str, after: str = "") -> int:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and needle in line) + 1


@pytest.fixture(scope="module")
def planted(sample_run, tmp_path_factory):
    """A copy of the sample's findings file with six defects planted (each in its own line, so
    no other line moves), checked against the sample run: (text, baseline problems, problems)."""
    out, baseline = sample_run
    root = tmp_path_factory.mktemp("planted")
    codebook = root / "codebook"
    shutil.copytree(SAMPLE_CODEBOOK, codebook)
    text = (codebook / "findings.yaml").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)

    def plant(needle: str, old: str, new: str, after: str = "") -> None:
        number = _line_of(text, needle, after) - 1
        assert old in lines[number], (needle, lines[number])
        lines[number] = lines[number].replace(old, new)

    plant("segments: [S01-t0003-s00", "S01-t0003-s00", "S01-t0003-s09")  # F1: no such segment
    plant("segments: [S27-t0003-s01", "S27-t0005-s01]", "S27-t0005-s01, S01-t0002-s00]")  # F6: an interviewer's turn
    plant("direction: negative", "negative", "positive", after="- id: F5")  # F5: EQ4 leans negative
    plant("groups: [multisectoral_commission]", "]", ", frontline_providers]")  # F6: no evidence on EQ5
    plant("follows_from: [F4, F14]", "[F4, F14]", "[]")  # R.5: an orphan
    plant("questions: [EQ15]", "EQ15", "EQ14")  # F18 moved: EQ15 has no finding
    planted_text = "".join(lines)
    (codebook / "findings.yaml").write_text(planted_text, encoding="utf-8")
    result = commands.findings_check(codebook, SAMPLE_TRANSCRIPTS, _copy_of_run(out, root / "reports"))
    return planted_text, [str(p) for p in baseline.warnings], [str(p) for p in result.warnings]


@pytest.mark.parametrize("needle, after, where, message", [
    ("S01-t0003-s09", "", "findings[0].evidence.segments[0]", "finding F1 cites S01-t0003-s09, which is not a segment "
                                                              "of this run. Did you mean S01-t0003-s0"),
    ("S01-t0002-s00", "", "findings[5].evidence.segments[3]", "finding F6 cites S01-t0002-s00, which is in S01-t0002, an "
                                                              "interviewer's turn: only respondents' speech is evidence."),
    ("direction: positive", "- id: F5", "findings[4].direction", "finding F5 claims 'positive', but the sessions "
                                                                 "assessing EQ4 lean negative (5 positive, 22 negative, "
                                                                 "3 mixed)."),
    ("frontline_providers]", "", "findings[5].evidence.groups[1]", "finding F6 names frontline_providers, which has no "
                                                                   "evidence on EQ5."),
    ("- id: R.5", "", "recommendations[4].id", "recommendation R.5 follows from nothing."),
    ("- id: F1", "", "findings", "question EQ15 (efficiency) has no finding."),  # the line the list starts on
])
def test_each_planted_defect_is_reported_with_id_and_line(planted, needle, after, where, message):
    text, _, problems = planted
    line = _line_of(text, needle, after)
    assert any(f"findings.yaml, line {line} ({where}): {message}" in p for p in problems), (line, message, problems)


def test_the_planted_defects_add_nothing_else_but_for_the_moved_finding(planted):
    _, baseline, problems = planted
    relative = [re.sub(r"^.*findings\.yaml", "findings.yaml", p) for p in problems]
    added = set(relative) - {re.sub(r"^.*findings\.yaml", "findings.yaml", p) for p in baseline}
    assert added and all(re.search(r"\b(F1|F5|F6|F18|R\.5|EQ15)\b", p) for p in added), sorted(added)


SUMMARY = {  # every finding, conclusion, recommendation, lesson and practice of the executive summary
    "findings": [f"F{i}" for i in range(1, 27)], "conclusions": [f"C{i}" for i in range(1, 7)],
    "recommendations": ["R.1. Focus project design on the changes to be promoted",
                        "R.2. A monitoring system better aligned with the desired changes",
                        "R.3. Maintain the multilevel coordination structure",
                        "R.4. Continue efforts to increase State resources",
                        "R.5. Adapt actions periodically to practitioners' needs and demands",
                        "R.6. Continue the actions of the Partnerships project", "R.7. Adapt the CARE model",
                        "R.8. Extend knowledge of the project's outputs", "R.9. Disseminate the Partnerships project"],
    "lessons": ["LA.1: Economic reintegration", "LA.2: Measures to mitigate turnover: the case of the National Police"],
    "practices": ["BP.1: Collaborative work", "BP.2: Inter-institutional workspaces", "BP.3: Learning through experience",
                  "BP.4: Identification of champions"],
}


def test_the_annex_reads_back_in_word_with_everything_of_the_summary(sample_run):
    out, _ = sample_run
    document = docx.Document(str(out / "findings_annex.docx"))
    text = "\n".join([p.text for p in document.paragraphs]
                     + [cell.text for table in document.tables for row in table.rows for cell in row.cells])
    for finding in SUMMARY["findings"]:
        assert re.search(rf"^{finding}\. ", text, flags=re.M), finding
    for conclusion in SUMMARY["conclusions"]:
        assert re.search(rf"^{conclusion}\. ", text, flags=re.M), conclusion
    for entry in SUMMARY["recommendations"] + SUMMARY["lessons"] + SUMMARY["practices"]:
        assert entry in text, entry
    for label in ("Targeted users / Beneficiaries", "Potential for replication and by whom", "Project TC/SYMBOL"):
        assert label in text
    assert len(document.tables) == 2 * (len(SUMMARY["lessons"]) + len(SUMMARY["practices"]))  # header and template each
    for heading in (p.text for p in document.paragraphs if p.style.name == "Heading 3" and p.text.startswith("EQ")):
        assert re.match(r"EQ\d+ \(", heading)
    quotes = [p for p in document.paragraphs if p.style.name == "Intense Quote"]
    assert len(quotes) >= 2 * 26


def test_the_markdown_annex_has_two_to_five_quotes_per_finding(sample_run):
    out, _ = sample_run
    annex = (out / "findings_annex.md").read_text(encoding="utf-8")
    blocks = re.split(r"^\*\*(F\d+)\.\*\* ", annex, flags=re.M)[1:]
    found = dict(zip(blocks[::2], blocks[1::2]))
    assert sorted(found, key=lambda f: int(f[1:])) == SUMMARY["findings"]
    for finding, block in found.items():
        block = re.split(r"^#{2,3} ", block, flags=re.M)[0]
        assert 2 <= block.count("\n> — ") <= 5, finding


def test_the_triangulation_report_no_longer_opens_eq1_with_an_introduction(sample_run, tables):
    out, _ = sample_run
    report = (out / "triangulation_report.md").read_text(encoding="utf-8")
    first = re.search(r"^## EQ1: .*?^> — .*?segment (\S+)$", report, flags=re.M | re.S).group(1)
    assert not passage_traits(tables["segments"]).at[first, "opening"], first


@needs_chromium
def test_the_findings_page_opens_in_chromium_and_asks_for_nothing(sample_run):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is installed by `make install`")
    out, result = sample_run
    requests = []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto((out / "findings.html").as_uri())
        for finding in SUMMARY["findings"]:
            assert page.locator(f"[id='findings-{finding}']").is_visible(), finding
        for section in ("lessons_learned-LA.1", "lessons_learned-LA.2", "good_practices-BP.1", "good_practices-BP.4"):
            assert page.locator(f"[id='{section}']").is_visible(), section
        assert page.locator("tr[id^='recommendation-']").count() == 9
        assert page.locator("#problems ~ ul.problems li").count() == len(result.warnings)
        browser.close()
    assert requests and all(url.startswith("file://") for url in requests), requests


def test_checked_again_the_sample_gives_the_same_bytes_as_its_run(sample_run, tmp_path):
    out, _ = sample_run
    copy = _copy_of_run(out, tmp_path / "reports")
    commands.findings_check(SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS, copy)
    for name in ("findings.html", "findings_annex.md", "findings_annex.docx"):
        assert (copy / name).read_bytes() == (out / name).read_bytes(), name


def test_a_good_practice_without_what_ilos_template_asks_is_warned(sample_run):
    _, result = sample_run
    messages = [w.message for w in result.warnings]
    assert "good practice BP.2 does not give ilo_goals, which ILO's template asks of an emerging good practice." \
        in messages
    assert not any(m.startswith("good practice BP.1 does not give") for m in messages)  # BP.1 gives them all

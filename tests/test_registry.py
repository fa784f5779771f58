"""The registry of reports: what a run writes is what the reports declare, and the declarations
decide what a run may prune and where the privacy-off banner goes."""

from __future__ import annotations

import json
from html import escape

import docx
import pandas as pd
import pytest

from pipeline import flow
from pipeline.reports.banner import BANNERS
from pipeline.reports.registry import REPORTS, build_reports, owned_outputs
from pipeline.reports.report import KINDS, READ_BY_PEOPLE, Output, Report
from pipeline.runtime.outputs import StagedOutputs, StreamedText
from pipeline.stages.privacy import OFF_WARNING
from pipeline.runtime.outputs import MARKER

from conftest import S1, S2, TINY_FINDINGS, write_evaluation

# Two people coding the same passages: the run writes reliability.json and reliability.html.
DOUBLE_CODING = ("session_id,code,coder,quote\n"
                 "S1,coordination,A,con las mesas de trabajo\nS1,coordination,B,con las mesas de trabajo\n"
                 "S2,monitoring,A,Weak on outcomes\nS2,design_needs,B,Weak on outcomes\n")
# A reviewer rejecting what A and B coded: the run lists the conflict in review_conflicts.csv.
_AT = S1.index("con las mesas de trabajo")
DECISIONS = ("session_id,code,coder,start,end,quote,memo,stance,decision,segment_id\n"
             f"S1,coordination,C,{_AT},{_AT + len('con las mesas de trabajo')},con las mesas de trabajo,,,reject,\n")
PLANTED = "F: Mi celular es 987 654 321.\n"  # something for redact to replace
NOT_REPORTS = {"manifest.json"}  # written by the flow itself, after every report
SUFFIXES = {".html": "html", ".md": "markdown", ".docx": "docx", ".csv": "csv", ".json": "json", ".xlsx": "xlsx",
            ".parquet": "parquet", ".txt": "text"}


def _evaluation(root):
    codebook, transcripts = write_evaluation(root, files={"s1.txt": S1 + PLANTED, "s2.txt": S2,
                                                          "coding/double.csv": DOUBLE_CODING,
                                                          "coding/decisions_C.csv": DECISIONS})
    (codebook / "findings.yaml").write_text(TINY_FINDINGS, encoding="utf-8")  # the findings reports
    return codebook, transcripts


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The tiny evaluation, coded by two people, run under redact and under off: every report,
    the conditional ones too, is written by one run or the other."""
    codebook, transcripts = _evaluation(tmp_path_factory.mktemp("registry"))
    outs = {}
    for policy in ("redact", "off"):
        outs[policy] = tmp_path_factory.mktemp(policy)
        flow.run(codebook, transcripts, outs[policy], privacy_policy=policy)
    return outs


def _written(out) -> list[str]:
    """Every file of a run's output, but the cache and the run's own markers of the folders it owns."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if p.is_file() and p.relative_to(out).parts[0] != flow.CACHE_FOLDER and p.name != MARKER)


def _declaring(name: str) -> list[Report]:
    return [report for report in REPORTS if any(output.holds(name) for output in report.outputs)]


def test_every_declared_file_is_written_and_nothing_written_is_undeclared(runs):
    out = runs["redact"]
    written = _written(out)
    for report in REPORTS:
        for output in report.outputs:
            assert any(output.holds(name) for name in written), f"{report.name}: {output.path} was not written"
    for name in set(written) - NOT_REPORTS:
        assert len(_declaring(name)) == 1, f"{name} is declared by {[r.name for r in _declaring(name)]}"
        # The banner goes by the declared kind: a page declared as anything else would go without.
        assert _declaring(name)[0].kind_of(name) == SUFFIXES[name[name.rindex("."):]], name
    assert sorted(json.loads((out / "manifest.json").read_text(encoding="utf-8"))["outputs"]) == written


def test_conditional_reports_are_written_only_when_they_apply(runs):
    assert (runs["redact"] / "redaction_log.csv").is_file() and not (runs["off"] / "redaction_log.csv").exists()
    assert (runs["off"] / "reliability.html").is_file()


def test_the_banner_goes_on_every_file_people_read_under_off_and_on_nothing_else(runs):
    out = runs["off"]
    read = 0
    for name in set(_written(out)) - NOT_REPORTS:
        (report,) = _declaring(name)
        kind = report.kind_of(name)
        if kind == "docx":
            assert OFF_WARNING in docx.Document(out / name).paragraphs[0].text, name
        elif kind == "html":
            assert '<div role="alert" class="privacy-off"' in (out / name).read_text(encoding="utf-8"), name
            assert escape(OFF_WARNING) in (out / name).read_text(encoding="utf-8"), name
        elif kind == "markdown":
            assert (out / name).read_text(encoding="utf-8").startswith(f"> **{OFF_WARNING}**"), name
        elif kind in ("csv", "json", "text"):
            assert OFF_WARNING not in (out / name).read_text(encoding="utf-8"), name
        read += kind in READ_BY_PEOPLE
    assert read >= 8  # evidence matrix, two transcripts, three triangulation reports, reliability, manual
    assert set(BANNERS) == set(READ_BY_PEOPLE)


def test_what_a_run_may_prune_is_every_declared_folder_and_every_conditional_report():
    assert set(owned_outputs()) == {"transcripts", "matrices", "interim/texts", "reliability.json", "reliability.html",
                                    "findings.html", "findings_annex.md", "findings_annex.docx", "redaction_log.csv",
                                    "review_conflicts.csv"}


def test_reports_have_one_name_each_and_declare_known_kinds():
    assert len({report.name for report in REPORTS}) == len(REPORTS)
    assert {output.kind for report in REPORTS for output in report.outputs} <= set(KINDS)
    with pytest.raises(ValueError, match="kind 'pdf'"):
        Output("report.pdf", "pdf")


def test_a_report_building_a_file_it_does_not_declare_is_an_error():
    report = Report("notes", (Output("notes.md", "markdown"),), lambda tables: iter([("other.md", "text")]))
    with pytest.raises(ValueError, match="the notes report wrote other.md, which it does not declare"):
        list(build_reports(None, (report,)))


def test_a_file_in_a_declared_folder_has_the_folder_kind_and_nothing_beside_it_does():
    folder = Output("transcripts", "html", folder=True)
    assert folder.holds("transcripts/S1.html") and not folder.holds("transcripts.html")
    assert not Output("evidence.json", "json").holds("evidence.json.tmp")


def test_a_report_file_is_written_as_its_kind_says(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    with StagedOutputs(tmp_path) as staged:
        staged.write("t.csv", frame, "csv")
        staged.write("t.parquet", frame, "parquet")
        staged.write("t.json", {"b": 1, "a": [2]}, "json")
        staged.write("t.txt", StreamedText.of(iter(["a", "b"])), "text")
        with pytest.raises(TypeError, match="cannot write a DataFrame as xlsx"):
            staged.write("t.xlsx", frame, "xlsx")
    assert (tmp_path / "t.csv").read_text(encoding="utf-8") == "a,b\n1,x\n2,y\n"
    assert pd.read_parquet(tmp_path / "t.parquet").equals(frame)
    assert (tmp_path / "t.json").read_text(encoding="utf-8") == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "ab"

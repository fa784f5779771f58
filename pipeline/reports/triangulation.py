"""``triangulation_report`` as HTML, Markdown and Word: strength of evidence per question.

Each question's rating, sessions, groups and methods, where the groups diverge, its gaps and
quotes, and the saturation curve. The Word file is written with fixed timestamps so that the
same input gives the same bytes. :func:`counting_note`, how the evidence is counted, is shown
on the evidence matrix too.
"""

from __future__ import annotations

import datetime
import io
from typing import Iterator

import pandas as pd

from pipeline.config.codebook import Codebook
from pipeline.reports.report import Output, Report, RunTables
from pipeline.reports.templating import render_template
from pipeline.runtime.outputs import restamped_zip
from pipeline.stages.findings.quotes import choose_quotes, passage_traits

QUOTES_PER_QUESTION = 8


def counting_note(settings) -> str:
    """How the reports count evidence, in words, under the evaluation's ``triangulation`` settings."""
    suggestions = (f"model suggestions with confidence >= {settings.min_confidence} are included and labelled"
                   if settings.include_suggestions else "model suggestions are not counted")
    return ("Counts are coded segments (passages of respondent speech), distinct sessions, and participants: the "
            "register's participants summed over those sessions (a focus group of six is one session and six "
            f"participants). Evidence is accepted coding (people and codebook rules); {suggestions}. A coding counts "
            "for every question its code serves, its own and its parent codes'. A passage's stance is the coder's "
            "where a person gave one, else a model's learned from the coders' stances, else the codebook's stance "
            "vocabulary (column stance_by of codings.csv says which); the model and the vocabulary are often wrong "
            "(make evaluate measures them), so read the quotes before relying on a majority or a divergence. "
            "Majorities and divergences are judged on sessions, not segments: each session leans to the side of "
            "its assessments on the question, so one long interview weighs as much as a short one.")


def _quote_meta(row) -> str:
    return (f"{row.session_id}, {row.stakeholder_group}, {row.method}, {row.region or 'no region'}; speaker "
            f"{row.speaker}; {row.stance}; codes {row.codes}; segment {row.segment_id}")


def _quotes(rows: pd.DataFrame, traits: pd.DataFrame, limit: int = QUOTES_PER_QUESTION, balance: bool = False) -> list[dict]:
    # Chosen as the findings report chooses them: breadth of groups and methods, substance, people's codings.
    chosen = choose_quotes(rows, limit=limit, traits=traits, balance=balance)
    return [{"text": row.text, "meta": _quote_meta(row)} for row in chosen.itertuples(index=False)]


def _question_context(codebook: Codebook, findings: pd.DataFrame, evidence: pd.DataFrame, language: str,
                      traits: pd.DataFrame) -> list[dict]:
    texts = {q.id: q.text.get(language) for q in codebook.evaluation.questions}
    out = []
    for finding in findings.itertuples(index=False):
        own = evidence[evidence["question"] == finding.question]
        diverging = [g.split(" (")[0] for g in finding.diverging_groups.split("; ") if g]
        opposite = {"positive": ["negative", "mixed"], "negative": ["positive", "mixed"]}.get(finding.majority, [])
        out.append({
            **finding._asdict(), "id": finding.question, "text": texts[finding.question],
            "diverging": bool(diverging),
            "diverging_quotes": _quotes(own[own["stakeholder_group"].isin(diverging) & own["stance"].isin(opposite)],
                                        traits, 4),
            "majority_quotes": _quotes(own[~own["stakeholder_group"].isin(diverging) & (own["stance"] == finding.majority)],
                                       traits, 4),
            "quotes": _quotes(own, traits, balance=finding.majority == "divided"),
            "checked": _checked_words(finding),
        })
    return out


def _checked_words(finding) -> str:
    """How much of a question's evidence a person coded, and how good the machine's share is."""
    if not finding.segments:
        return ""
    precision = finding.machine_precision
    measured = ("not measured (the rules found nothing on its codes where people coded)"
                if precision is None or pd.isna(precision) else f"{precision:.2f}")
    return (f"Evidence: {finding.human_segments} of {finding.segments} segments coded by a person, "
            f"{finding.machine_segments} by the machine alone ({finding.machine_share:.0%}); the machine's precision "
            f"on its codes, measured against the coders: {measured}.")


def _saturation_svg(curve: pd.DataFrame) -> str:
    width, height, pad = 640, 220, 36
    total = max(int(curve["total_codes"].max()) if len(curve) else 1, 1)
    n = max(len(curve) - 1, 1)
    points = " ".join(f"{pad + i * (width - 2 * pad) / n:.1f},{height - pad - v * (height - 2 * pad) / total:.1f}"
                      for i, v in enumerate(curve["total_codes"]))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="Saturation curve"><rect width="{width}" height="{height}" fill="#fff"/>'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#888"/>'
            f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#888"/>'
            f'<polyline fill="none" stroke="#1d3557" stroke-width="2" points="{points}"/>'
            f'<text x="{pad}" y="{pad - 8}" font-size="11">{total} codes</text>'
            f'<text x="{width - pad}" y="{height - 10}" font-size="11" text-anchor="end">{len(curve)} sessions</text></svg>')


def _docx(title: str, counting: str, questions: list[dict]) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.created = document.core_properties.modified = datetime.datetime(2000, 1, 1)
    document.add_heading(title, level=1)
    document.add_paragraph(counting)
    table = document.add_table(rows=1, cols=7)
    table.style = "Table Grid"
    for cell, heading in zip(table.rows[0].cells, ["Question", "Rating", "Sessions", "Groups", "Methods", "Majority",
                                                   "Diverging"]):
        cell.text = heading
    for q in questions:
        cells = table.add_row().cells
        for cell, value in zip(cells, [q["id"], q["rating"], q["sessions"], q["groups"], q["methods"], q["majority"],
                                       q["diverging_groups"]]):
            cell.text = str(value)
    for q in questions:
        document.add_heading(f"{q['id']}: {q['rating']}", level=2)
        document.add_paragraph(q["text"])
        document.add_paragraph(f"{q['why']} Sessions assessing it lean {q['positive_sessions']} positive, "
                               f"{q['negative_sessions']} negative, {q['mixed_sessions']} mixed; majority {q['majority']}."
                               + (f" Diverging: {q['diverging_groups']}." if q["diverging_groups"] else ""))
        if q["checked"]:
            document.add_paragraph(q["checked"])
        if q["gaps"]:
            document.add_paragraph(f"Gaps: no evidence from {q['gaps']}.")
        for summary in q["summaries"]:
            document.add_paragraph(f"Analyst's summary, {summary['group']} ({summary['coder']}): {summary['summary']}"
                                   + (f" Cites {summary['segments']}." if summary["segments"] else ""))
        for quote in q["quotes"]:
            document.add_paragraph(quote["text"], style="Intense Quote")
            document.add_paragraph(quote["meta"])
    buffer = io.BytesIO()
    document.save(buffer)
    return restamped_zip(buffer.getvalue())


def build_triangulation_report(tables: RunTables) -> Iterator[tuple[str, str | bytes]]:
    """``triangulation_report.html``, ``.md`` and ``.docx``, from FINDINGS, EVIDENCE and the saturation curve."""
    evaluation, language = tables.codebook.evaluation, tables.language
    counting = counting_note(evaluation.triangulation)
    questions = _question_context(tables.codebook, tables.findings, tables.evidence, language,
                                  passage_traits(tables.segments))
    groups = {g.id: g.label.get(language) for g in evaluation.stakeholder_groups}
    for q in questions:  # the analysts' summaries of the question's cells, by group then coder
        own = tables.summaries[tables.summaries["question"] == q["id"]].sort_values(["column", "coder"], kind="stable")
        q["summaries"] = [{"group": groups.get(s.column, s.column), "coder": s.coder, "summary": s.summary,
                           "segments": ", ".join(s.segments.split())} for s in own.itertuples(index=False)]
    context = {"page": {"title": f"Triangulation report: {evaluation.evaluation.title.get(language)}",
                        "language": language,
                        "subtitle": f"{len(tables.transcripts)} sessions · strength of evidence per evaluation question"},
               "counting": counting, "questions": questions, "saturation_svg": _saturation_svg(tables.saturation)}
    yield "triangulation_report.html", render_template("triangulation.html.j2", context)
    yield "triangulation_report.md", render_template("triangulation.md.j2", context)
    yield "triangulation_report.docx", _docx(context["page"]["title"], counting, questions)


REPORT = Report("triangulation report", (Output("triangulation_report.html", "html"),
                                         Output("triangulation_report.md", "markdown"),
                                         Output("triangulation_report.docx", "docx")), build_triangulation_report)

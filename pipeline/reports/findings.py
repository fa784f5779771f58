"""``findings.html`` and the evidence annex (``findings_annex.md``, ``findings_annex.docx``).

The page shows each finding, lesson and good practice of the findings file with what the check
found (:mod:`pipeline.stages.findings.check`): its rating, support table, chosen quotes and
counter-quotes, citation checks and problems; then the conclusions and recommendations with
what they rest on. The annex is what an ILO evaluation report attaches: per evaluation question,
each finding with its support and two to five quotes; the conclusions and recommendations; the
lessons learned and emerging good practices in the fields of ILO's templates, with their
evidence. Every display value is made here (:func:`findings_context`); the templates only loop
and print, and quotes are escaped text. The Word file has fixed timestamps: the same input
gives the same bytes.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
from typing import Iterator

import pandas as pd

from pipeline.config.codebook import Codebook
from pipeline.config.findings import FINDINGS_FILE
from pipeline.reports.report import Output, Report, RunTables
from pipeline.reports.templating import Markdown, markdown_escape, render_template
from pipeline.runtime.outputs import restamped_zip
from pipeline.stages.findings.check import KIND, Checked

# ILO's lesson learned and emerging good practice templates: the findings file's key, the template's words.
LESSON_FIELDS = (
    ("description", "Brief description of lesson learned (link to specific action or task)"),
    ("context", "Context and any related preconditions"),
    ("targeted_users", "Targeted users / Beneficiaries"),
    ("challenges", "Challenges / negative lessons - Causal factors"),
    ("success_factors", "Success / Positive Issues - Causal factors"),
    ("ilo_administrative_issues", "ILO Administrative Issues (staff, resources, design, implementation)"),
)
PRACTICE_FIELDS = (
    ("summary", "Brief summary of the good practice (link to project goal or specific deliverable, background, "
                "purpose, etc.)"),
    ("conditions", "Relevant conditions and Context: limitations or advice in terms of applicability and "
                   "replicability"),
    ("cause_effect", "Establish a clear cause-effect relationship"),
    ("impact", "Indicate measurable impact and targeted beneficiaries"),
    ("replication", "Potential for replication and by whom"),
    ("ilo_goals", "Upward links to higher ILO Goals (DWCPs, Country Programme Outcomes or ILO's Strategic "
                  "Programme Framework)"),
    ("other", "Other documents or relevant comments"),
)
COUNTING = ("A finding's evidence is every passage coded, on the questions it answers, with one of the codes it "
            "rests on, and every passage it cites. Its support is that evidence rated by the evaluation's "
            "strength-of-evidence rubric exactly as the triangulation report rates a question: coded segments, "
            "distinct sessions and their participants, stakeholder groups, methods and regions; a finding on "
            "several questions is as strong as its weakest. Whether it leans the way it claims is judged on the "
            "sessions assessing its question, as in the triangulation report. Quotes are chosen to show the "
            "breadth of the evidence: other groups and methods first, substantive passages before introductions, "
            "people's codings before machine ones, both stances where the question is divided.")
STATUS = {"ok": "coded", "interviewer": "an interviewer's turn", "turn": "a turn, not a segment",
          "missing": "not a segment of the run", "other_question": "coded for other questions",
          "suggested": "only suggested by a model", "uncoded": "not coded"}


OUTPUTS = ("findings.html", "findings_annex.md", "findings_annex.docx")


def _cell(text: str, bold: str = "") -> Markdown:
    """``text`` as one cell of a Markdown table (escaped), after ``bold`` in bold if given."""
    cell = " ".join(markdown_escape(text).split())
    return Markdown(f"**{' '.join(markdown_escape(bold).split())}** {cell}" if bold else cell)


def _quote(row, labels: dict) -> dict:
    """An EVIDENCE row as a quote: its ``text``, the same for Markdown, and a line of ``meta``."""
    coded = "coded by a person" if "human" in str(row.sources) else (
        "a model suggestion" if bool(row.suggested) else "coded by a codebook rule")
    # In Markdown every line of a quote starts with "> ", or a paragraph break would end it.
    return {"text": row.text, "markdown": Markdown(markdown_escape(row.text).replace("\n", "\n> ")), "meta": (
        f"{row.session_id}, {labels['groups'].get(row.stakeholder_group, row.stakeholder_group)}, "
        f"{labels['methods'].get(row.method, row.method)}, {labels['regions'].get(row.region, row.region) or 'no region'}"
        f"; {row.stance}; {coded}; codes {row.codes}; segment {row.segment_id}")}


def _quotes(rows: pd.DataFrame, labels: dict) -> list[dict]:
    """Every row of ``rows`` (EVIDENCE) as a quote, in order."""
    return [_quote(row, labels) for row in rows.itertuples(index=False)]


def _support_rows(support: pd.DataFrame) -> list[dict]:
    """The check's support rows (one per question) as display values."""
    out = []
    for row in support.itertuples(index=False):
        share = f"{row.human_segments} of {row.segments}" + (f" ({row.human_segments / row.segments:.0%})"
                                                             if row.segments else "")
        out.append({"question": row.question, "rating": row.rating, "why": row.why, "segments": row.segments,
                    "sessions": row.sessions, "participants": row.participants, "groups": row.groups,
                    "methods": row.methods, "regions": row.regions, "human": share,
                    "lean": f"{row.positive_sessions} positive, {row.negative_sessions} negative, "
                            f"{row.mixed_sessions} mixed"})
    return out


def _support_sentence(rows: list[dict]) -> str:
    """:func:`_support_rows` in words, for the annex."""
    return " ".join(f"{r['question']}: {r['rating']}; {r['segments']} passage(s) from {r['sessions']} session(s) "
                    f"({r['participants']} participants), {r['groups']} group(s), {r['methods']} method(s), "
                    f"{r['regions']} region(s); {r['human']} coded by a person." for r in rows)


def _claim(claim, item, checked: Checked, labels: dict, language: str) -> dict:
    """Every value shown of one finding, lesson or practice (``item``) and its check (``claim``)."""
    support = _support_rows(checked.support[(checked.support["section"] == claim.section)
                                            & (checked.support["id"] == claim.id)])
    citations = checked.citations[(checked.citations["section"] == claim.section)
                                  & (checked.citations["id"] == claim.id)]
    direction = getattr(item, "direction", None)
    leaning = [f"{lean['question']}: the sessions assessing it lean {lean['sessions']}; majority {lean['majority']}"
               + (f"; diverging: {lean['diverging_groups']}" if lean["diverging_groups"] else "")
               + ("." if lean["as_claimed"] else f", not '{direction}' as claimed.") for lean in claim.leaning]
    return {
        "id": claim.id, "anchor": f"{claim.section}-{claim.id}", "kind": KIND[claim.section],
        "title": item.title.get(language) if hasattr(item, "title") else "",
        "statement": item.statement.get(language) if hasattr(item, "statement") else "",
        "questions": ", ".join(item.questions), "direction": direction or "", "rating": claim.rating,
        "as_claimed": all(lean["as_claimed"] for lean in claim.leaning),
        "leaning": leaning, "support": support, "support_sentence": _support_sentence(support),
        "quotes": _quotes(claim.quotes, labels),
        "counter": [{"question": q, "stance": "negative" if direction == "positive" else "positive",
                     "quotes": _quotes(rows, labels)} for q, rows in claim.counter],
        "citations": [{"segment": r.segment_id, "status": STATUS[r.status], "ok": r.status == "ok",
                       "coded_by": r.coded_by, "codes": r.codes, "where": f"{r.session_id}, {r.stakeholder_group}"
                       if r.session_id else "", "text": r.text} for r in citations.itertuples(index=False)],
        "groups": ", ".join(item.evidence.groups),
        "problems": [p.message + (f" ({p.where})" if p.where else "") for p in claim.problems],
    }


def _template(item, fields, language: str) -> list[dict]:
    """An ILO template's rows (``fields``: key, label) for a lesson or practice; "—" where not given."""
    rows = [{"label": label, "text": getattr(item, key).get(language) if getattr(item, key) is not None else "—"}
            for key, label in fields]
    return [{**row, "cell": _cell(row["text"])} for row in rows]


def findings_context(checked: Checked, *, codebook: Codebook, language: str) -> dict:
    """Every value the findings page and the annex show, as plain dicts and lists."""
    evaluation, content = codebook.evaluation, checked.file.content
    language = content.report.language or language
    labels = {key: {e.id: e.label.get(language) for e in getattr(evaluation, vocabulary)}
              for key, vocabulary in (("groups", "stakeholder_groups"), ("methods", "methods"), ("regions", "regions"))}
    items = {(section, item.id): item for section, _, item in checked.file.claims()}
    claims = {(c.section, c.id): _claim(c, items[c.section, c.id], checked, labels, language) for c in checked.claims}
    anchors = {c.id: f"#findings-{c.id}" for c in content.findings}
    anchors |= {c.id: f"#conclusion-{c.id}" for c in content.conclusions}
    title = evaluation.evaluation.title.get(language)
    questions = []
    for criterion in evaluation.criteria:
        for question in (q for q in evaluation.questions if q.criterion == criterion.id):
            answering = [claims["findings", f.id] for f in content.findings if question.id in f.questions]
            others = [f"{item.id}" for section, _, item in checked.file.claims()
                      if section != "findings" and question.id in item.questions]
            questions.append({"id": question.id, "criterion": criterion.label.get(language),
                              "text": question.text.get(language), "findings": answering, "others": ", ".join(others)})
    header = [("Project Title", title), ("Project TC/SYMBOL", content.report.project_code or "—"),
              ("Name of Evaluator", content.report.evaluators or "—"), ("Date", content.report.date or "—")]
    header = [{"label": label, "text": text, "cell": _cell(text)} for label, text in header]
    counts = {"findings": len(content.findings), "conclusions": len(content.conclusions),
              "recommendations": len(content.recommendations), "lessons": len(content.lessons_learned),
              "practices": len(content.good_practices), "problems": len(checked.problems)}
    return {
        "page": {"title": f"Findings and the evidence: {title}", "language": language,
                 "subtitle": f"{counts['findings']} findings · {counts['conclusions']} conclusions · "
                             f"{counts['recommendations']} recommendations · {counts['lessons']} lessons learned · "
                             f"{counts['practices']} good practices · {counts['problems']} problem(s) found"},
        "annex_title": f"Annex: the evidence for the findings. {title}", "counting": COUNTING, "counts": counts,
        "header": header,
        "findings": [claims["findings", f.id] for f in content.findings],
        "questions": questions,
        "conclusions": [{"id": c.id, "anchor": f"conclusion-{c.id}", "statement": c.statement.get(language),
                         "findings": [{"id": f, "href": anchors[f]} for f in c.findings]} for c in content.conclusions],
        "recommendations": [{"id": r.id, "anchor": f"recommendation-{r.id}", "title": r.title.get(language),
                             "statement": r.statement.get(language), "addressed_to": ", ".join(r.addressed_to),
                             "cell": _cell(r.statement.get(language), bold=r.title.get(language)),
                             "priority": r.priority, "follows_from": [{"id": f, "href": anchors[f]} for f in r.follows_from]}
                            for r in content.recommendations],
        "lessons": [{**claims["lessons_learned", x.id], "template": _template(x, LESSON_FIELDS, language)}
                    for x in content.lessons_learned],
        "practices": [{**claims["good_practices", x.id], "template": _template(x, PRACTICE_FIELDS, language)}
                      for x in content.good_practices],
        # Named by the file's name alone: a report must not hold the folders of whoever ran it.
        "problems": [str(dataclasses.replace(p, file=FINDINGS_FILE)) for p in checked.problems],
    }


def _docx(context: dict) -> bytes:
    """The annex as a Word file, from :func:`findings_context`."""
    import docx

    document = docx.Document()
    document.core_properties.title = context["annex_title"]
    document.core_properties.created = document.core_properties.modified = datetime.datetime(2000, 1, 1)
    document.add_heading(context["annex_title"], level=1)
    document.add_paragraph(context["counting"])

    def quotes(claim: dict) -> None:
        for quote in claim["quotes"]:
            document.add_paragraph(quote["text"], style="Intense Quote")
            document.add_paragraph(quote["meta"])

    def table(rows: list[tuple[str, str]]) -> None:
        grid = document.add_table(rows=0, cols=2)
        grid.style = "Table Grid"
        for label, text in rows:
            cells = grid.add_row().cells
            cells[0].text, cells[1].text = label, text

    document.add_heading("Findings per evaluation question", level=2)
    for question in context["questions"]:
        document.add_heading(f"{question['id']} ({question['criterion']}): {question['text']}", level=3)
        for finding in question["findings"]:
            document.add_paragraph().add_run(f"{finding['id']}. {finding['statement']}").bold = True
            document.add_paragraph(f"Direction claimed: {finding['direction']}. " + " ".join(finding["leaning"]))
            document.add_paragraph(f"Support: {finding['rating']}. {finding['support_sentence']}")
            quotes(finding)
        if not question["findings"]:
            document.add_paragraph(f"No finding answers this question{'; see ' + question['others'] if question['others'] else ''}.")
    document.add_heading("Conclusions", level=2)
    for conclusion in context["conclusions"]:
        document.add_paragraph(f"{conclusion['id']}. {conclusion['statement']} (Findings: "
                               f"{', '.join(f['id'] for f in conclusion['findings']) or 'none'}.)")
    document.add_heading("Recommendations", level=2)
    for r in context["recommendations"]:
        document.add_paragraph().add_run(f"{r['id']}. {r['title']}").bold = True
        document.add_paragraph(r["statement"])
        document.add_paragraph(f"Addressed to: {r['addressed_to']}. Priority: {r['priority']}. Follows from: "
                               f"{', '.join(f['id'] for f in r['follows_from']) or 'nothing'}.")
    for heading, entries, kind in (("Lessons learned", context["lessons"], "ILO Lesson Learned Template"),
                                   ("Emerging good practices", context["practices"],
                                    "ILO Emerging Good Practice Template")):
        document.add_heading(heading, level=2)
        for entry in entries:
            document.add_heading(f"{kind}. {entry['id']}: {entry['title']}", level=3)
            table([(row["label"], row["text"]) for row in context["header"]])
            document.add_paragraph()
            table([(row["label"], row["text"]) for row in entry["template"]])
            document.add_paragraph(f"Evidence ({entry['questions']}): support {entry['rating']}. "
                                   f"{entry['support_sentence']}")
            quotes(entry)
    buffer = io.BytesIO()
    document.save(buffer)
    return restamped_zip(buffer.getvalue())


def findings_reports(checked: Checked, *, codebook: Codebook, language: str) -> Iterator[tuple[str, str | bytes]]:
    """``findings.html``, ``findings_annex.md`` and ``findings_annex.docx``, one at a time, in the
    findings file's language (``report.language``), else ``language``."""
    context = findings_context(checked, codebook=codebook, language=language)
    yield "findings.html", render_template("findings.html.j2", context)
    yield "findings_annex.md", render_template("findings_annex.md.j2", context)
    yield "findings_annex.docx", _docx(context)


def _build(tables: RunTables) -> Iterator[tuple[str, str | bytes]]:
    yield from findings_reports(tables.checked_findings, codebook=tables.codebook, language=tables.language)


# Written when the codebook folder holds a findings file (pipeline.config.findings).
REPORT = Report("findings", (Output("findings.html", "html"), Output("findings_annex.md", "markdown"),
                             Output("findings_annex.docx", "docx")),
                _build, when=lambda tables: tables.checked_findings is not None)

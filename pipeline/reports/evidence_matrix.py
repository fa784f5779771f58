"""``evidence_matrix.html``: questions x stakeholder groups, the other cuts, and every quote.

The page is self-contained (inline CSS and script, no network request) and every quote is
escaped text: the evidence reaches the page as JSON in a ``<script type="application/json">``
block and is put on the page with ``textContent``, never as markup. That block is the largest
part of the page, so it is streamed (:mod:`pipeline.reports.pieces`).
"""

from __future__ import annotations

from typing import Iterator

from pipeline.reports.pieces import Rows, safe_json
from pipeline.reports.report import Output, Report, RunTables
from pipeline.reports.review import cell_summaries, codings_by_segment, review_settings
from pipeline.reports.templating import render_template
from pipeline.reports.triangulation import counting_note
from pipeline.runtime.outputs import SPLICE, StreamedText

OTHER_TABLES = (("question_by_method", "Questions x methods"), ("question_by_region", "Questions x regions"),
                ("criterion_by_group", "Criteria x stakeholder groups"), ("code_by_group", "Codes x stakeholder groups"),
                ("co_occurrence", "Code co-occurrence"))


def _criteria(tables: RunTables, interviewed: list[str]) -> list[dict]:
    """Each criterion with its questions, and each question's cell per interviewed group."""
    evaluation, language = tables.codebook.evaluation, tables.language
    rating = dict(zip(tables.findings["question"], tables.findings["rating"]))
    cells = tables.matrices["question_by_group"].set_index(["question", "stakeholder_group"])
    criteria = []
    for criterion in evaluation.criteria:
        questions = []
        for q in evaluation.questions:
            if q.criterion != criterion.id:
                continue
            row = []
            for g in interviewed:
                found = cells.loc[(q.id, g)] if (q.id, g) in cells.index else None
                sessions = int(found["sessions"]) if found is not None else 0
                row.append({"group": g, "segments": int(found["segments"]) if found is not None else 0,
                            "sessions": sessions, "participants": int(found["participants"]) if found is not None else 0,
                            "css": f"shade-{min(sessions, 4)}" if sessions else "empty"})
            text = q.text.get(language)
            questions.append({"id": q.id, "text": text, "short": text[:70] + ("…" if len(text) > 70 else ""),
                              "rating": rating.get(q.id, "none"), "cells": row})
        criteria.append({"anchor": f"criterion-{criterion.id}", "label": criterion.label.get(language),
                         "questions": questions})
    return criteria


def _filters(evidence, interviewed: list[str], groups: dict[str, str]) -> list[dict]:
    filters = [{"key": "stakeholder_group", "label": "Group", "options": [{"value": g, "label": groups[g]} for g in interviewed]}]
    for key, label in (("region", "Region"), ("method", "Method"), ("language", "Language"), ("stance", "Stance")):
        values = sorted(v for v in evidence[key].unique() if v) if len(evidence) else []
        filters.append({"key": key, "label": label, "options": [{"value": v, "label": v} for v in values]})
    code_ids = sorted({c for codes in evidence["codes"].unique() for c in codes.split(", ")}) if len(evidence) else []
    filters.append({"key": "code", "label": "Code", "options": [{"value": c, "label": c} for c in code_ids]})
    return filters


def build_evidence_matrix(tables: RunTables) -> Iterator[tuple[str, StreamedText]]:
    """``evidence_matrix.html``, its data block streamed."""
    evaluation, language, transcripts, evidence = (tables.codebook.evaluation, tables.language, tables.transcripts,
                                                   tables.evidence)
    groups = {g.id: g.label.get(language) for g in evaluation.stakeholder_groups}
    interviewed = [g for g in evaluation.ids("stakeholder_groups") if g in set(transcripts["stakeholder_group"])]
    other_tables = []
    for key, title in OTHER_TABLES:
        frame = tables.matrices[key]
        other_tables.append({"anchor": key, "title": title, "headings": list(frame.columns),
                             "rows": frame.astype(str).values.tolist()})
    page = {"title": f"Evidence matrix: {evaluation.evaluation.title.get(language)}", "language": language,
            "subtitle": f"{len(transcripts)} sessions · {int(transcripts['participants'].sum())} participants · "
                        f"{evidence['segment_id'].nunique() if len(evidence) else 0} coded segments"}
    yield "evidence_matrix.html", StreamedText(render_template("evidence_matrix.html.j2", {
        "page": page, "counting": counting_note(evaluation.triangulation), "filters": _filters(evidence, interviewed, groups),
        "criteria": _criteria(tables, interviewed), "other_tables": other_tables,
        "groups": [{"id": g, "label": groups[g], "short": g.replace("_", " ")} for g in interviewed],
        "data_json": SPLICE,
    }), safe_json(_page_data(tables, groups)))


# The page's tables, as row lists (pieces.Rows): at 10x the sample, records repeating every
# column name and every segment's text once per question it serves made a 60 MB page.
EVIDENCE_FIELDS = ["segment_id", "question", "codes", "sources", "stance", "suggested"]
SEGMENT_FIELDS = ["segment_id", "session_id", "speaker", "start", "end", "text", "prompt"]
SESSION_FIELDS = ["stakeholder_group", "method", "region", "language"]


def _page_data(tables: RunTables, groups: dict[str, str]) -> dict:
    """The page's data block: ``evidence`` (a row per segment and question, fields
    :data:`EVIDENCE_FIELDS`), ``segments`` (a row per coded segment, :data:`SEGMENT_FIELDS`, its
    prompt an index into ``prompts``), ``sessions`` ({id: :data:`SESSION_FIELDS`}), the
    groups' labels, every coding of those segments and what reviewing needs
    (:mod:`pipeline.reports.review`)."""
    evidence = tables.evidence
    segments = evidence.drop_duplicates("segment_id")[SEGMENT_FIELDS]
    prompts = sorted(set(segments["prompt"]))
    index = {prompt: number for number, prompt in enumerate(prompts)}
    segments = segments.assign(prompt=segments["prompt"].map(index).astype("int64"))
    sessions = tables.transcripts.set_index("session_id")[SESSION_FIELDS]
    return {"evidence": Rows(evidence[EVIDENCE_FIELDS]), "segments": Rows(segments), "prompts": prompts,
            "sessions": {sid: list(values) for sid, values in zip(sessions.index, sessions.to_numpy().tolist())},
            "fields": {"evidence": EVIDENCE_FIELDS, "segments": SEGMENT_FIELDS, "sessions": SESSION_FIELDS},
            "groups": groups, "review": review_settings(tables), "summaries": cell_summaries(tables),
            "codings": codings_by_segment(tables, segments["segment_id"])}


REPORT = Report("evidence matrix", (Output("evidence_matrix.html", "html"),), build_evidence_matrix)

"""Stage 6, render: the evidence matrices and the triangulation report, as files.

``render_reports`` yields every report as ``(file name, text or bytes)``, one at a time, so
the flow writes each (atomically, with the others) before the next is built and a large
evaluation never holds every report in memory at once. The largest (the evidence matrix's
data, ``evidence.json``, the matrices' CSV files) come as :class:`pipeline.runtime.outputs.StreamedText`
text, made and written a few thousand rows at a time. HTML is self-contained (inline CSS and
script, no network request) and every quote is escaped text: data reaches the page as JSON in a ``<script type="application/json">``
block and is put on the page with ``textContent``, never as markup. Spreadsheets and Word
files are written with fixed timestamps so that the same input gives the same bytes.
"""

from __future__ import annotations

import datetime
import io
import json
from typing import Iterator

import pandas as pd

from pipeline.config.codebook import Codebook
from pipeline.runtime.outputs import SPLICE, StreamedText, restamped_zip
from pipeline.reports.templating import render_template
from pipeline.reports.workbook import workbook

QUOTES_PER_QUESTION = 8


def _records(frame: pd.DataFrame) -> list[dict]:
    """``frame.to_dict("records")``, built from column lists: several times faster on
    Arrow-backed columns, with missing values (``pd.NA``) as None as there."""
    columns = [[None if v is pd.NA else v for v in frame[c].tolist()] for c in frame.columns]
    names = [str(c) for c in frame.columns]
    return [dict(zip(names, row)) for row in zip(*columns)]


ROWS_PER_PIECE = 2000  # rows of a large table turned into text together


def _json_pieces(data: dict, **options) -> Iterator[str]:
    """``json.dumps(data, sort_keys=True, **options)`` in pieces, where ``data``'s tables are
    lists of records (:func:`_records`) made :data:`ROWS_PER_PIECE` rows at a time: at 50x the
    sample, the evidence matrix page built whole took a gigabyte more than the run held."""
    options = {**options, "sort_keys": True}
    yield "{"
    for number, key in enumerate(sorted(data)):
        yield (", " if number else "") + json.dumps(key, **options) + ": "
        value = data[key]
        if not isinstance(value, pd.DataFrame):
            yield json.dumps(value, **options)
            continue
        yield "["
        for first in range(0, len(value), ROWS_PER_PIECE):
            # A list's JSON is its items' JSON between brackets, joined by ", ".
            yield (", " if first else "") + json.dumps(_records(value.iloc[first:first + ROWS_PER_PIECE]), **options)[1:-1]
        yield "]"
    yield "}"


def _safe_json(data: dict) -> Iterator[str]:
    """:func:`_json_pieces` for a page's data block: "</script>" inside a quote must not close it."""
    for piece in _json_pieces(data, ensure_ascii=False):
        yield piece.replace("<", "\\u003c").replace(">", "\\u003e")


def _csv_pieces(frame: pd.DataFrame) -> Iterator[str]:
    """``frame.to_csv(index=False)``, :data:`ROWS_PER_PIECE` rows at a time."""
    for first in range(0, max(len(frame), 1), ROWS_PER_PIECE):
        yield frame.iloc[first:first + ROWS_PER_PIECE].to_csv(index=False, header=first == 0, lineterminator="\n")


def _counting(settings) -> str:
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


def _quotes(rows: pd.DataFrame, limit: int = QUOTES_PER_QUESTION) -> list[dict]:
    # One quote per session first, so the report shows breadth rather than one talkative session.
    ordered = rows.assign(_first=~rows.duplicated("session_id")).sort_values(
        ["_first", "segment_id"], ascending=[False, True], kind="stable").head(limit)
    return [{"text": row.text, "meta": _quote_meta(row)} for row in ordered.itertuples(index=False)]


def _question_context(codebook: Codebook, findings: pd.DataFrame, evidence: pd.DataFrame, language: str) -> list[dict]:
    texts = {q.id: q.text.get(language) for q in codebook.evaluation.questions}
    out = []
    for finding in findings.itertuples(index=False):
        own = evidence[evidence["question"] == finding.question]
        diverging = [g.split(" (")[0] for g in finding.diverging_groups.split("; ") if g]
        opposite = {"positive": ["negative", "mixed"], "negative": ["positive", "mixed"]}.get(finding.majority, [])
        out.append({
            **finding._asdict(), "id": finding.question, "text": texts[finding.question],
            "diverging": bool(diverging),
            "diverging_quotes": _quotes(own[own["stakeholder_group"].isin(diverging) & own["stance"].isin(opposite)], 4),
            "majority_quotes": _quotes(own[~own["stakeholder_group"].isin(diverging) & (own["stance"] == finding.majority)], 4),
            "quotes": _quotes(own),
        })
    return out


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
        if q["gaps"]:
            document.add_paragraph(f"Gaps: no evidence from {q['gaps']}.")
        for quote in q["quotes"]:
            document.add_paragraph(quote["text"], style="Intense Quote")
            document.add_paragraph(quote["meta"])
    buffer = io.BytesIO()
    document.save(buffer)
    return restamped_zip(buffer.getvalue())


def _transcript_pages(transcripts, turns, segments, evidence, language) -> Iterator[tuple[str, str]]:
    # Which codes mark each segment, over all its questions (dictionaries: a pandas aggregation
    # with a Python function per segment is slow on a large corpus).
    codes_by_segment: dict[str, set] = {}
    for segment_id, codes in zip(evidence["segment_id"].tolist(), evidence["codes"].tolist()):
        codes_by_segment.setdefault(segment_id, set()).update(codes.split(", "))
    # Plain tuples: iterating pandas rows of Arrow-backed strings is slow on a large corpus.
    ordered = segments.sort_values("start", kind="stable")
    segments_of: dict[str, list] = {}
    for turn_id, segment_id, start, end in zip(*(ordered[c].tolist() for c in ("turn_id", "segment_id", "start", "end"))):
        segments_of.setdefault(turn_id, []).append((segment_id, start, end))
    turns_of: dict[str, list] = {}
    for session_id, speaker, role, start, end, turn_id in zip(
            *(turns[c].tolist() for c in ("session_id", "speaker", "role", "start", "end", "turn_id"))):
        turns_of.setdefault(session_id, []).append((speaker, role, start, end, turn_id))
    codes_of = {segment_id: ", ".join(sorted(codes)) for segment_id, codes in codes_by_segment.items()}
    for session in transcripts.itertuples(index=False):
        text = session.text
        rendered = []
        for speaker, role, turn_start, turn_end, turn_id in turns_of.get(session.session_id, []):
            pieces, cursor = [], turn_start
            for segment_id, start, end in segments_of.get(turn_id, []):
                if start > cursor:
                    pieces.append({"text": text[cursor:start], "segment": None})
                pieces.append({"text": text[start:end], "segment": segment_id,
                               "coded": segment_id in codes_of, "codes": codes_of.get(segment_id, "")})
                cursor = end
            if turn_end > cursor:
                pieces.append({"text": text[cursor:turn_end], "segment": None})
            rendered.append({"speaker": speaker or "respondent", "role": role, "pieces": pieces})
        yield f"transcripts/{session.session_id}.html", render_template("transcript.html.j2", {
            "page": {"title": f"Transcript {session.session_id}", "language": session.language,
                     "subtitle": f"{session.stakeholder_group} · {session.method} · {session.region or 'no region'}"},
            "meta": f"{session.participants} participant(s) · {session.language} · synthetic or anonymised transcript; "
                    f"coded passages are underlined, the linked passage is highlighted.",
            "turns": rendered})


def render_reports(*, transcripts, turns, segments, codings, matrices: dict[str, pd.DataFrame],
                   findings: pd.DataFrame, saturation_curve: pd.DataFrame, codebook: Codebook,
                   language: str = "en") -> Iterator[tuple[str, str | bytes]]:
    """Every report file, one at a time: ``evidence_matrix.html``, ``transcripts/*.html``,
    ``triangulation_report`` (``.html``, ``.md``, ``.docx``), ``matrices.xlsx``, one CSV per
    matrix, ``evidence.json``."""
    evaluation = codebook.evaluation
    settings = evaluation.triangulation
    evidence = matrices["evidence"]
    counting = _counting(settings)
    title = evaluation.evaluation.title.get(language)
    groups = {g.id: g.label.get(language) for g in evaluation.stakeholder_groups}
    interviewed = [g for g in evaluation.ids("stakeholder_groups") if g in set(transcripts["stakeholder_group"])]
    rating = dict(zip(findings["question"], findings["rating"]))
    cells = matrices["question_by_group"].set_index(["question", "stakeholder_group"])
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
    tables = []
    for key, title_ in (("question_by_method", "Questions x methods"), ("question_by_region", "Questions x regions"),
                        ("criterion_by_group", "Criteria x stakeholder groups"), ("code_by_group", "Codes x stakeholder groups"),
                        ("co_occurrence", "Code co-occurrence")):
        frame = matrices[key]
        tables.append({"anchor": key, "title": title_, "headings": list(frame.columns),
                       "rows": frame.astype(str).values.tolist()})
    filters = [{"key": "stakeholder_group", "label": "Group", "options": [{"value": g, "label": groups[g]} for g in interviewed]}]
    for key, label in (("region", "Region"), ("method", "Method"), ("language", "Language"), ("stance", "Stance")):
        values = sorted(v for v in evidence[key].unique() if v) if len(evidence) else []
        filters.append({"key": key, "label": label, "options": [{"value": v, "label": v} for v in values]})
    code_ids = sorted({c for codes in evidence["codes"].unique() for c in codes.split(", ")}) if len(evidence) else []
    filters.append({"key": "code", "label": "Code", "options": [{"value": c, "label": c} for c in code_ids]})
    page = {"title": f"Evidence matrix: {title}", "language": language,
            "subtitle": f"{len(transcripts)} sessions · {int(transcripts['participants'].sum())} participants · "
                        f"{evidence['segment_id'].nunique() if len(evidence) else 0} coded segments"}
    yield "evidence_matrix.html", StreamedText(render_template("evidence_matrix.html.j2", {
        "page": page, "counting": counting, "filters": filters, "criteria": criteria, "other_tables": tables,
        "groups": [{"id": g, "label": groups[g], "short": g.replace("_", " ")} for g in interviewed],
        "data_json": SPLICE,
    }), _safe_json({"evidence": evidence[[c for c in evidence.columns if c not in ("start", "end")]], "groups": groups}))
    yield from _transcript_pages(transcripts, turns, segments, evidence, language)
    questions = _question_context(codebook, findings, evidence, language)
    context = {"page": {"title": f"Triangulation report: {title}", "language": language,
                        "subtitle": f"{len(transcripts)} sessions · strength of evidence per evaluation question"},
               "counting": counting, "questions": questions, "saturation_svg": _saturation_svg(saturation_curve)}
    yield "triangulation_report.html", render_template("triangulation.html.j2", context)
    yield "triangulation_report.md", render_template("triangulation.md.j2", context)
    yield "triangulation_report.docx", _docx(context["page"]["title"], counting, questions)
    sheets = {"findings": findings, **{k: v for k, v in matrices.items() if k != "evidence"},
              "quotes": evidence, "saturation": saturation_curve}
    yield "matrices.xlsx", workbook(sheets)
    for name, frame in sheets.items():
        yield f"matrices/{name}.csv", StreamedText.of(_csv_pieces(frame))
    # No indentation: Python's JSON encoder in C only serves unindented output (6x faster).
    yield "evidence.json", StreamedText(SPLICE + "\n", _json_pieces(sheets, ensure_ascii=False, default=str))

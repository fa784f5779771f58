"""Reviewing in the browser: what the pages need to take decisions, ``review_queue.html`` (the
model's suggestions worked from the keyboard) and ``review_conflicts.csv``.

The evidence matrix and the review queue share one store of decisions in the browser's local
storage, keyed by the evaluation and the run (:func:`review_key`), and export the same
decisions file (:data:`pipeline.schemas.DECISION_COLUMNS`) for ``TRANSCRIPTS/coding/``, which
the next run reads (:mod:`pipeline.stages.coding.decisions`). Every text reaches the pages as
JSON and is shown with ``textContent``.
"""

from __future__ import annotations

import hashlib
from typing import Iterator

import pandas as pd

from pipeline.reports.pieces import safe_json
from pipeline.reports.report import Output, Report, RunTables
from pipeline.reports.templating import render_template
from pipeline.runtime.outputs import SPLICE, StreamedText
from pipeline.schemas import DECISION_COLUMNS, STANCES, SUMMARY_COLUMNS
from pipeline.stages.coding.combine import review_queue
from pipeline.stages.coding.decisions import DECISIONS

CODING_FIELDS = ["code", "source", "coder", "stance", "status"]  # of each coding a page shows


def review_key(tables: RunTables) -> str:
    """The local-storage key of a run's decisions: the evaluation's id and a digest of the run's
    codings, so that decisions taken on one run's pages are not shown on another's."""
    codings = tables.codings[["segment_id", "code", "source", "coder", "status"]]
    digest = hashlib.sha256(pd.util.hash_pandas_object(codings, index=False).to_numpy().tobytes()).hexdigest()
    return f"{tables.codebook.evaluation.evaluation.id}:{digest[:16]}"


def review_settings(tables: RunTables) -> dict:
    """What both pages' review script reads: the storage key, the codes a reviewer may add
    (``[id, label]``), the stances, decisions and the columns of the files it exports."""
    language = tables.language
    return {"key": review_key(tables), "codes": [[c.id, c.label.get(language)] for c in tables.codebook.codes],
            "stances": list(STANCES), "decisions": list(DECISIONS), "decision_columns": DECISION_COLUMNS,
            "summary_columns": SUMMARY_COLUMNS}


def codings_by_segment(tables: RunTables, segment_ids) -> dict[str, list[list]]:
    """Every coding of the given segments, any status: {segment id: [[code, source, coder,
    stance, status], ...]}, in CODINGS order."""
    wanted = tables.codings[tables.codings["segment_id"].isin(set(segment_ids))]
    out: dict[str, list[list]] = {}
    for segment_id, *fields in zip(*(wanted[c].tolist() for c in ["segment_id", *CODING_FIELDS])):
        out.setdefault(segment_id, []).append(fields)
    return out


def cell_summaries(tables: RunTables) -> dict[str, list[dict]]:
    """The analysts' summaries by cell (``"question_by_group|EQ1|donor"``), each with its coder,
    text and the segments it cites."""
    out: dict[str, list[dict]] = {}
    for r in tables.summaries.itertuples(index=False):
        out.setdefault(f"{r.matrix}|{r.question}|{r.column}", []).append(
            {"coder": r.coder, "summary": r.summary, "segments": r.segments.split()})
    return out


def framework_table(tables: RunTables) -> pd.DataFrame:
    """The framework matrix: one row per evaluation question (``question``, ``criterion``), one
    column per stakeholder group with the analysts' summaries of that cell, each as ``coder:
    summary [cites segment ids]``, one per line."""
    evaluation = tables.codebook.evaluation
    groups = evaluation.ids("stakeholder_groups")
    rows = []
    for q in evaluation.questions:
        row = {"question": q.id, "criterion": q.criterion}
        own = tables.summaries[tables.summaries["question"] == q.id]
        for group in groups:
            cell = own[own["column"] == group].sort_values("coder", kind="stable")
            row[group] = "\n".join(f"{s.coder}: {s.summary}" + (f" [cites {s.segments}]" if s.segments else "")
                                   for s in cell.itertuples(index=False))
        rows.append(row)
    return pd.DataFrame(rows, columns=["question", "criterion", *groups])


def build_review_queue(tables: RunTables) -> Iterator[tuple[str, StreamedText]]:
    """``review_queue.html``: the model's suggestions, most uncertain first, one at a time."""
    queue = review_queue(tables.codings, tables.segments)
    spans = tables.segments[["segment_id", "start", "end"]]
    queue = queue.merge(spans, on="segment_id", how="left")
    status = tables.codings.loc[tables.codings["source"] == "model", ["segment_id", "code", "status"]]
    queue = queue.merge(status, on=["segment_id", "code"], how="left")
    evaluation = tables.codebook.evaluation
    page = {"title": f"Review queue: {evaluation.evaluation.title.get(tables.language)}", "language": tables.language,
            "subtitle": f"{len(queue)} model suggestion(s), most uncertain first"}
    yield "review_queue.html", StreamedText(render_template("review_queue.html.j2", {
        "page": page, "data_json": SPLICE}), safe_json({"queue": queue, "review": review_settings(tables)}))


def build_conflicts(tables: RunTables) -> Iterator[tuple[str, pd.DataFrame]]:
    """``review_conflicts.csv``: codings a person kept and another rejected (both are kept)."""
    yield "review_conflicts.csv", tables.review.conflicts


QUEUE = Report("review queue", (Output("review_queue.html", "html"),), build_review_queue)
CONFLICTS = Report("review conflicts", (Output("review_conflicts.csv", "csv"),), build_conflicts,
                   when=lambda tables: tables.review is not None and tables.review.decided > 0)

"""Every file a run writes but its manifest, as a registry of reports, in writing order.

Adding a report is one module (its :class:`pipeline.reports.report.Report`: the files it
declares and how it builds them from :class:`~pipeline.reports.report.RunTables`) and one line
in :data:`REPORTS`. What a run may prune and where the privacy-off banner goes are read from
the declarations (:func:`owned_outputs`, :attr:`ReportFile.kind`).
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

from pipeline.reports import (evidence_matrix, findings, interim, manual, reliability, review, tables,
                              transcript_pages, triangulation, workbook)
from pipeline.reports.report import Content, Report, RunTables

# In the order the files are written, each as soon as it is built.
REPORTS: tuple[Report, ...] = (
    evidence_matrix.REPORT,   # evidence_matrix.html
    transcript_pages.REPORT,  # transcripts/<session>.html
    triangulation.REPORT,     # triangulation_report.html, .md, .docx
    findings.REPORT,          # findings.html, findings_annex.md, .docx: with a findings file
    workbook.REPORT,          # matrices.xlsx
    tables.MATRICES,          # matrices/<name>.csv, evidence.json
    interim.REPORT,           # interim/texts/<session>.txt, interim/<table>.parquet
    tables.RUN,               # sessions.csv, segments.csv, codings.csv, review_queue.csv, unplaced_quotes.csv
    reliability.REPORT,       # reliability.json, reliability.html: two or more people coded
    manual.REPORT,            # codebook.html, codebook.md
    tables.REDACTION_LOG,     # redaction_log.csv: under redact
    review.QUEUE,             # review_queue.html
    review.CONFLICTS,         # review_conflicts.csv: with reviewers' decisions
)


class ReportFile(NamedTuple):
    """One file a report built: its ``name`` (relative to the run's folder), its declared
    ``kind`` and its ``content``."""

    name: str
    kind: str
    content: Content


def build_reports(tables: RunTables, reports: tuple[Report, ...] = REPORTS) -> Iterator[ReportFile]:
    """Every file of every report this run writes (a conditional report only when its ``when``
    holds), one at a time as each is built, in the order of ``reports``. ValueError if a report
    builds a file it does not declare."""
    for report in reports:
        if report.when is not None and not report.when(tables):
            continue
        for name, content in report.build(tables):
            yield ReportFile(name, report.kind_of(name), content)


def owned_outputs(reports: tuple[Report, ...] = REPORTS) -> tuple[str, ...]:
    """What a run may prune (see :class:`pipeline.runtime.outputs.StagedOutputs`): every declared
    folder (a session removed leaves no page behind) and every file of a conditional report (a
    run under other settings wrote it), in the order of ``reports``."""
    owned: list[str] = []
    for report in reports:
        owned += [output.path for output in report.outputs if output.folder or report.when is not None]
    return tuple(owned)

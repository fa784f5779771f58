"""What a report is: the files it declares, and the run's tables it builds them from.

A report is one module under ``pipeline/reports/`` holding a :class:`Report`: the files it
writes (each a name, or a folder, with the file's kind) and a function from :class:`RunTables`
to those files, yielded one at a time as ``(name, content)``. :mod:`pipeline.reports.registry`
lists every report; the flow writes what they yield, and what a run may prune and where the
privacy-off banner goes are read from the declarations, never typed elsewhere.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterable

import pandas as pd

from pipeline import schemas
from pipeline.config.codebook import Codebook
from pipeline.runtime.outputs import StreamedText

# What a file is, for whoever reads it: people read the first three (the privacy-off banner
# goes on them, see pipeline.reports.banner), programs and spreadsheets the rest.
KINDS = ("html", "markdown", "docx", "csv", "json", "xlsx", "parquet", "text")
READ_BY_PEOPLE = ("html", "markdown", "docx")

# What a report yields for a file: text (whole, or streamed a few thousand rows at a time),
# the bytes of a zip (Word, Excel), a table (written as CSV or Parquet, by its kind) or the data
# of a JSON file.
Content = str | StreamedText | bytes | pd.DataFrame | dict


@dataclass(frozen=True)
class Output:
    """A file a report writes (``path``, relative to the run's folder), or with ``folder`` a
    folder of any number of files, all of ``kind`` (one of :data:`KINDS`)."""

    path: str
    kind: str
    folder: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.path}: kind {self.kind!r} is not one of {', '.join(KINDS)}")

    def holds(self, name: str) -> bool:
        """Whether the file ``name`` (relative to the run's folder) is this file, or in this folder."""
        return name.startswith(self.path.rstrip("/") + "/") if self.folder else name == self.path


@dataclass(frozen=True)
class RunTables:
    """Everything a run's reports are built from, after the last stage.

    ``transcripts``, ``turns``, ``segments`` and ``codings`` are the stage tables (TRANSCRIPTS,
    TURNS, SEGMENTS, CODINGS: guarded, so redacted under ``redact``); ``matrices`` the evidence
    matrices by name (``evidence`` among them); ``findings`` (FINDINGS) and ``saturation`` (the
    saturation curve) from triangulation; ``unplaced`` the human coding's quotes that could not
    be placed; ``redaction_log`` what ``redact`` replaced. ``language`` is the evaluation's first.
    Two are the wiring's, called only by a report that needs them: ``measure_reliability`` gives
    the inter-coder figures of the human codings it is handed (cached), ``read_machine_figures``
    what ``evaluate-coder --json`` wrote, or None. ``checked_findings`` is the team's findings file
    checked against the evidence, when the codebook folder holds one.
    """

    codebook: Codebook
    transcripts: pd.DataFrame
    turns: pd.DataFrame
    segments: pd.DataFrame
    codings: pd.DataFrame
    matrices: dict[str, pd.DataFrame]
    findings: pd.DataFrame
    saturation: pd.DataFrame
    unplaced: pd.DataFrame
    language: str
    privacy_policy: str
    redaction_log: pd.DataFrame
    measure_reliability: Callable[[pd.DataFrame], dict]
    read_machine_figures: Callable[[], dict | None]
    checked_findings: object | None = None  # the findings file checked (pipeline.stages.findings.check.Checked)
    # Reviewers' decisions (pipeline.stages.coding.decisions.Review) and analysts' cell summaries
    # (pipeline.stages.coding.summaries: one row per summary), None and empty without any.
    review: object | None = None
    summaries: pd.DataFrame = dataclasses.field(default_factory=lambda: pd.DataFrame(
        columns=["file", "row", "session_id", "matrix", "question", "column", "coder", "summary", "segments"]))

    @property
    def evidence(self) -> pd.DataFrame:
        """EVIDENCE: one row per coded segment and question it serves."""
        return self.matrices["evidence"]

    @property
    def human_codings(self) -> pd.DataFrame:
        """The CODINGS rows people made of respondents' speech in coding files (not their codings of
        context, nor reviewers' decisions, whose ``match`` says ``review: ...``: a reviewer decides
        on codings, and is no coder of whole segments)."""
        people = schemas.people_evidence(self.codings)
        return people[~people["match"].str.startswith("review: ")]

    def sheets(self) -> dict[str, pd.DataFrame]:
        """The tables of matrices.xlsx, matrices/*.csv and evidence.json, by name, in order:
        the findings, every matrix but the evidence, the quotes (the evidence) and saturation."""
        return {"findings": self.findings, **{k: v for k, v in self.matrices.items() if k != "evidence"},
                "quotes": self.evidence, "saturation": self.saturation}


@dataclass(frozen=True)
class Report:
    """One report: its ``name``, the ``outputs`` it declares, ``build`` (RunTables -> every file
    as ``(name, content)``, one at a time) and, for a report only some runs write, ``when``
    (RunTables -> whether this run writes it)."""

    name: str
    outputs: tuple[Output, ...]
    build: Callable[[RunTables], Iterable[tuple[str, Content]]]
    when: Callable[[RunTables], bool] | None = None

    def kind_of(self, name: str) -> str:
        """The declared kind of the file ``name``; ValueError if the report does not declare it."""
        for output in self.outputs:
            if output.holds(name):
                return output.kind
        raise ValueError(f"the {self.name} report wrote {name}, which it does not declare; "
                         f"add it to the report's outputs")

"""The tables that flow between stages: their columns and dtypes, declared once.

Each stage checks the tables it reads with :func:`check` and builds the tables it returns with
:func:`conform`, so a column that is missing, misspelt or of the wrong type stops the run at
the stage boundary instead of surfacing as a wrong number in a report.

Text columns never hold nulls: an absent value is the empty string, which keeps files
deterministic and comparisons simple. Counts that may be unknown are nullable integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.errors import PipelineError

# Logical types and the pandas dtype each is stored as.
DTYPES = {"str": "string", "int": "int64", "int?": "Int64", "bool": "bool", "float": "float64"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


class SchemaError(PipelineError, TypeError):
    """A table does not have the columns or dtypes its schema declares."""


METADATA = (
    Column("method", "str", "how the session was held: a `methods` id of evaluation.yaml"),
    Column("stakeholder_group", "str", "a `stakeholder_groups` id of evaluation.yaml"),
    Column("language", "str", "ISO 639 code of the transcript's language"),
    Column("participants", "int", "people who spoke for the respondent side (a focus group of six counts six)"),
    Column("region", "str", "a `regions` id, or empty"),
    Column("date", "str", "date of the session, YYYY-MM-DD, or empty"),
    Column("institution", "str", "the respondent's institution type, or empty"),
    Column("interviewer", "str", "the evaluation team member's code, or empty"),
    Column("women", "int?", "women among the participants, if recorded"),
    Column("men", "int?", "men among the participants, if recorded"),
    Column("notes", "str", "free notes from the register"),
)

# Tables people give us, read as text (pipeline.exchange.spreadsheets) and checked by the stage
# that reads them; the REFI-QDA import writes them in these columns.
REGISTER_REQUIRED = ("file", "session_id", "method", "stakeholder_group", "participants")
# An empty or absent language is told from the transcript's text (pipeline.nlp.detect).
REGISTER_OPTIONAL = ("language", "region", "date", "institution", "interviewer", "women", "men", "notes")
REGISTER_COLUMNS = ["file", "session_id", *(c.name for c in METADATA)]  # register.csv: the file, the session, its METADATA
# A human-coding file with offsets and quotes (pipeline.stages.coding.human also accepts file for
# session_id, and stance).
HUMAN_CODING_COLUMNS = ["session_id", "code", "coder", "start", "end", "quote", "memo"]
# A reviewer's decisions file, as the browser pages export it (pipeline.stages.coding.decisions).
DECISION_COLUMNS = [*HUMAN_CODING_COLUMNS, "stance", "decision", "segment_id"]
# An analyst's summaries of matrix cells, as the evidence matrix exports them (summaries.csv).
SUMMARY_COLUMNS = ["matrix", "question", "column", "coder", "summary", "segments"]

TRANSCRIPTS = Table(
    "transcripts",
    (
        Column("session_id", "str", "unique id of the session, from the register"),
        Column("file", "str", "transcript path relative to the transcripts folder"),
        *METADATA,
        Column("format", "str", "txt, md, docx, vtt, srt or pdf"),
        Column("encoding", "str", "the encoding the file was decoded from"),
        Column("sha256", "str", "hash of the file's bytes"),
        Column("text", "str", "the normalised text (NFC, \\n line ends) every offset refers to"),
    ),
    key=("session_id",),
)

TURNS = Table(
    "turns",
    (
        Column("turn_id", "str", "stable id: session id and turn number"),
        Column("session_id", "str", "the session the turn belongs to"),
        Column("turn", "int", "position of the turn in its transcript, from 0"),
        Column("speaker", "str", "the speaker label as written in the transcript"),
        Column("role", "str", "interviewer or respondent"),
        Column("timestamp", "str", "the timestamp written with the label, or empty"),
        Column("start", "int", "first code point of the turn's speech in the normalised text"),
        Column("end", "int", "end of the turn's speech (exclusive)"),
    ),
    key=("turn_id",),
)

SEGMENTS = Table(
    "segments",
    (
        Column("segment_id", "str", "stable id: turn id and segment number"),
        Column("session_id", "str", "the session"),
        Column("turn_id", "str", "the respondent turn the segment belongs to"),
        Column("speaker", "str", "the speaker label"),
        Column("role", "str", "always respondent: segments are the evidence"),
        Column("start", "int", "first code point in the normalised text"),
        Column("end", "int", "end code point (exclusive)"),
        Column("text", "str", "the normalised text sliced at start:end"),
        Column("sentences", "int", "sentences in the segment"),
        Column("words", "int", "words, not counting bracketed notes such as [risas]"),
        Column("prompt_turn_id", "str", "the interviewer turn that prompted it, or empty"),
        Column("prompt", "str", "that interviewer turn's text, or empty"),
        *METADATA,
    ),
    key=("segment_id",),
)

SOURCES = ("rule", "human", "model")
STATUSES = ("accepted", "suggested", "context", "rejected")
# A person's coding of an interviewer's turn: kept and shown with the transcript, never evidence.
CONTEXT = STATUSES[2]
# A machine coding a reviewer rejected (pipeline.stages.coding.decisions): kept, counted nowhere.
REJECTED = STATUSES[3]
STANCES = ("positive", "negative", "mixed", "neutral")

CODINGS = Table(
    "codings",
    (
        Column("segment_id", "str", "the coded segment; for a coding of context, the interviewer's turn"),
        Column("session_id", "str", "its session"),
        Column("code", "str", "a code id of the codebook"),
        Column("source", "str", "rule (a codebook pattern), human (imported coding) or model (a learned suggestion)"),
        Column("coder", "str", "the human coder, the pattern id that fired, or the model's name"),
        Column("start", "int", "start of the evidence: the matched text, the human's span, or the segment"),
        Column("end", "int", "end of the evidence (exclusive)"),
        Column("match", "str", "for rules, the text the pattern matched; for roll-ups, the child code; for a reviewer's decision, 'review: <decision>'"),
        Column("confidence", "float", "1.0 for rules and people; the model's calibrated probability"),
        Column("stance", "str", "positive, negative, mixed or neutral: the passage's judgement of the project"),
        Column("stance_by", "str", "who judged the stance: coder (a person), model (learned from them) or lexicon"),
        Column("negated", "bool", "a negation governs the matched words ('no hubo coordinación')"),
        Column("hedged", "bool", "the segment hedges its assessment ('no creo que', 'tal vez')"),
        Column("status", "str", "accepted, suggested (model output, or a rule overruled by a person), context "
                                     "(a person's coding of an interviewer's turn: not evidence) or rejected (by a "
                                     "reviewer: counts nowhere)"),
        Column("memo", "str", "the coder's memo, or why a coding was overruled"),
    ),
    key=("segment_id", "code", "source", "coder", "start", "end"),
)

PRIVACY_KINDS = ("private_name", "name", "email", "url", "dni", "phone", "address")

# Named apart from triangulation's findings. Never holds the identifying text itself: the table
# is printed and written as CSV, so it must not leak what it points at.
PRIVACY_FINDINGS = Table(
    "privacy_findings",
    (
        Column("session_id", "str", "the session the text belongs to"),
        Column("file", "str", "the transcript (relative to the transcripts folder), 'register', or 'coding/<file>'"),
        Column("field", "str", "text (the transcript), notes (the register), memo or quote (human coding)"),
        Column("line", "int", "line of the transcript's normalised text, or the row of the register or coding file"),
        Column("column", "int", "column of the first character in that line (or in the cell), from 1"),
        Column("start", "int", "first code point of the finding in the normalised text (or the cell)"),
        Column("end", "int", "end of the finding (exclusive)"),
        Column("kind", "str", "private_name, name, email, url, dni, phone or address"),
        Column("recognizer", "str", "the recogniser that found it"),
        Column("score", "float", "the recogniser's confidence, 0-1"),
    ),
    key=("session_id", "file", "field", "line", "start", "end"),
)

def people_evidence(codings: pd.DataFrame) -> pd.DataFrame:
    """The rows of CODINGS (or coding rows) that are people's coding of respondents' speech: source
    human, not a coding of context. What learning, reliability and evaluation count. Rows
    without a ``source`` or ``status`` column are taken as people's, or as no context."""
    keep = pd.Series(True, index=codings.index)
    if "source" in codings.columns:
        keep &= codings["source"] == "human"
    if "status" in codings.columns:
        keep &= codings["status"] != CONTEXT
    return codings[keep]


TABLES = {t.name: t for t in (TRANSCRIPTS, TURNS, SEGMENTS, CODINGS)}


def conform(rows: pd.DataFrame | list[dict], table: Table) -> pd.DataFrame:
    """A new frame with exactly ``table``'s columns, in order, cast to their dtypes, sorted by key."""
    frame = pd.DataFrame(rows, columns=table.names) if isinstance(rows, list) else rows
    missing = [c for c in table.names if c not in frame.columns]
    if missing:
        raise SchemaError(f"table '{table.name}' lacks the columns {missing}")
    out = frame.loc[:, table.names].astype({c.name: DTYPES[c.type] for c in table.columns})
    out = out.assign(**{c.name: out[c.name].fillna("") for c in table.columns if c.type == "str"})
    return out.sort_values(list(table.key), kind="stable").reset_index(drop=True)


def check(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Raise :class:`SchemaError` unless ``frame`` has ``table``'s columns and dtypes."""
    if list(frame.columns) != table.names:
        raise SchemaError(f"table '{table.name}' has the columns {list(frame.columns)}, "
                          f"expected {table.names}")
    wrong = [f"{c.name} is {frame[c.name].dtype}, expected {DTYPES[c.type]}"
             for c in table.columns if str(frame[c.name].dtype) != DTYPES[c.type]]
    if wrong:
        raise SchemaError(f"table '{table.name}': " + "; ".join(wrong))
    if frame.duplicated(list(table.key)).any():
        raise SchemaError(f"table '{table.name}' has duplicate keys {list(table.key)}")
    return frame


# The columns of the tables that stages and reports derive, declared beside the stage tables';
# each module that makes one imports its list from here.
# pipeline.stages.matrices
EVIDENCE_COLUMNS = ["segment_id", "question", "criterion", "codes", "sources", "stance", "session_id",
                    "stakeholder_group", "method", "region", "language", "participants", "speaker", "start",
                    "end", "text", "prompt", "suggested"]
# pipeline.stages.triangulate
FINDINGS_COLUMNS = ["question", "criterion", "rating", "why", "segments", "sessions", "participants", "groups",
                    "methods", "regions", "positive", "negative", "mixed", "neutral", "positive_sessions",
                    "negative_sessions", "mixed_sessions", "majority",
                    "diverging_groups", "gaps", "human_segments", "machine_segments", "machine_share",
                    "human_sessions", "machine_precision"]
# pipeline.stages.findings.check
CITATION_COLUMNS = ["section", "id", "segment_id", "status", "coded_by", "codes", "session_id", "stakeholder_group",
                    "text"]
# pipeline.stages.findings.check
SUPPORT_COLUMNS = ["section", "id", "question", "rating", "why", "segments", "sessions", "participants", "groups",
                   "methods", "regions", "positive_sessions", "negative_sessions", "mixed_sessions", "majority",
                   "human_segments"]
# pipeline.stages.privacy.policy
LOG_COLUMNS = ["session_id", "file", "field", "line", "start", "end", "kind", "placeholder", "recognizer"]
# pipeline.stages.coding.decisions
CONFLICT_COLUMNS = ["segment_id", "session_id", "code", "kept_by", "rejected_by"]
# pipeline.stages.coding.audit
AUDIT_COLUMNS = ["code", "pattern", "hits", "agreed", "unconfirmed", "precision", "demoted"]
# pipeline.stages.coding.human
UNPLACED_COLUMNS = ["file", "row", "session_id", "code", "coder", "quote", "reason", "score", "closest",
                    "closest_start", "closest_end"]
# pipeline.stages.coding.human
HUMAN_COLUMNS = ["file", "row", "session_id", "code", "coder", "start", "end", "quote", "memo", "stance",
                 "located", "score", "turn_id", "role", "part", "parts",
                 "decision"]  # decision: a reviewer's (decisions.py), or empty
# pipeline.reports.tables
CODINGS_COLUMNS = ["segment_id", "code", "source", "coder", "confidence", "stance", "stance_by", "status", "session_id",
                   "start", "end", "match", "negated", "hedged", "memo"]

"""The findings file: ``findings.yaml`` beside ``evaluation.yaml``, the team's draft of the report.

It holds the report's claims and what each rests on: the **findings** (the questions each
answers, its statement per language, the direction it claims and its evidence: cited segment
ids, the codes it rests on, the stakeholder groups it names), the **conclusions** (the findings
they rest on), the **recommendations** (whom they address, priority, the conclusions or
findings they follow from), and the **lessons learned** and **emerging good practices** in the
fields of ILO's templates, each with its evidence. The check of the claims against a run's
evidence is :mod:`pipeline.stages.findings`.

Loading validates the file completely and reports every problem at once, each with the file,
the line and key path, and the fix: YAML syntax, unknown or missing keys, duplicate ids, and
references to questions, codes, stakeholder groups, findings or conclusions that do not exist.
Whether a cited segment exists is known only from a run, so the check says so. The loaded file
is immutable.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationError, field_validator

from pipeline.config.evaluation import FrozenModel, Id, Localized, describe_error, validation_problems
from pipeline.config.yamlfile import YamlDocument, load_yaml
from pipeline.errors import FindingsError, Problem

if TYPE_CHECKING:
    from pipeline.config.codebook import Codebook

FINDINGS_FILE = "findings.yaml"
DIRECTIONS = ("positive", "negative", "mixed")
PRIORITIES = ("high", "medium", "low")
SEE = "See README.md, 'The findings file'."


class Evidence(FrozenModel):
    """What a claim rests on: ``segments`` (segment ids of a run, as segments.csv and the
    evidence matrix show them), ``codes`` (every passage coded with one of them on the claim's
    questions) and the stakeholder ``groups`` its statement names."""

    segments: tuple[Id, ...] = ()
    codes: tuple[Id, ...] = ()
    groups: tuple[Id, ...] = ()


class Finding(FrozenModel):
    """One finding: the evaluation questions it answers, its statement, the direction it claims."""

    id: Id
    questions: tuple[Id, ...] = Field(min_length=1)
    statement: Localized
    direction: Literal["positive", "negative", "mixed"]
    evidence: Evidence = Evidence()


class Conclusion(FrozenModel):
    id: Id
    statement: Localized
    findings: tuple[Id, ...] = ()


class Recommendation(FrozenModel):
    """A recommendation: whom it addresses (institutions, as the report names them), its
    priority, and the conclusions or findings it follows from (``follows_from``)."""

    id: Id
    title: Localized
    statement: Localized
    addressed_to: tuple[str, ...] = Field(min_length=1)
    priority: Literal["high", "medium", "low"]
    follows_from: tuple[Id, ...] = ()


class Lesson(FrozenModel):
    """A lesson learned, in the fields of ILO's lesson learned template."""

    id: Id
    title: Localized
    questions: tuple[Id, ...] = Field(min_length=1)
    description: Localized  # brief description of the lesson learned (link to specific action or task)
    context: Localized | None = None  # context and any related preconditions
    targeted_users: Localized | None = None  # targeted users / beneficiaries
    challenges: Localized | None = None  # challenges / negative lessons: causal factors
    success_factors: Localized | None = None  # success / positive issues: causal factors
    ilo_administrative_issues: Localized | None = None  # staff, resources, design, implementation
    evidence: Evidence = Evidence()
    findings: tuple[Id, ...] = ()


class GoodPractice(FrozenModel):
    """An emerging good practice, in the fields of ILO's emerging good practice template."""

    id: Id
    title: Localized
    questions: tuple[Id, ...] = Field(min_length=1)
    summary: Localized  # brief summary (link to project goal or specific deliverable, background, purpose)
    conditions: Localized | None = None  # relevant conditions and context: applicability and replicability
    cause_effect: Localized | None = None  # a clear cause-effect relationship
    impact: Localized | None = None  # measurable impact and targeted beneficiaries
    replication: Localized | None = None  # potential for replication and by whom
    ilo_goals: Localized | None = None  # upward links to higher ILO goals (DWCPs, CPOs, strategic framework)
    other: Localized | None = None  # other documents or relevant comments
    evidence: Evidence = Evidence()
    findings: tuple[Id, ...] = ()


class ReportInfo(FrozenModel):
    """What heads the annex and ILO's templates; ``language`` is the reports' (default: the
    evaluation's first)."""

    language: str | None = Field(None, pattern=r"^[a-z]{2,3}$")
    project_code: str = ""
    evaluators: str = ""
    date: str = ""

    @field_validator("project_code", "evaluators", "date", mode="before")
    @classmethod
    def _as_written(cls, value):
        # YAML reads 2024-12-01 as a date and 2024 as a number: both are meant as text here.
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return str(value) if isinstance(value, (int, float)) else value


class Findings(FrozenModel):
    """The whole of ``findings.yaml``; README.md documents every field."""

    report: ReportInfo = ReportInfo()
    strict: bool = False
    findings: tuple[Finding, ...] = ()
    conclusions: tuple[Conclusion, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    lessons_learned: tuple[Lesson, ...] = ()
    good_practices: tuple[GoodPractice, ...] = ()


SECTIONS = ("findings", "conclusions", "recommendations", "lessons_learned", "good_practices")
CLAIMS = ("findings", "lessons_learned", "good_practices")  # the sections whose items rest on evidence


@dataclass(frozen=True)
class FindingsFile:
    """A loaded findings file: ``content`` (the validated :class:`Findings`), the ``path`` as
    given, the ``sha256`` of its bytes, and where each key is (:meth:`where`)."""

    path: str
    content: Findings
    document: YamlDocument
    sha256: str

    def where(self, loc: tuple[str | int, ...]) -> str:
        """``"line 12 (findings[0].evidence.segments[2])"`` for a key path."""
        return self.document.where(loc)

    def claims(self) -> list[tuple[str, int, Finding | Lesson | GoodPractice]]:
        """(section, index, item) of every finding, lesson and good practice, in file order."""
        return [(section, index, item) for section in CLAIMS
                for index, item in enumerate(getattr(self.content, section))]


def _unknown(document: YamlDocument, loc: tuple, what: str, value: str, known: list[str], fix_what: str) -> Problem:
    close = difflib.get_close_matches(value, known, n=1)
    fix = f"Did you mean '{close[0]}'?" if close else f"Use the id of {fix_what}."
    return Problem(document.path, f"{what} '{value}' does not exist.", fix, document.where(loc))


def _check_references(findings: Findings, codebook: Codebook, document: YamlDocument) -> list[Problem]:
    """Duplicate ids, and every question, code, group, finding and conclusion named exists."""
    problems = []
    evaluation = codebook.evaluation
    questions, groups = list(evaluation.ids("questions")), list(evaluation.ids("stakeholder_groups"))
    codes = [code.id for code in codebook.codes]
    seen: dict[str, tuple] = {}
    for section in SECTIONS:
        for index, item in enumerate(getattr(findings, section)):
            if item.id in seen:
                problems.append(Problem(document.path, f"the id '{item.id}' is already used at "
                                                       f"{document.where(seen[item.id])}.",
                                        "Give each finding, conclusion, recommendation, lesson and practice its own id.",
                                        document.where((section, index, "id"))))
            else:
                seen[item.id] = (section, index, "id")
    finding_ids = [f.id for f in findings.findings]
    conclusion_ids = [c.id for c in findings.conclusions]
    for section, index, item in [(s, i, item) for s in CLAIMS for i, item in enumerate(getattr(findings, s))]:
        for position, question in enumerate(item.questions):
            if question not in questions:
                problems.append(_unknown(document, (section, index, "questions", position), "the question",
                                         question, questions, "a question of evaluation.yaml"))
        for key, known, what in (("codes", codes, "a code of the codebook"),
                                 ("groups", groups, "a stakeholder group of evaluation.yaml")):
            for position, value in enumerate(getattr(item.evidence, key)):
                if value not in known:
                    problems.append(_unknown(document, (section, index, "evidence", key, position),
                                             "the code" if key == "codes" else "the stakeholder group",
                                             value, known, what))
    references = [("conclusions", "findings", finding_ids, "the finding", "a finding"),
                  ("recommendations", "follows_from", conclusion_ids + finding_ids, "the conclusion or finding",
                   "a conclusion or finding"),
                  ("lessons_learned", "findings", finding_ids, "the finding", "a finding"),
                  ("good_practices", "findings", finding_ids, "the finding", "a finding")]
    for section, key, known, what, fix_what in references:
        for index, item in enumerate(getattr(findings, section)):
            for position, value in enumerate(getattr(item, key)):
                if value not in known:
                    problems.append(_unknown(document, (section, index, key, position), what, value, known,
                                             f"{fix_what} of this file"))
    return problems


def _described(error: dict) -> tuple[str, str]:
    """A pydantic error as (message, fix), the fix pointing at the findings file's documentation."""
    message, fix = describe_error(error)
    if error["type"] == "missing":
        fix = f"Add '{error['loc'][-1]}' (see README.md, 'The findings file')."
    elif error["type"] == "extra_forbidden":
        fix = "Remove it or correct its spelling (README.md, 'The findings file', lists every key)."
    return message, fix


def load_findings(codebook_dir: Path | str, codebook: Codebook) -> FindingsFile | None:
    """``findings.yaml`` of ``codebook_dir``, validated against ``codebook``; None if there is none.

    Raises :class:`FindingsError` listing every problem found (file, line and key, fix).
    """
    path = Path(codebook_dir) / FINDINGS_FILE
    if not path.is_file():
        return None
    document, problems = load_yaml(path)
    if document is None:
        raise FindingsError(problems)
    if not isinstance(document.data, dict):
        raise FindingsError(problems + [Problem(document.path, "must be a mapping with 'findings' and, if any, "
                                                "'conclusions', 'recommendations', 'lessons_learned' and "
                                                "'good_practices'.", SEE)])
    try:
        content = Findings.model_validate(document.data)
    except ValidationError as exc:
        raise FindingsError(problems + validation_problems(exc, document, _described)) from None
    problems += _check_references(content, codebook, document)
    if problems:
        raise FindingsError(problems)
    return FindingsFile(document.path, content, document, hashlib.sha256(path.read_bytes()).hexdigest())

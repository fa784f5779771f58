"""Findings: the team's draft findings checked against the run's evidence.

For each finding, lesson learned and good practice of the findings file
(:mod:`pipeline.config.findings`), its evidence is the EVIDENCE rows of its questions that
carry one of its codes, and the rows of the segments it cites. Then:

- **support**: that evidence rated by the rubric exactly as a question is
  (:func:`pipeline.stages.triangulate.triangulate` on those rows: sessions, participants,
  groups, methods, regions, rating), and how many of its passages a person coded. A claim on
  several questions is rated per question and, as a whole, by the weakest;
- **leaning** (findings): whether the sessions assessing its question lean the way it claims
  (the question's majority in FINDINGS; a ``mixed`` finding needs a divided question or a
  diverging group), and the strongest counter-evidence: a passage of the other stance from
  each group that has one (:func:`pipeline.stages.findings.quotes.counter_quotes`);
- **citations**: each cited segment exists, is a respondent's, and is coded, by a person or
  an accepted machine coding (which, is said), with a code that serves the claim's question;
- **groups**: every group it names has evidence on its question;
- across the file: questions nothing answers, claims without evidence, conclusions resting on
  no finding, recommendations following from nothing, findings that lead nowhere.

Every problem is a :class:`pipeline.errors.Problem` naming the item's id and line; the wiring
warns of each, or raises them together for a team that checks strictly. Nothing passes silently.
"""

from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass

import pandas as pd

from pipeline.config.codebook import Codebook
from pipeline.config.findings import FindingsFile
from pipeline.errors import FindingsError, PipelineWarning, Problem
from pipeline.schemas import CITATION_COLUMNS, SUPPORT_COLUMNS
from pipeline.stages.findings.quotes import SIDES, choose_quotes, counter_quotes, passage_traits
from pipeline.stages.triangulate import RATINGS, session_stances, triangulate
from pipeline.stages.turns import INTERVIEWER

QUOTES = 5  # the most an annex shows per claim; two or more where the evidence has them
KIND = {"findings": "finding", "lessons_learned": "lesson", "good_practices": "good practice",
        "conclusions": "conclusion", "recommendations": "recommendation"}
OPPOSITE = {"positive": "negative", "negative": "positive"}
# What ILO's criteria ask a good practice to show: its conditions and replicability, a clear
# cause-effect relationship, a measurable impact, its potential for replication, links to ILO's goals.
GOOD_PRACTICE_MUST = ("conditions", "cause_effect", "impact", "replication", "ilo_goals")
# The EVIDENCE columns the check and its reports read: a row filter copies every column it keeps.
EVIDENCE_READ = ["segment_id", "question", "codes", "sources", "stance", "session_id", "stakeholder_group", "method",
                 "region", "participants", "speaker", "text", "suggested"]


@dataclass(frozen=True)
class Claim:
    """What the check found for one finding, lesson or good practice: its ``rating`` (the
    weakest of its questions'), per question the ``leaning`` (question, majority, whether it is
    as claimed) and ``counter`` evidence (EVIDENCE rows), the chosen ``quotes`` (EVIDENCE rows)
    and its ``problems``."""

    section: str
    index: int
    id: str
    rating: str
    leaning: tuple[dict, ...]
    counter: tuple[tuple[str, pd.DataFrame], ...]
    quotes: pd.DataFrame
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class Checked:
    """The check of one findings file: ``support`` (one row per claim and question,
    :data:`SUPPORT_COLUMNS`), ``citations`` (one row per cited segment,
    :data:`CITATION_COLUMNS`), each claim's :class:`Claim`, and every problem, in file order."""

    file: FindingsFile
    support: pd.DataFrame
    citations: pd.DataFrame
    claims: tuple[Claim, ...]
    problems: tuple[Problem, ...]


class _Run:
    """The run's tables, indexed once for every claim's questions and citations."""

    def __init__(self, evidence, questions, transcripts, segments, turns, codings, codebook: Codebook,
                 cited: set[str]):
        self.codebook, self.transcripts = codebook, transcripts
        evidence = evidence[EVIDENCE_READ]
        self.evidence = {q: rows for q, rows in evidence.groupby("question", sort=False, observed=True)}
        self.codes: dict[str, pd.Series] = {}
        self.empty = evidence.iloc[:0]
        self.questions = questions.set_index("question")
        self.heard = set(zip(evidence["question"].astype(str), evidence["stakeholder_group"].astype(str)))
        self.interviewed = set(transcripts["stakeholder_group"].astype(str))
        self.traits = passage_traits(segments)
        self.segments = segments.set_index("segment_id")
        self.roles = turns.set_index("turn_id")["role"]
        self.turn_segments = segments.groupby("turn_id")["segment_id"].agg(list)
        # Each citation looks up its own codings and evidence rows.
        self.codings_empty = codings.iloc[:0]
        self.cited_codings = {s: rows for s, rows in codings[codings["segment_id"].isin(cited)].groupby("segment_id")}
        self.cited_evidence = {s: rows for s, rows in evidence[evidence["segment_id"].isin(cited)].groupby("segment_id")}
        self.rubric: dict[str, Codebook] = {}
        self.counters: dict[tuple[str, str], pd.DataFrame] = {}

    def counter(self, question: str, stance: str) -> pd.DataFrame:
        """:func:`counter_quotes` of ``stance`` on ``question``, worked out once."""
        if (question, stance) not in self.counters:
            own = self.rows(question)
            self.counters[question, stance] = counter_quotes(own, stance=stance, leanings=session_stances(own),
                                                             traits=self.traits)
        return self.counters[question, stance]

    def rows(self, question: str) -> pd.DataFrame:
        """The question's EVIDENCE rows."""
        return self.evidence.get(question, self.empty)

    def carrying(self, question: str, codes: set[str]) -> pd.Series:
        """Whether each of the question's rows carries one of ``codes``."""
        if question not in self.codes:
            self.codes[question] = self.rows(question)["codes"].astype(str).str.split(", ").explode()
        return self.codes[question].isin(codes).groupby(level=0).any().reindex(self.rows(question).index, fill_value=False)

    def support(self, rows: pd.DataFrame, question: str) -> dict:
        """The question's FINDINGS row as :func:`triangulate` makes it from ``rows`` alone."""
        if question not in self.rubric:
            evaluation = self.codebook.evaluation
            only = tuple(q for q in evaluation.questions if q.id == question)
            self.rubric[question] = self.codebook.model_copy(
                update={"evaluation": evaluation.model_copy(update={"questions": only})})
        return triangulate(rows, self.transcripts, codebook=self.rubric[question]).iloc[0].to_dict()


def _evidence_of(item, run: _Run) -> dict[str, pd.DataFrame]:
    """Per question of ``item``: its EVIDENCE rows carrying one of its codes, or cited."""
    codes, cited = set(item.evidence.codes), set(item.evidence.segments)
    out = {}
    for question in item.questions:
        own = run.rows(question)
        coded = run.carrying(question, codes).to_numpy(dtype=bool)
        out[question] = own[coded | own["segment_id"].isin(cited).to_numpy(dtype=bool)]
    return out


@dataclass(frozen=True)
class _Cited:
    """What the check found of one cited segment: ``status`` (``ok`` or what is wrong), who
    coded it (``coded_by``), its ``codes``, and for a problem its ``message`` and ``fix``."""

    status: str
    coded_by: str = ""
    codes: str = ""
    message: str = ""
    fix: str = ""


def _cited(segment: str, questions: tuple[str, ...], run: _Run) -> _Cited:
    """The check of one cited segment against a claim's ``questions``."""
    if segment not in run.segments.index:
        turn = segment if segment in run.roles.index else re.sub(r"-s\d+$", "", segment)
        role = run.roles.get(turn)
        if role == INTERVIEWER:
            return _Cited("interviewer", message=f"cites {segment}, which is in {turn}, an interviewer's turn: only "
                                                 f"respondents' speech is evidence.",
                          fix="Cite the respondent's answer (segments.csv lists every segment).")
        if role is not None and turn == segment:
            return _Cited("turn", message=f"cites the turn {segment}, not one of its segments.",
                          fix=f"Cite one of its segments: {', '.join(run.turn_segments.get(segment, []))}.")
        close = difflib.get_close_matches(segment, run.segments.index.tolist(), n=1)
        return _Cited("missing", message=f"cites {segment}, which is not a segment of this run.",
                      fix=(f"Did you mean {close[0]}? " if close else "")
                          + "Copy segment ids from segments.csv or the evidence matrix of the run.")
    own = run.cited_codings.get(segment, run.codings_empty)
    rows = run.cited_evidence.get(segment, run.empty)
    rows = rows[rows["question"].isin(questions)]
    if len(rows):
        codes = sorted({code for found in rows["codes"].astype(str) for code in found.split(", ")})
        people = own[(own["source"] == "human") & (own["status"] == "accepted") & own["code"].isin(codes)]
        if len(people):
            coded_by = f"a person ({', '.join(sorted(set(people['coder'].astype(str))))})"
        elif not rows["suggested"].astype(bool).all():
            coded_by = "an accepted machine coding (a codebook rule)"
        else:
            coded_by = "a model suggestion counted as evidence (triangulation.include_suggestions)"
        return _Cited("ok", coded_by, ", ".join(codes))
    accepted = sorted(set(own.loc[own["status"] == "accepted", "code"]))
    if accepted:
        served = sorted({q for code in accepted for q in run.codebook.questions_of(code)},
                        key=run.codebook.evaluation.ids("questions").index)
        return _Cited("other_question", codes=", ".join(accepted), message=(
            f"cites {segment}, coded {', '.join(accepted)}, which serve {', '.join(served) or 'no question'} but not "
            f"{' or '.join(questions)}."), fix=f"Cite a passage coded for {' or '.join(questions)}, or code this one with a code that serves it.")
    if len(own):
        found = ", ".join(f"{r.code} ({r.source}, {r.confidence:.2f})" for r in own.itertuples(index=False))
        return _Cited("suggested", codes=", ".join(sorted(set(own["code"]))), message=(
            f"cites {segment}, which no person or accepted rule coded: only suggested ({found})."),
            fix="Review the suggestion (review_queue.csv) and code the passage, or cite a coded one.")
    return _Cited("uncoded", message=f"cites {segment}, which is not coded.",
                  fix="Code it (a file under coding/), or cite a coded passage.")


def _leaning(item, run: _Run, problem) -> tuple[list[dict], list]:
    """Per question of a finding: whether its sessions lean as claimed (a problem if not), and
    the counter-evidence of a positive or negative finding."""
    leaning, counter = [], []
    for question in item.questions:
        row = run.questions.loc[question]
        direction, majority = item.direction, row["majority"]
        as_claimed = majority == direction if direction in SIDES else (majority == "divided" or bool(row["diverging_groups"]))
        lean = f"{row['positive_sessions']} positive, {row['negative_sessions']} negative, {row['mixed_sessions']} mixed"
        leaning.append({"question": question, "majority": majority, "as_claimed": bool(as_claimed), "sessions": lean,
                        "diverging_groups": row["diverging_groups"]})
        if not as_claimed:
            if majority == "neutral":
                said = f"no session assesses {question}"
            elif direction == "mixed":
                said = f"the sessions assessing {question} lean clearly {majority} ({lean}) and no group diverges"
            elif majority == "divided":
                said = f"the sessions assessing {question} are divided ({lean})"
            else:
                said = f"the sessions assessing {question} lean {majority} ({lean})"
            problem(f"claims '{direction}', but {said}.",
                    "Read the counter-evidence in findings.html; restate the finding, or change its direction.",
                    "direction")
        if direction in SIDES:
            counter.append((question, run.counter(question, OPPOSITE[direction])))
    return leaning, counter


def _check_claim(section: str, index: int, item, file: FindingsFile, run: _Run) -> tuple[Claim, list, list]:
    """The :class:`Claim`, support rows and citation rows of one finding, lesson or practice."""
    problems: list[Problem] = []

    def problem(message: str, fix: str, *loc) -> None:
        problems.append(Problem(file.path, f"{KIND[section]} {item.id} {message}", fix,
                                file.where((section, index, *loc))))

    rows, evidence, questions = _evidence_of(item, run), item.evidence, " or ".join(item.questions)
    support = []
    for question, own in rows.items():
        found = run.support(own, question)
        human = int(own.loc[own["sources"].astype(str).str.contains("human", regex=False), "segment_id"].nunique())
        support.append({"section": section, "id": item.id, **{c: found[c] for c in SUPPORT_COLUMNS[2:-1]},
                        "human_segments": human})
    if not evidence.segments and not evidence.codes:
        problem("rests on no evidence.", "List the segments it cites or the codes it rests on under 'evidence'.", "id")
    elif all(own.empty for own in rows.values()):
        problem(f"has no coded passage on {questions} among its evidence.",
                "Cite coded passages, or name the codes whose passages bear it out.", "evidence")
    for position, code in enumerate(evidence.codes):
        if set(run.codebook.questions_of(code)).isdisjoint(item.questions):
            problem(f"rests on the code {code}, which serves {', '.join(run.codebook.questions_of(code))}, not "
                    f"{questions}.", "Name codes that serve its questions.", "evidence", "codes", position)
    citations = []
    for position, segment in enumerate(evidence.segments):
        cited = _cited(segment, item.questions, run)
        known = segment in run.segments.index
        citations.append({"section": section, "id": item.id, "segment_id": segment, "status": cited.status,
                          "coded_by": cited.coded_by, "codes": cited.codes,
                          **{c: run.segments.at[segment, c] if known else "" for c in CITATION_COLUMNS[-3:]}})
        if cited.message:
            problem(cited.message, cited.fix, "evidence", "segments", position)
    for position, group in enumerate(evidence.groups):
        for question in item.questions:
            if (question, group) not in run.heard:
                held = "" if group in run.interviewed else " (no session with this group is in the run)"
                problem(f"names {group}, which has no evidence on {question}{held}.",
                        f"Leave the group out, or code the passages in which it speaks to {question}.",
                        "evidence", "groups", position)
    if section == "good_practices":
        lacking = [name for name in GOOD_PRACTICE_MUST if getattr(item, name) is None]
        if lacking:
            problem(f"does not give {', '.join(lacking)}, which ILO's template asks of an emerging good practice.",
                    "Fill them in (README.md, 'The findings file'), or present it as a lesson learned.", "id")
    leaning, counter = _leaning(item, run, problem) if section == "findings" else ([], [])
    divided = any(run.questions.at[q, "majority"] == "divided" for q in item.questions)
    quotes = choose_quotes(pd.concat(list(rows.values())), limit=QUOTES, traits=run.traits,
                           cited=frozenset(evidence.segments),
                           balance=divided or getattr(item, "direction", "") == "mixed")
    rating = max((row["rating"] for row in support), key=RATINGS.index)
    return Claim(section, index, item.id, rating, tuple(leaning), tuple(counter), quotes, tuple(problems)), support, citations


def _file_problems(file: FindingsFile, codebook: Codebook) -> list[Problem]:
    """Across the file: questions nothing answers, conclusions on no finding, orphan
    recommendations, findings that lead nowhere."""
    content, problems = file.content, []
    answered = {q for _, _, item in file.claims() for q in item.questions}
    for question in codebook.evaluation.questions:
        if question.id not in answered:
            problems.append(Problem(file.path, f"question {question.id} ({question.criterion}) has no finding.",
                                    "Add a finding, lesson or good practice that answers it.",
                                    file.where(("findings",))))
    for index, conclusion in enumerate(content.conclusions):
        if not conclusion.findings:
            problems.append(Problem(file.path, f"conclusion {conclusion.id} rests on no finding.",
                                    "List the findings it rests on under 'findings'.",
                                    file.where(("conclusions", index, "id"))))
    for index, recommendation in enumerate(content.recommendations):
        if not recommendation.follows_from:
            problems.append(Problem(file.path, f"recommendation {recommendation.id} follows from nothing.",
                                    "List the conclusions or findings it follows from under 'follows_from'.",
                                    file.where(("recommendations", index, "id"))))
    used = {f for c in content.conclusions for f in c.findings}
    used |= {f for r in content.recommendations for f in r.follows_from}
    used |= {f for item in (*content.lessons_learned, *content.good_practices) for f in item.findings}
    for index, finding in enumerate(content.findings):
        if finding.id not in used:
            problems.append(Problem(file.path, f"finding {finding.id} leads nowhere: no conclusion, recommendation, "
                                               f"lesson or good practice rests on it.",
                                    "Name it in the 'findings' of a conclusion, or drop it from the report.",
                                    file.where(("findings", index, "id"))))
    return problems


def check_findings(file: FindingsFile, *, evidence: pd.DataFrame, questions: pd.DataFrame, transcripts: pd.DataFrame,
                   segments: pd.DataFrame, turns: pd.DataFrame, codings: pd.DataFrame, codebook: Codebook) -> Checked:
    """The check of ``file`` against one run (see the module).

    Reads EVIDENCE and FINDINGS (``questions``: one row per question, from
    :func:`pipeline.stages.triangulate.triangulate`), TRANSCRIPTS, SEGMENTS, TURNS and CODINGS.
    Returns :class:`Checked`; raises nothing for what it finds.
    """
    cited = {segment for _, _, item in file.claims() for segment in item.evidence.segments}
    run = _Run(evidence, questions, transcripts, segments, turns, codings, codebook, cited)
    claims, support, citations, problems = [], [], [], []
    for section, index, item in file.claims():
        claim, rows, cited = _check_claim(section, index, item, file, run)
        claims.append(claim)
        support += rows
        citations += cited
        problems += claim.problems
    problems += _file_problems(file, codebook)
    return Checked(file, pd.DataFrame(support, columns=SUPPORT_COLUMNS), pd.DataFrame(citations, columns=CITATION_COLUMNS),
                   tuple(claims), tuple(problems))


def checked_with_warnings(claims, codebook, *, strict: bool = False, **tables) -> Checked:
    """:func:`check_findings`, each problem raised as a warning or, with ``strict`` or the file's
    ``strict: true``, all of them as one :class:`pipeline.errors.FindingsError`."""
    checked = check_findings(claims, codebook=codebook, **tables)
    if checked.problems and (strict or claims.content.strict):
        raise FindingsError(list(checked.problems))
    for problem in checked.problems:
        warnings.warn(PipelineWarning(problem))
    return checked


def findings_counts(checked: Checked) -> dict:
    """What the run summary and the manifest say of a checked findings file."""
    content = checked.file.content
    return {"claims": len(checked.claims), "conclusions": len(content.conclusions),
            "recommendations": len(content.recommendations), "problems": len(checked.problems)}

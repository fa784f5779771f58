"""The triangulate stage: per evaluation question, how strong the evidence is and where it diverges.

For each question: distinct sessions, stakeholder groups, methods and regions supporting it; a
strength-of-evidence rating from the rubric in ``evaluation.yaml`` (``triangulation``);
convergence and divergence of stances between groups (never averaged away: each diverging
group is named, with its quotes); gaps (groups interviewed that said nothing on it); and,
for the evaluation as a whole, a saturation curve (new codes found as sessions are added, in
register order).

Divergence is judged on sessions, the sources, not on segments: one long critical interview
must not outweigh ten short favourable ones, and evaluators triangulate across sources. A
session's stance on a question is the side its assessments lean to (positive, negative and mixed
segments; a mixed one counts half for each side; neutral descriptions count for neither): even
is ``mixed``, no assessment leaves the session out. The question has a clear majority when at
least ``divergence_threshold`` of its assessing sessions share a stance (a mixed session counts
half); otherwise it is ``divided`` (contested), which is unresolved divergence. With a clear
majority, a stakeholder group diverges when at least ``min_stance_sessions`` of its sessions
assess the question and at least ``divergence_threshold`` of them take the opposite stance.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config.codebook import Codebook
from pipeline.config.evaluation import EvidenceLevel
from pipeline.schemas import FINDINGS_COLUMNS, STANCES
from pipeline.stages.coding.audit import audit_patterns

RATINGS = ("strong", "moderate", "thin", "none")


def _meets(level: EvidenceLevel, sessions: int, groups: int, methods: int, diverging: int,
           human_share: float = 1.0) -> bool:
    return (sessions >= level.min_sessions and groups >= level.min_groups and methods >= level.min_methods
            and (level.max_divergent_groups is None or diverging <= level.max_divergent_groups)
            and human_share >= level.min_human_share)


def _human(own: pd.DataFrame) -> pd.Series:
    """Whether each EVIDENCE row has a person's coding among its sources."""
    return own["sources"].astype(str).str.split(", ").map(lambda sources: "human" in sources)


def machine_precision(codings: pd.DataFrame | None, *, min_precision: float, min_hits: int) -> dict[str, tuple[int, int]]:
    """{code: (agreed, hits)} of the rule codings that count (patterns not demoted) in the
    sessions people coded: how often the coders agreed with the machine share's source."""
    if codings is None:
        return {}
    audit = audit_patterns(codings, min_precision=min_precision, min_hits=min_hits)
    kept = audit[~audit["demoted"]].groupby("code")[["agreed", "hits"]].sum()
    return {code: (int(a), int(h)) for code, a, h in kept.itertuples()}


def _precision(measured: dict[str, tuple[int, int]], codes: list[str]) -> float | None:
    agreed = sum(measured.get(code, (0, 0))[0] for code in codes)
    hits = sum(measured.get(code, (0, 0))[1] for code in codes)
    return round(agreed / hits, 3) if hits else None


def _checked(segments: int, machine: int, precision: float | None) -> str:
    """The words a rating gets when most of its evidence is machine-coded."""
    if not segments or machine * 2 <= segments:
        return ""
    measured = (f"the rules' precision on its codes, against the coders, is {precision:.2f}" if precision is not None
                else "their precision could not be measured: the rules found nothing on it where people coded")
    return f" {machine} of its {segments} segments are machine-coded and no person checked them; {measured}."


def _why(rating: str, level: EvidenceLevel | None, sessions: int, groups: int, methods: int, diverging: int) -> str:
    found = (f"{sessions} session(s), {groups} stakeholder group(s), {methods} method(s), "
             f"{diverging} unresolved divergence(s)")
    if rating == "none":
        return "No coded evidence."
    if level is None:
        return f"{found}: below the 'moderate' level."
    limit = f"; at most {level.max_divergent_groups} diverging" if level.max_divergent_groups is not None else ""
    if level.min_human_share:
        limit += f"; at least {level.min_human_share:.0%} of its sessions coded by a person"
    return (f"{found}: meets '{rating}' (at least {level.min_sessions} sessions, {level.min_groups} groups, "
            f"{level.min_methods} methods{limit}).")


def _weights(stances: pd.Series) -> tuple[float, float]:
    positive = (stances == "positive").sum() + 0.5 * (stances == "mixed").sum()
    negative = (stances == "negative").sum() + 0.5 * (stances == "mixed").sum()
    return float(positive), float(negative)


def session_stances(evidence: pd.DataFrame) -> pd.DataFrame:
    """(session_id, stakeholder_group, stance): where each session that assesses the question leans."""
    assessed = evidence[evidence["stance"] != "neutral"]
    stance = assessed["stance"].astype(str).to_numpy()
    weights = assessed.assign(positive=(stance == "positive") + 0.5 * (stance == "mixed"),
                              negative=(stance == "negative") + 0.5 * (stance == "mixed"))
    sums = weights.groupby(["session_id", "stakeholder_group"], sort=True)[["positive", "negative"]].sum()
    lean = pd.Series("mixed", index=sums.index)
    lean[sums["positive"] > sums["negative"]] = "positive"
    lean[sums["negative"] > sums["positive"]] = "negative"
    return lean.rename("stance").reset_index()


def divergence(evidence: pd.DataFrame, threshold: float, min_sessions: int) -> tuple[str, dict[str, float]]:
    """(majority stance, {group: share of its assessing sessions opposing it}) for one question's
    evidence (rows with ``session_id``, ``stakeholder_group`` and ``stance``)."""
    return _divergence(session_stances(evidence), threshold, min_sessions)


def _divergence(sessions: pd.DataFrame, threshold: float, min_sessions: int) -> tuple[str, dict[str, float]]:
    """:func:`divergence` from the sessions' leanings (:func:`session_stances`)."""
    positive, negative = _weights(sessions["stance"])
    if not positive and not negative:
        return "neutral", {}
    if max(positive, negative) / (positive + negative) < threshold:
        return "divided", {}
    majority = "positive" if positive > negative else "negative"
    shares = {}
    for group, own in sessions.groupby("stakeholder_group", sort=True):
        if len(own) < min_sessions:
            continue
        group_positive, group_negative = _weights(own["stance"])
        share = (group_negative if majority == "positive" else group_positive) / len(own)
        if share >= threshold:
            shares[group] = round(share, 3)
    return majority, shares


def triangulate(evidence: pd.DataFrame, transcripts: pd.DataFrame, *, codebook: Codebook,
                codings: pd.DataFrame | None = None) -> pd.DataFrame:
    """FINDINGS: one row per evaluation question (columns :data:`FINDINGS_COLUMNS`).

    Reads EVIDENCE (from :func:`pipeline.stages.matrices.build_evidence_matrices`) and TRANSCRIPTS
    (who was interviewed, for the gaps). Each question says how many of its segments a person
    coded (``human_segments``) and how many only the machine (``machine_segments``,
    ``machine_share``), the share of its sessions with human-coded evidence (``human_sessions``),
    and, given CODINGS, ``machine_precision``: how often the coders agreed with the rules that
    count on its codes, where they coded (empty: not measured).
    """
    rubric = codebook.evaluation.triangulation
    rules = codebook.evaluation.rules
    measured = machine_precision(codings, min_precision=rules.min_precision, min_hits=rules.min_hits)
    interviewed = sorted(set(transcripts["stakeholder_group"]))
    rows = []
    # Each question's rows in one pass (a filter per question read the whole table each time).
    by_question = {question: rows_ for question, rows_ in evidence.groupby("question", sort=False, observed=True)}
    for question in codebook.evaluation.questions:
        own = by_question.get(question.id, evidence.iloc[:0])
        heard = set(own["stakeholder_group"].unique())
        sessions = own.drop_duplicates("session_id")
        counts = {"segments": own["segment_id"].nunique(), "sessions": len(sessions),
                  "participants": int(sessions["participants"].sum()),
                  "groups": own["stakeholder_group"].nunique(), "methods": own["method"].nunique(),
                  "regions": own.loc[own["region"] != "", "region"].nunique()}
        human = _human(own)
        human_segments = own.loc[human, "segment_id"].nunique()
        human_sessions = round(own.loc[human, "session_id"].nunique() / len(sessions), 3) if len(sessions) else 0.0
        precision = _precision(measured, codebook.codes_for(question.id))
        leanings = session_stances(own)
        majority, diverging = _divergence(leanings, rubric.divergence_threshold, rubric.min_stance_sessions)
        leaning = leanings["stance"].value_counts()
        unresolved = len(diverging) + (1 if majority == "divided" else 0)
        if _meets(rubric.strong, counts["sessions"], counts["groups"], counts["methods"], unresolved, human_sessions):
            rating, level = "strong", rubric.strong
        elif _meets(rubric.moderate, counts["sessions"], counts["groups"], counts["methods"], unresolved):
            rating, level = "moderate", rubric.moderate
        elif counts["sessions"]:
            rating, level = "thin", None
        else:
            rating, level = "none", None
        stance = own["stance"].value_counts()
        rows.append({
            "question": question.id, "criterion": question.criterion, "rating": rating,
            "why": _why(rating, level, counts["sessions"], counts["groups"], counts["methods"], unresolved)
                   + (" The sessions' assessments are divided: no clear majority stance." if majority == "divided" else "")
            + _checked(counts["segments"], counts["segments"] - human_segments, precision),
            **counts, **{s: int(stance.get(s, 0)) for s in STANCES},
            **{f"{s}_sessions": int(leaning.get(s, 0)) for s in ("positive", "negative", "mixed")},
            "majority": majority,
            "diverging_groups": "; ".join(f"{g} ({share:.0%})" for g, share in diverging.items()),
            "gaps": ", ".join(g for g in interviewed if g not in heard),
            "human_segments": human_segments, "machine_segments": counts["segments"] - human_segments,
            "machine_share": round((counts["segments"] - human_segments) / counts["segments"], 3)
                             if counts["segments"] else 0.0,
            "human_sessions": human_sessions, "machine_precision": precision,
        })
    return pd.DataFrame(rows, columns=FINDINGS_COLUMNS)


def saturation(evidence: pd.DataFrame, transcripts: pd.DataFrame, codings: pd.DataFrame) -> pd.DataFrame:
    """New codes found as sessions are added in register order: (session_id, new_codes, total_codes)."""
    counted = codings[codings["segment_id"].isin(evidence["segment_id"].unique())]
    codes_of = {session: set(codes.tolist()) for session, codes in counted.groupby("session_id")["code"]}
    seen: set[str] = set()
    rows = []
    for session in transcripts.sort_values("session_id", kind="stable")["session_id"]:
        codes = codes_of.get(session, set())
        rows.append({"session_id": session, "new_codes": len(codes - seen), "total_codes": len(seen | codes)})
        seen |= codes
    return pd.DataFrame(rows, columns=["session_id", "new_codes", "total_codes"])


def evidence_checked(evidence: pd.DataFrame, codings: pd.DataFrame, codebook: Codebook) -> dict:
    """For the run's manifest: of the accepted evidence's segments (EVIDENCE), how many a person
    coded and how many only the machine, and the machine share's measured precision (the rules
    that count, against the coders where they coded; None: not measured) with its hits."""
    segments = evidence.drop_duplicates("segment_id")
    human = int(evidence.loc[_human(evidence), "segment_id"].nunique()) if len(evidence) else 0
    rules = codebook.evaluation.rules
    measured = machine_precision(codings, min_precision=rules.min_precision, min_hits=rules.min_hits)
    hits = sum(h for _, h in measured.values())
    return {"segments": len(segments), "human_coded": human, "machine_coded": len(segments) - human,
            "machine_share": round((len(segments) - human) / len(segments), 4) if len(segments) else 0.0,
            "machine_precision": round(sum(a for a, _ in measured.values()) / hits, 4) if hits else None,
            "machine_precision_hits": hits}

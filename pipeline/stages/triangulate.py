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
from pipeline.schemas import STANCES

RATINGS = ("strong", "moderate", "thin", "none")
FINDINGS_COLUMNS = ["question", "criterion", "rating", "why", "segments", "sessions", "participants", "groups",
                    "methods", "regions", "positive", "negative", "mixed", "neutral", "positive_sessions",
                    "negative_sessions", "mixed_sessions", "majority",
                    "diverging_groups", "gaps"]


def _meets(level: EvidenceLevel, sessions: int, groups: int, methods: int, diverging: int) -> bool:
    return (sessions >= level.min_sessions and groups >= level.min_groups and methods >= level.min_methods
            and (level.max_divergent_groups is None or diverging <= level.max_divergent_groups))


def _why(rating: str, level: EvidenceLevel | None, sessions: int, groups: int, methods: int, diverging: int) -> str:
    found = (f"{sessions} session(s), {groups} stakeholder group(s), {methods} method(s), "
             f"{diverging} unresolved divergence(s)")
    if rating == "none":
        return "No coded evidence."
    if level is None:
        return f"{found}: below the 'moderate' level."
    limit = f"; at most {level.max_divergent_groups} diverging" if level.max_divergent_groups is not None else ""
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


def triangulate(evidence: pd.DataFrame, transcripts: pd.DataFrame, *, codebook: Codebook) -> pd.DataFrame:
    """FINDINGS: one row per evaluation question (columns :data:`FINDINGS_COLUMNS`).

    Reads EVIDENCE (from :func:`pipeline.stages.matrices.build_evidence_matrices`) and TRANSCRIPTS
    (who was interviewed, for the gaps).
    """
    rubric = codebook.evaluation.triangulation
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
        leanings = session_stances(own)
        majority, diverging = _divergence(leanings, rubric.divergence_threshold, rubric.min_stance_sessions)
        leaning = leanings["stance"].value_counts()
        unresolved = len(diverging) + (1 if majority == "divided" else 0)
        if _meets(rubric.strong, counts["sessions"], counts["groups"], counts["methods"], unresolved):
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
                   + (" The sessions' assessments are divided: no clear majority stance." if majority == "divided" else ""),
            **counts, **{s: int(stance.get(s, 0)) for s in STANCES},
            **{f"{s}_sessions": int(leaning.get(s, 0)) for s in ("positive", "negative", "mixed")},
            "majority": majority,
            "diverging_groups": "; ".join(f"{g} ({share:.0%})" for g, share in diverging.items()),
            "gaps": ", ".join(g for g in interviewed if g not in heard),
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

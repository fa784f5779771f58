"""Stage 5, triangulate: per evaluation question, how strong the evidence is and where it diverges.

For each question: distinct sessions, stakeholder groups, methods and regions supporting it; a
strength-of-evidence rating from the rubric in ``evaluation.yaml`` (``triangulation``);
convergence and divergence of stances between groups (never averaged away: each diverging
group is named, with its quotes); gaps (groups interviewed that said nothing on it); and,
for the evaluation as a whole, a saturation curve (new codes found as sessions are added, in
register order).

Divergence: the assessments on a question (positive, negative and mixed segments; a mixed one
counts half for each side; neutral descriptions count for neither) have a clear majority when
at least ``divergence_threshold`` of them share a stance; otherwise the question is
``divided`` (contested), which is unresolved divergence. With a clear majority, a group
diverges when it has at least ``min_stance_segments`` assessments on the question and at least
``divergence_threshold`` of them take the opposite stance.
"""

from __future__ import annotations

import pandas as pd

from pipeline.codebook import Codebook
from pipeline.config import EvidenceLevel

RATINGS = ("strong", "moderate", "thin", "none")
FINDINGS_COLUMNS = ["question", "criterion", "rating", "why", "segments", "sessions", "participants", "groups",
                    "methods", "regions", "positive", "negative", "mixed", "neutral", "majority",
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


def divergence(evidence: pd.DataFrame, threshold: float, min_segments: int) -> tuple[str, dict[str, float]]:
    """(majority stance, {group: share of its assessments opposing it}) for one question's evidence."""
    positive, negative = _weights(evidence["stance"])
    if not positive and not negative:
        return "neutral", {}
    if max(positive, negative) / (positive + negative) < threshold:
        return "divided", {}
    majority = "positive" if positive > negative else "negative"
    shares = {}
    for group, own in evidence.groupby("stakeholder_group", sort=True):
        assessed = own[own["stance"] != "neutral"]
        if len(assessed) < min_segments:
            continue
        group_positive, group_negative = _weights(assessed["stance"])
        share = (group_negative if majority == "positive" else group_positive) / len(assessed)
        if share >= threshold:
            shares[group] = round(share, 3)
    return majority, shares


def triangulate(evidence: pd.DataFrame, transcripts: pd.DataFrame, *, codebook: Codebook) -> pd.DataFrame:
    """FINDINGS: one row per evaluation question (columns :data:`FINDINGS_COLUMNS`).

    Reads EVIDENCE (from :func:`pipeline.matrices.build_evidence_matrices`) and TRANSCRIPTS
    (who was interviewed, for the gaps).
    """
    rubric = codebook.evaluation.triangulation
    interviewed = sorted(set(transcripts["stakeholder_group"]))
    rows = []
    for question in codebook.evaluation.questions:
        own = evidence[evidence["question"] == question.id]
        sessions = own.drop_duplicates("session_id")
        counts = {"segments": own["segment_id"].nunique(), "sessions": len(sessions),
                  "participants": int(sessions["participants"].sum()),
                  "groups": own["stakeholder_group"].nunique(), "methods": own["method"].nunique(),
                  "regions": own.loc[own["region"] != "", "region"].nunique()}
        majority, diverging = divergence(own, rubric.divergence_threshold, rubric.min_stance_segments)
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
                   + (" The groups' assessments are divided: no clear majority stance." if majority == "divided" else ""),
            **counts, **{s: int(stance.get(s, 0)) for s in ("positive", "negative", "mixed", "neutral")},
            "majority": majority,
            "diverging_groups": "; ".join(f"{g} ({share:.0%})" for g, share in diverging.items()),
            "gaps": ", ".join(g for g in interviewed if g not in set(own["stakeholder_group"])),
        })
    return pd.DataFrame(rows, columns=FINDINGS_COLUMNS)


def saturation(evidence: pd.DataFrame, transcripts: pd.DataFrame, codings: pd.DataFrame) -> pd.DataFrame:
    """New codes found as sessions are added in register order: (session_id, new_codes, total_codes)."""
    counted = codings[codings["segment_id"].isin(set(evidence["segment_id"]))]
    codes_of = {session: set(codes) for session, codes in counted.groupby("session_id")["code"]}
    seen: set[str] = set()
    rows = []
    for session in transcripts.sort_values("session_id", kind="stable")["session_id"]:
        codes = codes_of.get(session, set())
        rows.append({"session_id": session, "new_codes": len(codes - seen), "total_codes": len(seen | codes)})
        seen |= codes
    return pd.DataFrame(rows, columns=["session_id", "new_codes", "total_codes"])

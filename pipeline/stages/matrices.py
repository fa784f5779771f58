"""The matrices stage: coded evidence counted by evaluation question and by who said it.

``build_evidence_matrices`` turns CODINGS into EVIDENCE (one row per segment and evaluation
question it is evidence for: a coding counts for every question its code serves, its own and
its ancestors') and the matrices evaluators deliver: questions x stakeholder groups (and x
methods, x regions), criteria x groups, codes x groups, and code co-occurrence.

How people are counted: a cell counts coded *segments* (passages), distinct *sessions*, and
*participants*, the sum of the register's ``participants`` over those distinct sessions (a
focus group of six is one session and six participants, whether one or all of them spoke to
the question). Which codings count is a setting: accepted codings (human and rules) by
default, or also model suggestions at or above a confidence, always labelled as such.

A segment's stance on a question combines the stances of the codings that make it evidence
for that question (both positive and negative make it mixed); where a person gave a stance,
only people's stances count (see :mod:`pipeline.stages.stance`).
"""

from __future__ import annotations

import pandas as pd

from pipeline import schemas
from pipeline.config.codebook import Codebook
from pipeline.schemas import EVIDENCE_COLUMNS, STANCES

DIMENSIONS = {"group": "stakeholder_group", "method": "method", "region": "region"}


def _segment_stance(stances) -> str:
    found = set(stances)
    if "mixed" in found or {"positive", "negative"} <= found:
        return "mixed"
    for stance in ("positive", "negative"):
        if stance in found:
            return stance
    return "neutral"


class _Names:
    """The values behind a bit mask (see :func:`evidence_table`), each combination worked out
    once and shared."""

    def __init__(self, bits: dict[str, int]):
        self.bits = bits
        self._joined: dict[int, str] = {}
        self._stance: dict[int, str] = {}

    def _values(self, mask: int) -> list[str]:
        return sorted(value for value, bit in self.bits.items() if mask & bit)

    def joined(self, mask: int) -> str:
        if mask not in self._joined:
            self._joined[mask] = ", ".join(self._values(mask))
        return self._joined[mask]

    def stance(self, mask: int) -> str:
        if mask not in self._stance:
            self._stance[mask] = _segment_stance(self._values(mask))
        return self._stance[mask]


def counted_codings(codings: pd.DataFrame, *, include_suggestions: bool, min_confidence: float) -> pd.DataFrame:
    """The codings that count as evidence, with ``suggested`` marking model suggestions let in."""
    accepted = codings["status"] == "accepted"
    suggested = (codings["source"] == "model") & (codings["confidence"] >= min_confidence) & include_suggestions
    # Plain booleans: a column of Arrow's is read one Python object at a time.
    keep = (accepted | suggested).to_numpy(dtype=bool)
    return codings[keep].assign(suggested=suggested.to_numpy(dtype=bool)[keep])


def evidence_table(segments: pd.DataFrame, codings: pd.DataFrame, *, codebook: Codebook,
                   include_suggestions: bool = False, min_confidence: float = 0.8) -> pd.DataFrame:
    """EVIDENCE: one row per (segment, question), with the codes, sources and stance behind it."""
    counted = counted_codings(codings, include_suggestions=include_suggestions, min_confidence=min_confidence)
    criterion_of = {q.id: q.criterion for q in codebook.evaluation.questions}
    questions_of = {code.id: codebook.questions_of(code.id) for code in codebook.codes}
    counted = counted[["segment_id", "code", "source", "stance", "stance_by", "suggested"]]
    expanded = counted.assign(question=counted["code"].map(questions_of)).explode("question").dropna(subset=["question"])
    if expanded.empty:
        return pd.DataFrame(columns=EVIDENCE_COLUMNS)
    # Plain dictionaries of small integers: a pandas aggregation with Python functions per
    # (segment, question) group took seconds on a large corpus, and sets and lists per group
    # took most of a run's memory. Codes, sources and stances are bits of one integer each.
    bits = {column: {value: 1 << i for i, value in enumerate(sorted(expanded[column].unique()))}
            for column in ("code", "source", "stance")}
    found: dict[tuple[str, str], list] = {}
    # Through to_numpy: the exploded column is a pyarrow one, whose tolist reads a value at a time.
    columns = ("segment_id", "question", "code", "source", "stance", "stance_by", "suggested")
    for segment_id, question, code, source, stance, by, suggested in zip(
            *(expanded[c].to_numpy(object).tolist() for c in columns)):
        entry = found.get((segment_id, question))
        if entry is None:
            entry = found[segment_id, question] = [0, 0, 0, 0, True]
        entry[0] |= bits["code"][code]
        entry[1] |= bits["source"][source]
        # A person's stance on a passage outweighs what a model or the lexicon made of it.
        entry[3 if by == "coder" else 2] |= bits["stance"][stance]
        entry[4] = entry[4] and bool(suggested)
    keys = sorted(found)
    names = {column: _Names(values) for column, values in bits.items()}
    grouped = pd.DataFrame({
        "segment_id": [k[0] for k in keys], "question": [k[1] for k in keys],
        "codes": [names["code"].joined(found[k][0]) for k in keys],
        "sources": [names["source"].joined(found[k][1]) for k in keys],
        "stance": [names["stance"].stance(found[k][3] or found[k][2]) for k in keys],
        "suggested": [found[k][4] for k in keys],
    })
    del found
    order = {q: i for i, q in enumerate(codebook.evaluation.ids("questions"))}
    grouped = grouped.assign(criterion=grouped["question"].map(criterion_of), _order=grouped["question"].map(order))
    grouped = grouped.sort_values(["_order", "segment_id"], kind="stable").reset_index(drop=True)
    # The segments' columns taken once, in the final order (a merge and then a sort would copy
    # them twice more); a passage's text and prompt as categories, held once however many
    # questions the passage serves.
    meta = segments.set_index("segment_id")[["session_id", "stakeholder_group", "method", "region", "language",
                                             "participants", "speaker", "start", "end", "text", "prompt"]]
    meta = meta.astype({"text": "category", "prompt": "category"})
    meta = meta.reindex(grouped["segment_id"]).reset_index(drop=True)
    return pd.concat([grouped, meta], axis=1)[EVIDENCE_COLUMNS]


def _cells(evidence: pd.DataFrame, row: str, column: str) -> pd.DataFrame:
    """Per (row, column): segments, sessions, participants and the stance mix."""
    if evidence.empty:
        return pd.DataFrame(columns=[row, column, "segments", "sessions", "participants", *STANCES])
    sessions = evidence.drop_duplicates([row, column, "session_id"])
    counts = evidence.groupby([row, column], sort=True).agg(segments=("segment_id", "nunique"),
                                                           sessions=("session_id", "nunique"))
    people = sessions.groupby([row, column], sort=True)["participants"].sum().rename("participants")
    stance = pd.crosstab([evidence[row], evidence[column]], evidence["stance"]).reindex(columns=STANCES, fill_value=0)
    return counts.join(people).join(stance).fillna(0).astype(int).reset_index()


def _code_rows(counted: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    meta = segments[["segment_id", "session_id", "stakeholder_group", "participants"]]
    return counted[["segment_id", "code", "stance"]].drop_duplicates(["segment_id", "code"]).merge(
        meta, on="segment_id", how="left")


def co_occurrence(counted: pd.DataFrame) -> pd.DataFrame:
    """Codes that mark the same segment: (code_a, code_b, segments), a < b."""
    pairs = counted[["segment_id", "code"]].drop_duplicates()
    joined = pairs.merge(pairs, on="segment_id", suffixes=("_a", "_b"))
    joined = joined[joined["code_a"] < joined["code_b"]]
    return (joined.groupby(["code_a", "code_b"], sort=True)["segment_id"].nunique().rename("segments")
            .reset_index().sort_values(["segments", "code_a", "code_b"], ascending=[False, True, True], kind="stable")
            .reset_index(drop=True))


def build_evidence_matrices(segments: pd.DataFrame, codings: pd.DataFrame, *, codebook: Codebook,
                            include_suggestions: bool = False, min_confidence: float = 0.8) -> dict[str, pd.DataFrame]:
    """Every matrix, as long tables (one row per cell), plus the EVIDENCE they count.

    Reads SEGMENTS and CODINGS. Returns ``evidence``, ``question_by_group``,
    ``question_by_method``, ``question_by_region``, ``criterion_by_group``, ``code_by_group``
    and ``co_occurrence``. Every count can be traced back to ``evidence`` (segment ids).
    """
    schemas.check(segments, schemas.SEGMENTS)
    schemas.check(codings, schemas.CODINGS)
    evidence = evidence_table(segments, codings, codebook=codebook, include_suggestions=include_suggestions,
                              min_confidence=min_confidence)
    counted = counted_codings(codings, include_suggestions=include_suggestions, min_confidence=min_confidence)
    matrices = {"evidence": evidence}
    for name, column in DIMENSIONS.items():
        matrices[f"question_by_{name}"] = _cells(evidence, "question", column)
    by_criterion = evidence.drop_duplicates(["segment_id", "criterion"])
    matrices["criterion_by_group"] = _cells(by_criterion, "criterion", "stakeholder_group")
    matrices["code_by_group"] = _cells(_code_rows(counted, segments), "code", "stakeholder_group")
    matrices["co_occurrence"] = co_occurrence(counted)
    return matrices

"""Reviewers' decisions, made in the browser (``evidence_matrix.html``, ``review_queue.html``)
and saved as a coding file under ``coding/``: the human-coding columns plus ``decision``.

A decisions file (columns :data:`pipeline.schemas.DECISION_COLUMNS`) is a human-coding file (:mod:`pipeline.stages.coding.human` reads it) with a
``decision`` column, one of :data:`DECISIONS`, and the ``segment_id`` the reviewer saw. Each row
names a segment by its span (``start``/``end``) and its text (``quote``):

- ``confirm``: the coding is right; it becomes human coding by the reviewer (``coder``);
- ``stance``: the same, with the reviewer's ``stance``;
- ``add``: another code of the codebook on that segment, human coding by the reviewer;
- ``reject``: the code is wrong on that segment. A machine coding of it (rule or model) stays
  in CODINGS with status ``rejected`` and counts nowhere; the learned coder takes the segment as
  a negative example of the code.

A decision on a segment whose text is no longer at its span (the transcript changed) is not
applied and not lost: it is listed with the quotes that could not be placed. Where one person
coded or confirmed a code on a segment and another rejected it, both are kept (the person's
coding counts, the rejection is recorded) and the conflict is listed (:func:`review_of`).

A decision only speaks of its own code: a segment a reviewer decided on is not thereby "coded
by a person" (the other codes' rule codings are not overruled, as a coder's file overrules them).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.schemas import CONFLICT_COLUMNS

DECISIONS = ("confirm", "reject", "stance", "add")
CONFIRM, REJECT, STANCE, ADD = DECISIONS
STALE = "decision on a segment whose text is no longer at this span (the transcript changed); not applied"
# The ``match`` of a human coding that a reviewer's decision made ("review: confirm"): such a
# coding is a person's, but not a coder's coding of the whole segment (reliability leaves it out).
REVIEW_MATCH = "review: "
REJECTED = "rejected"  # one of schemas.STATUSES  # the status of a machine coding a reviewer rejected


def is_decisions(columns) -> bool:
    """Whether a coding file with these (lower-case) columns is a decisions file."""
    return "decision" in set(columns)


def check_decision(row: dict, text: str) -> tuple[str, str | None, bool]:
    """``(decision, problem, stale)`` for one row of a decisions file read as text: the
    decision, what is wrong with the row if anything (a message), and whether the segment it
    names is no longer there (its ``quote`` is not the session's ``text`` at ``start:end``)."""
    decision = str(row.get("decision", "")).strip().lower()
    if decision not in DECISIONS:
        return decision, f"decision '{row.get('decision', '')}' is not one of {', '.join(DECISIONS)}.", False
    if decision == STANCE and not str(row.get("stance", "")).strip():
        return decision, "a 'stance' decision gives no stance.", False
    try:
        start, end = int(row.get("start", "")), int(row.get("end", ""))
    except ValueError:
        return decision, "a decision needs the segment's start and end as whole numbers.", False
    quote = row.get("quote", "")
    stale = not 0 <= start < end <= len(text) or bool(quote) and text[start:end].strip() != quote.strip()
    return decision, None, stale


def imported(placed: pd.DataFrame) -> pd.DataFrame:
    """What ``coding import`` writes of one file's placed codings (human.HUMAN_COLUMNS): one row
    per part, with its offsets, turn and role; a decisions file keeps its stances and decisions
    (a rejection is no coding)."""
    decided = ["stance", "decision"] if placed["decision"].ne("").any() else []
    return placed[["session_id", "code", "coder", "start", "end", "quote", "memo", *decided, "located", "score",
                   "turn_id", "role", "part", "parts"]]


def rejections(human: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """The rejected (segment_id, code) pairs of placed human coding ``human`` (its ``reject``
    rows, clipped to SEGMENTS), with ``coder`` (the reviewer) and ``memo``: columns
    ``segment_id``, ``session_id``, ``code``, ``coder``, ``memo``."""
    from pipeline.stages.coding.human import human_codings_by_segment  # human imports this module

    columns = ["segment_id", "session_id", "code", "coder", "memo"]
    if "decision" not in human.columns:
        return pd.DataFrame(columns=columns)
    rejected = human[human["decision"] == REJECT].assign(decision="")
    rows = pd.DataFrame(human_codings_by_segment(rejected, segments), columns=[*columns, "source"])
    return rows[columns].drop_duplicates().reset_index(drop=True)


def apply_rejections(codings: pd.DataFrame, rejected: pd.DataFrame) -> pd.DataFrame:
    """``codings`` (CODINGS) with every machine coding of a rejected (segment, code) pair marked
    ``rejected``, its memo naming who rejected it (and their note); so is a rule's roll-up of the
    rejected code into its parent (``match`` is the child code) on that segment."""
    if rejected.empty:
        return codings
    notes = rejected.assign(note="rejected by " + rejected["coder"].astype(str)
                            + rejected["memo"].astype(str).map(lambda m: f": {m}" if m else ""))
    by_pair = notes.groupby(["segment_id", "code"])["note"].agg(lambda n: "; ".join(sorted(set(n))))
    known = by_pair.reset_index().astype(object)
    pairs = codings[["segment_id", "code"]].astype(object)
    found = pairs.merge(known, on=["segment_id", "code"], how="left")
    rolled = codings[["segment_id", "match"]].astype(object).merge(known.rename(columns={"code": "match"}),
                                                                   on=["segment_id", "match"], how="left")
    note = pd.Series(found["note"].fillna(rolled["note"]).to_numpy(), index=codings.index)
    hit = (note.notna() & codings["source"].ne("human")).to_numpy(dtype=bool)
    return codings.assign(status=codings["status"].mask(hit, REJECTED),
                          memo=codings["memo"].mask(hit, note.astype("string")))


@dataclass(frozen=True)
class Review:
    """What reviewers' decisions did in a run: how many of each decision (``counts``), and the
    ``conflicts``: (segment, code) pairs a person coded or confirmed and another rejected
    (columns :data:`CONFLICT_COLUMNS`)."""

    counts: dict
    conflicts: pd.DataFrame

    @property
    def decided(self) -> int:
        """How many decisions the run read (stale ones included)."""
        return sum(self.counts[d] for d in DECISIONS) + self.counts["stale"]


def stale_decisions(unplaced: pd.DataFrame) -> int:
    """How many of the unplaced quotes (human.UNPLACED_COLUMNS) are stale decisions."""
    return int(unplaced["reason"].astype(str).str.endswith(STALE).sum()) if len(unplaced) else 0


def review_of(human: pd.DataFrame, segments: pd.DataFrame, codings: pd.DataFrame, stale: int = 0) -> Review:
    """The :class:`Review` of a run: placed human coding ``human`` (with its ``decision``
    column), SEGMENTS, the run's CODINGS, and how many decisions were ``stale``."""
    decided = human["decision"] if "decision" in human.columns else pd.Series([], dtype=object)
    counts = {d: int((decided == d).sum()) for d in DECISIONS}
    rejected = rejections(human, segments)
    people = codings[(codings["source"] == "human") & (codings["status"] != "context")]  # context is no evidence
    kept = people.groupby(["segment_id", "code"])["coder"].agg(lambda c: ", ".join(sorted(set(c))))
    refused = rejected.groupby(["segment_id", "session_id", "code"])["coder"].agg(lambda c: ", ".join(sorted(set(c))))
    rows = []
    for (segment_id, session_id, code), rejected_by in refused.items():
        if (segment_id, code) in kept.index:
            rows.append({"segment_id": segment_id, "session_id": session_id, "code": code,
                         "kept_by": kept[(segment_id, code)], "rejected_by": rejected_by})
    conflicts = pd.DataFrame(rows, columns=CONFLICT_COLUMNS)
    counts |= {"rejected_codings": int((codings["status"] == REJECTED).sum()), "conflicts": len(conflicts),
               "stale": stale}
    return Review(counts, conflicts)

"""Choosing quotes: the few passages a report shows for a claim or a question.

A handful of quotes stands for dozens of coded passages, so they are chosen to show the breadth
of the evidence rather than its first rows: each next quote comes from a stakeholder group not
yet quoted, else a method not yet quoted, else a session not yet quoted; where the question is
divided, the stance shown less so far comes first, so that both sides are heard. Among passages
that add as much breadth, a substantive one comes before an introduction or a greeting (the
answers to a session's first question, and passages under :data:`MIN_WORDS` words), a passage
the team cited before one it did not, a person's coding before a machine's, and an assessment
before a neutral description; the segment id breaks ties, so the same evidence always gives
the same quotes.

Counter-evidence is chosen per group: for each stakeholder group with passages of the other
stance, its strongest one (from a session that leans that way on the question, substantive,
coded by a person), the groups whose sessions lean that way most often first.
"""

from __future__ import annotations

import pandas as pd

MIN_WORDS = 20  # shorter passages are asides ("Sí, claro.") more often than evidence
SIDES = ("positive", "negative")


def passage_traits(segments: pd.DataFrame) -> pd.DataFrame:
    """Per segment (index ``segment_id``): ``opening``, whether it answers the session's first
    question (or, where a respondent spoke first, lies in the session's first turn), where
    people introduce themselves and greet; and ``words``. Reads SEGMENTS."""
    ordered = segments.sort_values(["session_id", "start"], kind="stable")
    first = ordered.drop_duplicates("session_id").set_index("session_id")
    prompt = ordered["session_id"].map(first["prompt_turn_id"])
    turn = ordered["session_id"].map(first["turn_id"])
    opening = ((prompt != "") & (ordered["prompt_turn_id"] == prompt)) | ((prompt == "") & (ordered["turn_id"] == turn))
    return pd.DataFrame({"opening": opening.to_numpy(dtype=bool), "words": ordered["words"].to_numpy()},
                        index=pd.Index(ordered["segment_id"].astype(str).to_numpy(), name="segment_id"))


def _ranked(rows: pd.DataFrame, traits: pd.DataFrame, cited: frozenset[str]) -> pd.DataFrame:
    """``rows`` (one per segment) best first by what a quote is worth on its own (see the module)."""
    ids = rows["segment_id"].astype(str)
    known = traits.reindex(ids.to_numpy())
    substantive = (~known["opening"].fillna(False).astype(bool) & (known["words"].fillna(0) >= MIN_WORDS)).to_numpy()
    human = rows["sources"].astype(str).str.contains("human", regex=False).to_numpy()
    ranked = rows.assign(_plain=~substantive, _uncited=~ids.isin(cited).to_numpy(), _machine=~human,
                         _neutral=(rows["stance"].astype(str) == "neutral").to_numpy(), _id=ids.to_numpy())
    return ranked.sort_values(["_plain", "_uncited", "_machine", "_neutral", "_id"], kind="stable")


def choose_quotes(rows: pd.DataFrame, *, limit: int, traits: pd.DataFrame, cited: frozenset[str] = frozenset(),
                  balance: bool = False) -> pd.DataFrame:
    """At most ``limit`` of ``rows`` (EVIDENCE rows: ``segment_id``, ``session_id``,
    ``stakeholder_group``, ``method``, ``sources``, ``stance``), one per segment, in the order
    they are to be shown (see the module). ``traits`` is :func:`passage_traits`; ``cited`` the
    segment ids the team cited; ``balance`` asks for both stances (a divided question)."""
    if rows.empty or limit <= 0:
        return rows.iloc[:0]
    ranked = _ranked(rows.drop_duplicates("segment_id"), traits, cited)
    # No more than ``limit`` candidates of each (group, method, stance) can ever be chosen.
    ranked = ranked[ranked.groupby(["stakeholder_group", "method", "stance"], sort=False, observed=True).cumcount() < limit]
    candidates = list(zip(range(len(ranked)), *(ranked[c].astype(str).tolist()
                                                for c in ("stakeholder_group", "method", "session_id", "stance"))))
    chosen: list[int] = []
    groups, methods, sessions = set(), set(), set()
    shown = dict.fromkeys(SIDES, 0)
    while candidates and len(chosen) < limit:
        fewest = min(shown.values())

        def cost(candidate):
            position, group, method, session, stance = candidate
            unbalanced = balance and not (stance in shown and shown[stance] == fewest)
            return unbalanced, group in groups, method in methods, session in sessions, position

        best = min(candidates, key=cost)
        candidates.remove(best)
        position, group, method, session, stance = best
        chosen.append(position)
        groups.add(group)
        methods.add(method)
        sessions.add(session)
        if stance in shown:
            shown[stance] += 1
    return ranked.iloc[chosen].drop(columns=["_plain", "_uncited", "_machine", "_neutral", "_id"])


def counter_quotes(rows: pd.DataFrame, *, stance: str, leanings: pd.DataFrame, traits: pd.DataFrame) -> pd.DataFrame:
    """The strongest passage of ``stance`` from each stakeholder group that has one (see the
    module), among ``rows`` (EVIDENCE rows of one question). ``leanings`` is where each session
    leans on the question (:func:`pipeline.stages.triangulate.session_stances`)."""
    own = rows[rows["stance"].astype(str) == stance]
    if own.empty:
        return own
    leaning = set(leanings.loc[leanings["stance"] == stance, "session_id"].astype(str))
    ranked = _ranked(own.drop_duplicates("segment_id"), traits, frozenset())
    ranked = ranked.assign(_elsewhere=~ranked["session_id"].astype(str).isin(leaning).to_numpy())
    ranked = ranked.sort_values("_elsewhere", kind="stable")  # stable: the ranking within each side holds
    best = ranked.drop_duplicates("stakeholder_group")
    weight = (leanings[leanings["stance"] == stance].groupby("stakeholder_group").size()
              .reindex(best["stakeholder_group"].astype(str).to_numpy(), fill_value=0).to_numpy())
    best = best.assign(_weight=-weight, _group=best["stakeholder_group"].astype(str).to_numpy())
    best = best.sort_values(["_weight", "_group"], kind="stable")
    return best.drop(columns=["_plain", "_uncited", "_machine", "_neutral", "_id", "_elsewhere", "_weight", "_group"])

"""Every rule measured where people coded, and the ones they disagree with demoted.

A pattern's figures come from the sessions people coded (a session is coded when any person
coded any of it; every other segment of it was read and left uncoded): its ``hits`` there (rule
codings of a code by the pattern, one per segment), how many of those segments a person coded
with the same code (``agreed``), ``precision`` = agreed / hits, and ``unconfirmed`` = hits -
agreed: what the pattern found that the coders did not code (their misses, or the pattern's
mistakes: the team reads them to decide). A pattern with at least ``min_hits`` hits and a
precision below ``min_precision`` (``rules`` in evaluation.yaml) is demoted: its codings, in
every session, are ``suggested`` rather than accepted evidence, with a memo saying why; so are
the codings it gave a parent code by roll-up.
"""

from __future__ import annotations

import pandas as pd

from pipeline.schemas import AUDIT_COLUMNS, people_evidence
from pipeline.stages.coding.coder import RULE
from pipeline.stages.coding.rule_coder import ROLL_UP


def _matched_code(codings: pd.DataFrame) -> pd.Series:
    """The code each rule coding's pattern belongs to: its own, or for a roll-up (a parent's
    coding, whose ``match`` is :data:`ROLL_UP` and the child code) the child's. A roll-up is not
    measured on its own (people code the child, not its parent too): it follows its pattern's
    figures."""
    match = codings["match"].astype(object) if "match" in codings.columns else pd.Series("", index=codings.index)
    match = match.fillna("").astype(str)
    roll_up = codings["source"].eq(RULE) & match.str.startswith(ROLL_UP)
    return codings["code"].mask(roll_up, match.str.slice(len(ROLL_UP)))


def audit_patterns(codings: pd.DataFrame, *, min_precision: float, min_hits: int) -> pd.DataFrame:
    """One row per (code, pattern) of the rule codings in ``codings`` (a CODINGS frame) that
    hit in a human-coded session, columns :data:`AUDIT_COLUMNS`, worst first (lowest
    precision, then most hits). ``precision`` is rounded to 4 places; ``demoted`` is whether it
    is below ``min_precision`` with at least ``min_hits`` hits. Empty when nobody coded."""
    human = people_evidence(codings)  # people's coding of respondents' speech, not of context
    rules = codings[(codings["source"] == RULE) & codings["session_id"].isin(set(human["session_id"]))
                    & _matched_code(codings).eq(codings["code"])]
    if rules.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            AUDIT_COLUMNS, ["object", "object", "int64", "int64", "int64", "float64", "bool"])})
    coded = set(zip(human["segment_id"], human["code"]))
    hits = rules[["code", "coder", "segment_id"]].drop_duplicates()
    hits = hits.assign(agreed=[(s, c) in coded for s, c in zip(hits["segment_id"], hits["code"])])
    table = hits.groupby(["code", "coder"], sort=True).agg(hits=("segment_id", "size"), agreed=("agreed", "sum"))
    table = table.reset_index().rename(columns={"coder": "pattern"})
    table = table.assign(agreed=table["agreed"].astype("int64"), unconfirmed=table["hits"] - table["agreed"],
                         precision=(table["agreed"] / table["hits"]).round(4))
    table = table.assign(demoted=(table["hits"] >= min_hits) & (table["precision"] < min_precision))
    return table.sort_values(["precision", "hits", "code", "pattern"], ascending=[True, False, True, True],
                             kind="stable")[AUDIT_COLUMNS].reset_index(drop=True)


def demote_patterns(codings: pd.DataFrame, *, min_precision: float, min_hits: int) -> pd.DataFrame:
    """``codings`` with the accepted rule codings of every demoted pattern (see
    :func:`audit_patterns`) turned ``suggested``, the memo saying why. Not changed in place."""
    audit = audit_patterns(codings, min_precision=min_precision, min_hits=min_hits)
    demoted = audit[audit["demoted"]]
    if demoted.empty:
        return codings
    why = {(code, pattern): f"pattern demoted: the coders agreed with {agreed} of its {hits} hits in the sessions "
                            f"they coded (precision {precision:.2f}, below rules.min_precision {min_precision})"
           for code, pattern, hits, agreed, precision in
           demoted[["code", "pattern", "hits", "agreed", "precision"]].itertuples(index=False)}
    memo = pd.Series([why.get(key) for key in zip(_matched_code(codings), codings["coder"])], index=codings.index,
                     dtype=object)
    hit = memo.notna() & codings["source"].eq(RULE) & codings["status"].eq("accepted")
    joined = codings["memo"].where(codings["memo"].fillna("").eq(""), codings["memo"] + "; ")
    return codings.assign(status=codings["status"].mask(hit, "suggested"),
                          memo=codings["memo"].mask(hit, joined.fillna("") + memo.fillna("")))

"""Inter-coder reliability: agreement between human coders, per code and overall.

Unitisation: a unit is a segment of a session that every selected coder coded (a coder
"coded" a session if the coding files hold at least one coding of theirs for it). For each
code, each coder's value on a unit is 1 if they applied the code to any part of the segment,
0 otherwise: an uncoded segment is a deliberate "absent", not a missing value. Segments of
sessions a coder did not code are missing for that coder (Krippendorff's alpha allows it;
agreement and Cohen's kappa use the units both coders coded).

Figures: percent agreement, Cohen's kappa (two coders), Krippendorff's alpha
(the ``krippendorff`` package, nominal, any number of coders), per code, per evaluation
question (codes rolled up to the questions they serve), and overall (every unit x code
decision pooled). A span-level view says how far two coders' spans for the same code overlap,
so that "same code, slightly different span" is visible rather than counted silently as
disagreement at the segment level.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from pipeline.errors import InputError, Problem
from pipeline.schemas import people_evidence

FLAG_BELOW = 0.667  # Krippendorff: tentative conclusions only above this
GOOD_FROM = 0.8     # Krippendorff: reliable


def krippendorff_alpha(reliability_data, level: str = "nominal") -> float | None:
    """Alpha of a coders x units matrix (``nan`` for missing); None when undefined."""
    import krippendorff

    data = np.asarray(reliability_data, dtype=float)
    values = data[~np.isnan(data)]
    if len(np.unique(values)) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def cohen_kappa(first, second) -> float | None:
    """Cohen's kappa of two coders' values on the same units; None when undefined."""
    first, second = np.asarray(first), np.asarray(second)
    labels = np.unique(np.concatenate([first, second]))
    if len(labels) < 2:
        return None
    # scikit-learn's cohen_kappa_score, step by step (its checks cost 8 ms a call, 98 calls
    # at 10x the sample): 1 - observed / expected disagreement.
    n = len(labels)
    confusion = np.bincount(np.searchsorted(labels, first) * n + np.searchsorted(labels, second),
                            minlength=n * n).reshape(n, n)
    expected = np.outer(confusion.sum(axis=0), confusion.sum(axis=1)) / confusion.sum()
    disagree = 1 - np.eye(n, dtype=int)
    return float(1 - np.sum(disagree * confusion) / np.sum(disagree * expected))


def _figures(matrix: np.ndarray) -> dict:
    """Agreement figures for a coders x units matrix of 0/1 values (nan = missing)."""
    both = ~np.isnan(matrix).any(axis=0)
    complete = matrix[:, both]
    agreement = float((complete == complete[0]).all(axis=0).mean()) if complete.shape[1] else None
    kappa = cohen_kappa(complete[0], complete[1]) if len(matrix) == 2 and complete.shape[1] else None
    alpha = krippendorff_alpha(matrix)
    rounded = lambda x: None if x is None else round(x, 4)  # noqa: E731
    return {"alpha": rounded(alpha), "kappa": rounded(kappa), "agreement": rounded(agreement),
            "units": int(both.sum()), "present": int(np.nansum(matrix))}


def rating(alpha: float | None) -> str:
    """An alpha's rating: good, tentative, flagged, or undefined (no alpha)."""
    if alpha is None:
        return "undefined"
    return "good" if alpha >= GOOD_FROM else ("tentative" if alpha >= FLAG_BELOW else "flagged")


def span_overlap(human: pd.DataFrame, coders: list[str]) -> pd.DataFrame:
    """Per code: how far the first two coders' spans overlap (intersection / union of characters)."""
    first, second = coders[:2]
    keys = ["session_id", "code", "start", "end"]
    spans = {c: human.loc[human["coder"] == c, keys].drop_duplicates() for c in (first, second)}
    # Each of the first coder's spans against every span of the second on the same session and code.
    pairs = spans[first].merge(spans[second], on=["session_id", "code"], suffixes=("", "_other"))
    ratio = ((pairs[["end", "end_other"]].min(axis=1) - pairs[["start", "start_other"]].max(axis=1))
             / (pairs[["end", "end_other"]].max(axis=1) - pairs[["start", "start_other"]].min(axis=1)))
    frame = (pairs.assign(overlap=ratio.astype(float)).groupby(keys, sort=True)["overlap"].max()
             .clip(lower=0.0).reset_index()[["session_id", "code", "overlap"]])
    summary = frame.groupby("code").agg(spans=("overlap", "size"), mean_overlap=("overlap", "mean"),
                                        partial=("overlap", lambda o: int(((o > 0) & (o < 0.999)).sum())),
                                        unmatched=("overlap", lambda o: int((o == 0).sum())))
    return summary.reset_index()


def measure_reliability(segments: pd.DataFrame, human: pd.DataFrame, *, codebook,
                        coders: list[str] | None = None) -> dict:
    """Reliability of ``human`` coding (CODINGS rows with ``source == 'human'``) on ``segments``.

    Returns ``overall`` and ``per_code`` (each with ``alpha``, ``kappa``, ``agreement``,
    ``units``), ``per_question``, ``questions_overall``, ``span_overlap``, ``disagreements``
    (one row per segment and code where coders differ), ``coders`` and ``method`` (the
    unitisation, in words).
    """
    human = people_evidence(human)  # codings of context are not units of agreement
    coders = sorted(coders or set(human["coder"]))
    if len(coders) < 2:
        raise InputError(Problem("--coders", f"reliability needs at least two coders; found {coders}.",
                                 "Give coding files by two or more coders, or name them with --coders A,B."))
    human = human[human["coder"].isin(coders)]
    coded_by = {c: set(human.loc[human["coder"] == c, "session_id"]) for c in coders}
    sessions = set.union(*coded_by.values())
    units = segments[segments["session_id"].isin(sessions)].reset_index(drop=True)
    codes = sorted(set(human["code"]))
    unit_index = {segment_id: i for i, segment_id in enumerate(units["segment_id"])}
    code_index = {code: j for j, code in enumerate(codes)}
    # presence[coder]: units x codes, 1 where the coder applied the code; NaN rows for
    # sessions the coder did not code.
    presence = {}
    for coder in coders:
        own = human[(human["coder"] == coder) & human["segment_id"].isin(unit_index)]
        grid = np.zeros((len(units), len(codes)))
        grid[own["segment_id"].map(unit_index).to_numpy(int), own["code"].map(code_index).to_numpy(int)] = 1.0
        grid[~units["session_id"].isin(coded_by[coder]).to_numpy()] = np.nan
        presence[coder] = grid

    def matrix(columns: list[int]) -> np.ndarray:
        """Coders x units: whether each coder applied any of ``columns`` (codes) to each unit."""
        return np.vstack([np.where(np.isnan(presence[c][:, 0]), np.nan, np.nan_to_num(presence[c][:, columns]).max(axis=1))
                          for c in coders])

    per_code, stacked = {}, []
    for code in codes:
        m = matrix([code_index[code]])
        figures = _figures(m)
        per_code[code] = {**figures, "rating": rating(figures["alpha"])}
        stacked.append(m)
    overall = _figures(np.hstack(stacked)) if stacked else {}

    per_question, stacked_q = {}, []
    for question in codebook.evaluation.ids("questions"):
        serving = [code_index[c] for c in codes if question in codebook.questions_of(c)]
        if not serving:
            continue
        m = matrix(serving)
        figures = _figures(m)
        per_question[question] = {**figures, "rating": rating(figures["alpha"])}
        stacked_q.append(m)

    disagreements = []
    both = units["session_id"].isin(set.intersection(*coded_by.values())).to_numpy()
    applied = {c: np.nan_to_num(presence[c]).astype(bool) for c in coders}
    differs = np.zeros((len(units), len(codes)), dtype=bool)
    for coder in coders[1:]:
        differs |= applied[coder] != applied[coders[0]]
    differs[~both] = False
    memos = human.groupby(["segment_id", "coder"])["memo"].agg(lambda m: " | ".join(sorted({x for x in m if x})))
    for i, j in zip(*np.nonzero(differs)):  # row-major: by unit, then code, as before
        unit = units.iloc[i]
        disagreements.append({
            "segment_id": unit["segment_id"], "session_id": unit["session_id"], "code": codes[j],
            **{f"coder_{c}": bool(applied[c][i, j]) for c in coders},
            **{f"codes_{c}": ", ".join(codes[k] for k in np.nonzero(applied[c][i])[0]) for c in coders},
            **{f"memo_{c}": memos.get((unit["segment_id"], c), "") for c in coders},
            "text": unit["text"],
        })
    return {
        "coders": coders,
        "sessions": sorted(sessions),
        "overall": {**overall, "rating": rating(overall.get("alpha"))},
        "per_code": per_code,
        "per_question": per_question,
        "questions_overall": _figures(np.hstack(stacked_q)) if stacked_q else {},
        "span_overlap": span_overlap(human, coders).to_dict("records"),
        "disagreements": disagreements,
        "method": ("A unit is a segment (respondent speech cut on sentence boundaries) of a session every "
                   "coder coded; a code is present for a coder if they applied it to any part of the segment "
                   "and absent otherwise (uncoded segments count as absent, not missing). Segments of "
                   "sessions a coder did not code are missing for that coder. Overall figures pool every "
                   "segment x code decision. Alpha is Krippendorff's (nominal); kappa is Cohen's (first "
                   "two coders); agreement is the share of units where all coders agree."),
    }

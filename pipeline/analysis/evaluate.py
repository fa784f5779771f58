"""How well the machine codes: rules and model measured against human coding.

Unit: a segment of a session that people coded; a code is present on it if any person
applied it (the union of coders), absent otherwise. The model and a plain baseline (TF-IDF +
logistic regression) are trained and tested with cross-validation grouped by session, so no
session is ever in both the training and the test part of a fold. Rules need no training;
they are scored on the same test segments. Per code and micro/macro precision, recall, F1,
and Krippendorff's alpha (nominal) between machine and human.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import GroupKFold

from pipeline.errors import InputError, Problem
from pipeline.schemas import people_evidence
from pipeline.seams import Cache
from pipeline.stages.coding.learned import fit_coder, inputs, learnable_codes, make_baseline, with_embeddings


def grouped_folds(groups: pd.Series, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index arrays; every group (session) is wholly on one side of each split."""
    splitter = GroupKFold(n_splits=min(folds, groups.nunique()))
    return list(splitter.split(np.zeros(len(groups)), groups=groups.to_numpy()))


def alpha(human: np.ndarray, machine: np.ndarray) -> float | None:
    """Krippendorff's alpha (nominal) between two 0/1 codings of the same units; None if undefined."""
    import krippendorff

    data = np.vstack([human, machine]).astype(float)
    if len(np.unique(data)) < 2:
        return None  # every unit has the same value: alpha is undefined
    return round(float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")), 4)


def _scores(truth: np.ndarray, predicted: np.ndarray, codes: list[str]) -> dict:
    out = {}
    for average in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(truth, predicted, average=average, zero_division=0)
        out[average] = {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4)}
    p, r, f, support = precision_recall_fscore_support(truth, predicted, average=None, zero_division=0)
    out["per_code"] = {
        code: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4), "f1": round(float(f[i]), 4),
               "support": int(support[i]), "alpha": alpha(truth[:, i], predicted[:, i])}
        for i, code in enumerate(codes)
    }
    return out


def _codes(codebook, human: pd.DataFrame) -> list[str]:
    """The codebook's codes; without a codebook (another team's corpus), the codes people applied."""
    return sorted(codebook.by_id) if codebook is not None else sorted(set(human["code"]))


def evaluate_coder(segments: pd.DataFrame, codings: pd.DataFrame, *, codebook, folds: int = 5,
                   min_examples: int = 5, threshold: float = 0.5, tune_thresholds: bool | str = False,
                   embeddings: Cache | None = None, seed: int = 0) -> dict:
    """Figures for ``rules``, ``model`` and ``baseline`` against the human coding in ``codings``.

    ``segments`` is the SEGMENTS table; ``codings`` holds the human codings and the rule
    codings (CODINGS rows, any status). Returns a dict with ``rules``, ``model``, ``baseline``
    (each with ``micro``, ``macro`` and ``per_code``), ``folds``, ``segments``,
    ``codes_evaluated``, ``threshold`` and ``held_out``. The model predicts a code at
    ``threshold`` (the suggestions' threshold); the baseline at its plain 0.5. Folds hold whole
    sessions out; where people coded one session only (a tool's export of one document of
    comments), there is no other session to hold out and folds hold segments out instead:
    ``held_out`` says which.
    """
    human = people_evidence(codings)
    units = segments[segments["session_id"].isin(set(human["session_id"]))].reset_index(drop=True)
    if embeddings is not None:  # once, not per fold
        units = with_embeddings(units, embeddings)
    matrix = pd.crosstab(human["segment_id"], human["code"]).clip(upper=1)
    labels = matrix.reindex(index=units["segment_id"], columns=_codes(codebook, human), fill_value=0).fillna(0)
    codes = learnable_codes(labels.astype(int), min_examples)
    if not codes:
        raise InputError(Problem("--coding", f"no code has {min_examples} human-coded segments to learn from.",
                                 "Code more segments, or lower suggestions.min_examples in evaluation.yaml."))
    truth = labels[codes].astype(int).to_numpy()
    rules = codings[codings["source"] == "rule"]
    ruled = pd.crosstab(rules["segment_id"], rules["code"]).clip(upper=1)
    rule_pred = ruled.reindex(index=units["segment_id"], columns=codes, fill_value=0).fillna(0).astype(int).to_numpy()

    model_pred = np.zeros_like(truth)
    base_pred = np.zeros_like(truth)
    held_out = "session" if units["session_id"].nunique() >= 2 else "segment"
    splits = grouped_folds(units[f"{held_out}_id"], folds)
    for train, test in splits:
        train_labels = labels.iloc[train][codes].astype(int)
        trainable = [c for c in codes if train_labels[c].sum() >= min_examples]
        if trainable:
            model = fit_coder(units.iloc[train], train_labels[trainable], codebook, trainable,
                              min_examples=min_examples, threshold=threshold, random_state=seed,
                              tune_thresholds=tune_thresholds, embeddings=embeddings)
            predicted = model.predict(inputs(units.iloc[test]))
            for j, code in enumerate(trainable):
                model_pred[test, codes.index(code)] = predicted[:, j]
        present = [c for c in codes if 0 < train_labels[c].sum() < len(train)]
        if present:
            baseline = make_baseline(random_state=seed).fit(units.iloc[train][["text"]], train_labels[present].to_numpy())
            predicted = baseline.predict(units.iloc[test][["text"]])
            for j, code in enumerate(present):
                base_pred[test, codes.index(code)] = predicted[:, j]
    return {
        "rules": _scores(truth, rule_pred, codes),
        "model": _scores(truth, model_pred, codes),
        "baseline": _scores(truth, base_pred, codes),
        "folds": len(splits),
        "segments": len(units),
        "codes_evaluated": codes,
        "threshold": threshold,
        "held_out": held_out,
    }

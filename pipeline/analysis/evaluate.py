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
from pipeline.stages.coding.audit import audit_patterns
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
    out["alpha"] = alpha(truth.ravel(), predicted.ravel())  # every (segment, code) a unit
    p, r, f, support = precision_recall_fscore_support(truth, predicted, average=None, zero_division=0)
    out["per_code"] = {
        code: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4), "f1": round(float(f[i]), 4),
               "support": int(support[i]), "alpha": alpha(truth[:, i], predicted[:, i])}
        for i, code in enumerate(codes)
    }
    return out


def _fit_fold(units, labels, codes, train, *, codebook, min_examples, threshold, seed, tune_thresholds, embeddings):
    """(the model fitted on the ``train`` rows of ``units``, the codes it learned); (None, [])
    where no code has ``min_examples`` there."""
    train_labels = labels.iloc[train][codes].astype(int)
    trainable = [c for c in codes if train_labels[c].sum() >= min_examples]
    if not trainable:
        return None, []
    return fit_coder(units.iloc[train], train_labels[trainable], codebook, trainable, min_examples=min_examples,
                     threshold=threshold, random_state=seed, tune_thresholds=tune_thresholds,
                     embeddings=embeddings), trainable


def _predict_fold(units, labels, codes, train, test, out, **fit):
    """The model fitted on the ``train`` rows of ``units`` predicts the ``test`` rows into
    ``out``; returns the model (None: nothing learnable) and its codes."""
    model, trainable = _fit_fold(units, labels, codes, train, **fit)
    if model is not None:
        predicted = model.predict(inputs(units.iloc[test]))
        for j, code in enumerate(trainable):
            out[test, codes.index(code)] = predicted[:, j]
    return model, trainable


QUEUE_BATCHES = 4  # batches of people's decisions the review-queue simulation adds
QUEUE_START = 2  # sessions coded before the queue starts
QUEUE_TARGET = 0.9  # the share of the final F1 whose cost in decisions the two orders are compared at


def _queue_simulation(units, labels, codes, truth, splits, fit: dict) -> dict:
    """The review queue simulated in each fold: :data:`QUEUE_START` training sessions coded
    (fewer where the fold has no more than that),
    then the rest of the training segments decided by people in :data:`QUEUE_BATCHES` equal
    batches, in the queue's order (the segments the current model is least sure of first, as
    ``review_queue`` orders them; the model refitted after each batch) or in a fixed random
    order. Micro F1 on the same test folds after each batch, and the decisions each order
    needs to reach :data:`QUEUE_TARGET` of the final F1 (the labels the queue saves)."""
    rng = np.random.default_rng(fit["seed"])
    sessions = units["session_id"].to_numpy()
    plans = []
    for train, test in splits:
        order = rng.permutation(np.unique(sessions[train]))
        first = max(1, min(QUEUE_START, len(order) - 1))  # at least one session left to the queue
        start = train[np.isin(sessions[train], order[:first])]
        pool = np.setdiff1d(train, start)
        plans.append((start, pool, rng.permutation(pool), test))
    curves = {}
    for name in ("queue", "random"):
        labelled = [start for start, _, _, _ in plans]
        points = []
        for batch in range(QUEUE_BATCHES + 1):
            predicted = np.zeros_like(truth)
            for k, (start, pool, shuffled, test) in enumerate(plans):
                model, _ = _predict_fold(units, labels, codes, labelled[k], test, predicted, **fit)
                left = np.setdiff1d(pool, labelled[k])
                size = int(np.ceil(len(pool) / QUEUE_BATCHES))
                if batch == QUEUE_BATCHES or not len(left):
                    continue
                if name == "random" or model is None:
                    waiting = set(left.tolist())
                    chosen = [i for i in shuffled if i in waiting][:size]
                else:
                    proba = model.predict_proba(inputs(units.iloc[left]))
                    certainty = np.abs(proba - 0.5).min(axis=1)  # the least sure code of each segment
                    chosen = left[np.argsort(certainty, kind="stable")[:size]]
                labelled[k] = np.sort(np.concatenate([labelled[k], np.asarray(chosen, dtype=int)]))
            _, _, f, _ = precision_recall_fscore_support(truth, predicted, average="micro", zero_division=0)
            points.append({"batch": batch, "f1": round(float(f), 4)})
        curves[name] = points
    # what each point learned from: the segments decided before its fit (per fold, on average)
    pool_size = int(np.mean([len(pool) for _, pool, _, _ in plans]))
    for points in curves.values():
        for point in points:
            point["decided"] = min(pool_size, int(np.ceil(pool_size / QUEUE_BATCHES)) * point["batch"])
    target = round(QUEUE_TARGET * curves["random"][-1]["f1"], 4)  # both orders end with every segment decided

    def first(points):
        reached = [p["decided"] for p in points if p["f1"] >= target]
        return reached[0] if reached else None

    return {**curves, "pool": pool_size, "target_f1": target, "queue_reaches_it_with": first(curves["queue"]),
            "random_reaches_it_with": first(curves["random"])}


CURVE_POINTS = 5  # numbers of coded sessions the learning curve is measured at


def _learning_curve(units, labels, codes, truth, splits, fit: dict) -> list[dict]:
    """Micro P/R/F1 of the model when only ``n`` of each fold's training sessions were coded
    (the first ``n`` in a fixed shuffled order), at :data:`CURVE_POINTS` values of ``n`` up
    to all of them; always measured on the same test folds."""
    rng = np.random.default_rng(fit["seed"])
    sessions = units["session_id"].to_numpy()
    most = min(len(np.unique(sessions[train])) for train, _ in splits)
    sizes = sorted({int(round(n)) for n in np.linspace(2, most, CURVE_POINTS)} - {0, 1})
    orders = [rng.permutation(np.unique(sessions[train])) for train, _ in splits]
    curve = []
    for size in sizes:
        predicted = np.zeros_like(truth)
        for (train, test), order in zip(splits, orders):
            kept = train[np.isin(sessions[train], order[:size])]
            _predict_fold(units, labels, codes, kept, test, predicted, **fit)
        p, r, f, _ = precision_recall_fscore_support(truth, predicted, average="micro", zero_division=0)
        curve.append({"sessions": size, "segments": int(np.mean([np.isin(sessions[t], o[:size]).sum()
                                                                 for (t, _), o in zip(splits, orders)])),
                      "precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4)})
    return curve


def _codes(codebook, human: pd.DataFrame) -> list[str]:
    """The codebook's codes; without a codebook (another team's corpus), the codes people applied."""
    return sorted(codebook.by_id) if codebook is not None else sorted(set(human["code"]))


def evaluate_coder(segments: pd.DataFrame, codings: pd.DataFrame, *, codebook, folds: int = 5,
                   min_examples: int = 5, threshold: float = 0.5, tune_thresholds: bool | str = False,
                   embeddings: Cache | None = None, seed: int = 0, learning_curve: bool = False,
                   demotion=None) -> dict:
    """Figures for ``rules``, ``model`` and ``baseline`` against the human coding in ``codings``.

    ``segments`` is the SEGMENTS table; ``codings`` holds the human codings and the rule
    codings (CODINGS rows, any status). Returns a dict with ``rules``, ``model``, ``baseline``
    (each with ``micro``, ``macro`` and ``per_code``), ``folds``, ``segments``,
    ``codes_evaluated``, ``threshold`` and ``held_out``, and with ``learning_curve`` the model's
    micro figures against the number of coded sessions it learned from (``learning_curve``)
    and the review queue simulated (``queue_simulation``). The model predicts a code at
    ``threshold`` (the suggestions' threshold) unless ``tune_thresholds`` chooses it in the
    training folds; the baseline at its plain 0.5. Folds hold whole sessions out; where people
    coded one session only (a tool's export of one document of comments), there is no other
    session to hold out and folds hold segments out instead: ``held_out`` says which.
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
    fit = {"codebook": codebook, "min_examples": min_examples, "threshold": threshold, "seed": seed,
           "tune_thresholds": tune_thresholds, "embeddings": embeddings}
    for train, test in splits:
        train_labels = labels.iloc[train][codes].astype(int)
        _predict_fold(units, labels, codes, train, test, model_pred, **fit)
        present = [c for c in codes if 0 < train_labels[c].sum() < len(train)]
        if present:
            baseline = make_baseline(random_state=seed).fit(units.iloc[train][["text"]], train_labels[present].to_numpy())
            predicted = baseline.predict(units.iloc[test][["text"]])
            for j, code in enumerate(present):
                base_pred[test, codes.index(code)] = predicted[:, j]
    # Every pattern's figures where people coded (``demotion``: evaluation.yaml's ``rules``, the codebook's by default).
    demotion = demotion if demotion is not None or codebook is None else codebook.evaluation.rules
    audit = {} if demotion is None else {
        "patterns": audit_patterns(codings, min_precision=demotion.min_precision, min_hits=demotion.min_hits)
        .to_dict("records"), "rules_settings": demotion.model_dump()}
    curve = {"learning_curve": _learning_curve(units, labels, codes, truth, splits, fit),
             "queue_simulation": _queue_simulation(units, labels, codes, truth, splits, fit)} if learning_curve else {}
    return {
        **curve, **audit,
        "rules": _scores(truth, rule_pred, codes),
        "model": _scores(truth, model_pred, codes),
        "baseline": _scores(truth, base_pred, codes),
        "folds": len(splits),
        "segments": len(units),
        "codes_evaluated": codes,
        "threshold": threshold,
        "held_out": held_out,
    }

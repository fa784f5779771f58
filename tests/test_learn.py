"""The learned coder: an honest scikit-learn estimator, grouped evaluation that never leaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from pipeline.analysis.evaluate import alpha, grouped_folds
from pipeline.runtime.parallel import Workers
from pipeline.stages.coding.learned import SegmentCoder, make_coder


@parametrize_with_checks([SegmentCoder()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    Y = np.column_stack([(X[:, 0] > 0), (X[:, 1] > 0.5), np.zeros(n)]).astype(int)
    Y[:2, 2] = 1  # too few positives to learn
    return X, Y


def test_multilabel_fit_predict_and_learned_attributes():
    X, Y = data()
    coder = SegmentCoder(min_examples=5)
    assert coder.fit(X, Y) is coder
    assert coder.fitted_labels_.tolist() == [True, True, False]
    proba = coder.predict_proba(X)
    assert proba.shape == (60, 3) and (proba[:, 2] == 0).all()
    assert ((proba[:, 0] > 0.5) == (X[:, 0] > 0)).mean() > 0.9


def test_fitting_is_deterministic():
    X, Y = data()
    one = SegmentCoder(random_state=3).fit(X, Y).predict_proba(X)
    two = SegmentCoder(random_state=3).fit(X, Y).predict_proba(X)
    assert np.array_equal(one, two)


def test_predicting_before_fitting_is_an_error():
    with pytest.raises(NotFittedError):
        SegmentCoder().predict_proba(np.zeros((2, 5)))


def test_init_only_stores_its_arguments():
    coder = SegmentCoder(C=2.0, min_examples=7)
    assert coder.get_params() == {"C": 2.0, "min_examples": 7, "calibrate": True, "threshold": 0.5,
                                  "tune_thresholds": False, "random_state": 0, "parallel": None}
    assert not [a for a in vars(coder) if a.endswith("_")]


def test_codes_fitted_in_parallel_give_the_same_probabilities():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8))
    Y = np.column_stack([(X[:, k] > 0).astype(int) for k in range(4)])
    one = SegmentCoder(min_examples=3).fit(X, Y).predict_proba(X)
    two = SegmentCoder(min_examples=3, parallel=Workers(2)).fit(X, Y).predict_proba(X)
    assert np.array_equal(one, two)


def test_text_pipeline_learns_from_words_and_the_prompt():
    texts = pd.DataFrame({
        "text": [f"la rotación de personal {i}" for i in range(8)] + [f"el presupuesto público {i}" for i in range(8)],
        "prompt": ["¿Y el personal?"] * 8 + ["¿Y el dinero?"] * 8})
    labels = np.array([[1, 0]] * 8 + [[0, 1]] * 8)
    model = make_coder(min_examples=3).fit(texts, labels)
    proba = model.predict_proba(pd.DataFrame({"text": ["mucha rotación de personal"], "prompt": [""]}))
    assert proba[0, 0] > proba[0, 1]


def test_grouped_folds_never_put_a_session_on_both_sides():
    sessions = pd.Series(np.repeat([f"S{i}" for i in range(7)], [5, 9, 3, 12, 4, 6, 8]))
    splits = grouped_folds(sessions, 5)
    assert len(splits) == 5
    for train, test in splits:
        assert not set(sessions.iloc[train]) & set(sessions.iloc[test])
    assert sorted(np.concatenate([test for _, test in splits]).tolist()) == list(range(len(sessions)))


def test_alpha_agrees_with_the_definition_and_is_undefined_without_variation():
    assert alpha(np.array([1, 0, 1, 0]), np.array([1, 0, 1, 0])) == 1.0
    assert alpha(np.zeros(4), np.zeros(4)) is None


def test_evaluate_coder_on_a_subset_of_the_reference_coding(tmp_path):
    import json

    from pipeline.cli import main

    from conftest import SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS

    subset = tmp_path / "subset.csv"
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted((SAMPLE_TRANSCRIPTS / "coding").glob("*.csv"))]
    coding = pd.concat(frames)
    coding[coding.session_id.isin(["S01", "S03", "S05", "S06"])].to_csv(subset, index=False)
    out = tmp_path / "figures.json"
    assert main(["evaluate-coder", "--codebook", str(SAMPLE_CODEBOOK), "--transcripts", str(SAMPLE_TRANSCRIPTS),
                 "--coding", str(subset), "--folds", "2", "--json", str(out), "--cache", str(tmp_path / "c"), "--learning-curve"]) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert set(figures) == {"rules", "model", "baseline", "folds", "segments", "codes_evaluated", "threshold", "stance",
                            "human_coding", "held_out",
                            "patterns", "rules_settings", "learning_curve", "queue_simulation"}
    assert figures["held_out"] == "session"
    assert figures["human_coding"]["unplaced"] == {} and figures["human_coding"]["placed"] == len(
        coding[coding.session_id.isin(["S01", "S03", "S05", "S06"])])
    queue = figures["queue_simulation"]
    assert [p["batch"] for p in queue["queue"]] == [p["batch"] for p in queue["random"]] == [0, 1, 2, 3, 4]
    assert queue["queue"][-1]["f1"] == queue["random"][-1]["f1"]  # both end with every segment decided
    assert queue["queue"][-1]["decided"] == queue["pool"] > 0
    # two sessions in each fold's training part: the curve's one point is all of them
    assert [point["sessions"] for point in figures["learning_curve"]] == [2]
    assert figures["learning_curve"][0]["f1"] == figures["model"]["micro"]["f1"]
    assert figures["patterns"] and set(figures["patterns"][0]) == {"code", "pattern", "hits", "agreed", "unconfirmed",
                                                                   "precision", "demoted"}
    precisions = [row["precision"] for row in figures["patterns"]]
    assert precisions == sorted(precisions)  # worst first
    assert figures["stance"]["passages"] > 50 and figures["stance"]["folds"] == 2
    assert set(figures["stance"]["learned"]) == set(figures["stance"]["lexicon"]) == {"accuracy", "macro_f1"}
    for source in ("rules", "model", "baseline"):
        assert set(figures[source]) == {"micro", "macro", "per_code", "alpha"}
        assert set(figures[source]["micro"]) == {"precision", "recall", "f1"}
        assert set(figures[source]["per_code"]) == set(figures["codes_evaluated"])
    assert figures["folds"] == 2 and figures["codes_evaluated"]


def test_codes_without_definition_or_examples_are_learned_from_the_coding_alone():
    from types import SimpleNamespace

    from pipeline.config.codebook import Code
    from pipeline.stages.coding.learned import codebook_examples, fit_coder

    bare = Code.model_validate({"id": "bare", "label": "Bare", "questions": ["Q1"]})
    described = Code.model_validate({"id": "described", "label": "Described", "definition": "Told apart.",
                                     "include": {"en": " "}, "questions": ["Q1"]})
    book = SimpleNamespace(by_id={"bare": bare, "described": described})
    extra, labels = codebook_examples(book, ["bare", "described"])
    assert extra["text"].tolist() == ["Told apart."] and labels.tolist() == [[0, 1]]
    extra, labels = codebook_examples(book, ["bare"])
    assert extra.empty and labels.shape == (0, 1)
    words = ["good helpful design", "weak monitoring outcome"] * 10
    segments = pd.DataFrame({"segment_id": [f"s{i}" for i in range(20)], "text": words, "prompt": ""})
    coded = pd.DataFrame({"bare": [1, 0] * 10}, index=segments["segment_id"])
    model = fit_coder(segments, coded, book, ["bare"], min_examples=3)
    probabilities = model.predict_proba(segments[["text", "prompt"]])
    assert probabilities[0, 0] > probabilities[1, 0]

"""The learned coder's thresholds chosen in inner folds, its sentence embeddings kept in the
cache, the rule audit, and the coder measured on other people's real coding."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.stages.coding.audit import audit_patterns, demote_patterns
from pipeline.stages.coding.learned import THRESHOLDS, SegmentCoder, best_threshold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import real_coded  # noqa: E402  (benchmarks/ is not a package on the path)


def test_best_threshold_maximises_f1_and_breaks_ties_towards_the_default():
    truth = np.array([1, 1, 1, 0, 0, 0])
    proba = np.array([0.35, 0.32, 0.31, 0.2, 0.1, 0.05])
    assert best_threshold(truth, proba, default=0.5) == 0.3  # 0.3 catches all three; 0.35 catches one
    assert best_threshold(np.array([0, 0]), np.array([0.9, 0.8]), default=0.5) == 0.5  # nothing right
    flat = np.array([0.95, 0.95, 0.05, 0.05])
    assert best_threshold(np.array([1, 1, 0, 0]), flat, default=0.5) == 0.5  # 0.1..0.9 all perfect
    assert set(THRESHOLDS) >= {0.1, 0.5, 0.9}


def grouped_data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    Y = np.column_stack([(X[:, 0] + 0.5 * rng.normal(size=n) > 0.8), (X[:, 1] > 0)]).astype(int)
    return X, Y, [f"S{i % 9}" for i in range(n)]


@pytest.mark.parametrize("tune", ["shared", "code"])
def test_tuned_thresholds_come_from_the_training_rows_and_are_deterministic(tune):
    X, Y, groups = grouped_data()
    one = SegmentCoder(min_examples=3, tune_thresholds=tune).fit(X, Y, groups=groups)
    two = SegmentCoder(min_examples=3, tune_thresholds=tune).fit(X, Y, groups=groups)
    assert np.array_equal(one.thresholds_, two.thresholds_)
    assert np.array_equal(one.predict_proba(X), two.predict_proba(X))
    assert set(one.thresholds_) <= set(THRESHOLDS) | {0.5}
    if tune == "shared":
        assert len(set(one.thresholds_)) == 1
    # the thresholds depend on the training rows alone: other test rows change nothing
    assert np.array_equal(one.predict(X[:10]), (one.predict_proba(X[:10]) >= one.thresholds_).astype(int))


def test_untuned_thresholds_are_the_fixed_one():
    X, Y, groups = grouped_data()
    coder = SegmentCoder(min_examples=3, threshold=0.4).fit(X, Y, groups=groups)
    assert coder.thresholds_.tolist() == [0.4, 0.4]


def test_the_codebook_rows_are_never_held_out_by_the_inner_folds():
    X, Y, groups = grouped_data()
    groups = [None] * 10 + groups[10:]  # ten rows from the codebook
    coder = SegmentCoder(min_examples=3, tune_thresholds="shared").fit(X, Y, groups=groups)
    assert coder.fitted_labels_.all()


class CountingCache:
    def __init__(self):
        self.values, self.computed = {}, 0

    def get(self, key):
        return self.values.get(key)

    def put(self, key, value):
        self.values[key] = value

    def get_or_compute(self, key, compute):
        if key not in self.values:
            self.computed += 1
            self.values[key] = compute()
        return self.values[key]


def test_embeddings_are_kept_per_session_and_a_warm_run_computes_none():
    from pipeline.nlp.encoder import DIMENSIONS, embed_segments

    segments = pd.DataFrame({"session_id": ["S2", "S1", "S2"],
                             "text": ["La coordinación mejoró.", "No hubo presupuesto.", "Coordination improved."]})
    cache = CountingCache()
    first = embed_segments(segments, cache)
    assert first.shape == (3, DIMENSIONS) and cache.computed == 2  # one entry per session
    again = embed_segments(segments, cache)
    assert cache.computed == 2 and again.tobytes() == first.tobytes()
    # a paraphrase across languages is nearer than an unrelated sentence
    assert first[0] @ first[2] > first[0] @ first[1]


def codings_frame(rows):
    columns = ["segment_id", "session_id", "code", "source", "coder", "status", "memo", "match"]
    return pd.DataFrame([row if len(row) == 8 else (*row, "words") for row in rows], columns=columns)


def test_the_audit_measures_each_pattern_in_coded_sessions_and_demotes_the_bad_ones():
    rows = [(f"S1-{i}", "S1", "budget", "rule", "budget-0", "accepted", "") for i in range(6)]
    rows += [(f"S1-{i}", "S1", "budget", "human", "A", "accepted", "") for i in range(2)]  # agrees with 2 of 6
    rows += [(f"S1-{i}", "S1", "staff", "rule", "staff-0", "accepted", "") for i in range(5)]
    rows += [(f"S1-{i}", "S1", "staff", "human", "A", "accepted", "") for i in range(5)]
    rows += [("S9-1", "S9", "budget", "rule", "budget-0", "accepted", "")]  # nobody coded S9
    rows += [("S1-7", "S1", "budget", "rule", "budget-1", "accepted", "")]  # one hit, too few to judge
    # the parent's roll-up of the budget pattern: people code the child, so it is not measured on its own
    rows += [(f"S1-{i}", "S1", "finance", "rule", "budget-0", "accepted", "", "roll-up of budget") for i in range(6)]
    codings = codings_frame(rows)
    audit = audit_patterns(codings, min_precision=0.6, min_hits=5)
    assert audit[["pattern", "hits", "agreed", "unconfirmed", "precision", "demoted"]].values.tolist() == [
        ["budget-1", 1, 0, 1, 0.0, False], ["budget-0", 6, 2, 4, 0.3333, True], ["staff-0", 5, 5, 0, 1.0, False]]
    assert "finance" not in set(audit["code"])  # the roll-up follows its pattern, measured on the child
    demoted = demote_patterns(codings, min_precision=0.6, min_hits=5)
    budget = demoted[(demoted["coder"] == "budget-0")]
    assert budget["status"].eq("suggested").all() and len(budget) == 13  # the uncoded session's and the roll-up's too
    assert budget["memo"].iloc[0].startswith("pattern demoted: the coders agreed with 2 of its 6 hits")
    assert demoted[demoted["coder"] != "budget-0"]["status"].eq("accepted").all()
    assert codings["status"].eq("accepted").all()  # the input is not changed


def test_the_audit_of_a_coding_nobody_checked_is_empty():
    codings = codings_frame([("S9-1", "S9", "budget", "rule", "budget-0", "accepted", "")])
    assert audit_patterns(codings, min_precision=0.6, min_hits=5).empty
    assert demote_patterns(codings, min_precision=0.6, min_hits=5) is codings


@pytest.mark.skipif(not real_coded.corpus_path("osf_dubois").exists(),
                    reason="../shared/realdata/coded/osf_dubois is absent (other people's data, kept outside the repo)")
def test_on_real_human_coding_the_learned_coder_beats_the_plain_baseline():

    figures = real_coded.measure("osf_dubois")
    assert figures["segments"] == 102 and len(figures["codes_evaluated"]) == 9
    assert figures["model"]["micro"]["f1"] > figures["baseline"]["micro"]["f1"] + 0.05

"""Learned suggestions: which codes apply to a segment, learned from the human coding.

:class:`SegmentCoder` is a scikit-learn estimator on a numeric feature matrix: one logistic
regression per code (multi-label), probabilities calibrated by cross-validation (Platt
scaling), fitted only for codes with at least ``min_examples`` positive segments.
:func:`make_coder` puts it behind the text features that work for this kind of text: word and
character n-grams of the segment, and the interviewer's question as context. The codebook's
definitions, inclusion rules and examples are added as extra, down-weighted training
examples. Everything is deterministic (fixed ``random_state``).

Its output is a suggestion with a confidence, kept apart from human coding: it never
overwrites a person's coding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from pipeline.schemas import people_evidence
from pipeline.seams import IN_ORDER, Parallel
from pipeline.stages.coding.coder import MODEL

MODEL_NAME = "segment-coder"
CODEBOOK_WEIGHT = 0.5  # a codebook example counts half as much as a coded segment
PREDICT_CHUNK = 4096  # segments whose suggestions are worked out together


class SegmentCoder(ClassifierMixin, BaseEstimator):
    """Multi-label coder: ``fit(X, Y)`` with ``Y`` a 0/1 matrix (segments x codes).

    Labels with fewer than ``min_examples`` positives are not learned: ``fitted_labels_``
    says which are, and their probabilities are 0. With a 1-D ``y`` it is an ordinary
    (binary or multi-class) logistic regression. ``parallel`` (a
    :class:`pipeline.seams.Parallel`; None: one after the other, here) shares the codes'
    models between processes.
    """

    def __init__(self, C: float = 4.0, min_examples: int = 5, calibrate: bool = True, threshold: float = 0.5,
                 random_state: int = 0, parallel: Parallel | None = None):
        self.C = C
        self.min_examples = min_examples
        self.calibrate = calibrate
        self.threshold = threshold
        self.random_state = random_state
        self.parallel = parallel

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # TF-IDF features are sparse
        tags.target_tags.multi_output = True  # one column per code
        tags.classifier_tags.multi_label = True
        return tags

    def _base(self, solver: str = "liblinear") -> LogisticRegression:
        # The dual problem: far fewer segments than n-gram features, where liblinear's dual
        # solver converges several times faster than the primal one (same objective).
        return LogisticRegression(C=self.C, class_weight="balanced", solver=solver,
                                  dual=solver == "liblinear", random_state=self.random_state, max_iter=1000)

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, accept_sparse="csr", multi_output=True)
        y = np.asarray(y)
        # One column of 0/1 is one code (scikit-learn calls it binary): still one probability
        # per code, not two per class, or a corpus with one learnable code gets P(absent).
        self.multilabel_ = y.ndim == 2 and (type_of_target(y) == "multilabel-indicator" or (
            y.shape[1] == 1 and set(np.unique(y)) <= {0, 1}))
        if not self.multilabel_:
            y = y.ravel()
            self.classes_ = np.unique(y)
            self.estimators_ = [self._base("lbfgs").fit(X, y, sample_weight=sample_weight)]
            return self
        self.classes_ = np.arange(y.shape[1])
        targets = [y[:, column].astype(int) for column in range(y.shape[1])]
        # One model per code, independent of the others: fitted side by side in worker
        # processes, each with its own fixed seed, so the result does not depend on how many.
        # Not threads: liblinear's dual solver draws from one random generator per process.
        # Forked workers share X and the loaded libraries; joblib's fresh interpreters each
        # imported scikit-learn and received X (at 10x the sample, 10.5 s against 7.4 s).
        parallel = IN_ORDER if self.parallel is None else self.parallel
        self.estimators_ = list(parallel.map(lambda target: self._fit_label(X, target, sample_weight), targets))
        self.fitted_labels_ = np.array([model is not None for model in self.estimators_])
        return self

    def _fit_label(self, X, target, sample_weight):
        positives = int(target.sum())
        if positives < self.min_examples or positives == len(target):
            return None
        model = self._base()
        if self.calibrate and positives >= 3:
            folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=self.random_state)
            model = CalibratedClassifierCV(model, method="sigmoid", cv=folds)
        return model.fit(X, target, sample_weight=sample_weight)

    def predict_proba(self, X):
        check_is_fitted(self, "estimators_")
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        if not self.multilabel_:
            return self.estimators_[0].predict_proba(X)
        out = np.zeros((X.shape[0], len(self.estimators_)))
        for column, model in enumerate(self.estimators_):
            if model is not None:
                out[:, column] = model.predict_proba(X)[:, 1]
        return out

    def predict(self, X):
        proba = self.predict_proba(X)
        if not self.multilabel_:
            return self.classes_[np.argmax(proba, axis=1)]
        return (proba >= self.threshold).astype(int)


def _marked(prompts):
    return ["prompt " + str(p) for p in prompts]


def _features() -> ColumnTransformer:
    # Character 4-grams only: on the sample as good as 3- to 5-grams (micro F1 0.363 both, macro
    # 0.281 both, `make evaluate`) with half the features, so the model fits 2.4 times faster.
    text = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, strip_accents="unicode")),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(4, 4), min_df=2, sublinear_tf=True)),
    ])
    # A fixed marker keeps the vocabulary non-empty when no segment has a question (documents).
    prompt = make_pipeline(FunctionTransformer(_marked, validate=False),
                           TfidfVectorizer(ngram_range=(1, 1), sublinear_tf=True, strip_accents="unicode"))
    return ColumnTransformer([("text", text, "text"), ("prompt", prompt, "prompt")],
                             transformer_weights={"text": 1.0, "prompt": 0.3})


def make_coder(min_examples: int = 5, threshold: float = 0.5, random_state: int = 0,
               parallel: Parallel | None = None) -> Pipeline:
    """Segment text and prompt (a DataFrame with ``text`` and ``prompt``) -> code probabilities."""
    return Pipeline([("features", _features()),
                     ("coder", SegmentCoder(min_examples=min_examples, threshold=threshold,
                                            random_state=random_state, parallel=parallel))])


def make_baseline(random_state: int = 0) -> Pipeline:
    """The plain reference: TF-IDF of the segment text and one logistic regression per code."""
    return make_pipeline(
        ColumnTransformer([("text", TfidfVectorizer(), "text")]),
        SegmentCoder(min_examples=1, calibrate=False, C=1.0, random_state=random_state))


def human_labels(segments: pd.DataFrame, codings: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """0/1 frame (human-coded segments x ``codes``): the union of every person's codes."""
    human = people_evidence(codings)
    coded = segments[segments["segment_id"].isin(set(human["segment_id"]))]
    matrix = pd.crosstab(human["segment_id"], human["code"]).clip(upper=1)
    return matrix.reindex(index=coded["segment_id"], columns=codes, fill_value=0).fillna(0).astype(int)


def codebook_examples(codebook, codes: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Definitions, inclusion rules and examples of ``codes`` as labelled training texts (none for a
    code that gives none: they are recommended, not required)."""
    rows, labels = [], []
    for index, code_id in enumerate(codes):
        code = codebook.by_id[code_id]
        texts = [t for _, t in code.definition.texts] + [t for _, t in code.include.texts] + list(code.examples)
        for text in (t for t in texts if t.strip()):
            rows.append({"text": text, "prompt": ""})
            label = np.zeros(len(codes), dtype=int)
            label[index] = 1
            labels.append(label)
    return pd.DataFrame(rows, columns=["text", "prompt"]), np.array(labels).reshape(-1, len(codes))


def learnable_codes(labels: pd.DataFrame, min_examples: int) -> list[str]:
    return [code for code in labels.columns if labels[code].sum() >= min_examples]


def fit_coder(segments: pd.DataFrame, labels: pd.DataFrame, codebook, codes: list[str], *,
              min_examples: int, threshold: float = 0.5, random_state: int = 0,
              parallel: Parallel | None = None) -> Pipeline:
    """Fit :func:`make_coder` on labelled segments plus the codebook's own texts for ``codes``."""
    train = segments.set_index("segment_id").loc[labels.index, ["text", "prompt"]].reset_index(drop=True)
    extra, extra_labels = codebook_examples(codebook, codes)
    X = pd.concat([train, extra], ignore_index=True)
    Y = np.vstack([labels[codes].to_numpy(), extra_labels])
    weights = np.concatenate([np.ones(len(train)), np.full(len(extra), CODEBOOK_WEIGHT)])
    model = make_coder(min_examples=min_examples, threshold=threshold, random_state=random_state, parallel=parallel)
    return model.fit(X, Y, coder__sample_weight=weights)


def suggest_codes(segments: pd.DataFrame, codings: pd.DataFrame, *, codebook, min_examples: int = 5,
                  threshold: float = 0.5, random_state: int = 0, parallel: Parallel = IN_ORDER) -> list[dict]:
    """Model codings (rows of CODINGS but the stance columns, status ``suggested``) for segments
    no person coded.

    Learns from the human codings in ``codings``; suggests only codes with at least
    ``min_examples`` human-coded segments, where the calibrated probability >= ``threshold``.
    ``parallel`` (:mod:`pipeline.seams`) shares the fit of the codes and the predictions
    between processes.
    """
    labels = human_labels(segments, codings, sorted(codebook.by_id))
    codes = learnable_codes(labels, min_examples)
    if not codes:
        return []
    model = fit_coder(segments, labels, codebook, codes, min_examples=min_examples, random_state=random_state,
                      parallel=parallel)
    uncoded = segments[~segments["segment_id"].isin(set(labels.index))]
    if uncoded.empty:
        return []
    rows = []
    # In chunks: the features of every uncoded segment of a large corpus at once take memory
    # in proportion to it. Chunks are worked out side by side (``parallel``).
    def probabilities_from(first: int) -> np.ndarray:
        return model.predict_proba(uncoded.iloc[first:first + PREDICT_CHUNK][["text", "prompt"]])

    firsts = range(0, len(uncoded), PREDICT_CHUNK)
    probabilities = list(parallel.map(probabilities_from, firsts))
    for first, proba in zip(firsts, probabilities):
        chunk = uncoded.iloc[first:first + PREDICT_CHUNK]
        columns = zip(*(chunk[c].tolist() for c in ("segment_id", "session_id", "start", "end")))
        for (segment_id, session_id, start, end), row in zip(columns, proba):
            for code, p in zip(codes, row):
                if p >= threshold:
                    rows.append({"segment_id": segment_id, "session_id": session_id, "code": code,
                                 "source": MODEL, "coder": MODEL_NAME, "start": start, "end": end,
                                 "match": "", "confidence": round(float(p), 4), "negated": False,
                                 "status": "suggested", "memo": ""})
    return rows

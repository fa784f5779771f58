"""Learned suggestions: which codes apply to a segment, learned from the human coding.

:class:`SegmentCoder` is a scikit-learn estimator on a numeric feature matrix: one logistic
regression per code (multi-label), probabilities calibrated by cross-validation (Platt
scaling), fitted only for codes with at least ``min_examples`` positive segments. Given the
sessions of its rows, the inner folds are grouped by session, and the threshold a code is
suggested at can be chosen on them (nested: never on the rows it is later measured on).
:func:`make_coder` puts it behind the text features that work for this kind of text: word and
character n-grams of the segment, the interviewer's question as context, and the segment's
multilingual sentence embedding (:mod:`pipeline.nlp.encoder`). The codebook's
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
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from pipeline.nlp.encoder import DIMENSIONS, embed, embed_segments
from pipeline.schemas import people_evidence
from pipeline.seams import IN_ORDER, NO_CACHE, Cache, Parallel
from pipeline.stages.coding.coder import MODEL

MODEL_NAME = "segment-coder"
CODEBOOK_WEIGHT = 0.5  # a codebook example counts half as much as a coded segment
EMBEDDING_WEIGHT = 1.0  # the sentence embedding's weight beside the words' (1.0) and the question's (0.3)
PREDICT_CHUNK = 4096  # segments whose suggestions are worked out together


class SegmentCoder(ClassifierMixin, BaseEstimator):
    """Multi-label coder: ``fit(X, Y)`` with ``Y`` a 0/1 matrix (segments x codes).

    Labels with fewer than ``min_examples`` positives are not learned: ``fitted_labels_``
    says which are, and their probabilities are 0. With a 1-D ``y`` it is an ordinary
    (binary or multi-class) logistic regression. ``parallel`` (a
    :class:`pipeline.seams.Parallel`; None: one after the other, here) shares the codes'
    models between processes. ``tune_thresholds``: False (every code at ``threshold``),
    ``"shared"`` (one threshold, the best micro F1 of the inner folds' out-of-fold
    probabilities) or ``"code"`` (each code's best F1 there); ``thresholds_`` holds them.
    """

    def __init__(self, C: float = 4.0, min_examples: int = 5, calibrate: bool = True, threshold: float = 0.5,
                 tune_thresholds: bool | str = False, random_state: int = 0, parallel: Parallel | None = None):
        self.C = C
        self.min_examples = min_examples
        self.calibrate = calibrate
        self.threshold = threshold
        self.tune_thresholds = tune_thresholds
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

    def fit(self, X, y, sample_weight=None, groups=None):
        """``groups`` (optional, one per row): the session of each row, so that the inner folds
        that calibrate and tune a code's threshold never split a session; rows whose group is
        None (the codebook's own texts) are always trained on, never held out."""
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
        fitted = list(parallel.map(lambda target: self._fit_label(X, target, sample_weight, groups), targets))
        self.estimators_ = [model for model, _ in fitted]
        self.thresholds_ = self._thresholds([scored for _, scored in fitted])
        self.fitted_labels_ = np.array([model is not None for model in self.estimators_])
        return self

    def _thresholds(self, scored: list) -> np.ndarray:
        """Each code's threshold: ``threshold``; with ``tune_thresholds`` ``"code"``, the one with
        the best F1 of the code's out-of-fold probabilities (``scored``: (truth, probability) or
        None per code); with ``"shared"`` (or True), the one with the best micro F1 of them all."""
        fixed = np.full(len(scored), self.threshold)
        if not self.tune_thresholds or not any(s is not None for s in scored):
            return fixed
        if self.tune_thresholds == "code":
            return np.array([self.threshold if s is None else best_threshold(*s, default=self.threshold)
                             for s in scored])
        truth = np.concatenate([s[0] for s in scored if s is not None])
        proba = np.concatenate([s[1] for s in scored if s is not None])
        return np.full(len(scored), best_threshold(truth, proba, default=self.threshold))

    def _fit_label(self, X, target, sample_weight, groups):
        """(model, scored) of one code: scored is (truth, out-of-fold probability) of the
        training rows the inner folds held out, or None; the model is None where not learned."""
        positives = int(target.sum())
        if positives < self.min_examples or positives == len(target):
            return None, None
        if not self.calibrate or positives < 3:
            return self._base().fit(X, target, sample_weight=sample_weight), None
        if groups is None and not self.tune_thresholds:
            folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=self.random_state)
            model = CalibratedClassifierCV(self._base(), method="sigmoid", cv=folds)
            return model.fit(X, target, sample_weight=sample_weight), None
        return self._fit_tuned(X, target, sample_weight, groups)

    def _fit_tuned(self, X, target, sample_weight, groups):
        """Nested: out-of-fold scores from inner folds of the training rows alone (grouped by
        session where groups are given) give the Platt calibration and, with
        ``tune_thresholds``, what :meth:`_thresholds` chooses the thresholds from; then the model
        is fitted on every training row."""
        weights = np.ones(len(target)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        held = np.ones(len(target), dtype=bool) if groups is None else np.array([g is not None for g in groups])
        rows = np.flatnonzero(held)
        sessions = None if groups is None else np.asarray(groups, dtype=object)[rows].astype(str)
        if sessions is None or len(set(sessions)) < 2:  # one session: its rows are all there is to fold
            inner = StratifiedKFold(n_splits=min(3, int(target[rows].sum()), int((1 - target[rows]).sum())),
                                    shuffle=True, random_state=self.random_state)
            splits = inner.split(rows, target[rows]) if inner.n_splits >= 2 else []
        else:
            inner = StratifiedGroupKFold(n_splits=min(3, len(set(sessions))), shuffle=True,
                                         random_state=self.random_state)
            splits = inner.split(rows, target[rows], groups=sessions)
        scores = np.full(len(target), np.nan)
        for train, test in splits:
            train = np.concatenate([rows[train], np.flatnonzero(~held)])
            if len(np.unique(target[train])) < 2:
                continue  # a fold without one of the classes teaches nothing
            model = self._base().fit(X[train], target[train], sample_weight=weights[train])
            scores[rows[test]] = model.decision_function(X[rows[test]])
        model = self._base().fit(X, target, sample_weight=sample_weight)
        scored = ~np.isnan(scores)
        if len(np.unique(target[scored])) < 2:
            return model, None
        platt = LogisticRegression(C=1e4, max_iter=1000).fit(scores[scored].reshape(-1, 1), target[scored])
        return _Platt(model, platt), (target[scored], platt.predict_proba(scores[scored].reshape(-1, 1))[:, 1])

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
        return (proba >= self.thresholds_).astype(int)


class _Platt:
    """A fitted linear model and the sigmoid that turns its scores into probabilities."""

    def __init__(self, model: LogisticRegression, platt: LogisticRegression):
        self.model, self.platt = model, platt

    def predict_proba(self, X) -> np.ndarray:
        return self.platt.predict_proba(self.model.decision_function(X).reshape(-1, 1))


THRESHOLDS = np.round(np.arange(0.1, 0.91, 0.05), 2)  # the thresholds a code's tuning chooses among


def best_threshold(truth: np.ndarray, proba: np.ndarray, *, default: float) -> float:
    """The threshold of :data:`THRESHOLDS` with the best F1 of ``proba`` against 0/1 ``truth``;
    among equal ones, the nearest to ``default``. ``default`` where nothing is predicted right."""
    positives = truth.sum()
    best, best_f1 = default, 0.0
    for threshold in sorted(THRESHOLDS, key=lambda t: (abs(t - default), t)):
        predicted = proba >= threshold
        hits = (predicted & (truth == 1)).sum()
        f1 = 2 * hits / (predicted.sum() + positives) if hits else 0.0
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(threshold), f1
    return best


def _marked(prompts):
    return ["prompt " + str(p) for p in prompts]


def _stacked(column) -> np.ndarray:
    return np.vstack(list(column)) if len(column) else np.zeros((0, DIMENSIONS), dtype=np.float32)


def _features(embeddings: bool = False) -> ColumnTransformer:
    # Character 4-grams only: on the sample as good as 3- to 5-grams (micro F1 0.363 both, macro
    # 0.281 both, `make evaluate`) with half the features, so the model fits 2.4 times faster.
    text = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, strip_accents="unicode")),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(4, 4), min_df=2, sublinear_tf=True)),
    ])
    # A fixed marker keeps the vocabulary non-empty when no segment has a question (documents).
    prompt = make_pipeline(FunctionTransformer(_marked, validate=False),
                           TfidfVectorizer(ngram_range=(1, 1), sublinear_tf=True, strip_accents="unicode"))
    parts = [("text", text, "text"), ("prompt", prompt, "prompt")]
    weights = {"text": 1.0, "prompt": 0.3}
    if embeddings:  # the segment's sentence embedding (:mod:`pipeline.nlp.encoder`), unit length
        parts.append(("meaning", FunctionTransformer(_stacked, validate=False), "embedding"))
        weights["meaning"] = EMBEDDING_WEIGHT
    return ColumnTransformer(parts, transformer_weights=weights)


def inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of ``frame`` the model reads: ``text``, ``prompt`` and, where present, ``embedding``."""
    return frame[[c for c in ("text", "prompt", "embedding") if c in frame.columns]]


def with_embeddings(segments: pd.DataFrame, cache: Cache = NO_CACHE) -> pd.DataFrame:
    """SEGMENTS with an ``embedding`` column (one vector per row), unless it has one."""
    if "embedding" in segments.columns:
        return segments
    return segments.assign(embedding=list(embed_segments(segments, cache)))


def make_coder(min_examples: int = 5, threshold: float = 0.5, random_state: int = 0,
               parallel: Parallel | None = None, tune_thresholds: bool | str = False, embeddings: bool = False) -> Pipeline:
    """Segment text and prompt (a DataFrame with ``text`` and ``prompt``, and ``embedding`` with
    ``embeddings``) -> code probabilities."""
    return Pipeline([("features", _features(embeddings)),
                     ("coder", SegmentCoder(min_examples=min_examples, threshold=threshold,
                                            tune_thresholds=tune_thresholds, random_state=random_state,
                                            parallel=parallel))])


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


def codebook_examples(codebook, codes: list[str], embeddings: Cache | None = None) -> tuple[pd.DataFrame, np.ndarray]:
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
    frame = pd.DataFrame(rows, columns=["text", "prompt"])
    if embeddings is not None:
        frame = frame.assign(embedding=list(embed(frame["text"].tolist(), embeddings)))
    return frame, np.array(labels).reshape(-1, len(codes))


def learnable_codes(labels: pd.DataFrame, min_examples: int) -> list[str]:
    return [code for code in labels.columns if labels[code].sum() >= min_examples]


def fit_coder(segments: pd.DataFrame, labels: pd.DataFrame, codebook, codes: list[str], *,
              min_examples: int, threshold: float = 0.5, random_state: int = 0,
              parallel: Parallel | None = None, tune_thresholds: bool | str = False,
              embeddings: Cache | None = None) -> Pipeline:
    """Fit :func:`make_coder` on labelled segments plus the codebook's own texts for ``codes``
    (none where ``codebook`` is None). With ``tune_thresholds`` (``"shared"`` or ``"code"``,
    see :class:`SegmentCoder`), the thresholds are the ones that code best in inner folds of
    these segments, grouped by session. With
    ``embeddings`` (the cache of sentence embeddings, :mod:`pipeline.nlp.encoder`), the
    segments' embeddings are features too (taken from their ``embedding`` column if they have one)."""
    if embeddings is not None:
        segments = with_embeddings(segments, embeddings)
    indexed = segments.set_index("segment_id").loc[labels.index]
    train = inputs(indexed).reset_index(drop=True)
    if codebook is None:  # no codebook texts (another team's corpus): the coded segments alone
        extra, extra_labels = train.iloc[:0], np.zeros((0, len(codes)), dtype=int)
    else:
        extra, extra_labels = codebook_examples(codebook, codes, embeddings)
    X = pd.concat([train, extra], ignore_index=True)
    Y = np.vstack([labels[codes].to_numpy(), extra_labels])
    weights = np.concatenate([np.ones(len(train)), np.full(len(extra), CODEBOOK_WEIGHT)])
    # Without sessions (a table of texts alone), the inner folds cannot keep sessions whole.
    groups = ([*indexed["session_id"].astype(str), *([None] * len(extra))] if "session_id" in indexed.columns
              else None)
    model = make_coder(min_examples=min_examples, threshold=threshold, random_state=random_state, parallel=parallel,
                       tune_thresholds=tune_thresholds, embeddings=embeddings is not None)
    return model.fit(X, Y, coder__sample_weight=weights, coder__groups=groups)


def suggest_codes(segments: pd.DataFrame, codings: pd.DataFrame, *, codebook, min_examples: int = 5,
                  threshold: float = 0.5, tune_thresholds: bool | str = False, random_state: int = 0,
                  parallel: Parallel = IN_ORDER, embeddings: Cache | None = None) -> list[dict]:
    """Model codings (rows of CODINGS but the stance columns, status ``suggested``) for segments
    no person coded.

    Learns from the human codings in ``codings``; suggests only codes with at least
    ``min_examples`` human-coded segments, where the calibrated probability >= ``threshold``
    (with ``tune_thresholds``: >= the threshold chosen in inner folds of the human coding,
    see :class:`SegmentCoder`; ``threshold`` where nothing could be chosen).
    ``parallel`` (:mod:`pipeline.seams`) shares the fit of the codes and the predictions
    between processes. ``embeddings``: the cache of sentence embeddings, which makes them
    features (None: the words alone).
    """
    labels = human_labels(segments, codings, sorted(codebook.by_id))
    codes = learnable_codes(labels, min_examples)
    if not codes:
        return []
    if embeddings is not None:
        segments = with_embeddings(segments, embeddings)
    model = fit_coder(segments, labels, codebook, codes, min_examples=min_examples, threshold=threshold,
                      random_state=random_state, parallel=parallel, tune_thresholds=tune_thresholds,
                      embeddings=embeddings)
    thresholds = model[-1].thresholds_
    uncoded = segments[~segments["segment_id"].isin(set(labels.index))]
    if uncoded.empty:
        return []
    rows = []
    # In chunks: the features of every uncoded segment of a large corpus at once take memory
    # in proportion to it. Chunks are worked out side by side (``parallel``).
    def probabilities_from(first: int) -> np.ndarray:
        return model.predict_proba(inputs(uncoded.iloc[first:first + PREDICT_CHUNK]))

    firsts = range(0, len(uncoded), PREDICT_CHUNK)
    probabilities = list(parallel.map(probabilities_from, firsts))
    for first, proba in zip(firsts, probabilities):
        chunk = uncoded.iloc[first:first + PREDICT_CHUNK]
        columns = zip(*(chunk[c].tolist() for c in ("segment_id", "session_id", "start", "end")))
        for (segment_id, session_id, start, end), row in zip(columns, proba):
            for code, p, least in zip(codes, row, thresholds):
                if p >= least:
                    rows.append({"segment_id": segment_id, "session_id": session_id, "code": code,
                                 "source": MODEL, "coder": MODEL_NAME, "start": start, "end": end,
                                 "match": "", "confidence": round(float(p), 4), "negated": False,
                                 "status": "suggested", "memo": ""})
    return rows

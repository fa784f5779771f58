"""Stance: whether a coded passage judges the evaluated project favourably, unfavourably, both,
or not at all (``positive``, ``negative``, ``mixed``, ``neutral``).

Three sources, in this order of precedence, recorded per coding in ``stance_by``:

- ``coder``: a person gave the stance in the coding file's ``stance`` column;
- ``model``: a classifier learned from those people's stances (:func:`fit_stance`), used when
  the human coding holds at least ``stance_model.min_examples`` stances of at least two kinds
  (``stance_model.method: auto``, the default) or always (``learned``);
- ``lexicon``: the codebook's stance vocabulary with negation (:mod:`pipeline.stages.coding.rules`), when no
  model can be learned or ``stance_model.method`` is ``lexicon``.

The vocabulary measures wording: "el problema es la minería" describes the context and reads
negative, "faltaban escalones en el marco lógico" judges the project and reads negative too. A
person's stance is about the project, and a model learned from people's stances follows them
better (``make evaluate`` measures both against the coders, by session-held-out folds).

Each coding is judged on its own passage: a person's span, the sentences of the segment that
hold a rule's match, or the whole segment for a model suggestion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.schemas import CONTEXT, STANCES
from pipeline.seams import NO_CACHE, Cache, cache_key

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

STANCE_BY = ("coder", "model", "lexicon")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def passages(codings: pd.DataFrame, segments: pd.DataFrame) -> list[str]:
    """The text each coding's stance is judged on, in ``codings``' order."""
    # Columns as lists: iterating an Arrow-backed column reads one Python object at a time.
    text_of = dict(zip(segments["segment_id"].tolist(), segments["text"].tolist()))
    start_of = dict(zip(segments["segment_id"].tolist(), segments["start"].tolist()))
    out = []
    for segment_id, source, start, end in zip(*(codings[c].tolist() for c in ("segment_id", "source", "start", "end"))):
        text, offset = text_of.get(segment_id, ""), start_of.get(segment_id, 0)
        if source == "model":
            out.append(text)
        elif source == "human":
            out.append(text[max(start - offset, 0):max(end - offset, 0)] or text)
        else:
            out.append(_sentences_around(text, start - offset, end - offset))
    return out


def _sentences_around(text: str, start: int, end: int) -> str:
    """The sentences of ``text`` that overlap [start, end)."""
    picked, position = [], 0
    for sentence in _SENTENCE_END.split(text):
        begin = text.find(sentence, position)
        finish = begin + len(sentence)
        position = finish
        if begin < max(end, start + 1) and finish > start:
            picked.append(sentence)
    return " ".join(picked) or text


def make_stance_model(seed: int = 0) -> Pipeline:
    """Passage text -> stance: word and character n-grams, multinomial logistic regression."""
    # scikit-learn is imported where a model is made: a run whose stances all come from the
    # cache (or from the lexicon) does not spend a second importing it.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode")),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)),
    ])
    return Pipeline([("features", features),
                     ("stance", LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000,
                                                   random_state=seed))])


def labelled(codings: pd.DataFrame) -> pd.Series:
    """Mask of the codings whose stance a person gave on a respondent's passage (a coding of
    context is no example to learn from)."""
    coder = codings["stance_by"] == "coder"
    return coder & (codings["status"] != CONTEXT) if "status" in codings.columns else coder


def learnable(codings: pd.DataFrame, min_examples: int) -> bool:
    """Enough people's stances to learn from: ``min_examples`` of them, of at least two kinds."""
    stances = codings.loc[labelled(codings), "stance"]
    return len(stances) >= min_examples and stances.nunique() >= 2


def fit_stance(texts: list[str], stances: list[str], seed: int = 0) -> Pipeline:
    """:func:`make_stance_model` fitted on passages and their stances, whatever their order.

    A passage given the same stance several times (two coders, or the same words coded twice)
    is one training example weighted by how often it was given."""
    pairs = pd.DataFrame({"text": texts, "stance": stances}).value_counts(sort=False).sort_index()
    unique = pairs.index.to_frame(index=False)
    return make_stance_model(seed).fit(unique["text"].tolist(), unique["stance"].tolist(),
                                       stance__sample_weight=pairs.to_numpy(dtype=float))


@dataclass(frozen=True)
class StanceResult:
    codings: pd.DataFrame
    method: str  # "learned" or "lexicon": what judged the codings no person gave a stance to
    examples: int  # the people's stances it learned from


def assign_stances(codings: pd.DataFrame, segments: pd.DataFrame, *, method: str, min_examples: int,
                   seed: int = 0, cache: Cache = NO_CACHE) -> StanceResult:
    """CODINGS with ``stance`` and ``stance_by`` set from the best source each coding has.

    ``codings`` comes with the coders' stances (``stance_by`` ``coder``) and the lexicon's
    (``lexicon``). With ``method`` ``learned``, or ``auto`` and enough coders' stances, a model
    learned from the coders' stances judges every other coding (``model``). ``cache`` (a
    :class:`pipeline.seams.Cache` of tables) keeps the model's judgement of each passage it has
    seen, per training set, so a rerun fits and predicts only for passages it has not judged yet.
    """
    examples = int(labelled(codings).sum())
    use_model = method == "learned" or (method == "auto" and learnable(codings, min_examples))
    if not use_model or not learnable(codings, 2):
        return StanceResult(codings, "lexicon", examples)
    texts = passages(codings, segments)
    mask = labelled(codings).to_numpy()
    training = pd.DataFrame({"text": [t for t, m in zip(texts, mask) if m],
                             "stance": codings.loc[mask, "stance"].astype(str).tolist()})
    training = training.sort_values(["text", "stance"], kind="stable").reset_index(drop=True)
    context = (codings["status"] == CONTEXT).to_numpy() if "status" in codings.columns else np.zeros(len(mask), bool)
    others = np.flatnonzero(~mask & ~context)  # a coding of context keeps what its coder or the lexicon said
    stance, stance_by = codings["stance"].to_numpy(copy=True), codings["stance_by"].to_numpy(copy=True)
    if len(others):
        judged = _judge([texts[i] for i in others], training, seed, cache)
        stance[others] = [judged[texts[i]] for i in others]
        stance_by[others] = "model"
    judged_codings = codings.assign(
        stance=pd.Series(stance, index=codings.index, dtype=codings["stance"].dtype),
        stance_by=pd.Series(stance_by, index=codings.index, dtype=codings["stance_by"].dtype))
    return StanceResult(judged_codings, "learned", examples)


def _judge(texts: list[str], training: pd.DataFrame, seed: int, cache: Cache) -> dict[str, str]:
    """{passage: stance} for ``texts``: read from the cache, the rest predicted and added to it."""
    key = cache_key(training, seed, "stance-1")
    table = cache.get(key)
    known: dict[str, str] = {}
    if table is not None and {"text", "stance"} <= set(table.columns):  # else damaged: judged again
        known = dict(zip(table["text"], table["stance"]))
    missing = sorted(set(texts) - set(known))
    if missing:
        model = fit_stance(training["text"].tolist(), training["stance"].tolist(), seed)
        known |= dict(zip(missing, model.predict(missing).tolist()))
        cache.put(key, pd.DataFrame(sorted(known.items()), columns=["text", "stance"]))
    return known


def cross_validate(codings: pd.DataFrame, segments: pd.DataFrame, *, folds: int = 5, seed: int = 0) -> dict:
    """The learned stance and the lexicon's against the coders' stances, sessions held out.

    ``codings`` holds the coders' stances (``stance_by`` ``coder``) and, in ``lexicon_stance``,
    what the vocabulary says of the same passages.
    """
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import GroupKFold

    mask = labelled(codings)
    coded = codings[mask].reset_index(drop=True)
    if len(coded) < folds or coded["session_id"].nunique() < folds or coded["stance"].nunique() < 2:
        return {"passages": len(coded), "note": "too few coders' stances to measure"}
    texts = passages(coded, segments)
    truth = coded["stance"].to_numpy()
    predicted = np.empty(len(coded), dtype=object)
    for train, test in GroupKFold(n_splits=folds).split(texts, truth, coded["session_id"]):
        model = fit_stance([texts[i] for i in train], truth[train].tolist(), seed)
        predicted[test] = model.predict([texts[i] for i in test])
    lexicon = coded["lexicon_stance"].to_numpy()

    def scores(guess) -> dict:
        return {"accuracy": round(float(accuracy_score(truth, guess)), 3),
                "macro_f1": round(float(f1_score(truth, guess, labels=list(STANCES), average="macro",
                                                 zero_division=0)), 3)}

    majority = pd.Series(truth).value_counts().index[0]
    return {"passages": len(coded), "sessions": int(coded["session_id"].nunique()), "folds": folds,
            "coders": {s: int((truth == s).sum()) for s in STANCES},
            "learned": scores(predicted), "lexicon": scores(lexicon),
            "majority_class": {"stance": majority, **scores(np.full(len(truth), majority))}}

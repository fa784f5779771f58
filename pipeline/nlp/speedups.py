"""How the parse is made fast without changing what it finds: each speed-up keeps the
trained model's own tags, morphology, lemmas and sentences (tested in ``tests/test_nlp.py``).

What was measured, on the sample:

- :func:`with_numpy_blas`: the neural networks' matrix products done by numpy's BLAS, not
  thinc's default (blis): 1.8 times faster on the 2-core machine CI runs on, with the same
  tags and lemmas for every one of the sample's 285,853 tokens.
- :func:`drop_tag_rules`: the attribute rules that set nothing but ``token.tag_`` (which no
  step reads) removed: 13% of the parse.
- :class:`ArrayLemmatizer`: the lemmatizer asked once per distinct input and applied from
  arrays: 0.15 s against 0.55 s, one thread, of a 9 s parse.
- :func:`distinct`: a token attribute's distinct values read from arrays, not through a
  Python token for each word.
"""

from __future__ import annotations

import numpy
from spacy.attrs import IDS
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import NumpyOps

# Distinct inputs the array lemmatizer keeps what it worked out for (about 35 MB at most; the
# sample has 10,000), then starts over.
_MAX_CACHED = 100_000

# What a spaCy lemmatizer reads of a token (checked against every language's in spaCy 3.8: the
# word, its part of speech, its morphology, whether it starts a sentence) and its lemma so far.
_LEMMA_INPUTS = [IDS["ORTH"], IDS["POS"], IDS["MORPH"], IDS["SENT_START"], IDS["LEMMA"]]


class ArrayLemmatizer:
    """A pipeline's own lemmatizer, asked once per distinct :data:`_LEMMA_INPUTS` and applied
    from arrays, where spaCy's calls it with a Python token for every word: on the sample, one
    thread, 0.15 s against 0.55 s (of a 9 s parse). The lemmas are the lemmatizer's own (tested)."""

    def __init__(self, lemmatizer):
        self.lemmatizer = lemmatizer
        self.strings = lemmatizer.vocab.strings
        self._lemmas: dict[tuple[int, ...], int] = {}  # the input hashes -> the lemma's hash

    def _lemma(self, doc: Doc, index: int, key: tuple[int, ...]) -> int:
        lemma = key[-1]
        if self.lemmatizer.overwrite or not lemma:
            lemma = self.strings.add(self.lemmatizer.lemmatize(doc[index])[0])
        if len(self._lemmas) >= _MAX_CACHED:
            self._lemmas.clear()  # memory stays bounded on a large corpus
        self._lemmas[key] = lemma
        return lemma

    def __call__(self, doc: Doc) -> Doc:
        if len(doc):
            lemmas = self._lemmas
            values = [lemmas.get(key) or self._lemma(doc, index, key)
                      for index, key in enumerate(map(tuple, doc.to_array(_LEMMA_INPUTS).tolist()))]
            doc.from_array([IDS["LEMMA"]], numpy.asarray(values, dtype=numpy.uint64))
        return doc


@Language.factory("array_lemmatizer")
def make_array_lemmatizer(nlp: Language, name: str) -> ArrayLemmatizer:
    """Wraps the pipeline's ``lemmatizer`` (see :func:`lemmas_from_arrays`)."""
    lemmatizer = nlp.get_pipe("lemmatizer")
    lemmatizer(nlp.make_doc(""))  # checks its tables, as its first call does
    return ArrayLemmatizer(lemmatizer)


def lemmas_from_arrays(nlp: Language) -> None:
    """Replace ``nlp``'s lemmatizer by an :class:`ArrayLemmatizer` around it, under its name."""
    if "lemmatizer" in nlp.pipe_names:
        nlp.add_pipe("array_lemmatizer", name="array_lemmatizer", after="lemmatizer")
        nlp.remove_pipe("lemmatizer")
        nlp.rename_pipe("array_lemmatizer", "lemmatizer")


def distinct(docs: list[Doc], attr: str) -> set[str]:
    """The distinct values of a token attribute (``"NORM"``, ``"LOWER"``...) across ``docs``,
    read as arrays, not through a Python token for each word."""
    if not docs:
        return set()
    strings = docs[0].vocab.strings
    hashes = numpy.unique(numpy.concatenate([doc.to_array(IDS[attr]) for doc in docs]))
    return {strings[int(value)] for value in hashes}


def drop_tag_rules(nlp: Language) -> None:
    """Remove the attribute rules that set nothing but ``token.tag_``, which no step reads
    (the Spanish model's copy each POS into the tag): 13% of the parse, with the same POS,
    morphology, lemmas and sentences on the sample. Rules that set anything else are kept."""
    if "attribute_ruler" not in nlp.pipe_names:
        return
    ruler = nlp.get_pipe("attribute_ruler")
    kept = [rule for rule in ruler.patterns if set(rule["attrs"]) - {"TAG"}]
    if len(kept) < len(ruler.patterns):
        ruler.clear()
        ruler.add_patterns(kept)


def with_numpy_blas(nlp: Language) -> Language:
    """``nlp`` with its neural networks' matrix products done by numpy's BLAS, not thinc's
    default (blis): on the 2-core machine CI runs on that parses the sample 1.8 times faster,
    with the same tags and lemmas for every one of its 285,853 tokens. Processes sharing the
    work use one BLAS thread each (the parallel map the wiring hands in sees to that)."""
    ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is not None and hasattr(model, "walk"):
            for node in model.walk():
                node.ops = ops
    return nlp

"""spaCy pipelines per language, and a disk cache of parsed documents.

Only the components a step needs are loaded: for segmentation and rule coding that is the
tokenizer, the tagger/morphologizer and the lemmatizer, plus a rule-based sentencizer and
``folded_norms`` (``token.norm_`` = the folded lemma the codebook's rules match on, computed
where each transcript is parsed and kept in the cache); the parser and the named-entity
recogniser (the expensive parts) stay out.

Parsed documents are cached as one ``DocBin`` per session, keyed by a hash of the texts and
of the pipeline's identity (model name and version, spaCy version, components), so a second
run parses nothing and a changed transcript or model reparses only what changed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import unicodedata
import warnings
from pathlib import Path

import numpy
import spacy
from spacy.attrs import IDS
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from thinc.api import NumpyOps

from pipeline.errors import ModelError, PipelineWarning, Problem
from pipeline.runtime.cache import write_atomic
from pipeline.seams import IN_ORDER, Parallel

# Bump when the way texts are prepared for parsing changes, to invalidate old caches.
CACHE_VERSION = "3"
_EXCLUDED = ["parser", "ner", "senter"]


@functools.lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without accents: how lemma phrases and stance words are compared."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.lru_cache(maxsize=None)
def lemma_table(language: str) -> dict[str, str]:
    """spaCy's lookup lemmas for ``language`` (from spacy-lookups-data), or an empty mapping.

    A plain dict read from the package's data file: spaCy's own ``Table`` hashes every one of
    the half million Spanish forms as it loads, which took 1.4 s against 0.3 s."""
    try:
        from spacy.lookups import load_language_data
        from spacy.util import registry

        if language not in registry.lookups:
            return {}
        tables = registry.lookups.get(language)
        return dict(load_language_data(tables["lemma_lookup"])) if "lemma_lookup" in tables else {}
    except (ValueError, KeyError, ImportError, OSError):
        return {}


@Language.component("folded_norms")
def set_norms(doc: Doc) -> Doc:
    """``token.norm_`` = the folded lemma.

    Two gaps are filled from the lookup table of the lower-cased word: a blank pipeline's
    case-sensitive lookup misses capitalised words ("Protocols"), and the Spanish rules leave
    plural adjectives as they are ("útiles"). The table is not used for other words, whose
    rule lemma is better (it would turn "mesa" into "mesar").
    """
    table = lemma_table(doc.lang_)
    for token in doc:
        lemma = token.lemma_ or token.text
        if lemma.lower() == token.lower_ and token.pos_ in ("", "ADJ"):
            candidate = table.get(token.lower_)
            if candidate and (token.pos_ == "" or len(candidate) < len(token.lower_)):
                lemma = candidate
        token.norm_ = fold(lemma)
    return doc


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


def release_lookup_tables() -> None:
    """Let go of the lookup lemmas :func:`lemma_table` loaded (about 75 MB for Spanish), once
    parsing is done: workers forked later would each count them too. A later parse loads them
    again."""
    lemma_table.cache_clear()


def _drop_tag_rules(nlp: Language) -> None:
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
    work use one BLAS thread each (:mod:`pipeline.runtime.parallel`)."""
    ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is not None and hasattr(model, "walk"):
            for node in model.walk():
                node.ops = ops
    return nlp


@functools.lru_cache(maxsize=None)
def load_pipeline(language: str, model: str | None) -> Language:
    """The pipeline that reads ``language``: ``model`` if given, else a blank one.

    Raises :class:`ModelError` if ``model`` is not installed.
    """
    if model:
        with warnings.catch_warnings():
            # The Spanish model was trained with spaCy 3.1 and loads fine in 3.8 (W095).
            warnings.filterwarnings("ignore", message=r".*\[W095\]")
            try:
                nlp = spacy.load(model, exclude=_EXCLUDED)
            except OSError:
                raise ModelError(f"the spaCy model '{model}' (for language '{language}') is not "
                                 f"installed. Run `make install`, or change nlp.models in "
                                 f"evaluation.yaml.") from None
        _drop_tag_rules(nlp)
        lemmas_from_arrays(nlp)
        nlp.add_pipe("sentencizer")
        nlp.add_pipe("folded_norms")
        return with_numpy_blas(nlp)
    try:
        nlp = spacy.blank(language)
    except ImportError:
        warnings.warn(PipelineWarning(Problem(
            "evaluation.yaml", f"spaCy has no rules for language '{language}'; its transcripts are "
                               f"read with the multi-language tokenizer and without lemmas.",
            "Map the language to a trained pipeline in nlp.models if one exists.")))
        nlp = spacy.blank("xx")
    nlp.add_pipe("sentencizer")
    try:
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()
    except (ValueError, KeyError, ImportError, OSError):
        nlp.remove_pipe("lemmatizer")
        nlp.initialize()
    nlp.add_pipe("folded_norms")
    return nlp


@functools.lru_cache(maxsize=None)
def parse_identity(language: str, model: str | None) -> str:
    """What parsing ``language`` depends on, without loading the pipeline: the model package
    and its installed version (or a blank pipeline), spaCy's version and :data:`CACHE_VERSION`.
    For caches of what is computed from parsed documents."""
    version = ""
    if model:
        try:
            version = importlib.metadata.version(model)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
    return "|".join([language, model or "blank", version, spacy.__version__, CACHE_VERSION])


def pipeline_id(nlp: Language) -> str:
    """What a cached document depends on besides its text."""
    meta = nlp.meta
    return "|".join([nlp.lang, meta.get("name", ""), meta.get("version", ""), spacy.__version__,
                     ",".join(nlp.pipe_names), CACHE_VERSION])


class DocCache:
    """``DocBin`` files under ``folder``, one per (pipeline, list of texts)."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def key(self, nlp: Language, texts: list[str]) -> str:
        digest = hashlib.sha256(pipeline_id(nlp).encode())
        for text in texts:
            digest.update(b"\0" + text.encode())
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.spacy"

    def has(self, nlp: Language, texts: list[str]) -> bool:
        return self.folder is not None and self._path(self.key(nlp, texts)).is_file()

    def get(self, nlp: Language, texts: list[str]) -> list[Doc] | None:
        if self.folder is None:
            return None
        path = self._path(self.key(nlp, texts))
        if not path.is_file():
            return None
        try:
            docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
        except (ValueError, OSError):
            return None  # a damaged cache entry is parsed again and overwritten
        # The key hashes the texts; a cheap check that the entry holds docs of their lengths
        # (``doc.text`` would rebuild every string from the tokens).
        if [d[-1].idx + len(d[-1].text_with_ws) if len(d) else 0 for d in docs] != [len(t) for t in texts]:
            return None
        return docs

    def put(self, nlp: Language, texts: list[str], docs: list[Doc]) -> None:
        if self.folder is None:
            return
        write_atomic(self._path(self.key(nlp, texts)), DocBin(docs=docs, store_user_data=False).to_bytes())


def parsed_docs(language: str, texts: list[str], *, models: dict[str, str], cache: DocCache,
                batch_size: int = 64) -> list[Doc]:
    """One group's docs: read from ``cache``, or parsed here (and stored) when missing or damaged."""
    nlp = load_pipeline(language, models.get(language))
    docs = cache.get(nlp, texts)
    if docs is None:
        docs = list(nlp.pipe(texts, batch_size=batch_size))
        cache.put(nlp, texts, docs)
    return docs


def fill_cache(groups: list[tuple[str, list[str]]], *, models: dict[str, str], cache: DocCache,
               batch_size: int = 64, parallel: Parallel = IN_ORDER) -> int:
    """Parse the groups missing from ``cache`` and store them; returns how many were parsed.

    With ``parallel`` (see :mod:`pipeline.seams`), whole groups are shared between its
    processes, each of which writes its groups to the cache
    itself: no document is (de)serialised per text between processes, as spaCy's ``n_process``
    does (at 10x the sample that cost the main process about 40 s, mostly srsly's registry
    lookups per document). Forked workers share the loaded pipelines.
    """
    if cache.folder is None:
        return 0  # nothing to fill: each group is parsed where it is needed
    missing = [(language, texts) for language, texts in groups
               if not cache.has(load_pipeline(language, models.get(language)), texts)]
    # Largest first, so the last group to finish is a small one.
    missing.sort(key=lambda group: -sum(map(len, group[1])))
    words = sum(len(text) for _, texts in missing for text in texts) // 6
    # A worker costs a process start: worth it only for a sizeable amount of text.
    shared = parallel if words >= 20_000 else IN_ORDER
    list(shared.map(lambda group: _parse_into(cache.folder, group[0], models.get(group[0]), group[1], batch_size),
                    missing))
    return len(missing)


def _parse_into(folder: Path, language: str, model: str | None, texts: list[str], batch_size: int) -> None:
    """Parse one group and write it to the cache in ``folder`` (in a worker, or in this process)."""
    nlp = load_pipeline(language, model)
    DocCache(folder).put(nlp, texts, list(nlp.pipe(texts, batch_size=batch_size)))

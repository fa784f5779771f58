"""spaCy pipelines per language, and the parsed documents of a list of texts.

Only the components a step needs are loaded: for segmentation and rule coding that is the
tokenizer, the tagger/morphologizer and the lemmatizer, plus a rule-based sentencizer and
``folded_norms`` (``token.norm_`` = the folded lemma the codebook's rules match on, computed
where each transcript is parsed and kept in the cache, :mod:`pipeline.nlp.norms`); the parser
and the named-entity recogniser (the expensive parts) stay out. How the trained pipeline is
made faster without changing what it finds is :mod:`pipeline.nlp.speedups`.

Parsed documents are kept in the parse cache the wiring hands in (``cache``, a
:class:`pipeline.seams.ParseCache`), one entry per session, keyed by the texts and by the
pipeline's identity (:func:`pipeline_id`: model name and version, spaCy version, components),
so a second run parses nothing and a changed transcript or model reparses only what changed.
"""

from __future__ import annotations

import functools
import importlib.metadata
import warnings

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.errors import ModelError, PipelineWarning, Problem
from pipeline.nlp.norms import FOLDED_NORMS
from pipeline.nlp.speedups import drop_tag_rules, lemmas_from_arrays, with_numpy_blas
from pipeline.seams import IN_ORDER, Parallel, ParseCache

# Bump when the way texts are prepared for parsing changes, to invalidate old caches.
CACHE_VERSION = "3"
_EXCLUDED = ["parser", "ner", "senter"]


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
        drop_tag_rules(nlp)
        lemmas_from_arrays(nlp)
        nlp.add_pipe("sentencizer")
        nlp.add_pipe(FOLDED_NORMS)
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
    nlp.add_pipe(FOLDED_NORMS)
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


def parsed_docs(language: str, texts: list[str], *, models: dict[str, str], cache: ParseCache,
                batch_size: int = 64) -> list[Doc]:
    """One group's docs: read from ``cache``, or parsed here (and stored) when missing or damaged."""
    nlp = load_pipeline(language, models.get(language))
    docs = cache.get(nlp, texts)
    if docs is None:
        docs = list(nlp.pipe(texts, batch_size=batch_size))
        cache.put(nlp, texts, docs)
    return docs


def fill_cache(groups: list[tuple[str, list[str]]], *, models: dict[str, str], cache: ParseCache,
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
    list(shared.map(lambda group: _parse_into(cache, group[0], models.get(group[0]), group[1], batch_size),
                    missing))
    return len(missing)


def _parse_into(cache: ParseCache, language: str, model: str | None, texts: list[str], batch_size: int) -> None:
    """Parse one group and write it to ``cache`` (in a forked worker, which inherits the cache,
    or in this process)."""
    nlp = load_pipeline(language, model)
    cache.put(nlp, texts, list(nlp.pipe(texts, batch_size=batch_size)))

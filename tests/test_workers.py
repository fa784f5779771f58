"""Forked workers: the same results as in one process, in order, errors raised here."""

from __future__ import annotations

import os
import threading
import time

import pytest

from pipeline.nlp.pipelines import fill_cache
from pipeline.runtime.doc_cache import DocCache
from pipeline.runtime.parallel import _malloc_trim, forked_map, release_freed_memory
from pipeline.runtime.parallel import Workers


def test_forked_workers_give_the_results_of_one_process_in_order():
    lock = threading.Lock()  # cannot be pickled: a forked worker inherits it with the closure

    def square(n):
        time.sleep(0.01)  # long enough that this process cannot be left nothing to do
        with lock:
            return n * n, os.getpid()

    forked = forked_map(square, range(20), processes=2)
    assert [value for value, _ in forked] == [n * n for n in range(20)]
    # Two processes: this one and one forked worker, which did some of the items.
    assert len({pid for _, pid in forked}) == 2 and os.getpid() in {pid for _, pid in forked}
    three = forked_map(square, range(20), processes=3)
    assert [value for value, _ in three] == [n * n for n in range(20)] and len({pid for _, pid in three}) <= 3
    assert [pid for _, pid in forked_map(square, range(3), processes=1)] == [os.getpid()] * 3
    # Fewer items than min_items are done here; as many are shared with a worker.
    assert [pid for _, pid in forked_map(square, range(7), processes=2, min_items=8)] == [os.getpid()] * 7
    assert len({pid for _, pid in forked_map(square, range(8), processes=2, min_items=8)}) == 2
    # share=False: the workers do every item, this process none.
    alone = forked_map(square, range(8), processes=2, share=False)
    assert [value for value, _ in alone] == [n * n for n in range(8)]
    assert os.getpid() not in {pid for _, pid in alone}


def test_items_done_here_run_with_one_blas_thread_as_in_the_workers():
    from threadpoolctl import threadpool_info

    def blas_threads(n):
        return os.getpid(), max((lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"),
                                default=1)

    assert {threads for _, threads in forked_map(blas_threads, range(12), processes=2)} == {1}


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
    assert fill_cache(groups, models={}, cache=one) == 30
    assert fill_cache(groups, models={}, cache=two, parallel=Workers(2)) == 30  # over 20,000 words: in workers
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.spacy"))
    assert len(files) == 30
    for name in files:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert fill_cache(groups, models={}, cache=two, parallel=Workers(2)) == 0


def test_transcripts_read_in_workers_keep_order_and_report_each_bad_file(tmp_path):
    from pipeline.config.evaluation import load_evaluation
    from pipeline.errors import InputError
    from pipeline.stages.ingest.transcripts import read_transcripts

    from conftest import REGISTER, S1, write_evaluation

    rows = [f"s{n}.txt,S{n},interview,justice_sector,es,1,cusco,2024-09-01" for n in range(10)]
    files = {f"s{n}.txt": S1.replace("fiscalía", f"fiscalía {n}") for n in range(10)}
    files["s4.txt"] = b"\x00\x01\x02 not a transcript \xff\xfe"
    files["s7.txt"] = ""
    codebook, transcripts = write_evaluation(tmp_path, files=files,
                                             register=REGISTER.splitlines()[0] + "\n" + "\n".join(rows) + "\n")
    evaluation = load_evaluation(codebook)
    assert evaluation.nlp.processes == 2
    errors: list = []
    table = read_transcripts(transcripts, evaluation=evaluation, errors=errors, parallel=Workers(2))
    assert list(table["session_id"]) == [f"S{n}" for n in range(10) if n not in (4, 7)]
    assert all(f"fiscalía {n}" in text for n, text in zip([0, 1, 2, 3, 5, 6, 8, 9], table["text"]))
    assert sorted({p.file.rsplit("/", 1)[-1] for p in errors}) == ["s4.txt", "s7.txt"]
    with pytest.raises(InputError, match="s4.txt"):
        read_transcripts(transcripts, evaluation=evaluation, parallel=Workers(2))


def test_a_run_in_worker_processes_writes_what_one_process_writes(tmp_path, capsys):
    # Ten sessions: reading, the privacy scan, segmenting and rule matching go to the workers.
    from pipeline import flow
    from pipeline.runtime.progress import log_progress

    from conftest import EVALUATION_YAML, REGISTER, S1, write_evaluation

    rows = [f"s{n}.txt,S{n},interview,justice_sector,es,1,cusco,2024-09-01" for n in range(10)]
    files = {f"s{n}.txt": S1.replace("fiscalía", f"fiscalía número {n}") + ("F: Diseño útil.\n" * n) for n in range(10)}
    register = REGISTER.splitlines()[0] + "\n" + "\n".join(rows) + "\n"
    outputs = []
    for processes in (1, 2):
        evaluation = EVALUATION_YAML.replace("nlp:\n", f"nlp:\n  processes: {processes}\n", 1)
        codebook, transcripts = write_evaluation(tmp_path / str(processes), evaluation=evaluation, files=files,
                                                 register=register)
        out = tmp_path / str(processes) / "out"
        flow.run(codebook, transcripts, out, progress=log_progress())
        outputs.append(out)
    for name in ("segments.csv", "codings.csv", "evidence.json", "sessions.csv"):
        assert (outputs[0] / name).read_bytes() == (outputs[1] / name).read_bytes(), name
    printed = capsys.readouterr().err
    for stage in ("read", "segment", "code"):  # each stage's progress ends with its total
        assert f"[{stage}] 10/10 done in" in printed


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(_malloc_trim() is None or not os.path.exists("/proc/self/statm"),
                    reason="needs glibc's malloc_trim and /proc (Linux)")
def test_memory_freed_in_the_heap_goes_back_to_the_system():
    # 200 MB of heap blocks (under glibc's mmap threshold), then one kept above them: freeing
    # the blocks leaves their memory in the heap, counted as resident, until it is trimmed.
    blocks = [bytearray(2000) for _ in range(100_000)]
    kept = bytearray(2000)
    del blocks
    before = _resident_mb()
    release_freed_memory()
    assert before - _resident_mb() > 100
    assert kept is not None

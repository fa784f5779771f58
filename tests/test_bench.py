"""The benchmark's corpus builder (benchmarks/corpus.py) and codebook edit, on a few sessions.

No timing here: `make bench` measures; these tests only check that a corpus of N copies is a
valid evaluation N times the size, with nothing a cache could share between copies.
"""

from __future__ import annotations

import csv
import shutil
import sys
import warnings
import zipfile
from pathlib import Path

import pytest

from pipeline import commands
from pipeline.config.codebook import load_codebook
from pipeline.stages.ingest.formats import read_text
from pipeline.stages.coding.human import read_human_coding
from pipeline.stages.ingest.transcripts import read_transcripts
from pipeline.stages.turns import build_turns

from conftest import ROOT, SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS

sys.path.insert(0, str(ROOT))
from benchmarks.corpus import build_corpus, copy_id, copy_phrase, number_words  # noqa: E402

# One session of each shape: plain UTF-8, Markdown with front matter, Word, WebVTT in English,
# Windows-1252 with CRLF line ends, SubRip.
SUBSET = ("S01", "S02", "S03", "S04", "S05", "S06")


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def _write(path: Path, header: list[str], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    """The sample's sessions in SUBSET, with their register rows and human coding, plus one
    coding row on S02 (its front matter names the session, so its offsets shift in a copy)."""
    folder = tmp_path_factory.mktemp("subset")
    header, rows = _rows(SAMPLE_TRANSCRIPTS / "register.csv")
    rows = [r for r in rows if r["session_id"] in SUBSET]
    for row in rows:
        shutil.copy2(SAMPLE_TRANSCRIPTS / row["file"], folder / row["file"])
    _write(folder / "register.csv", header, rows)
    s02 = read_text(folder / next(r["file"] for r in rows if r["session_id"] == "S02")).text
    quote = "Buenas tardes, sí, encantada."
    start = s02.index(quote)
    for name in ("coder_A.csv", "coder_B.csv"):
        coding_header, coding = _rows(SAMPLE_TRANSCRIPTS / "coding" / name)
        coding = [r for r in coding if r["session_id"] in SUBSET]
        coding.append({**{c: "" for c in coding_header}, "session_id": "S02", "code": "strategic_partnerships",
                       "coder": name[-5], "start": str(start), "end": str(start + len(quote)), "quote": quote})
        _write(folder / "coding" / name, coding_header, coding)
    return folder


@pytest.fixture(scope="module")
def corpus(subset, tmp_path_factory):
    return build_corpus(subset, SAMPLE_CODEBOOK, tmp_path_factory.mktemp("corpus") / "x2", 2, check="all")


@pytest.fixture(scope="module")
def book():
    return load_codebook(SAMPLE_CODEBOOK)


def _read(folder: Path, book):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_transcripts(folder, evaluation=book.evaluation)


@pytest.fixture(scope="module")
def texts(subset, corpus, book) -> tuple[dict[str, str], dict[str, str]]:
    """(session -> text) of the subset and of the corpus."""
    return tuple(dict(zip(t["session_id"], t["text"])) for t in (_read(subset, book), _read(corpus.folder, book)))


def test_number_words():
    assert [number_words(n, "es") for n in (1, 16, 21, 30, 42, 50, 100, 123)] == [
        "uno", "dieciséis", "veintiuno", "treinta", "cuarenta y dos", "cincuenta", "cien", "ciento veintitrés"]
    assert [number_words(n, "en") for n in (7, 19, 40, 42, 150)] == [
        "seven", "nineteen", "forty", "forty-two", "one hundred fifty"]
    assert copy_phrase(3, "es") == "copia tres." and copy_phrase(3, "en") == "copy three."


def test_every_copy_has_a_new_session_id_and_file_in_the_same_format(subset, corpus):
    _, rows = _rows(corpus.folder / "register.csv")
    ids = [r["session_id"] for r in rows]
    assert corpus.sessions == len(rows) == 2 * len(SUBSET)
    assert len(set(ids)) == len(ids) and not set(ids) & set(SUBSET)
    assert set(ids) == {copy_id(s, k) for s in SUBSET for k in (1, 2)}
    for row in rows:
        original = row["file"].replace("-c01", "").replace("-c02", "")
        assert Path(row["file"]).suffix == Path(original).suffix
        assert (subset / original).is_file()
    docx = [r["file"] for r in rows if r["file"].endswith(".docx")]
    assert docx and all(zipfile.is_zipfile(corpus.folder / f) for f in docx)
    cp1252 = next(r["file"] for r in rows if r["session_id"] == "S05-c01")
    assert read_text(corpus.folder / cp1252).encoding == read_text(subset / "S05_gore_puno.txt").encoding
    assert b"\r\n" in (corpus.folder / cp1252).read_bytes()


def test_every_copy_text_differs_from_the_original_and_from_the_other_copy(corpus, texts):
    original, copies = texts
    for session in SUBSET:
        first, second = copies[copy_id(session, 1)], copies[copy_id(session, 2)]
        assert len({original[session], first, second}) == 3
    assert corpus.words == sum(len(t.split()) for t in copies.values())


def test_the_corpus_passes_the_pipelines_own_validation(corpus):
    result = commands.validate(SAMPLE_CODEBOOK, corpus.folder)
    assert result.counts["sessions"] == 2 * len(SUBSET)


def test_coding_rows_are_copied_and_point_at_the_same_words(subset, corpus, texts, book):
    original, copies = texts
    for name in ("coder_A.csv", "coder_B.csv"):
        _, before = _rows(subset / "coding" / name)
        _, after = _rows(corpus.folder / "coding" / name)
        assert len(after) == 2 * len(before)
        for k, rows in ((1, after[:len(before)]), (2, after[len(before):])):
            for old, new in zip(before, rows):
                assert new["session_id"] == copy_id(old["session_id"], k)
                if old["start"]:
                    assert (copies[new["session_id"]][int(new["start"]):int(new["end"])]
                            == original[old["session_id"]][int(old["start"]):int(old["end"])])
    transcripts = _read(corpus.folder, book)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        turns = build_turns(transcripts, interviewer_labels=book.evaluation.interviewer_labels)
    placed, unplaced = read_human_coding(sorted((corpus.folder / "coding").glob("*.csv")), transcripts=transcripts,
                                         turns=turns, codebook=book)
    assert len(placed) == corpus.coding_rows and unplaced.empty


def test_the_codebook_edit_keeps_the_codebook_valid(tmp_path):
    pytest.importorskip("psutil")
    from benchmarks.bench import EDIT_CODE, EDIT_PHRASE, edit_codebook

    codebook = tmp_path / "codebook"
    shutil.copytree(SAMPLE_CODEBOOK, codebook)
    edit_codebook(codebook)
    code = next(c for c in load_codebook(codebook).codes if c.id == EDIT_CODE)
    assert EDIT_PHRASE in str(code.patterns)


def test_the_memory_sampler_counts_the_worker_processes_of_a_run(tmp_path):
    """A child that starts a grandchild holding 200 MB: the tree's peak holds it, in RSS and PSS."""
    pytest.importorskip("psutil")
    from benchmarks.bench import measure

    script = ("import subprocess, sys\n"
              "holder = 'import time; data = bytearray(200 * 2**20); data[::4096] = b\"x\" * len(data[::4096]); time.sleep(2)'\n"
              "subprocess.run([sys.executable, '-c', holder], check=True)\n")
    measured = measure([sys.executable, "-c", script], logs=tmp_path, name="tree", timeout=60)
    assert measured["status"] == "ok"
    assert measured["peak_rss_mb"] >= 200
    assert measured["peak_pss_mb"] >= 200
    assert measured["sampler_cores_busy"] is not None


def test_a_size_is_extrapolated_as_a_fixed_cost_plus_a_cost_per_copy():
    pytest.importorskip("psutil")
    from benchmarks.bench import ESTIMATE_MARGIN, _extrapolate, estimate

    assert _extrapolate([(1, 20.0)], 10) == pytest.approx(200.0)  # one size: linear
    # 20 s at 1x and 65 s at 10x: 15 s fixed, 5 s a copy; 50x is 265 s, with the margin.
    assert _extrapolate([(1, 20.0), (10, 65.0)], 50) == pytest.approx(265.0 * ESTIMATE_MARGIN)
    # Never above linear growth from the last size, and linear when time did not grow.
    assert _extrapolate([(1, 1.0), (10, 100.0)], 50) == pytest.approx(500.0)
    assert _extrapolate([(1, 3.0), (10, 2.0)], 50) == pytest.approx(10.0)
    results = [{"size": 1, "build_seconds": 1.0, "runs": {"naive": {"seconds": 10.0}, "cold": {"seconds": 20.0},
                                                          "warm-edit": {"status": "failed"}}},
               {"size": 10, "build_seconds": 10.0, "runs": {"naive": {"seconds": 100.0}, "cold": {"seconds": 65.0}}}]
    # The naive reference is not run at 50x, so it does not count; building grows linearly.
    assert estimate(results, 50, {1, 10}) == pytest.approx(50.0 + 265.0 * ESTIMATE_MARGIN)

"""REFI-QDA: the export validates and is reproducible, a round trip gives back what went out,
the importer finds how another tool counted positions (a real NVivo export), errors name the place."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from pipeline import commands, flow, schemas
from pipeline.exchange import refi
from pipeline.exchange.refi import positions
from pipeline.exchange.spreadsheets import formula_restored
from pipeline.config.codebook import Code, Codebook, load_codebook
from pipeline.config.evaluation import Evaluation
from pipeline.errors import InputError
from pipeline.runtime.outputs import FIXED_TIME
from pipeline.text import normalise

from conftest import EVALUATION_YAML, SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS, write_evaluation

REFI = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "refi"
XSD = REFI / "Project-mrt2019.xsd"
NVIVO = REFI / "oltas0517.qdpx"


def project_schema() -> etree.XMLSchema:
    if not XSD.is_file():
        pytest.skip(f"the REFI-QDA schema is not at {XSD} (shared real data, not shipped with the project)")
    return etree.XMLSchema(etree.parse(str(XSD)))


def assert_valid(xml: bytes) -> None:
    schema = project_schema()
    assert schema.validate(etree.fromstring(xml)), "\n".join(str(e) for e in schema.error_log)


@pytest.fixture
def tiny_run(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path)
    flow.run(codebook, transcripts, tmp_path / "reports")
    return codebook, transcripts, tmp_path / "reports"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "reports"
    flow.run(SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS, out)
    return out


# ---------------------------------------------------------------- export

def test_export_of_the_sample_validates_against_the_schema(sample_run, tmp_path):
    path = refi.export_qdpx(SAMPLE_CODEBOOK, sample_run, tmp_path / "sample.qdpx", transcripts_dir=SAMPLE_TRANSCRIPTS)
    with zipfile.ZipFile(path) as archive:
        assert_valid(archive.read("project.qde"))
        assert len([n for n in archive.namelist() if n.startswith("sources/")]) == 60
    codings = refi.exported_codings(commands.read_table(sample_run, schemas.CODINGS))
    project = refi.read_qdpx(path)
    assert len(project.codings) == len(codings) > 0
    assert {c.source for c in codings.itertuples()} <= {"human", "rule", "model"}
    assert all(d.convention == refi.STANDARD for d in project.detections)
    texts = commands.read_table(sample_run, schemas.TRANSCRIPTS).set_index("session_id")["text"]
    assert {s.name: s.text for s in project.sources} == texts.to_dict()


def test_export_is_byte_identical_and_keeps_only_accepted_codings(tiny_run, tmp_path):
    codebook, transcripts, reports = tiny_run
    first = refi.export_qdpx(codebook, reports, tmp_path / "a.qdpx", transcripts_dir=transcripts)
    second = refi.export_qdpx(codebook, reports, tmp_path / "b.qdpx", transcripts_dir=transcripts)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == sorted(archive.namelist())
        assert {i.date_time for i in archive.infolist()} == {FIXED_TIME}
        xml = archive.read("project.qde")
    assert_valid(xml)
    root = etree.fromstring(xml)
    q = "{urn:QDA-XML:project:1.0}"
    assert [s.get("name") for s in root.iter(q + "Set")][:2] == [
        "EQ1: ¿Respondió el diseño a las necesidades?", "EQ2: How adequate was the monitoring system?"]
    assert {c.get("name") for c in root.iter(q + "Case")} == {"S1", "S2"}
    codings = commands.read_table(reports, schemas.CODINGS)
    assert len(list(root.iter(q + "Coding"))) == len(refi.exported_codings(codings))
    assert not (codings["status"] == "suggested").any() or len(refi.exported_codings(codings)) < len(codings)


def test_export_without_a_run_says_to_run_first(tiny, tmp_path):
    with pytest.raises(InputError, match=r"has no transcripts or codings table\..*make run"):
        refi.export_qdpx(tiny[0], tmp_path / "reports", tmp_path / "x.qdpx")


def test_export_notices_a_transcript_changed_since_the_run(tiny_run, tmp_path):
    codebook, transcripts, reports = tiny_run
    (transcripts / "s1.txt").write_text("E: Hola.\nF: Otra cosa.\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"s1\.txt: is not the transcript the run .* read\. Run the pipeline again"):
        refi.export_qdpx(codebook, reports, tmp_path / "x.qdpx", transcripts_dir=transcripts)


def test_codebook_qdc_holds_the_code_tree_and_imports_into_a_loadable_code_file(tiny, tmp_path):
    book = load_codebook(tiny[0])
    path = refi.write_qdc(book, tmp_path / "tiny.qdc")
    root = etree.parse(str(path)).getroot()
    assert root.tag == "{urn:QDA-XML:codebook:1.0}CodeBook"
    # The codebook schema is not at hand; its Codes are the project schema's: validate them in a Project.
    codes = etree.tostring(root[0]).replace(b"urn:QDA-XML:codebook:1.0", b"urn:QDA-XML:project:1.0")
    assert_valid(b'<Project xmlns="urn:QDA-XML:project:1.0" name="check"><CodeBook>' + codes + b"</CodeBook></Project>")
    folder = tmp_path / "imported_codebook"
    folder.mkdir()
    (folder / "evaluation.yaml").write_text(EVALUATION_YAML, encoding="utf-8")
    target = refi.import_qdc(path, folder)
    assert target.name == "codes_tiny.yaml"
    loaded = load_codebook(folder)
    assert [(c.id, c.parent, c.definition.get("es")) for c in loaded.codes] == [
        (c.id, c.parent, c.definition.get("es")) for c in book.codes]
    assert loaded.by_id["design_needs"].include.get() == "TODO: when to use this code."
    with pytest.raises(InputError, match="exists already"):
        refi.import_qdc(path, folder)


def test_a_file_that_is_no_code_book_says_what_to_give(tmp_path):
    broken = tmp_path / "broken.qdc"
    broken.write_text("<CodeBook><Codes>", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.qdc: is not a readable XML code book .*Export the code book again"):
        refi.read_qdc(broken)
    project = tmp_path / "project.qdc"
    project.write_text('<Project xmlns="urn:QDA-XML:project:1.0" name="x"/>', encoding="utf-8")
    with pytest.raises(InputError, match=r"project\.qdc: has the root element <Project>, not <CodeBook>\. .*import-qdpx"):
        refi.import_qdc(project, tmp_path)


# ---------------------------------------------------------------- round trip

EVALUATION = Evaluation.model_validate(yaml.safe_load(EVALUATION_YAML))
LETTERS = "abcdeñáéíóúüßçøЖжλ漢字"
SEPARATORS = [" ", ", ", "\r\n", "\n", ". ", " 😀 ", "\t", " 𝔘𝔙 ", "\r\n\r\n", "¿", "—"]


@st.composite
def corpora(draw):
    """(codebook, transcripts, codings): non-ASCII words, CRLF line ends before normalisation,
    characters outside the BMP; spans start and end outside words, as coded spans do."""
    ids = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), min_size=1, max_size=5, unique=True))
    words = st.text(alphabet=LETTERS + "😀.¡", min_size=1, max_size=12).map(str.strip).filter(bool)
    codes = []
    for index, code_id in enumerate(ids):
        parent = draw(st.sampled_from([None] + ids[:index]))
        codes.append(Code.model_validate({
            "id": code_id, "label": code_id, "definition": draw(words), "include": "i", "exclude": "e",
            "examples": ["x"], **({"parent": parent} if parent else {"questions": ["EQ1", "EQ2"]})}))
    codebook = Codebook(evaluation=EVALUATION, codes=tuple(codes))
    sessions, codings = [], []
    for number in range(1, draw(st.integers(1, 3)) + 1):
        parts = draw(st.lists(st.tuples(st.text(alphabet=LETTERS, min_size=1, max_size=8), st.sampled_from(SEPARATORS)),
                              min_size=1, max_size=25))
        text = normalise("".join(word + separator for word, separator in parts))
        session = f"S{number}"
        sessions.append({"session_id": session, "file": f"{session}.txt", "method": "interview",
                         "stakeholder_group": draw(st.sampled_from(["donor", "justice_sector"])),
                         "language": draw(st.sampled_from(["es", "en"])), "participants": draw(st.integers(1, 9)),
                         "region": draw(st.sampled_from(["", "lima", "cusco"])), "date": "", "institution": "",
                         "interviewer": "", "women": None, "men": None, "notes": "", "format": "txt",
                         "encoding": "utf-8", "sha256": "", "text": text})
        bounds = [i for i in range(len(text) + 1) if not positions._inside_word(text, i)]
        for _ in range(draw(st.integers(0, 8))):
            start, end = sorted(draw(st.lists(st.sampled_from(bounds), min_size=2, max_size=2, unique=True)))
            source = draw(st.sampled_from(["human", "rule", "model"]))
            codings.append({"segment_id": f"{session}-x", "session_id": session, "code": draw(st.sampled_from(ids)),
                            "source": source, "coder": draw(st.sampled_from(["A", "Beatriz Ñ", "coord-token"])),
                            "start": start, "end": end, "match": "", "confidence": 1.0, "stance": "neutral",
                            "negated": False, "hedged": False,
                            "status": "accepted" if source != "model" else draw(st.sampled_from(["accepted", "suggested"])),
                            "memo": draw(st.sampled_from(["", "nota: línea 😀", "otra"]))})
    transcripts = schemas.conform(sessions, schemas.TRANSCRIPTS)
    codings = schemas.conform(codings, schemas.CODINGS).drop_duplicates(list(schemas.CODINGS.key))
    return codebook, transcripts, codings


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora())
def test_round_trip_gives_back_the_sources_codebook_and_codings(corpus):
    codebook, transcripts, codings = corpus
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path = refi.write_qdpx(codebook, transcripts, codings, folder / "eval.qdpx")
        assert refi.write_qdpx(codebook, transcripts, codings, folder / "again.qdpx").read_bytes() == path.read_bytes()
        report = refi.import_qdpx(path, folder / "imported")
        out = folder / "imported"
        assert all(d.convention == refi.STANDARD for _, d in report.detections)
        texts = {p.stem: p.read_bytes().decode("utf-8") for p in (out / "transcripts").glob("*.txt")}
        assert texts == dict(zip(transcripts["session_id"], transcripts["text"]))
        register = pd.read_csv(out / "transcripts" / "register.csv", dtype=str, keep_default_na=False)
        assert list(register.columns) == schemas.REGISTER_COLUMNS
        columns = ["session_id", "method", "stakeholder_group", "language", "participants", "region"]
        assert register[columns].values.tolist() == transcripts[columns].astype(str).values.tolist()
        back = pd.read_csv(out / "transcripts" / "coding" / "eval.csv", dtype=str, keep_default_na=False)
        back = back.map(formula_restored)  # a quote starting like a formula is written with ' before it (OWASP)
        assert list(back.columns) == schemas.HUMAN_CODING_COLUMNS
        key = ["session_id", "code", "coder", "start", "end", "memo"]
        sent = refi.exported_codings(codings)
        assert sorted(map(tuple, back[key].values.tolist())) == sorted(map(tuple, sent[key].astype(str).values.tolist()))
        text = dict(zip(transcripts["session_id"], transcripts["text"]))
        assert all(text[r.session_id][int(r.start):int(r.end)] == r.quote for r in back.itertuples())
        loaded = load_codebook(out / "codebook")
        assert sorted((c.id, c.parent, c.definition.get()) for c in loaded.codes) == sorted(
            (c.id, c.parent, c.definition.get("es")) for c in codebook.codes)


# ---------------------------------------------------------------- conventions

TEXT = normalise("Primera línea con un emoji 😀 y más palabras.\r\nSegunda línea: coordinación 𝔘 en Cusco.\r\n"
                 "Tercera, con 🎉🎉 fiestas y reuniones de trabajo.\r\nÚltima línea del texto.")


def _tool_project(tmp_path: Path, convention: refi.Convention, spans: list[tuple[int, int]]) -> Path:
    """A project as a tool counting positions in ``convention`` writes it (CRLF, a BOM if it counts one)."""
    offsets = positions._offsets(TEXT, convention)
    selections = "".join(
        f'<PlainTextSelection guid="00000000-0000-4000-8000-{i:012d}" startPosition="{offsets[s]}" '
        f'endPosition="{offsets[e]}"><Coding guid="00000000-0000-4000-9000-{i:012d}">'
        f'<CodeRef targetGUID="00000000-0000-4000-a000-000000000001"/></Coding></PlainTextSelection>'
        for i, (s, e) in enumerate(spans))
    xml = ('<?xml version="1.0" encoding="utf-8"?><Project xmlns="urn:QDA-XML:project:1.0" name="t">'
           '<CodeBook><Codes><Code guid="00000000-0000-4000-a000-000000000001" name="Código" isCodable="true"/>'
           '</Codes></CodeBook><Sources><TextSource guid="00000000-0000-4000-b000-000000000001" name="Fuente 1" '
           f'plainTextPath="internal://src.txt">{selections}</TextSource></Sources></Project>')
    body = ("\ufeff" if convention.bom else "") + TEXT.replace("\n", "\r\n" if convention.line_end == 2 else "\n")
    path = tmp_path / f"tool_{convention.unit[:4]}{convention.line_end}{int(convention.bom)}.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", xml)
        archive.writestr("Sources/SRC.TXT" if convention.bom else "sources/src.txt", body.encode("utf-8"))
    return path


@pytest.mark.parametrize("convention", refi.CONVENTIONS, ids=str)
def test_the_importer_detects_how_a_tool_counted_and_converts(convention, tmp_path):
    words = [(m.start(), m.end()) for m in __import__("re").finditer(r"\w+", TEXT)]
    spans = [(words[i][0], words[i + 1][1]) for i in range(0, len(words) - 1, 2)]
    project = refi.read_qdpx(_tool_project(tmp_path, convention, spans))
    (detection,) = project.detections
    assert detection.convention == convention and detection.score == 1.0
    assert sorted((c.start, c.end) for c in project.codings) == spans
    wrong = dict(detection.scores)
    assert all(score is None or score <= 0.75 for c, score in wrong.items() if c != convention)


def test_nvivo_export_imports_with_its_convention(tmp_path):
    if not NVIVO.is_file():
        pytest.skip(f"the NVivo 12.6 export is not at {NVIVO} (shared real data, not shipped with the project)")
    report = refi.import_qdpx(NVIVO, tmp_path / "nvivo")
    assert (report.sources, report.codes, report.codings) == (2, 152, 303)
    project = refi.read_qdpx(NVIVO)
    texts = {s.guid: s.text for s in project.sources}
    at_boundary = [not positions._inside_word(texts[c.source], c.start) for c in project.codings]
    assert sum(at_boundary) / len(at_boundary) >= 0.9
    nvivo = refi.Convention("UTF-16 code units", 2, False)
    coded = next(d for d in project.detections if d.selections)
    assert coded.convention == nvivo and coded.score >= 0.95
    scores = dict(coded.scores)
    assert scores[refi.STANDARD] < 0.2  # counting code points would put most selections inside words
    assert max(s for c, s in scores.items() if c != nvivo) < coded.score - 0.2
    assert "UTF-16 code units, line ends count 2" in report.summary()
    load_codebook(tmp_path / "nvivo" / "codebook")  # the stub codebook is valid
    coding = pd.read_csv(tmp_path / "nvivo" / "transcripts" / "coding" / "oltas0517.csv", dtype=str,
                         keep_default_na=False)
    assert len(coding) == 303 and set(coding["coder"]) == {"Gergo"}


# ---------------------------------------------------------------- errors

def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_errors_name_the_file_the_element_and_the_fix(tmp_path):
    not_zip = tmp_path / "a.qdpx"
    not_zip.write_text("hello", encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.qdpx: is not a REFI-QDA project: it cannot be opened as a zip"):
        refi.read_qdpx(not_zip)
    with pytest.raises(InputError, match=r"b\.qdpx: holds no project\.qde\. Export the project again"):
        refi.read_qdpx(_zip(tmp_path / "b.qdpx", {"other.txt": "x"}))
    with pytest.raises(InputError, match=r"c\.qdpx, line 1: project\.qde is not valid XML"):
        refi.read_qdpx(_zip(tmp_path / "c.qdpx", {"project.qde": "<Project name='x'><Sources>"}))
    outside = ('<Project xmlns="urn:QDA-XML:project:1.0" name="x"><Sources><TextSource guid="g1" name="s">'
               '<PlainTextContent>Hola mundo</PlainTextContent><PlainTextSelection guid="sel-9" startPosition="2" '
               'endPosition="400"/></TextSource></Sources></Project>')
    with pytest.raises(InputError, match=r"d\.qdpx, TextSource g1 \(s\), PlainTextSelection sel-9: a selection "
                                         r"\(2-400\) ends beyond the text"):
        refi.read_qdpx(_zip(tmp_path / "d.qdpx", {"project.qde": outside}))
    missing = outside.replace("<PlainTextContent>Hola mundo</PlainTextContent>", "").replace(
        'name="s">', 'name="s" plainTextPath="internal://g1.txt">')
    with pytest.raises(InputError, match=r"TextSource g1 refers to internal://g1\.txt, which the archive does not"):
        refi.read_qdpx(_zip(tmp_path / "e.qdpx", {"project.qde": missing}))

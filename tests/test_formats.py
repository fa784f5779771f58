"""Every transcript shape and encoding the product reads, from small fixtures made here."""

from __future__ import annotations

import codecs
import unicodedata

import docx
import pytest

from pipeline.errors import TranscriptError
from pipeline.stages.ingest.formats import READERS, ExtractedText, extension_list, read_text, reader

SPANISH = "E: ¿Cómo está?\nF: Bien, señora. La coordinación mejoró.\n"


def make_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with ``lines`` of Latin-1 text in Helvetica (WinAnsi encoding)."""
    def escape(text: str) -> str:
        out = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return "".join(c if ord(c) < 128 else f"\\{ord(c):03o}" for c in out)

    stream = "BT /F1 11 Tf 14 TL 72 720 Td " + " ".join(f"({escape(l)}) Tj T*" for l in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    body, offsets = b"%PDF-1.4\n", []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(body)
    body += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    body += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    body += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return body


@pytest.mark.parametrize("encoding, data", [
    ("utf-8", SPANISH.encode("utf-8")),
    ("utf-8-sig", codecs.BOM_UTF8 + SPANISH.encode("utf-8")),
    ("utf-16", SPANISH.encode("utf-16")),  # with BOM, native order
    ("utf-16", codecs.BOM_UTF16_BE + SPANISH.encode("utf-16-be")),
    ("cp1252", SPANISH.encode("cp1252")),
    ("cp1252", SPANISH.encode("latin-1")),  # Latin-1 text is Windows-1252 text here
])
def test_every_encoding_gives_the_same_normalised_text(tmp_path, encoding, data):
    path = tmp_path / "t.txt"
    path.write_bytes(data)
    extracted = read_text(path)
    assert extracted.text == SPANISH
    assert extracted.encoding == encoding


def test_windows_1252_specific_characters_decode(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("F: “Así es” — dijo… ¿no?\r\n".encode("cp1252"))
    assert read_text(path).text == "F: “Así es” — dijo… ¿no?\n"


def test_line_ends_and_unicode_form_are_normalised(tmp_path):
    path = tmp_path / "t.txt"
    decomposed = unicodedata.normalize("NFD", "F: Sí, la niña.\r\nE: ¿Y?\rF: Ya.")
    path.write_bytes(decomposed.encode("utf-8"))
    text = read_text(path).text
    assert text == "F: Sí, la niña.\nE: ¿Y?\nF: Ya."
    assert unicodedata.is_normalized("NFC", text)


def test_undecodable_bytes_name_the_file_and_the_fix(tmp_path):
    path = tmp_path / "broken.txt"
    path.write_bytes(b"F: texto \x81\x8d roto")  # invalid UTF-8, undefined in Windows-1252
    with pytest.raises(TranscriptError) as caught:
        read_text(path, "broken.txt")
    message = str(caught.value)
    assert message.startswith("broken.txt: cannot be decoded")
    assert "save it as UTF-8" in message


def test_utf16_without_bom_is_reported_as_binary(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(SPANISH.encode("utf-16-le"))
    with pytest.raises(TranscriptError, match="binary data"):
        read_text(path)


@pytest.mark.parametrize("content", [b"", b"  \n\n "])
def test_empty_file_is_an_error(tmp_path, content):
    path = tmp_path / "t.txt"
    path.write_bytes(content)
    with pytest.raises(TranscriptError, match="is empty"):
        read_text(path)


def test_unsupported_extension(tmp_path):
    path = tmp_path / "t.doc"
    path.write_bytes(b"x")
    with pytest.raises(TranscriptError, match="unsupported extension '.doc'"):
        read_text(path)


def test_markdown_front_matter_is_kept_in_the_text_and_skipped_as_speech(tmp_path):
    path = tmp_path / "t.md"
    path.write_text("---\nsession_id: S9\ntitle: Entrevista\n---\nE: Hola\nF: Hola.\n", encoding="utf-8")
    extracted = read_text(path)
    assert extracted.front_matter == {"session_id": "S9", "title": "Entrevista"}
    assert extracted.text.startswith("---\n")
    assert extracted.text[extracted.body_start:] == "E: Hola\nF: Hola.\n"


def test_broken_front_matter_names_its_line(tmp_path):
    path = tmp_path / "t.md"
    path.write_text("---\nsession_id: S9\ntitle: [sin cerrar\n---\nF: Hola.\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match=r"t.md, line \d+: has a front matter block that is not valid YAML"):
        read_text(path, "t.md")


def test_docx_paragraphs_and_tables_in_document_order(tmp_path):
    document = docx.Document()
    document.add_paragraph("[00:00:05] MODERADORA: ¿Quiénes participan?")
    document.add_paragraph("[00:00:09] P1: Yo, trabajadora social.")
    table = document.add_table(rows=2, cols=3)
    for row, cells in zip(table.rows, [("00:01:00", "P2", "Psicóloga."), ("00:01:10", "P3", "Educador.")]):
        for cell, value in zip(row.cells, cells):
            cell.text = value
    document.add_paragraph("Sigue hablando P3.")
    path = tmp_path / "t.docx"
    document.save(path)
    extracted = read_text(path)
    assert extracted.format == "docx"
    assert extracted.text == ("[00:00:05] MODERADORA: ¿Quiénes participan?\n"
                              "[00:00:09] P1: Yo, trabajadora social.\n"
                              "00:01:00 P2: Psicóloga.\n00:01:10 P3: Educador.\n"
                              "Sigue hablando P3.")


def test_a_file_named_docx_that_is_not_one(tmp_path):
    path = tmp_path / "t.docx"
    path.write_bytes(b"just text")
    with pytest.raises(TranscriptError, match="is not a readable Word .docx file"):
        read_text(path)


def test_pdf_text_is_extracted(tmp_path):
    path = tmp_path / "t.pdf"
    path.write_bytes(make_pdf(["E: Buenos días.", "F: La coordinación mejoró mucho."]))
    extracted = read_text(path)
    assert extracted.format == "pdf"
    assert extracted.text.split("\n") == ["E: Buenos días.", "F: La coordinación mejoró mucho."]


def test_pdf_without_text_is_an_error(tmp_path):
    path = tmp_path / "t.pdf"
    path.write_bytes(make_pdf([]))
    with pytest.raises(TranscriptError, match="no extractable text"):
        read_text(path)


VTT = """\
WEBVTT

NOTE recorded call, consent given

1
00:00:01.000 --> 00:00:04.000
<v Interviewer>Thanks for joining.
How relevant was it?</v>

2
00:00:05.000 --> 00:00:07.500
<v Donor officer>Very relevant.</v>

00:00:07.600 --> 00:00:09.000
<v Donor officer>It answered <i>real</i> needs.</v>

00:01:10.000 --> 00:01:12.000
<v.loud Interviewer>And monitoring?</v>
"""


def test_vtt_voices_become_labelled_turns(tmp_path):
    path = tmp_path / "t.vtt"
    path.write_text(VTT, encoding="utf-8")
    assert read_text(path).text == (
        "[00:00:01] Interviewer: Thanks for joining. How relevant was it?\n"
        "[00:00:05] Donor officer: Very relevant. It answered real needs.\n"
        "[00:01:10] Interviewer: And monitoring?\n")


def test_vtt_without_header_is_an_error(tmp_path):
    path = tmp_path / "t.vtt"
    path.write_text(VTT.replace("WEBVTT", "WEBTVV"), encoding="utf-8")
    with pytest.raises(TranscriptError, match="is not a WebVTT file"):
        read_text(path)


SRT = """\
1
00:00:01,000 --> 00:00:03,000
Entrevistador: ¿Cómo trabajan
con los adolescentes?

2
00:00:03,500 --> 00:00:06,000
Coordinadora: Con mucho cuidado.

3
00:00:06,100 --> 00:00:08,000
Y con poco presupuesto.

4
00:00:09,000 --> 00:00:10,000
Entrevistador: Gracias.
"""


def test_srt_speaker_prefixes_and_continuation_cues(tmp_path):
    path = tmp_path / "t.srt"
    path.write_bytes(SRT.replace("\n", "\r\n").encode("cp1252"))
    extracted = read_text(path)
    assert extracted.encoding == "cp1252"
    assert extracted.text == (
        "[00:00:01] Entrevistador: ¿Cómo trabajan con los adolescentes?\n"
        "[00:00:03] Coordinadora: Con mucho cuidado. Y con poco presupuesto.\n"
        "[00:00:09] Entrevistador: Gracias.\n")


def test_subtitle_cue_without_timing_names_its_line(tmp_path):
    path = tmp_path / "t.srt"
    path.write_text(SRT.replace("00:00:06,100 --> 00:00:08,000", "00:00:06 a 00:00:08"), encoding="utf-8")
    with pytest.raises(TranscriptError, match=r"t.srt, line 10: has a subtitle cue without a valid timing"):
        read_text(path, "t.srt")


def test_odt_paragraphs_lists_and_tables_in_document_order(tmp_path):
    from odfdo import Document, Header, List, Paragraph, Row, Table

    document = Document("text")
    document.body.clear()
    document.body.append(Header(1, "Entrevista 3"))
    document.body.append(Paragraph("[00:00:05] MODERADORA: ¿Quiénes participan?"))
    table = Table("turns")
    for cells in [("00:01:00", "P2", "Psicóloga."), ("00:01:10", "P3", "Educador.")]:
        row = Row()
        row.set_values(list(cells))
        table.append_row(row)
    document.body.append(table)
    document.body.append(List(["uno", "dos"]))
    document.body.append(Paragraph("P3: Sigue\thablando."))
    document.save(tmp_path / "t.odt")
    extracted = read_text(tmp_path / "t.odt")
    assert extracted.format == "odt"
    assert extracted.text == ("Entrevista 3\n[00:00:05] MODERADORA: ¿Quiénes participan?\n"
                              "00:01:00 P2: Psicóloga.\n00:01:10 P3: Educador.\nuno\ndos\nP3: Sigue\thablando.")


@pytest.mark.parametrize("data, message", [
    (b"just text", "is not a readable OpenDocument .odt file"),
    (None, "is an OpenDocument file but not a text document"),
])
def test_a_file_named_odt_that_is_not_a_text_document(tmp_path, data, message):
    from odfdo import Document

    path = tmp_path / "t.odt"
    if data is None:
        Document("spreadsheet").save(path)
    else:
        path.write_bytes(data)
    with pytest.raises(TranscriptError, match=message):
        read_text(path)


RTF = (r"{\rtf1\ansi\ansicpg1252\deff0 {\fonttbl {\f0 Arial;}}\f0 "
       r"E: \'bfC\'f3mo le fue?\par F: Bien \u8212? gracias.\par}")


def test_rtf_text_with_its_escapes_decoded(tmp_path):
    path = tmp_path / "t.rtf"
    path.write_bytes(RTF.encode("ascii"))
    extracted = read_text(path)
    assert extracted.format == "rtf"
    assert extracted.text == "E: ¿Cómo le fue?\nF: Bien — gracias.\n"


def test_a_file_named_rtf_that_is_not_one(tmp_path):
    path = tmp_path / "t.rtf"
    path.write_bytes(b"E: hola")
    with pytest.raises(TranscriptError, match=r"t.rtf: is not an RTF file .* save it as .rtf, .docx or .txt"):
        read_text(path)


def _odt_bytes(tmp_path) -> bytes:
    from odfdo import Document, Paragraph

    document = Document("text")
    document.body.append(Paragraph("E: ¿Cómo está?"))
    document.body.append(Paragraph("F: Bien."))
    document.save(tmp_path / "made.odt")
    return (tmp_path / "made.odt").read_bytes()


def _docx_bytes(tmp_path) -> bytes:
    document = docx.Document()
    document.add_paragraph("E: ¿Cómo está?")
    document.add_paragraph("F: Bien.")
    document.save(tmp_path / "made.docx")
    return (tmp_path / "made.docx").read_bytes()


# One small file per registered format: a format registered without one fails the test below.
SAMPLES = {
    "txt": lambda tmp_path: SPANISH.encode("utf-8"),
    "md": lambda tmp_path: ("---\ntitle: Entrevista\n---\n" + SPANISH).encode("utf-8"),
    "docx": _docx_bytes,
    "odt": _odt_bytes,
    "rtf": lambda tmp_path: RTF.encode("ascii"),
    "vtt": lambda tmp_path: VTT.encode("utf-8"),
    "srt": lambda tmp_path: SRT.encode("utf-8"),
    "pdf": lambda tmp_path: make_pdf(["E: Buenos días.", "F: Bien."]),
}


def test_the_registry_holds_the_formats_in_the_order_messages_list_them():
    assert [(extension, r.kind) for extension, r in READERS.items()] == [
        (".txt", "txt"), (".md", "md"), (".docx", "docx"), (".odt", "odt"), (".rtf", "rtf"), (".vtt", "vtt"),
        (".srt", "srt"), (".pdf", "pdf")]
    assert extension_list() == ".txt, .md, .docx, .odt, .rtf, .vtt, .srt or .pdf"


@pytest.mark.parametrize("extension", list(READERS))
def test_every_registered_extension_reads(tmp_path, extension):
    kind = READERS[extension].kind
    assert kind in SAMPLES, f"{extension} is registered: add a sample file of it to SAMPLES"
    for name in (f"t{extension}", f"T{extension.upper()}"):  # the extension is matched in any case
        path = tmp_path / name
        path.write_bytes(SAMPLES[kind](tmp_path))
        extracted = read_text(path)
        assert extracted.format == kind and extracted.text[extracted.body_start:].strip()


def test_an_unknown_extension_is_told_the_registered_ones(tmp_path):
    path = tmp_path / "t.wpd"
    path.write_bytes(b"x")
    with pytest.raises(TranscriptError) as caught:
        read_text(path, "t.wpd")
    assert str(caught.value) == ("t.wpd: has an unsupported extension '.wpd'. "
                                 "Convert it to .txt, .md, .docx, .odt, .rtf, .vtt, .srt or .pdf.")


def test_a_new_format_is_one_registered_reader(tmp_path, readers):
    @reader(".wpd")
    def read_wpd(source):
        return ExtractedText(text=source.data.decode("ascii").upper(), format=source.kind, encoding="ascii")

    path = tmp_path / "t.wpd"
    path.write_bytes(b"f: hola.")
    assert read_text(path) == ExtractedText(text="F: HOLA.", format="wpd", encoding="ascii")
    assert readers[".wpd"].kind == "wpd" and extension_list() == ".txt, .md, .docx, .odt, .rtf, .vtt, .srt, .pdf or .wpd"
    with pytest.raises(TranscriptError, match=r"Convert it to .txt, .md, .docx, .odt, .rtf, .vtt, .srt, .pdf or .wpd\."):
        read_text(tmp_path / "t.abw")
    with pytest.raises(ValueError, match="has one reader"):
        reader(".WPD")(read_wpd)
    with pytest.raises(ValueError, match="starts with a dot"):
        reader("abw")(read_wpd)


def test_odt_and_rtf_transcripts_are_read_into_speaker_turns_with_exact_offsets(tmp_path):
    from pipeline.config.codebook import load_codebook
    from pipeline.stages.ingest.transcripts import read_transcripts
    from pipeline.stages.turns import build_turns

    from conftest import REGISTER, write_evaluation

    odt, rtf = _odt_bytes(tmp_path), RTF.encode("ascii")
    register = REGISTER.replace("s1.txt", "s1.odt").replace("s2.txt", "s2.rtf").replace("donor,en", "donor,es")
    codebook, transcripts = write_evaluation(tmp_path / "e", register=register, files={"s1.odt": odt, "s2.rtf": rtf})
    table = read_transcripts(transcripts, evaluation=load_codebook(codebook).evaluation)
    turns = build_turns(table, interviewer_labels=("E",))
    texts = dict(zip(table.session_id, table.text))
    assert [(t.session_id, t.speaker, t.role, texts[t.session_id][t.start:t.end]) for t in turns.itertuples()] == [
        ("S1", "E", "interviewer", "¿Cómo está?"), ("S1", "F", "respondent", "Bien."),
        ("S2", "E", "interviewer", "¿Cómo le fue?"), ("S2", "F", "respondent", "Bien — gracias.")]

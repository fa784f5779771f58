"""Transcript files in every shape they arrive in, turned into one normalised text.

``read_text(path)`` decodes and extracts a transcript and returns its normalised text (NFC,
``\\n`` line ends): the text every offset in the product refers to (Unicode code points,
from 0, end exclusive). For ``.txt`` and ``.md`` files that is the file's own text; for
``.docx``, ``.pdf`` and subtitles it is the extracted plain text, which the run keeps beside
its outputs.

Encodings accepted: UTF-8 (with or without BOM), UTF-16 and UTF-32 with BOM, and
Windows-1252 (which covers Latin-1 text), common for Word exports in Peru.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.config.yamlfile import RefusedYaml, parse_yaml
from pipeline.errors import Problem, TranscriptError

FORMATS = {".txt": "txt", ".md": "md", ".docx": "docx", ".vtt": "vtt", ".srt": "srt", ".pdf": "pdf"}

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 controls other than tab, line feed, form feed and carriage return: binary data, or a
# UTF-16 file without its BOM.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)


@dataclass(frozen=True)
class ExtractedText:
    """A transcript's normalised text and how it was obtained.

    ``body_start`` is where speech may begin (after a YAML front matter block, if any);
    ``front_matter`` holds that block's keys.
    """

    text: str
    format: str
    encoding: str
    body_start: int = 0
    front_matter: dict = field(default_factory=dict)


def normalise(text: str) -> str:
    """NFC, ``\\n`` line ends, no byte-order mark."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode a file's bytes; return (text, encoding) or raise :class:`TranscriptError`."""
    fix = "Open it in a text editor and save it as UTF-8."
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding).removeprefix("\ufeff"), encoding
            except UnicodeDecodeError as exc:
                raise TranscriptError(Problem(
                    name, f"starts with a {encoding} byte-order mark but is not valid "
                          f"{encoding} ({exc.reason} at byte {exc.start}).", fix)) from None
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            text, encoding = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as exc:
            raise TranscriptError(Problem(
                name, f"cannot be decoded: it is neither UTF-8 (invalid byte 0x{data[utf8_error.start]:02x} "
                      f"at byte {utf8_error.start}) nor Windows-1252 (byte 0x{data[exc.start]:02x} "
                      f"at byte {exc.start} is undefined there).", fix)) from None
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise TranscriptError(Problem(
            name, f"contains binary data (control character U+{ord(bad.group()):04X}); it is not "
                  f"a text transcript, or it is UTF-16 without a byte-order mark.", fix, f"line {line}"))
    return text, encoding


def body_start(text: str) -> int:
    """Where speech may begin in a normalised text: after its YAML front matter, if any."""
    match = _FRONT_MATTER.match(text)
    return match.end() if match else 0


def _front_matter(text: str, name: str) -> tuple[int, dict]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return 0, {}
    try:
        data = parse_yaml(match.group(1) or "")[1] or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 2}" if mark else "line 1"
        if isinstance(exc, RefusedYaml):  # aliases that would expand it past any real front matter
            raise TranscriptError(Problem(name, f"has a front matter block that is not read: {exc.problem}.",
                                          exc.fix, where)) from None
        raise TranscriptError(Problem(name, "has a front matter block that is not valid YAML.",
                                      "Correct it, or remove the block between the '---' lines.",
                                      where)) from None
    if not isinstance(data, dict):
        raise TranscriptError(Problem(name, "has a front matter block that is not a mapping of keys.",
                                      "Write it as 'key: value' lines, or remove it.", "line 2"))
    return match.end(), data


def _read_docx(path: Path, name: str) -> str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise TranscriptError(Problem(
            name, f"is not a readable Word .docx file ({exc}).",
            "Open it in Word and save it again as .docx (an old .doc must be converted).")) from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            # Transcription services export tables of (time, speaker, text): the last cell
            # is the speech, the cells before it the label.
            for row in block.rows:
                cells = [c.text.strip() for c in row.cells]
                cells = [c for i, c in enumerate(cells) if c and (i == 0 or c != cells[i - 1])]
                if len(cells) >= 2:
                    lines.append(" ".join(cells[:-1]) + ": " + cells[-1])
                elif cells:
                    lines.append(cells[0])
        else:
            lines.append(block.text)
    return "\n".join(lines)


def _read_pdf(path: Path, name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise TranscriptError(Problem(name, "is an encrypted PDF.",
                                          "Save an unprotected copy, or export the text as .txt."))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise TranscriptError(Problem(name, f"is not a readable PDF ({exc}).",
                                      "Export the transcript as .txt or .docx instead.")) from None
    text = "\n".join(page.strip("\n") for page in pages)
    if not text.strip():
        raise TranscriptError(Problem(name, "is a PDF with no extractable text (a scan?).",
                                      "Run OCR on it, or provide the transcript as .txt or .docx."))
    return text


_TIMING = re.compile(r"^\s*(\d{1,2}:)?(\d{1,2}):(\d{2})[.,](\d{3})\s*-->\s*[\d:.,]+")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAG = re.compile(r"</?[^>\s][^>]*>")
_SPEAKER_START = re.compile(r"^[^\s:][^:]{0,39}:\s")


def _read_subtitles(text: str, name: str, kind: str) -> str:
    """Subtitle cues as lines of speech: ``[hh:mm:ss] Voice: text``.

    Consecutive cues of the same voice join into one line, as auto-captioning splits a
    sentence over several cues. Cues without a voice join the line before unless they start
    with something like ``Speaker:``, which the turn parser then reads as a label.
    """
    # A block is a run of non-blank lines; keep where each starts, for messages.
    blocks = [(text.count("\n", 0, m.start()) + 1, m.group())
              for m in re.finditer(r"[^\n]*\S[^\n]*(?:\n[^\n]*\S[^\n]*)*", text)]
    if kind == "vtt":
        if not blocks or not blocks[0][1].lstrip().startswith("WEBVTT"):
            raise TranscriptError(Problem(name, "is not a WebVTT file: its first line is not 'WEBVTT'.",
                                          "Check the file, or give it the extension of its real format.",
                                          "line 1"))
        blocks = blocks[1:]
    lines: list[str] = []
    voice = None
    cues = 0
    for line, block in blocks:
        rows = block.split("\n")
        if kind == "vtt" and rows[0].split(" ")[0] in {"NOTE", "STYLE", "REGION"}:
            continue
        timing = next((i for i, row in enumerate(rows) if "-->" in row), None)
        if timing is None or not _TIMING.match(rows[timing]):
            raise TranscriptError(Problem(name, "has a subtitle cue without a valid timing line "
                                                "('00:00:01.000 --> 00:00:04.000').",
                                          "Correct or remove that cue.", f"line {line}"))
        cues += 1
        hours, minutes, seconds = _TIMING.match(rows[timing]).group(1, 2, 3)
        stamp = f"{int((hours or '0:')[:-1]):02d}:{int(minutes):02d}:{seconds}"
        payload = " ".join(r.strip() for r in rows[timing + 1:] if r.strip())
        found = _VOICE.search(payload)
        payload = " ".join(_TAG.sub("", payload).split())
        if not payload:
            continue
        if found:
            speaker = found.group(1).strip()
            if speaker == voice and lines:
                lines[-1] += " " + payload
            else:
                lines.append(f"[{stamp}] {speaker}: {payload}")
            voice = speaker
        elif lines and not _SPEAKER_START.match(payload):
            lines[-1] += " " + payload
        else:
            lines.append(f"[{stamp}] {payload}" if _SPEAKER_START.match(payload) else payload)
            voice = None
    if cues == 0:
        raise TranscriptError(Problem(name, "has no subtitle cues.",
                                      "Check that it is the right file and that it is not empty."))
    return "\n".join(lines) + "\n"


def read_text(path: Path, name: str | None = None) -> ExtractedText:
    """Read one transcript file of any supported format into its normalised text.

    ``name`` is how the file is named in messages (its path relative to the transcripts
    folder). Raises :class:`TranscriptError` for unreadable, undecodable or empty files.
    """
    name = name or path.name
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise TranscriptError(Problem(name, f"has an unsupported extension '{path.suffix}'.",
                                      "Convert it to .txt, .md, .docx, .vtt, .srt or .pdf."))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TranscriptError(Problem(name, f"cannot be read ({exc.strerror}).",
                                      "Check that the file exists and is readable.")) from None
    if not data.strip():
        raise TranscriptError(Problem(name, "is empty.",
                                      "Put the transcript's text in it, or remove its row from the register."))
    encoding, body_start, front = kind, 0, {}
    if kind == "docx":
        text = normalise(_read_docx(path, name))
    elif kind == "pdf":
        text = normalise(_read_pdf(path, name))
    else:
        raw, encoding = decode(data, name)
        text = normalise(raw)
        if kind in ("vtt", "srt"):
            text = normalise(_read_subtitles(text, name, kind))
        else:
            body_start, front = _front_matter(text, name)
    if not text[body_start:].strip():
        raise TranscriptError(Problem(name, "has no text" + (" after its front matter." if body_start else "."),
                                      "Put the transcript's text in it, or remove its row from the register."))
    return ExtractedText(text=text, format=kind, encoding=encoding, body_start=body_start,
                         front_matter=front)

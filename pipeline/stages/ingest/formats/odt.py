"""OpenDocument text transcripts (``.odt``, LibreOffice's own format): paragraphs, headings,
list items and table rows as lines, in document order (odfdo).

As for Word, a table row of (time, speaker, text) becomes one line, the last cell the speech
and the cells before it the label. Tracked deletions and other non-text parts are not read.
"""

from __future__ import annotations

import zipfile

from pipeline.errors import Problem, TranscriptError
from pipeline.stages.ingest.formats.registry import ExtractedText, Source, reader
from pipeline.text import normalise

_PARAGRAPHS = ("text:p", "text:h")
# Containers whose children are read in order; any other element (tracked changes, forms,
# declarations) holds no text of the transcript.
_CONTAINERS = ("text:list", "text:list-item", "text:list-header", "text:section", "text:index-body",
               "text:table-of-content")


@reader(".odt")
def read_odt(source: Source) -> ExtractedText:
    """The document's text, normalised; raises :class:`TranscriptError` if it is not a
    readable .odt file."""
    return ExtractedText(text=normalise(_odt_text(source)), format=source.kind, encoding=source.kind)


def _odt_text(source: Source) -> str:
    from odfdo import Document

    try:
        document = Document(str(source.path))
        body = document.body
    except (TypeError, ValueError, KeyError, zipfile.BadZipFile, OSError):
        raise TranscriptError(Problem(
            source.name, "is not a readable OpenDocument .odt file.",
            "Open it in LibreOffice and save it again as .odt (or as .docx).")) from None
    if body is None or body.tag != "office:text":
        raise TranscriptError(Problem(
            source.name, "is an OpenDocument file but not a text document (a spreadsheet or a presentation?).",
            "Save the transcript as an .odt text document, .docx or .txt."))
    lines: list[str] = []
    for element in body.children:
        _read(element, lines)
    return "\n".join(lines)


def _read(element, lines: list[str]) -> None:
    tag = element.tag
    if tag in _PARAGRAPHS:
        lines.append(str(element).removesuffix("\n"))
    elif tag == "table:table":
        for row in element.get_rows():
            cells = [" ".join(str(p).strip() for p in cell.get_paragraphs()).strip() for cell in row.get_cells()]
            cells = [c for c in cells if c]
            if len(cells) >= 2:
                lines.append(" ".join(cells[:-1]) + ": " + cells[-1])
            elif cells:
                lines.append(cells[0])
    elif tag in _CONTAINERS:
        for child in element.children:
            _read(child, lines)

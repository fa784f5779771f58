"""PDF transcripts (``.pdf``): the text layer of each page, pages joined by a line end.

A scanned PDF has no text layer: it is reported, not read as empty.
"""

from __future__ import annotations

from pipeline.errors import Problem, TranscriptError
from pipeline.stages.ingest.formats.registry import ExtractedText, Source, reader
from pipeline.text import normalise


@reader(".pdf")
def read_pdf(source: Source) -> ExtractedText:
    """The pages' text, normalised; raises :class:`TranscriptError` for an encrypted or
    unreadable PDF, or one without extractable text."""
    return ExtractedText(text=normalise(_pdf_text(source)), format=source.kind, encoding=source.kind)


def _pdf_text(source: Source) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    name = source.name
    try:
        document = PdfReader(str(source.path))
        if document.is_encrypted:
            raise TranscriptError(Problem(name, "is an encrypted PDF.",
                                          "Save an unprotected copy, or export the text as .txt."))
        pages = [page.extract_text() or "" for page in document.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise TranscriptError(Problem(name, f"is not a readable PDF ({exc}).",
                                      "Export the transcript as .txt or .docx instead.")) from None
    text = "\n".join(page.strip("\n") for page in pages)
    if not text.strip():
        raise TranscriptError(Problem(name, "is a PDF with no extractable text (a scan?).",
                                      "Run OCR on it, or provide the transcript as .txt or .docx."))
    return text

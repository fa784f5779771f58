"""Word transcripts (``.docx``): paragraphs and table rows as lines, in document order.

Transcription services often export a table of (time, speaker, text) rows: each row becomes
one line, the last cell the speech and the cells before it the label.
"""

from __future__ import annotations

import zipfile

from pipeline.errors import Problem, TranscriptError
from pipeline.stages.ingest.formats.registry import ExtractedText, Source, reader
from pipeline.text import normalise


@reader(".docx")
def read_docx(source: Source) -> ExtractedText:
    """The document's text, normalised; raises :class:`TranscriptError` if it is not a
    readable .docx file."""
    return ExtractedText(text=normalise(_docx_text(source)), format=source.kind, encoding=source.kind)


def _docx_text(source: Source) -> str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(source.path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise TranscriptError(Problem(
            source.name, f"is not a readable Word .docx file ({exc}).",
            "Open it in Word and save it again as .docx (an old .doc must be converted).")) from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [c.text.strip() for c in row.cells]
                # A merged cell repeats in each column it spans: keep it once.
                cells = [c for i, c in enumerate(cells) if c and (i == 0 or c != cells[i - 1])]
                if len(cells) >= 2:
                    lines.append(" ".join(cells[:-1]) + ": " + cells[-1])
                elif cells:
                    lines.append(cells[0])
        else:
            lines.append(block.text)
    return "\n".join(lines)

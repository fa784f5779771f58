"""Rich Text Format transcripts (``.rtf``): the document's text, its paragraphs as lines
(striprtf). The code page the file declares (``\\ansicpg1252``) decodes its escaped characters.
"""

from __future__ import annotations

from pipeline.errors import Problem, TranscriptError
from pipeline.stages.ingest.formats.registry import ExtractedText, Source, reader
from pipeline.text import normalise


@reader(".rtf")
def read_rtf(source: Source) -> ExtractedText:
    """The document's text, normalised; raises :class:`TranscriptError` if it is not RTF or its
    characters cannot be decoded."""
    return ExtractedText(text=normalise(_rtf_text(source)), format=source.kind, encoding=source.kind)


def _rtf_text(source: Source) -> str:
    from striprtf.striprtf import rtf_to_text

    # RTF is 7-bit text with escapes for every other character; bytes beyond ASCII are read as
    # the Windows code page RTF assumes.
    raw = source.data.decode("cp1252", errors="replace")
    if not raw.lstrip("\ufeff \r\n\t").startswith("{\\rtf"):
        raise TranscriptError(Problem(source.name, "is not an RTF file (it does not start with '{\\rtf').",
                                      "Open it in a word processor and save it as .rtf, .docx or .txt."))
    try:
        return rtf_to_text(raw, errors="strict")
    except (UnicodeDecodeError, LookupError, ValueError, IndexError) as exc:
        raise TranscriptError(Problem(source.name, f"is an RTF file whose text cannot be read ({exc}).",
                                      "Open it in a word processor and save it again as .rtf, .docx or .txt.")) from None

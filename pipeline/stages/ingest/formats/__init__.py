"""Transcript files in every shape they arrive in, turned into one normalised text.

``read_text(path)`` decodes and extracts a transcript and returns its normalised text (NFC,
``\\n`` line ends, see :mod:`pipeline.text`): the text every offset in the product refers to.
For ``.txt`` and ``.md`` files that is the file's own text; for ``.docx``, ``.odt``, ``.rtf``,
``.pdf`` and subtitles it is the extracted plain text, which the run keeps beside its outputs.

One module per format, each registering its reader in :mod:`.registry`; a new format is a
new module and one import line below. The formats are imported in the order messages list
them (:func:`extension_list`).
"""

from pipeline.stages.ingest.formats.registry import (READERS, ExtractedText, Reader, Source, extension_list, read_text,
                                                     reader)
from pipeline.stages.ingest.formats import plain  # .txt .md
from pipeline.stages.ingest.formats import docx  # .docx
from pipeline.stages.ingest.formats import odt  # .odt
from pipeline.stages.ingest.formats import rtf  # .rtf
from pipeline.stages.ingest.formats import subtitles  # .vtt .srt
from pipeline.stages.ingest.formats import pdf  # .pdf

__all__ = ["READERS", "ExtractedText", "Reader", "Source", "extension_list", "read_text", "reader",
           "plain", "docx", "odt", "rtf", "subtitles", "pdf"]

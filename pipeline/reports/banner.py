"""Policy 'off': the privacy warning as a banner at the top of every report a person reads."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from html import escape

from pipeline.runtime.outputs import StreamedText, restamped_zip
from pipeline.stages.privacy import OFF_WARNING


def mark_unscanned(files: dict[str, str | StreamedText | bytes]) -> dict[str, str | StreamedText | bytes]:
    """``files`` with :data:`OFF_WARNING` as a banner at the top of every HTML page, Markdown
    file and Word document (of a :class:`StreamedText` file, in its text); other files unchanged."""
    out = {}
    for name, content in files.items():
        if isinstance(content, StreamedText):
            content = replace(content, text=mark_unscanned({name: content.text})[name])
        elif name.endswith(".html") and isinstance(content, str):
            banner = (f'<div role="alert" class="privacy-off" style="background:#b00020;color:#fff;padding:.75rem 2rem;'
                      f'font-weight:600">{escape(OFF_WARNING)}</div>')
            content = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + "\n" + banner, content, count=1)
        elif name.endswith(".md") and isinstance(content, str):
            content = f"> **{OFF_WARNING}**\n\n{content}"
        elif name.endswith(".docx") and isinstance(content, bytes):
            content = _docx_with_banner(content)
        out[name] = content
    return out


def _docx_with_banner(data: bytes) -> bytes:
    import docx

    document = docx.Document(io.BytesIO(data))
    first = document.paragraphs[0] if document.paragraphs else document.add_paragraph()
    first.insert_paragraph_before().add_run(OFF_WARNING).bold = True
    buffer = io.BytesIO()
    document.save(buffer)
    return restamped_zip(buffer.getvalue())  # the same input still gives the same bytes

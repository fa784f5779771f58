"""Policy 'off': the privacy warning as a banner at the top of every report a person reads.

Which files those are is the reports' declaration: every file of a kind in
:data:`pipeline.reports.report.READ_BY_PEOPLE` (HTML, Markdown, Word) gets the banner.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from html import escape

from pipeline.reports.report import Content
from pipeline.runtime.outputs import StreamedText, restamped_zip
from pipeline.stages.privacy import OFF_WARNING


def _html(text: str) -> str:
    banner = (f'<div role="alert" class="privacy-off" style="background:#b00020;color:#fff;padding:.75rem 2rem;'
              f'font-weight:600">{escape(OFF_WARNING)}</div>')
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + "\n" + banner, text, count=1)


def _markdown(text: str) -> str:
    return f"> **{OFF_WARNING}**\n\n{text}"


def _docx(data: bytes) -> bytes:
    import docx

    document = docx.Document(io.BytesIO(data))
    first = document.paragraphs[0] if document.paragraphs else document.add_paragraph()
    first.insert_paragraph_before().add_run(OFF_WARNING).bold = True
    buffer = io.BytesIO()
    document.save(buffer)
    return restamped_zip(buffer.getvalue())  # the same input still gives the same bytes


BANNERS = {"html": _html, "markdown": _markdown, "docx": _docx}  # how the banner goes on, by kind (tested: every kind people read)


def with_privacy_off_banner(content: Content, kind: str) -> Content:
    """``content``, a file of ``kind``, with :data:`OFF_WARNING` as a banner at its top if people
    read that kind (of a :class:`StreamedText`, in its text; the pieces are the page's data);
    files of other kinds unchanged."""
    if kind not in BANNERS:
        return content
    if isinstance(content, StreamedText):
        return replace(content, text=BANNERS[kind](content.text))
    return BANNERS[kind](content)

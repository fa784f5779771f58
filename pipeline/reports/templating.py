"""Jinja2, set up once: templates in ``pipeline/reports/templates``, HTML always autoescaped,
Markdown too.

Templates only loop and print; every value and CSS class they show is computed in Python
and handed over as a plain dict. In a Markdown template (``*.md.j2``) every printed value is
escaped (:func:`markdown_escape`): a respondent's ``<script>`` or ``[link](...)`` and a code
label's ``**`` reach the file as text, not markup. The report's own markup is the template's
text, a code span is made by the ``code_span`` filter, and a value built in Python as
Markdown from escaped pieces is a :class:`Markdown`.
"""

from __future__ import annotations

import functools
import re

import jinja2


class Markdown(str):
    """Text that is already Markdown (built from escaped pieces): printed as it is."""


# Inline markup: HTML and entities, emphasis, code, links and images, tables, strikethrough; an
# underscore only where it can start or end emphasis (not inside a word: "staff_turnover").
_INLINE = re.compile(r"[\\`*\[<>&|~]|(?<!\w)_|_(?!\w)")
# What makes a block where a line starts: headings, lists, setext underlines, ordered lists.
_LINE_START = re.compile(r"(?m)^([ \t]*)(?:([#+=-])|(\d+)([.)]))")


def markdown_escape(value):
    """``value`` as text in Markdown: every character that would be markup, backslash-escaped
    (CommonMark renders ``\\<`` as ``<``). A :class:`Markdown` and what is not text pass as they are."""
    if isinstance(value, Markdown) or not isinstance(value, str):
        return value
    text = _INLINE.sub(lambda m: "\\" + m.group(), value)
    return _LINE_START.sub(lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4)),
                           text)


def code_span(value) -> Markdown:
    """``value`` as a Markdown code span, whatever backticks it holds (CommonMark: a longer
    run of backticks around it, spaced when it starts or ends with one)."""
    text = " ".join(str(value).split("\n"))
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markdown(f"{fence}{pad}{text}{pad}{fence}")


def _environment(**markdown) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.reports", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        **markdown,
    )
    environment.filters["code_span"] = code_span
    return environment


@functools.lru_cache(maxsize=None)
def environment(markdown: bool = False) -> jinja2.Environment:
    return _environment(finalize=markdown_escape) if markdown else _environment()


def render_template(template: str, context: dict) -> str:
    """The text of ``template`` (a file name under ``templates/``) filled in with ``context``."""
    return environment(template.endswith(".md.j2")).get_template(template).render(**context)

"""Jinja2, set up once: templates in ``pipeline/reports/templates``, HTML always autoescaped.

Templates only loop and print; every value and CSS class they show is computed in Python
and handed over as a plain dict.
"""

from __future__ import annotations

import functools

import jinja2


@functools.lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.reports", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_template(template: str, context: dict) -> str:
    """The text of ``template`` (a file name under ``templates/``) filled in with ``context``."""
    return environment().get_template(template).render(**context)

"""Plain-text transcripts (``.txt``, ``.md``), with an optional YAML front matter block.

The transcript is the file's own text, decoded and normalised (:mod:`pipeline.text`). A
block between two ``---`` lines at the very start is front matter: it stays in the text
(offsets count it) and speech begins after it.
"""

from __future__ import annotations

import re

import yaml

from pipeline.config.yamlfile import RefusedYaml, parse_yaml

from pipeline.errors import Problem, TranscriptError
from pipeline.stages.ingest.formats.registry import ExtractedText, Source, reader
from pipeline.text import decode, normalise

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)


@reader(".txt", ".md")
def read_plain(source: Source) -> ExtractedText:
    """The decoded, normalised text, with where speech begins and the front matter's keys.

    Raises :class:`TranscriptError` for undecodable bytes or a front matter block that is
    not a YAML mapping."""
    raw, encoding = decode(source.data, source.name)
    text = normalise(raw)
    start, front = _front_matter(text, source.name)
    return ExtractedText(text=text, format=source.kind, encoding=encoding, body_start=start, front_matter=front)


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

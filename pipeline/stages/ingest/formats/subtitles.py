"""Subtitle transcripts (``.vtt`` WebVTT, ``.srt`` SubRip): cues as lines of speech.

Each cue becomes ``[hh:mm:ss] Voice: text``. Consecutive cues of the same voice join into
one line, as auto-captioning splits a sentence over several cues. Cues without a voice join
the line before unless they start with something like ``Speaker:``, which the turn parser
then reads as a label.
"""

from __future__ import annotations

import re

from pipeline.errors import Problem, TranscriptError
from pipeline.stages.ingest.formats.registry import ExtractedText, Source, reader
from pipeline.text import decode, normalise

_TIMING = re.compile(r"^\s*(\d{1,2}:)?(\d{1,2}):(\d{2})[.,](\d{3})\s*-->\s*[\d:.,]+")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAG = re.compile(r"</?[^>\s][^>]*>")
_SPEAKER_START = re.compile(r"^[^\s:][^:]{0,39}:\s")


@reader(".vtt", ".srt")
def read_subtitles(source: Source) -> ExtractedText:
    """The cues as normalised lines of speech, with the encoding decoded.

    Raises :class:`TranscriptError` for undecodable bytes, a WebVTT file without its
    ``WEBVTT`` header, a cue without a valid timing line, or no cues at all."""
    raw, encoding = decode(source.data, source.name)
    text = normalise(_cue_lines(normalise(raw), source.name, source.kind))
    return ExtractedText(text=text, format=source.kind, encoding=encoding)


def _cue_lines(text: str, name: str, kind: str) -> str:
    # A block is a run of non-blank lines; keep where each starts, for messages.
    blocks = [(text.count("\n", 0, m.start()) + 1, m.group())
              for m in re.finditer(r"[^\n]*\S[^\n]*(?:\n[^\n]*\S[^\n]*)*", text)]
    if kind == "vtt":
        if not blocks or not blocks[0][1].lstrip().startswith("WEBVTT"):
            raise TranscriptError(Problem(name, "is not a WebVTT file: its first line is not 'WEBVTT'.",
                                          "Check the file, or give it the extension of its real format.",
                                          "line 1"))
        blocks = blocks[1:]
    lines: list[str] = []
    voice = None
    cues = 0
    for line, block in blocks:
        rows = block.split("\n")
        if kind == "vtt" and rows[0].split(" ")[0] in {"NOTE", "STYLE", "REGION"}:
            continue
        timing = next((i for i, row in enumerate(rows) if "-->" in row), None)
        if timing is None or not _TIMING.match(rows[timing]):
            raise TranscriptError(Problem(name, "has a subtitle cue without a valid timing line "
                                                "('00:00:01.000 --> 00:00:04.000').",
                                          "Correct or remove that cue.", f"line {line}"))
        cues += 1
        hours, minutes, seconds = _TIMING.match(rows[timing]).group(1, 2, 3)
        stamp = f"{int((hours or '0:')[:-1]):02d}:{int(minutes):02d}:{seconds}"
        payload = " ".join(r.strip() for r in rows[timing + 1:] if r.strip())
        found = _VOICE.search(payload)
        payload = " ".join(_TAG.sub("", payload).split())
        if not payload:
            continue
        if found:
            speaker = found.group(1).strip()
            if speaker == voice and lines:
                lines[-1] += " " + payload
            else:
                lines.append(f"[{stamp}] {speaker}: {payload}")
            voice = speaker
        elif lines and not _SPEAKER_START.match(payload):
            lines[-1] += " " + payload
        else:
            lines.append(f"[{stamp}] {payload}" if _SPEAKER_START.match(payload) else payload)
            voice = None
    if cues == 0:
        raise TranscriptError(Problem(name, "has no subtitle cues.",
                                      "Check that it is the right file and that it is not empty."))
    return "\n".join(lines) + "\n"

"""``transcripts/<session>.html``: each transcript as a page, its coded passages marked.

The evidence matrix links each quote to its passage here. Every piece of text is escaped by
the template; the pages are self-contained.
"""

from __future__ import annotations

from typing import Iterator

from pipeline.schemas import CONTEXT
from pipeline.reports.report import Output, Report, RunTables
from pipeline.reports.templating import render_template

FOLDER = "transcripts"


def build_transcript_pages(tables: RunTables) -> Iterator[tuple[str, str]]:
    """One page per session of TRANSCRIPTS, in register order: its turns (TURNS), each cut into
    its segments (SEGMENTS), a segment marked with the codes EVIDENCE gives it, an interviewer's
    turn with the codes people gave it as context (CODINGS' status ``context``)."""
    transcripts, turns, segments, evidence = tables.transcripts, tables.turns, tables.segments, tables.evidence
    # Which codes mark each segment, over all its questions (dictionaries: a pandas aggregation
    # with a Python function per segment is slow on a large corpus).
    codes_by_segment: dict[str, set] = {}
    for segment_id, codes in zip(evidence["segment_id"].tolist(), evidence["codes"].tolist()):
        codes_by_segment.setdefault(segment_id, set()).update(codes.split(", "))
    # Plain tuples: iterating pandas rows of Arrow-backed strings is slow on a large corpus.
    ordered = segments.sort_values("start", kind="stable")
    segments_of: dict[str, list] = {}
    for turn_id, segment_id, start, end in zip(*(ordered[c].tolist() for c in ("turn_id", "segment_id", "start", "end"))):
        segments_of.setdefault(turn_id, []).append((segment_id, start, end))
    turns_of: dict[str, list] = {}
    for session_id, speaker, role, start, end, turn_id in zip(
            *(turns[c].tolist() for c in ("session_id", "speaker", "role", "start", "end", "turn_id"))):
        turns_of.setdefault(session_id, []).append((speaker, role, start, end, turn_id))
    codes_of = {segment_id: ", ".join(sorted(codes)) for segment_id, codes in codes_by_segment.items()}
    context = tables.codings[tables.codings["status"] == CONTEXT]
    context_of: dict[str, set] = {}
    for turn_id, code in zip(context["segment_id"].tolist(), context["code"].tolist()):
        context_of.setdefault(turn_id, set()).add(code)
    for session in transcripts.itertuples(index=False):
        text = session.text
        rendered = []
        for speaker, role, turn_start, turn_end, turn_id in turns_of.get(session.session_id, []):
            pieces, cursor = [], turn_start
            for segment_id, start, end in segments_of.get(turn_id, []):
                if start > cursor:
                    pieces.append({"text": text[cursor:start], "segment": None})
                pieces.append({"text": text[start:end], "segment": segment_id,
                               "coded": segment_id in codes_of, "codes": codes_of.get(segment_id, "")})
                cursor = end
            if turn_end > cursor:
                pieces.append({"text": text[cursor:turn_end], "segment": None})
            rendered.append({"speaker": speaker or "respondent", "role": role, "pieces": pieces,
                             "context": ", ".join(sorted(context_of.get(turn_id, ())))})
        yield f"{FOLDER}/{session.session_id}.html", render_template("transcript.html.j2", {
            "page": {"title": f"Transcript {session.session_id}", "language": session.language,
                     "subtitle": f"{session.stakeholder_group} · {session.method} · {session.region or 'no region'}"},
            "meta": f"{session.participants} participant(s) · {session.language} · synthetic or anonymised transcript; "
                    f"coded passages are underlined, the linked passage is highlighted.",
            "turns": rendered, "has_context": any(turn["context"] for turn in rendered)})


REPORT = Report("transcript pages", (Output(FOLDER, "html", folder=True),), build_transcript_pages)

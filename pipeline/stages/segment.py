"""The segment stage: respondent turns cut into segments, the unit that codes mark.

A long answer is split on sentence boundaries into segments of at most ``max_sentences``
sentences and about ``max_chars`` characters, balanced so no segment is a lone tail
sentence. A sentence longer than ``max_chars`` (speech transcribed without full stops) is cut
after a comma or semicolon near the limit. Bracketed notes are masked before parsing, so they
are never words and never start or end a segment.

Invariants (tested): each segment's text is the normalised transcript sliced at its offsets;
the segments of a turn do not overlap and cover every word of the turn.
"""

from __future__ import annotations

import math

import pandas as pd
from spacy.tokens import Doc, Span

from pipeline import schemas
from pipeline.nlp.pipelines import fill_cache, parsed_docs
from pipeline.seams import FEW_SESSIONS, IN_ORDER, Parallel, ParseCache
from pipeline.stages.turns import INTERVIEWER, RESPONDENT, mask_notes

_METADATA = [c.name for c in schemas.METADATA]


def _pieces(sentence: Span, max_chars: int) -> list[tuple[int, int]]:
    """Character spans (in the doc) of a sentence, cut near ``max_chars`` if it is longer."""
    start, end = sentence.start_char, sentence.end_char
    if end - start <= max_chars:
        return [(start, end)]
    pieces, piece_start, last_break = [], start, None
    for token in sentence:
        if token.idx + len(token) - piece_start > max_chars and token.idx > piece_start:
            cut = last_break or token.idx
            pieces.append((piece_start, cut))
            piece_start, last_break = cut, None
        if token.text in {",", ";", ":"}:
            last_break = token.idx + len(token)
    pieces.append((piece_start, end))
    return pieces


def _sentences(doc: Doc, max_chars: int, whole: str) -> list[tuple[int, int]]:
    """Non-blank sentence spans of ``doc`` (whose text is ``whole``: ``doc.text`` would rebuild
    it from the tokens), trimmed of whitespace, long ones cut."""
    spans = []
    for sentence in doc.sents:
        for start, end in _pieces(sentence, max_chars):
            text = whole[start:end]
            stripped = text.strip()
            if stripped:
                lead = len(text) - len(text.lstrip())
                spans.append((start + lead, start + lead + len(stripped)))
    return spans


def _groups(spans: list[tuple[int, int]], max_sentences: int, max_chars: int) -> list[list[tuple[int, int]]]:
    """Consecutive sentences grouped into segments of even size within both bounds."""
    if not spans:
        return []
    total = spans[-1][1] - spans[0][0]
    count = max(math.ceil(len(spans) / max_sentences), math.ceil(total / max_chars))
    count = min(count, len(spans))
    base, extra = divmod(len(spans), count)
    groups, first = [], 0
    for number in range(count):
        size = base + (1 if number < extra else 0)
        current: list[tuple[int, int]] = []
        # An even share can still run past max_chars when sentences differ in length.
        for span in spans[first:first + size]:
            if current and span[1] - current[0][0] > max_chars:
                groups.append(current)
                current = []
            current.append(span)
        groups.append(current)
        first += size
    return groups


def _words(doc: Doc, start: int, end: int) -> int:
    span = doc.char_span(start, end, alignment_mode="expand")
    return sum(1 for t in span if not (t.is_punct or t.is_space)) if span is not None else 0


def _session_segments(sid: str, session: pd.Series, turns: pd.DataFrame, docs: list[Doc], max_sentences: int,
                      max_chars: int) -> list[dict]:
    """The segments of one session, whose respondent turns were parsed into ``docs``."""
    text = session["text"]
    metadata = {column: session[column] for column in _METADATA}
    prompt = ("", "")
    answers = iter(docs)
    rows = []
    for turn in turns.itertuples(index=False):
        if turn.role == INTERVIEWER:
            prompt = (turn.turn_id, text[turn.start:turn.end])
            continue
        doc = next(answers)
        sentences = _sentences(doc, max_chars, mask_notes(text, turn.start, turn.end))
        for number, group in enumerate(_groups(sentences, max_sentences, max_chars)):
            start, end = group[0][0], group[-1][1]
            rows.append({
                "segment_id": f"{turn.turn_id}-s{number:02d}",
                "session_id": sid,
                "turn_id": turn.turn_id,
                "speaker": turn.speaker,
                "role": RESPONDENT,
                "start": turn.start + start,
                "end": turn.start + end,
                "text": text[turn.start + start:turn.start + end],
                "sentences": len(group),
                "words": _words(doc, start, end),
                "prompt_turn_id": prompt[0],
                "prompt": prompt[1],
                **metadata,
            })
    return rows


def build_segments(
    transcripts: pd.DataFrame,
    turns: pd.DataFrame,
    *,
    max_sentences: int,
    max_chars: int,
    models: dict[str, str],
    cache: ParseCache,
    batch_size: int = 64,
    parallel: Parallel = IN_ORDER,
    progress=None,
) -> pd.DataFrame:
    """The SEGMENTS table: every respondent turn cut into segments.

    Reads TRANSCRIPTS (``session_id``, ``language``, ``text`` and the metadata columns) and
    TURNS (``turn_id``, ``session_id``, ``speaker``, ``role``, ``start``, ``end``). Returns
    one row per segment with its offsets in the normalised text, its text, the interviewer
    turn that prompted it and the session's metadata (columns in
    :data:`pipeline.schemas.SEGMENTS`). Parsed turns are read from and written to ``cache``.
    """
    schemas.check(transcripts, schemas.TRANSCRIPTS)
    schemas.check(turns, schemas.TURNS)
    sessions = transcripts.set_index("session_id")
    by_session = {sid: group for sid, group in turns.groupby("session_id", sort=True)}
    order = [sid for sid in sessions.index if sid in by_session]

    masked = {}
    for sid in order:
        text = sessions.at[sid, "text"]
        answers = by_session[sid][by_session[sid]["role"] == RESPONDENT]
        masked[sid] = [mask_notes(text, s, e) for s, e in zip(answers.start, answers.end)]
    fill_cache([(sessions.at[sid, "language"], masked[sid]) for sid in order], models=models, cache=cache,
               batch_size=batch_size, parallel=parallel)

    def segment(sid: str) -> list[dict]:
        """Session ``sid``'s segments, from its parsed turns (here or in a worker)."""
        docs = parsed_docs(sessions.at[sid, "language"], masked[sid], models=models, cache=cache,
                           batch_size=batch_size)
        return _session_segments(sid, sessions.loc[sid], by_session[sid], docs, max_sentences, max_chars)

    # Sessions are segmented beside worker processes, unless they are too few to be worth one.
    done = parallel.map(segment, order, min_items=FEW_SESSIONS)
    if progress:
        done = progress(done, "segment", total=len(order))
    rows = [row for session_rows in done for row in session_rows]
    return schemas.conform(rows, schemas.SEGMENTS)

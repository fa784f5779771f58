"""The TURNS table: every speaker turn of every transcript, with exact character offsets.

:func:`find_turns` reads one text: its legend (:mod:`.legend`), then each line, a speaker line
(:mod:`.labels`) starting a turn and any other line continuing the turn before it. Markdown
headings, blank lines, lines holding only notes and stage directions (:mod:`.notes`) are not
speech. A text with no speaker label at all is one respondent turn.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline import schemas
from pipeline.errors import PipelineWarning, Problem, TranscriptError
from pipeline.stages.ingest.formats.plain import body_start
from pipeline.stages.turns.labels import (CODE_LABEL, base_label, hidden_speaker, joined, match_slip, match_speaker,
                                          normalise_label, plausible_label, role_of, timestamp)
from pipeline.stages.turns.legend import read_legend
from pipeline.stages.turns.notes import is_speech

INTERVIEWER, RESPONDENT = "interviewer", "respondent"


# The kinds of warning find_turns and build_turns give, as one line shows many files of a kind.
KIND_PREAMBLE = "have text before the first speaker label, kept but not read as anyone's speech"
KIND_HIDDEN = "have lines that start like a speaker line but are not read as one (each joins the turn before it)"
KIND_ONCE = "have a speaker label seen only once (perhaps a sentence with a colon)"
KIND_NO_LABELS = "have no speaker labels and are read as one respondent's text"
KIND_PARTICIPANTS = "have more respondent speaker labels than the register's participants"
_FIX_PREAMBLE = ("Mark a title with '#', declare the speakers in a legend at the top ('I = Interviewer; X = "
                 "Informant'), or label the text with its speaker.")
_FIX_HIDDEN = ("If someone else speaks there, write the label with letters and digits (e.g. 'P2:', a timestamp "
               "as [00:01:02] before it); if it is speech, replace the colon.")
_FIX_ONCE = ("If it is ordinary speech, replace the colon after it in the transcript; if it is an "
             "interviewer label, add it to interviewer_labels in evaluation.yaml.")


@dataclass(frozen=True)
class Turn:
    speaker: str
    role: str
    timestamp: str
    start: int
    end: int


def _hidden_speakers_problem(name: str, hidden: list[tuple[int, str, dict]]) -> Problem:
    """One warning for every line of a transcript that looks like a speaker line but is not read as one."""
    number, label, turn = hidden[0]
    if len(hidden) == 1:
        return Problem(name, f"'{label}:' starts the line like a speaker label but is not read as one, so the line "
                             f"is read as part of the turn of '{turn['speaker']}' (line {turn['line']}).",
                       _FIX_HIDDEN, f"line {number}", KIND_HIDDEN)
    lines = ", ".join(str(n) for n, _, _ in hidden[:5]) + (f" and {len(hidden) - 5} more" if len(hidden) > 5 else "")
    return Problem(name, f"{len(hidden)} lines start like a speaker line but are not read as one (the first: "
                         f"'{label}:'), so each is read as part of the turn before it.", _FIX_HIDDEN,
                   f"lines {lines}", KIND_HIDDEN)


def _of_speakers(label: str, speakers) -> bool:
    """True if ``label`` names several of ``speakers`` (normalised labels) at once: ``X og Y``."""
    parts = joined(label)
    return bool(parts) and all(normalise_label(p) in speakers for p in parts)


def _speaker_lines(lines: list[str], skip: set[int], keys: dict[str, bool],
                   interviewer_labels: frozenset[str]) -> dict[int, re.Match]:
    """The speaker line of each line index that holds one: first those written with a colon
    (or a timestamp), then slips (``?``, ``.`` for the colon) of a label known from those or
    from the legend."""
    found = {}
    for index, line in enumerate(lines):
        if index in skip or not line.strip() or line.lstrip().startswith("#"):
            continue
        match = match_speaker(line)
        if match and plausible_label(match.group("label"), interviewer_labels):
            found[index] = match
    known = set(keys) | {normalise_label(m.group("label")) for m in found.values()}
    for index, line in enumerate(lines):
        if index not in found and index not in skip and line.strip() and not line.lstrip().startswith("#"):
            slip = match_slip(line, known)
            if slip:
                found[index] = slip
    return found


def find_turns(
    text: str,
    *,
    body_start: int = 0,
    interviewer_labels: frozenset[str],
    name: str,
    single_speaker_expected: bool = False,
) -> tuple[list[Turn], list[Problem]]:
    """Split a normalised transcript into speaker turns.

    Returns the turns in order (each ``start``/``end`` spans the turn's speech, labels
    excluded, trimmed of surrounding blanks) and the warnings found: text before the first
    speaker label, labels seen only once (perhaps a sentence with a colon), or no label at all.
    ``interviewer_labels`` must be normalised with :func:`normalise_label`.
    """
    warnings: list[Problem] = []
    turns: list[dict] = []
    preamble: list[int] = []
    hidden: list[tuple[int, str, dict]] = []  # lines that look like a speaker's but join the turn before
    lines = text[body_start:].split("\n")
    legend = read_legend(lines, interviewer_labels)
    skip = set(legend.lines) | set(legend.header)
    speakers = _speaker_lines(lines, skip, legend.keys, interviewer_labels)
    position = body_start
    first_number = text.count("\n", 0, body_start) + 1
    for index, line in enumerate(lines):
        number = first_number + index
        line_start, line_end = position, position + len(line)
        position = line_end + 1
        if index in skip or not line.strip() or line.lstrip().startswith("#"):
            continue
        match = speakers.get(index)
        if match:
            label = base_label(match.group("label").strip(), legend.keys)
            rest_start = match.start("rest") if match.groupdict().get("rest") is not None else len(line)
            turns.append({
                "speaker": label,
                "timestamp": timestamp(match),
                "line": number,
                "start": line_start + rest_start,
                "end": line_start + rest_start,
            })
            if line[rest_start:].strip():
                turns[-1]["end"] = line_start + len(line.rstrip())
            continue
        if not is_speech(text, line_start, line_end):
            continue
        if turns:
            label = hidden_speaker(line)
            if label:
                hidden.append((number, label, turns[-1]))
            if turns[-1]["end"] == turns[-1]["start"]:
                turns[-1]["start"] = line_start + (len(line) - len(line.lstrip()))
            turns[-1]["end"] = line_start + len(line.rstrip())
        else:
            preamble.append(number)

    if not turns:
        # No speaker label at all: the whole text is one respondent's.
        speech = [m.span() for m in re.finditer(r"\S(?:.*\S)?", text[body_start:])]
        if not single_speaker_expected:
            warnings.append(Problem(name, "has no speaker labels; it is read as one respondent's text.",
                                    "If it is a conversation, label each turn ('E: ...', 'P1: ...'); "
                                    "if it is a document, set its method to 'document' in the register.",
                                    kind=KIND_NO_LABELS))
        start, end = body_start + speech[0][0], body_start + speech[-1][1]
        return [Turn("", RESPONDENT, "", start, end)], warnings

    if preamble:
        where = f"line {preamble[0]}" if len(preamble) == 1 else f"lines {preamble[0]}-{preamble[-1]}"
        warnings.append(Problem(name, "has text before the first speaker label; it is kept in the "
                                      "transcript but is not read as anyone's speech.",
                                _FIX_PREAMBLE, where, KIND_PREAMBLE))
    if hidden:
        warnings.append(_hidden_speakers_problem(name, hidden))
    counts = Counter(normalise_label(t["speaker"]) for t in turns)
    out = []
    for turn in turns:
        role = INTERVIEWER if role_of(turn["speaker"], legend.keys, interviewer_labels) else RESPONDENT
        if (role == RESPONDENT and counts[normalise_label(turn["speaker"])] == 1 and len(turns) > 2
                and not CODE_LABEL.match(turn["speaker"]) and not _of_speakers(turn["speaker"], counts)):
            warnings.append(Problem(
                name, f"the speaker label '{turn['speaker']}' appears only once; if it is not a "
                      f"speaker, its line was wrongly split from the previous turn.",
                _FIX_ONCE, f"line {turn['line']}", KIND_ONCE))
        out.append(Turn(turn["speaker"], role, turn["timestamp"], turn["start"], turn["end"]))
    return out, warnings


def build_turns(
    transcripts: pd.DataFrame,
    *,
    interviewer_labels: tuple[str, ...],
    folder: Path | str = "",
    errors: list[Problem] | None = None,
) -> pd.DataFrame:
    """The TURNS table: every speaker turn of every transcript, in order.

    Reads the TRANSCRIPTS table (``session_id``, ``file``, ``method``, ``participants``,
    ``format``, ``text``). A transcript with no respondent turn is an error: appended to
    ``errors`` if given (the session is left out), raised as :class:`TranscriptError`
    otherwise. Messages name each file inside ``folder``. Warnings (labels seen once, text before the first label, more respondent
    labels than participants) are emitted as :class:`PipelineWarning`.
    """
    schemas.check(transcripts, schemas.TRANSCRIPTS)
    labels = frozenset(normalise_label(label) for label in interviewer_labels)
    rows, collected = [], []
    for session in transcripts.itertuples(index=False):
        name = str(Path(folder) / session.file)
        text = session.text
        start = body_start(text) if session.format in ("txt", "md") else 0
        found, problems = find_turns(text, body_start=start, interviewer_labels=labels, name=name,
                                     single_speaker_expected=session.method == "document")
        for problem in problems:
            warnings.warn(PipelineWarning(problem))
        respondents: dict[str, str] = {}
        for turn in found:
            if turn.role == RESPONDENT:
                respondents.setdefault(normalise_label(turn.speaker), turn.speaker)
        # "X og Y" is two respondents already counted, not a third.
        respondents = {k: v for k, v in respondents.items() if not _of_speakers(v, respondents)}
        if not respondents or not any(is_speech(text, t.start, t.end) for t in found if t.role == RESPONDENT):
            shown = ", ".join(sorted({t.speaker for t in found}))
            collected.append(Problem(
                name, f"has no respondent speech: every speaker label ({shown}) is an interviewer's, "
                      f"or the respondents' turns are empty.",
                "Check the speaker labels in the transcript, and interviewer_labels in evaluation.yaml."))
            continue
        if len(respondents) > session.participants and session.method != "document":
            warnings.warn(PipelineWarning(Problem(
                name, f"has {len(respondents)} respondent speaker labels "
                      f"({', '.join(sorted(respondents.values()))}) "
                      f"but the register says {session.participants} participant(s).",
                "Correct participants in the register, or an interviewer label missing from "
                "interviewer_labels in evaluation.yaml.", kind=KIND_PARTICIPANTS)))
        for number, turn in enumerate(found):
            rows.append({
                "turn_id": f"{session.session_id}-t{number:04d}",
                "session_id": session.session_id,
                "turn": number,
                "speaker": turn.speaker,
                "role": turn.role,
                "timestamp": turn.timestamp,
                "start": turn.start,
                "end": turn.end,
            })
    if errors is not None:
        errors += collected
    elif collected:
        raise TranscriptError(collected)
    return schemas.conform(rows, schemas.TURNS)

"""Speaker turns in a normalised transcript text, with exact character offsets.

Recognised speaker lines (the label may be wrapped in ``**`` as Markdown bold):

- ``Nombre: texto``, ``E: texto``, ``P1: texto``
- ``[00:01:02] NOMBRE: texto`` (also with round brackets or a bare timestamp)
- ``NOMBRE (00:01:02): texto`` and ``NOMBRE [00:01:02]``
- a speaker line with the timestamp and no text (``Speaker 1 (00:00:05):``,
  ``Speaker 1  0:05``, ``00:00:05 Speaker 1``): the speech follows on the next lines.

Lines without a speaker continue the previous turn. Markdown headings, blank lines and lines
holding only bracketed notes are not speech. A text with no speaker label at all is one
respondent turn. Bracketed notes (``[inaudible]``, ``[risas]``, ``[00:12:10]``) are not words
of the respondent; upper-case placeholders (``[NOMBRE]``, ``[INSTITUCIÓN]``) stand for words and
count as such.
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
from pipeline.text import fold

INTERVIEWER, RESPONDENT = "interviewer", "respondent"

_TS = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
# A label: starts with a letter, up to 40 characters of letters, digits, spaces and . ' - / #
_LABEL = r"[^\W\d_][\w .'’\-/#]{0,39}?"
_BOLD = r"\*{0,2}"

_SPEAKER_LINES = (
    # [00:01:02] NAME: text   /   00:01:02 - NAME: text
    re.compile(rf"^\s*[\[(]?(?P<ts>{_TS})[\])]?\s*[-–]?\s*{_BOLD}(?P<label>{_LABEL}){_BOLD}\s*:{_BOLD}\s*(?P<rest>.*)$"),
    # NAME (00:01:02): text   /   NAME [00:01:02] alone on its line
    re.compile(rf"^\s*{_BOLD}(?P<label>{_LABEL})\s*[\[(](?P<ts>{_TS})[\])]{_BOLD}\s*(?::{_BOLD}\s*(?P<rest>.*)|)$"),
    # NAME  0:05   alone on its line
    re.compile(rf"^\s*(?P<label>{_LABEL})\s+(?P<ts>{_TS})\s*$"),
    # 00:00:05 NAME   alone on its line
    re.compile(rf"^\s*[\[(]?(?P<ts>{_TS})[\])]?\s+(?P<label>{_LABEL})\s*$"),
    # NAME: text   /   Participante 3 (mujer): text
    re.compile(rf"^\s*{_BOLD}(?P<label>{_LABEL}(?:\s*\([^()\n]{{1,20}}\))?){_BOLD}\s*:{_BOLD}(?:\s+(?P<rest>.*)|\s*)$"),
)

_NOTE_WORDS = {
    "inaudible", "ininteligible", "incomprensible", "risas", "risa", "ríe", "rie", "pausa",
    "silencio", "llanto", "llora", "suspira", "interrupción", "interrupcion", "ruido",
    "cruce de voces", "voces", "corte", "fin", "laughs", "laughter", "crosstalk", "pause",
    "silence", "unintelligible", "inaudible", "interruption", "noise", "cough", "tos",
}
_BRACKETED = re.compile(r"\[[^\[\]\n]{1,80}\]|\([^()\n]{1,40}\)")
_TIMESTAMP = re.compile(rf"^\s*{_TS}\s*$")
# A line that starts like a speaker line ("something: text") but whose label is not one that is
# read (markup, a quote or a digit first, characters a label does not hold): it joins the turn
# before, where it may hide another speaker's words. Ordinary speech with a colon ("y le dije:
# mira") starts with a lower-case letter.
_SPEAKER_LIKE = re.compile(r"^\s*\**(?P<label>[^\s:*][^:\n]{0,39}?)\**\s*:(?:\s|$)")
# Initials and numbered labels (F, P5, Participante 5, Speaker 3): one turn each is plausible.
_CODE_LABEL = re.compile(r"^(?:[A-Za-z]{1,3}\s?\d{0,2}|\w+\s\d{1,2})$")


@dataclass(frozen=True)
class Turn:
    speaker: str
    role: str
    timestamp: str
    start: int
    end: int


def normalise_label(label: str) -> str:
    """Speaker labels compare without case, accents, surrounding punctuation or extra spaces."""
    return re.sub(r"\s+", " ", fold(label)).strip(" .-_*")


def is_interviewer(label: str, interviewer_labels: frozenset[str]) -> bool:
    """True if ``label`` is one of ``interviewer_labels`` (normalised), optionally numbered.

    ``Entrevistadora 2`` and ``E1`` match ``Entrevistadora`` and ``E``.
    """
    key = normalise_label(label)
    return key in interviewer_labels or re.sub(r"\s?\d{1,2}$", "", key) in interviewer_labels


def note_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Offsets of the bracketed notes in ``text[start:end]`` that are not words of a speaker.

    Timestamps and transcriber notes (``[risas]``, ``(inaudible)``, ``[pausa larga]``) are
    notes; upper-case placeholders of anonymisation (``[NOMBRE]``) are words. Round brackets
    count only around a known note word, since people also speak in parentheses.
    """
    spans = []
    for match in _BRACKETED.finditer(text, start, len(text) if end is None else end):
        inner = match.group()[1:-1].strip()
        folded = fold(inner).strip(" .…")
        known = folded in _NOTE_WORDS or folded.split(" ")[0] in _NOTE_WORDS
        if match.group()[0] == "(":
            if known or _TIMESTAMP.match(inner):
                spans.append(match.span())
        elif known or _TIMESTAMP.match(inner) or not _is_placeholder(inner):
            spans.append(match.span())
    return spans


def _is_placeholder(inner: str) -> bool:
    letters = [c for c in inner if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def mask_notes(text: str, start: int = 0, end: int | None = None) -> str:
    """``text[start:end]`` with every note replaced by spaces, so offsets stay exact."""
    end = len(text) if end is None else end
    chars = list(text[start:end])
    for a, b in note_spans(text, start, end):
        chars[a - start:b - start] = " " * (b - a)
    return "".join(chars)


def _is_speech(text: str, start: int, end: int) -> bool:
    return bool(mask_notes(text, start, end).strip())


def _match_speaker(line: str) -> re.Match | None:
    for pattern in _SPEAKER_LINES:
        match = pattern.match(line)
        if match:
            return match
    return None


def _plausible_label(label: str, interviewer_labels: frozenset[str]) -> bool:
    """A bare ``Label: text`` line is a speaker only if the label looks like one.

    Labels are short (at most four words) and start with a capital or a digit-bearing code
    (``P1``); ordinary sentences with a colon (``y le dije: mira...``) are not labels.
    """
    words = label.split()
    if not words or len(words) > 4:
        return False
    if is_interviewer(label, interviewer_labels):
        return True
    return label[0].isupper()


_SPEECH_OPENERS = "¿¡\"'“‘«(-–—…"


def _hidden_speaker(line: str) -> str:
    """The label-like start of a line that is not read as a speaker line, or ''."""
    match = _SPEAKER_LIKE.match(line)
    if not match:
        return ""
    label = " ".join(match.group("label").split())
    if label[0].islower() or label[0] in _SPEECH_OPENERS or "," in label or len(label.split()) > 4:
        return ""  # speech with a colon ("¿Sabe qué?: ...", "Bueno, mire: ..."), or too long for a label
    return label


def _hidden_speakers_problem(name: str, hidden: list[tuple[int, str, dict]]) -> Problem:
    """One warning for every line of a transcript that looks like a speaker line but is not read as one."""
    number, label, turn = hidden[0]
    fix = ("If someone else speaks there, write the label with letters and digits (e.g. 'P2:', a timestamp "
           "as [00:01:02] before it); if it is speech, replace the colon.")
    if len(hidden) == 1:
        return Problem(name, f"'{label}:' starts the line like a speaker label but is not read as one, so the line "
                             f"is read as part of the turn of '{turn['speaker']}' (line {turn['line']}).",
                       fix, f"line {number}")
    lines = ", ".join(str(n) for n, _, _ in hidden[:5]) + (f" and {len(hidden) - 5} more" if len(hidden) > 5 else "")
    return Problem(name, f"{len(hidden)} lines start like a speaker line but are not read as one (the first: "
                         f"'{label}:'), so each is read as part of the turn before it.", fix, f"lines {lines}")


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
    position = body_start
    lines = text[body_start:].split("\n")
    for number, line in enumerate(lines, start=text.count("\n", 0, body_start) + 1):
        line_start, line_end = position, position + len(line)
        position = line_end + 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _match_speaker(line)
        if match and _plausible_label(match.group("label"), interviewer_labels):
            label = match.group("label").strip()
            rest_start = match.start("rest") if match.groupdict().get("rest") is not None else len(line)
            turns.append({
                "speaker": label,
                "timestamp": match.groupdict().get("ts") or "",
                "line": number,
                "start": line_start + rest_start,
                "end": line_start + rest_start,
            })
            if line[rest_start:].strip():
                turns[-1]["end"] = line_start + len(line.rstrip())
            continue
        if not _is_speech(text, line_start, line_end):
            continue
        if turns:
            label = _hidden_speaker(line)
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
                                    "if it is a document, set its method to 'document' in the register."))
        start, end = body_start + speech[0][0], body_start + speech[-1][1]
        return [Turn("", RESPONDENT, "", start, end)], warnings

    if preamble:
        where = f"line {preamble[0]}" if len(preamble) == 1 else f"lines {preamble[0]}-{preamble[-1]}"
        warnings.append(Problem(name, "has text before the first speaker label; it is kept in the "
                                      "transcript but is not read as anyone's speech.",
                                "Mark a title with '#', or label the text with its speaker.", where))
    if hidden:
        warnings.append(_hidden_speakers_problem(name, hidden))
    counts = Counter(normalise_label(t["speaker"]) for t in turns)
    out = []
    for turn in turns:
        role = INTERVIEWER if is_interviewer(turn["speaker"], interviewer_labels) else RESPONDENT
        if (role == RESPONDENT and counts[normalise_label(turn["speaker"])] == 1 and len(turns) > 2
                and not _CODE_LABEL.match(turn["speaker"])):
            warnings.append(Problem(
                name, f"the speaker label '{turn['speaker']}' appears only once; if it is not a "
                      f"speaker, its line was wrongly split from the previous turn.",
                "If it is ordinary speech, replace the colon after it in the transcript; if it is an "
                "interviewer label, add it to interviewer_labels in evaluation.yaml.",
                f"line {turn['line']}"))
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
        if not respondents or not any(_is_speech(text, t.start, t.end) for t in found if t.role == RESPONDENT):
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
                "interviewer_labels in evaluation.yaml.")))
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

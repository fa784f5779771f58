"""The guard of a run: the policy (block, redact or off) applied to every text an output may
contain, the findings as problems a person can act on, and the redaction log."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from pipeline import schemas
from pipeline.errors import InputError, Problem
from pipeline.schemas import LOG_COLUMNS
from pipeline.stages.privacy.hits import KIND_NAMES, PLACEHOLDERS, _line_column
from pipeline.stages.privacy.redaction import _move, _replace_all, redact, shift_offset
from pipeline.stages.privacy.scanner import Item, Scanner, find_identifiers

POLICIES = ("block", "redact", "off")

# Formats whose normalised text is the file's own, line for line; the others' lines are those of
# the text extracted from them (a run blocked by a finding writes it out: see findings_problems).
OWN_TEXT_FORMATS = ("txt", "md")


def fix_for(kind: str, field: str = "text") -> str:
    """What to do about a finding of ``kind`` in ``field`` (the transcript's text, the register's
    notes, a coding file's memo or quote): the placeholder of its kind, or the allowlist."""
    where = {"text": "the transcript", "notes": "the register's notes"}.get(field, f"the coding file's {field}")
    return (f"Replace it with the placeholder {PLACEHOLDERS[kind]} in {where}, or add the term to "
            f"privacy.allowlist in evaluation.yaml if it is not personal.")
OFF_WARNING = ("PRIVACY SCAN OFF: this run was made with privacy.policy 'off'. Its outputs were not checked "
               "for names, DNI or phone numbers, emails, addresses or URLs; do not share them before a "
               "run with 'block' or 'redact'.")


@dataclass
class Guarded:
    """What the rest of a run reads, after the privacy guard: transcripts, turns and human
    coding (redacted under ``redact``), and the findings and redaction log."""

    policy: str
    findings: pd.DataFrame
    transcripts: pd.DataFrame
    turns: pd.DataFrame
    human: pd.DataFrame
    unplaced: pd.DataFrame
    log: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LOG_COLUMNS))
    replaced: dict[str, str] = field(default_factory=dict)  # identifying text -> placeholder, in memory only
    ner_models: dict[str, str | None] = field(default_factory=dict)  # language -> the NER that read its names
    # Analysts' cell summaries (pipeline.stages.coding.summaries), scanned and redacted like memos.
    summaries: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["file", "row", "summary"]))

    def clean(self, problem: Problem) -> Problem:
        """A warning with any redacted text replaced, for the manifest and the terminal."""
        if not self.replaced:
            return problem
        message, fix = problem.message, problem.fix
        for original in sorted(self.replaced, key=len, reverse=True):
            message = message.replace(original, self.replaced[original])
            fix = fix.replace(original, self.replaced[original])
        return replace(problem, message=message, fix=fix)

    def manifest(self) -> dict:
        """The ``privacy`` entry of manifest.json: policy, counts, and the warning when off."""
        by_kind = self.findings["kind"].value_counts().sort_index()
        entry = {"policy": self.policy, "findings": len(self.findings),
                 "findings_by_kind": {k: int(v) for k, v in by_kind.items()},
                 "names_by_ner": {language: model or "none (recognisers that need no model)"
                                  for language, model in sorted(self.ner_models.items())}}
        if self.policy == "redact":
            entry["redacted"] = len(self.log)
        if self.policy == "off":
            entry["warning"] = OFF_WARNING
        return entry


def scan_items(transcripts: pd.DataFrame, human: pd.DataFrame, unplaced: pd.DataFrame,
               summaries: pd.DataFrame | None = None) -> list[Item]:
    """Every text of the inputs that an output may contain: transcripts, register notes, the
    memos of human coding, the quotes that could not be placed, each in its session's
    language (TRANSCRIPTS' ``language``), and analysts' cell ``summaries`` (in the scanner's)."""
    items = [Item(s.session_id, s.file, "text", s.text, language=s.language)
             for s in transcripts.itertuples(index=False)]
    items += [Item(s.session_id, "register", "notes", s.notes, language=s.language)
              for s in transcripts.itertuples(index=False) if s.notes]
    language_of = dict(zip(transcripts["session_id"], transcripts["language"]))
    # Memos reach codings.csv and the reliability report; a quote reaches the outputs only when
    # it could not be placed (unplaced_quotes.csv): a placed one is transcript text, scanned there.
    for frame, columns in ((human, ("memo",)), (unplaced, ("quote",))):
        for r in frame.to_dict("records"):
            items += [Item(r["session_id"], f"coding/{r['file']}", column, r[column], int(r["row"]),
                           language_of.get(r["session_id"], "")) for column in columns if r.get(column)]
    if summaries is not None:
        items += [Item("", f"coding/{r['file']}", "summary", r["summary"], int(r["row"]))
                  for r in summaries.to_dict("records") if r["summary"]]
    return items


def guard(transcripts: pd.DataFrame, turns: pd.DataFrame, human: pd.DataFrame, unplaced: pd.DataFrame, *,
          policy: str, scanner: Scanner | None, folder: Path | str,
          ner_models: dict[str, str | None] | None = None, extracted: dict[str, Path] | None = None,
          summaries: pd.DataFrame | None = None) -> Guarded:
    """Apply ``policy`` to the inputs of a run before anything is written.

    ``block``: raise :class:`InputError` with one problem per finding (where and what kind,
    never the text). ``redact``: replace every finding by its placeholder in the transcripts,
    register notes, turn speakers, memos and quotes, move turns and human codings to the
    redacted offsets, and log each replacement. ``off``: pass everything through unscanned.
    ``ner_models`` (language -> the spaCy pipeline whose NER read its names, None for none) is
    recorded for the manifest; ``extracted`` (file -> path) where the text extracted from a
    transcript that is not plain text is written for people when the run is blocked.
    ``summaries``: analysts' cell summaries, guarded as memos are.
    """
    ner_models = dict(ner_models or {})
    kept = {} if summaries is None else {"summaries": summaries}
    if policy == "off" or scanner is None:
        empty = schemas.conform([], schemas.PRIVACY_FINDINGS)
        return Guarded("off", empty, transcripts, turns, human, unplaced, ner_models=ner_models, **kept)
    items = scan_items(transcripts, human, unplaced, summaries)
    findings, hits = find_identifiers(items, scanner)
    if policy == "block":
        if len(findings):
            raise InputError(findings_problems(findings, folder, extracted))
        return Guarded(policy, findings, transcripts, turns, human, unplaced, ner_models=ner_models, **kept)
    guarded = _redacted(findings, items, hits, transcripts, turns, human, unplaced, ner_models)
    if summaries is None:
        return guarded
    cells = {(item.file, item.row): found for item, found in zip(items, hits) if item.field == "summary" and found}
    redacted = [redact(text, cells[(f"coding/{f}", int(r))])[0] if (f"coding/{f}", int(r)) in cells else text
                for f, r, text in zip(summaries["file"], summaries["row"], summaries["summary"])]
    return replace(guarded, summaries=summaries.assign(summary=redacted))


def findings_problems(findings: pd.DataFrame, folder: Path | str,
                      extracted: dict[str, Path] | None = None) -> list[Problem]:
    """One problem per finding: file, line and column, kind and recogniser, and the placeholder
    of its kind; never the text. A line of a transcript in ``extracted`` (file -> path) is one of
    the text extracted from it, written to that path."""
    problems, extracted = [], extracted or {}
    for f in findings.itertuples(index=False):
        if f.field == "text":
            of = f" of the text extracted from it, written to {extracted[f.file]}" if f.file in extracted else ""
            name, where = str(Path(folder) / f.file), f"line {f.line}, column {f.column}{of} (offsets {f.start}-{f.end})"
        elif f.file == "register":
            name, where = str(Path(folder) / "register"), f"notes of session {f.session_id}, characters {f.start + 1}-{f.end}"
        else:
            name, where = str(Path(folder) / f.file), f"row {f.line}, {f.field}, characters {f.start + 1}-{f.end}"
        problems.append(Problem(name, f"{KIND_NAMES[f.kind]} ({f.kind}, found by {f.recognizer}, score {f.score}) "
                                      f"in session {f.session_id}.", fix_for(f.kind, f.field), where))
    return problems


def _redacted(findings, items, hits, transcripts, turns, human, unplaced, ner_models) -> Guarded:
    replaced: dict[str, str] = {}
    texts, notes, cells, edits_of, log = {}, {}, {}, {}, []
    for item, found in zip(items, hits):
        if not found:
            continue
        new, edits = redact(item.text, found)
        for hit in found:
            replaced[item.text[hit.start:hit.end]] = PLACEHOLDERS[hit.kind]
        for edit, hit in zip(edits, found):
            line = _line_column(new, edit.new_start)[0] if item.field == "text" else item.row
            log.append({"session_id": item.session_id, "file": item.file, "field": item.field, "line": line,
                        "start": edit.new_start, "end": edit.new_end, "kind": edit.kind,
                        "placeholder": PLACEHOLDERS[edit.kind], "recognizer": hit.recognizer})
        if item.field == "text":
            texts[item.session_id], edits_of[item.session_id] = new, edits
        elif item.field == "notes":
            notes[item.session_id] = new
        else:
            cells[(item.file, item.row, item.field)] = new
    out = transcripts.assign(
        text=[texts.get(s, t) for s, t in zip(transcripts["session_id"], transcripts["text"])],
        notes=[notes.get(s, n) for s, n in zip(transcripts["session_id"], transcripts["notes"])]
    ).astype(transcripts.dtypes.to_dict())
    new_turns = turns.assign(
        start=[shift_offset(a, edits_of.get(s, [])) for s, a in zip(turns["session_id"], turns["start"])],
        end=[shift_offset(b, edits_of.get(s, []), end=True) for s, b in zip(turns["session_id"], turns["end"])],
        speaker=[_replace_all(speaker, replaced) for speaker in turns["speaker"]])
    return Guarded("redact", findings, out, schemas.conform(new_turns, schemas.TURNS),
                   _move(human, edits_of, cells, texts=None), _move(unplaced, edits_of, cells, texts=texts),
                   pd.DataFrame(log, columns=LOG_COLUMNS), replaced, ner_models)

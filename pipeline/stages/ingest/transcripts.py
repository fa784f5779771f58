"""The ingest stage: the register and every transcript, read and validated.

``read_transcripts`` returns the TRANSCRIPTS table (one row per session: the register's
metadata, the file's format and encoding, a hash of its bytes, and its normalised text).

A session's language decides how its text is read (tokenizer, lemmas, rules, stance words, the
privacy guard's name recogniser), so it is checked against the text: where the register leaves
it empty it is told from the text (:mod:`pipeline.nlp.detect`, among ``evaluation.languages``),
and where the register gives one the text plainly is not in, a warning says so.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import pandas as pd

from pipeline import schemas
from pipeline.config.evaluation import Evaluation
from pipeline.errors import InputError, PipelineWarning, Problem, TranscriptError
from pipeline.nlp.detect import detect_language, unknown_languages
from pipeline.stages.ingest.formats import ExtractedText, read_text
from pipeline.stages.ingest.register import read_register
from pipeline.seams import FEW_SESSIONS, IN_ORDER, Parallel


def _read(path: Path) -> tuple[ExtractedText | None, str, list[Problem]]:
    """One transcript's text, the hash of its bytes, and its problems (here or in a worker)."""
    try:
        return read_text(path, str(path)), hashlib.sha256(path.read_bytes()).hexdigest(), []
    except TranscriptError as exc:
        return None, "", list(exc.problems)


def _language(row: dict, text: str, languages: tuple[str, ...], name: str) -> tuple[str, Problem | None]:
    """The session's language: the register's (``row``), or the one told from ``text`` among
    ``languages`` when the register leaves it empty; and the problem that stops the session
    when it is empty and cannot be told. Warns where the register's and the text's differ."""
    given, where = row["language"], f"row {row['_row']}"
    if len(languages) == 1:
        return given or languages[0], None
    unknown = unknown_languages(languages)
    if unknown:
        if given:
            return given, None
        return "", Problem(name, f"the register ({where}) gives no language, and it cannot be told from the text: "
                                 f"{', '.join(unknown)} cannot be told apart from the evaluation's other languages.",
                           f"Write the session's language ({', '.join(languages)}) in the register's language column.")
    detected = detect_language(text, languages)
    if not given:
        if detected.confident:
            return detected.language, None
        guess = f" (it reads most like '{detected.language}', confidence {detected.confidence})" \
            if detected.language else ""
        return "", Problem(name, f"the register ({where}) gives no language, and the text is too short or too "
                                 f"mixed to tell it{guess}.",
                           f"Write the session's language ({', '.join(languages)}) in the register's language column.")
    if detected.confident and detected.language != given:
        warnings.warn(PipelineWarning(Problem(
            name, f"the register ({where}) says its language is '{given}', but the text reads as "
                  f"'{detected.language}' (confidence {detected.confidence}); it is read as '{given}': with that "
                  f"language's tokenizer, lemmas, rules, stance words and name recogniser.",
            "Correct the register's language column, or leave it empty to have the language told from the text.")))
    return given, None


def read_transcripts(
    folder: Path | str,
    *,
    evaluation: Evaluation,
    errors: list[Problem] | None = None,
    progress=None,
    parallel: Parallel = IN_ORDER,
) -> pd.DataFrame:
    """Read the register of ``folder`` and every transcript it lists.

    Returns the TRANSCRIPTS table (columns in :data:`pipeline.schemas.TRANSCRIPTS`). Every
    problem is collected: if ``errors`` is given they are appended to it and the sessions
    with a problem are left out; otherwise :class:`InputError` is raised with all of them.
    ``progress`` wraps an iterable to show progress (see :mod:`pipeline.runtime.progress`).
    """
    folder = Path(folder)
    collected: list[Problem] = []
    if not folder.is_dir():
        collected.append(Problem(str(folder), "is not a folder.",
                                 "Point --transcripts (or TRANSCRIPTS=) at the folder with register.csv."))
        rows = []
    else:
        register = read_register(folder, evaluation=evaluation, errors=collected)
        rows = register.to_dict("records")
    records = []
    # Read in worker processes only: besides sharing the work, a worker's memory goes with it
    # (a Word file leaves about a megabyte the main process would keep).
    files = parallel.map(_read, [folder / row["file"] for row in rows], min_items=FEW_SESSIONS, share=False)
    # The progress first: zip stops at the end of its first iterable, so the progress ends too.
    read = progress(files, "read", total=len(rows)) if progress else files
    for (extracted, digest, problems), row in zip(read, rows):
        path = folder / row["file"]
        name = str(path)
        if problems:
            collected += problems
            continue
        declared = extracted.front_matter.get("session_id")
        if declared is not None and str(declared) != row["session_id"]:
            collected.append(Problem(name, f"its front matter says session_id '{declared}' but the "
                                           f"register (row {row['_row']}) says '{row['session_id']}'.",
                                     "Make the two agree.", "line 2"))
            continue
        language, problem = _language(row, extracted.text, evaluation.evaluation.languages, name)
        if problem is not None:
            collected.append(problem)
            continue
        records.append({
            **{k: v for k, v in row.items() if k != "_row"},
            "language": language,
            "participants": int(float(row["participants"])),
            "women": int(float(row["women"])) if row["women"] else None,
            "men": int(float(row["men"])) if row["men"] else None,
            "format": extracted.format,
            "encoding": extracted.encoding,
            "sha256": digest,
            "text": extracted.text,
        })
    if errors is not None:
        errors += collected
    elif collected:
        raise InputError(collected)
    return schemas.conform(records, schemas.TRANSCRIPTS)

"""The ingest stage: the register and every transcript, read and validated.

``read_transcripts`` returns the TRANSCRIPTS table (one row per session: the register's
metadata, the file's format and encoding, a hash of its bytes, and its normalised text).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from pipeline import schemas
from pipeline.config.evaluation import Evaluation
from pipeline.errors import InputError, Problem, TranscriptError
from pipeline.stages.ingest.formats import ExtractedText, read_text
from pipeline.stages.ingest.register import read_register
from pipeline.seams import FEW_SESSIONS, IN_ORDER, Parallel


def _read(path: Path) -> tuple[ExtractedText | None, str, list[Problem]]:
    """One transcript's text, the hash of its bytes, and its problems (here or in a worker)."""
    try:
        return read_text(path, str(path)), hashlib.sha256(path.read_bytes()).hexdigest(), []
    except TranscriptError as exc:
        return None, "", list(exc.problems)


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
        records.append({
            **{k: v for k, v in row.items() if k != "_row"},
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

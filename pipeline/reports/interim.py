"""``interim/``: the stage tables as Parquet and each transcript's text, for later tools.

``pipeline.commands.read_table`` reads the tables back, checked against their schemas; the texts
are the normalised (and under ``redact``, redacted) transcripts the offsets of every table
point into.
"""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from pipeline import schemas
from pipeline.reports.report import Output, Report, RunTables

TEXTS_FOLDER = "interim/texts"
STAGE_TABLES = (schemas.TRANSCRIPTS, schemas.TURNS, schemas.SEGMENTS, schemas.CODINGS)


def build_interim(tables: RunTables) -> Iterator[tuple[str, str | pd.DataFrame]]:
    """``interim/texts/<session>.txt`` per session, then ``interim/<table>.parquet`` for
    TRANSCRIPTS, TURNS, SEGMENTS and CODINGS."""
    for session in tables.transcripts.itertuples(index=False):
        yield f"{TEXTS_FOLDER}/{session.session_id}.txt", session.text
    for table in STAGE_TABLES:
        # RunTables names each stage table as its schema does.
        yield f"interim/{table.name}.parquet", getattr(tables, table.name)


REPORT = Report("stage tables", (Output(TEXTS_FOLDER, "text", folder=True),
                                 *(Output(f"interim/{table.name}.parquet", "parquet") for table in STAGE_TABLES)),
                build_interim)

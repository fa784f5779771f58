"""Writing outputs so that a failed run leaves the previous ones as they were.

Files are written into a staging folder beside the outputs; only when every file is written
are they moved into place, each with an atomic rename. Tables are written with sorted rows
and fixed settings so that the same input gives byte-identical files.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, TextIO

import pandas as pd

from pipeline.errors import OutputError

FIXED_TIME = (2000, 1, 1, 0, 0, 0)
_DOC_TIMES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def stable_zip(members: dict[str, bytes | Iterable[bytes]]) -> bytes:
    """A zip of ``members`` in name order, every entry at a fixed time: the same members give
    the same bytes (Word and Excel files are such zips). A member given as pieces (an iterable
    of bytes) is compressed as they come, never whole in memory; the zip is the same as with
    the pieces joined (tested)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            content = members[name]
            if isinstance(content, bytes):
                archive.writestr(info, content)
            else:
                with archive.open(info, "w") as entry:
                    for piece in content:
                        entry.write(piece)
    return out.getvalue()


def restamped_zip(data: bytes) -> bytes:
    """The zip ``data`` made stable (:func:`stable_zip`), with an Office document's own
    created/modified stamps fixed too (python-docx writes the save time)."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = {name: source.read(name) for name in source.namelist()}
    if "docProps/core.xml" in members:
        members["docProps/core.xml"] = _DOC_TIMES.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", members["docProps/core.xml"])
    return stable_zip(members)


SPLICE = "\0pieces\0"  # where a streamed text's pieces go


@dataclass(frozen=True)
class StreamedText:
    """A text file too large to hold as one string: ``text``, with the strings ``pieces``
    yields written in place of :data:`SPLICE` (which ``text`` holds once) as they come."""

    text: str
    pieces: Iterable[str]

    def __post_init__(self):
        if self.text.count(SPLICE) != 1:
            raise ValueError(f"a streamed text must hold {SPLICE!r} once; it holds it {self.text.count(SPLICE)} times")

    @classmethod
    def of(cls, pieces: Iterable[str]) -> "StreamedText":
        """A file that is nothing but ``pieces``."""
        return cls(SPLICE, pieces)

    def write(self, out: TextIO) -> None:
        before, _, after = self.text.partition(SPLICE)
        out.write(before)
        for piece in self.pieces:
            out.write(piece)
        out.write(after)


class StagedOutputs:
    """Collect output files under ``folder`` and publish them together.

    Use as a context manager: files written through ``path(name)`` appear in ``folder`` only
    when the block ends without an exception.
    """

    def __init__(self, folder: Path, owned: tuple[str, ...] = ()):
        """``owned`` files and subfolders hold only this run's files: one this run did not write
        (a report an earlier run wrote under other settings) is removed on publish."""
        self.folder = Path(folder)
        self.owned = owned
        self.names: list[str] = []

    def __enter__(self) -> "StagedOutputs":
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.folder))
        except OSError as exc:
            raise OutputError(f"cannot write to {self.folder}: {exc.strerror}. "
                              f"Choose another --out folder, or check its permissions.") from None
        return self

    def path(self, name: str) -> Path:
        self.names.append(name)
        target = self.staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_text(self, name: str, text: str | StreamedText) -> None:
        if isinstance(text, StreamedText):
            with self.path(name).open("w", encoding="utf-8", newline="\n") as out:
                text.write(out)
        else:
            self.path(name).write_text(text, encoding="utf-8", newline="\n")

    def write_bytes(self, name: str, data: bytes) -> None:
        self.path(name).write_bytes(data)

    def write(self, name: str, content: str | StreamedText | bytes | pd.DataFrame | dict, kind: str) -> None:
        """Write one report file: text or bytes as they are, a table as CSV or Parquet and other
        data as JSON, as its ``kind`` ("csv", "parquet", "json", ...) says."""
        if isinstance(content, bytes):
            self.write_bytes(name, content)
        elif isinstance(content, (str, StreamedText)):
            self.write_text(name, content)
        elif isinstance(content, pd.DataFrame) and kind in ("csv", "parquet"):
            (self.write_csv if kind == "csv" else self.write_parquet)(name, content)
        elif kind == "json":
            self.write_json(name, content)
        else:
            raise TypeError(f"{name}: cannot write a {type(content).__name__} as {kind}")

    def write_json(self, name: str, data) -> None:
        self.write_text(name, json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")

    def write_csv(self, name: str, frame: pd.DataFrame) -> None:
        frame.to_csv(self.path(name), index=False, lineterminator="\n", encoding="utf-8")

    def write_parquet(self, name: str, frame: pd.DataFrame) -> None:
        frame.to_parquet(self.path(name), index=False, engine="pyarrow", compression="zstd")

    def _prune(self) -> None:
        written = {self.folder / name for name in self.names}
        for owned in self.owned:
            place = self.folder / owned
            for path in [place] if place.is_file() else sorted(place.rglob("*")):
                if path.is_file() and path not in written:
                    path.unlink()

    def __exit__(self, kind, value, traceback) -> None:
        try:
            if kind is None:
                for name in self.names:
                    target = self.folder / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(self.staging / name, target)
                self._prune()
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)

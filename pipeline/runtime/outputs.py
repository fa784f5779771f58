"""Writing outputs so that a failed run leaves the previous ones as they were.

Files are written into a staging folder beside the outputs; only when every file is written
are they moved into place, each with an atomic rename. Tables are written with sorted rows
and fixed settings so that the same input gives byte-identical files.
"""

from __future__ import annotations

import contextlib
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
from pipeline.exchange.spreadsheets import formula_safe

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


MARKER = ".evidence-pipeline-run"  # in each output folder a run may prune: it is the run's own
_MARKER_HEADER = "This folder holds the outputs of an evidence-pipeline run"
# Earlier versions left no marker; the files their manifest lists as outputs are theirs.
RECORD = "manifest.json"


def check_output_folder(out: Path | str, *, inputs: dict[str, Path | str | None] | None = None,
                        subfolders: bool = True) -> None:
    """Refuse ``out`` as an output folder before anything is written into it.

    ``out`` (existing or not) must be a folder, or a path where one can be made (no file on
    the way); it must not be one of ``inputs`` (each under the option that named it, e.g.
    ``{"--transcripts": folder}``; None values are skipped) or lie inside one, and, when the
    command writes ``subfolders`` (a run's ``transcripts/``), not hold one: the outputs would be
    written among the inputs, and read back as inputs by the next run. A command that writes a
    few files and no folder may write them beside the inputs' folders. Raises
    :class:`OutputError` naming ``out`` and what to do.
    """
    out = Path(out)
    place = out
    while not place.exists() and place != place.parent:
        place = place.parent
    if place.exists() and not place.is_dir():
        what = "is a file" if place == out else f"lies under {place}, which is a file"
        raise OutputError(f"{out}: {what}, not a folder; the outputs go into a folder. "
                          f"Choose another --out folder (a new one is made).")
    given = {option: Path(folder) for option, folder in (inputs or {}).items() if folder is not None}
    mine = out.resolve()
    for option, folder in given.items():
        theirs = folder.resolve()
        if mine == theirs:
            why = f"is the folder given by {option}"
        elif subfolders and theirs.is_relative_to(mine):
            why = f"holds {folder}, the folder given by {option}"
        elif mine.is_relative_to(theirs):
            why = f"lies inside {folder}, the folder given by {option}"
        else:
            continue
        raise OutputError(f"{out}: {why}; the outputs would be written among the inputs (and read as inputs "
                          f"by the next run). Choose an --out folder apart from the inputs{_beside(folder, given)}.")


def _beside(folder: Path, inputs: dict[str, Path]) -> str:
    """``, e.g. <a folder next to folder>`` that is apart from every input, or nothing."""
    taken = [path.resolve() for path in inputs.values()]
    for name in ("reports", "reports-2", "reports-3"):
        candidate = folder.parent / name
        mine = candidate.resolve()
        apart = not any(mine == t or t.is_relative_to(mine) or mine.is_relative_to(t) for t in taken)
        if apart and (mine.is_dir() or not mine.exists()):
            return f", e.g. {candidate}"
    return ""


class StagedOutputs:
    """Collect output files under ``folder`` and publish them together.

    Use as a context manager: files written through ``path(name)`` appear in ``folder`` only
    when the block ends without an exception, all of them or (if publishing fails) none: the
    files they replace are set aside first and put back on a failure.

    ``owned`` files and folders hold only a run's files, and one this run did not write (a
    report an earlier run wrote under other settings) is removed on publish, but only inside a
    folder that is the run's own: one holding the :data:`MARKER` an earlier run wrote, or one
    that holds nothing but this run's files (a folder it made). A folder without the marker that
    holds other files is never pruned, except for the files that an earlier version of the
    pipeline (which wrote no marker) listed as its outputs in its ``manifest.json``; once it
    holds only this run's files, it gets the marker. Hidden files (``.cache``, the marker) do
    not count as other files.
    """

    def __init__(self, folder: Path, owned: tuple[str, ...] = (), run_id: str | None = None):
        """``run_id`` (the run's fingerprint) is written into the markers."""
        self.folder = Path(folder)
        self.owned = owned
        self.run_id = run_id or ""
        self.names: list[str] = []

    def __enter__(self) -> "StagedOutputs":
        # An OSError (a read-only disk, a full one) is raised as it is: the command line words it.
        self.folder.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.folder))
        self.recorded = self._recorded() if self.owned else set()
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
        formula_safe(frame).to_csv(self.path(name), index=False, lineterminator="\n", encoding="utf-8")

    def write_parquet(self, name: str, frame: pd.DataFrame) -> None:
        frame.to_parquet(self.path(name), index=False, engine="pyarrow", compression="zstd")

    def _recorded(self) -> set[Path]:
        """The files an earlier run's manifest lists as its outputs (read before it is replaced)."""
        try:
            outputs = json.loads((self.folder / RECORD).read_text(encoding="utf-8")).get("outputs", [])
        except (OSError, ValueError, AttributeError):
            return set()
        return {self.folder / name for name in outputs if isinstance(name, str)}

    def _plan(self, written: set[Path]) -> tuple[list[Path], list[Path]]:
        """The files to remove (stale outputs in the run's own places) and the folders to mark."""
        homes: dict[Path, list[Path]] = {self.folder: []}  # the output folder itself is marked too
        top = self.folder.resolve()
        for entry in self.owned:
            place = self.folder / entry
            if place in written or place.is_file():
                home = place.parent
            elif place.is_dir() or any(path.is_relative_to(place) for path in written):
                home = place
            else:
                continue  # not there, and nothing written into it
            if home.is_symlink() or not home.resolve().is_relative_to(top):
                continue  # a link out of the output folder (to an input?) is never the run's
            homes.setdefault(home, []).append(place)
        stale, marks = [], []
        for home, places in homes.items():
            marked = _is_marker(home / MARKER)
            candidates = [path for place in places for path in _files_of(place)
                          if path not in written and path.name != MARKER]
            removed = candidates if marked else [path for path in candidates if path in self.recorded]
            stale += removed
            if marked or not set(_files_of(home, hidden=False)) - written - set(removed):
                marks.append(home)  # still, or now, holding nothing but the run's files
        return stale, marks

    def _check_links(self, names: list[str]) -> None:
        """Refuse to write through a link that leads out of the output folder (to an input?)."""
        top = self.folder.resolve()
        for parent in sorted({(self.folder / name).parent for name in names}):
            if not parent.resolve().is_relative_to(top):
                raise OutputError(f"{parent}: leads to {parent.resolve()}, outside the output folder {self.folder}; "
                                  f"outputs are not written through it. Remove the link, or choose another "
                                  f"--out folder.")

    def _publish(self) -> None:
        """Move every staged file into place and remove the stale ones, as one step: on any
        failure, what was moved is put back and the folder is as it was."""
        names = list(dict.fromkeys(self.names))
        self._check_links(names)
        written = {self.folder / name for name in names}
        stale, marks = self._plan(written)
        for home in marks:
            name = (home / MARKER).relative_to(self.folder).as_posix()
            (self.staging / name).parent.mkdir(parents=True, exist_ok=True)
            (self.staging / name).write_text(f"{_MARKER_HEADER} ({self.run_id or 'no id'}). A later run into the "
                                             f"same output folder may remove the files here that it does not "
                                             f"write again.\n", encoding="utf-8")
            names.append(name)
        aside = Path(tempfile.mkdtemp(prefix=".previous-", dir=self.folder))
        undo: list[tuple[Path, Path | None]] = []  # (place, where its earlier file is set aside)
        made: list[Path] = []
        try:
            for number, path in enumerate(stale):
                kept = aside / "stale" / str(number)
                kept.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, kept)
                undo.append((path, kept))
            for number, name in enumerate(names):
                target, kept = self.folder / name, None
                made += _make_parents(target.parent)
                if target.is_file() or target.is_symlink():
                    kept = aside / "replaced" / str(number)
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(target, kept)
                    undo.append((target, kept))
                os.replace(self.staging / name, target)
                if kept is None:
                    undo.append((target, None))
        except BaseException:
            _undo(undo, made)
            raise
        finally:
            shutil.rmtree(aside, ignore_errors=True)

    def __exit__(self, kind, value, traceback) -> None:
        try:
            if kind is None:
                self._publish()
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)


def _is_marker(path: Path) -> bool:
    try:
        return path.is_file() and not path.is_symlink() and path.read_text(encoding="utf-8").startswith(_MARKER_HEADER)
    except (OSError, UnicodeDecodeError):
        return False


def _files_of(place: Path, *, hidden: bool = True) -> list[Path]:
    """``place`` if it is a file, else the files under it (and links; links to folders are not
    followed), without hidden files and folders unless ``hidden``."""
    if place.is_file() or place.is_symlink():
        return [place]
    found = []
    for root, folders, files in os.walk(place):
        if not hidden:
            folders[:] = [name for name in folders if not name.startswith(".")]
            files = [name for name in files if not name.startswith(".")]
        found += [Path(root) / name for name in files]
        found += [Path(root) / name for name in folders if (Path(root) / name).is_symlink()]
    return sorted(found)


def _undo(undo: list[tuple[Path, Path | None]], made: list[Path]) -> None:
    """Put back what a failed publish moved: each earlier file where it was, no new file or folder."""
    for place, kept in reversed(undo):
        with contextlib.suppress(OSError):  # put back all that can be, then the error is raised
            if kept is None:
                place.unlink()
            else:
                os.replace(kept, place)
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _make_parents(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; return those made, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir()
    return list(reversed(missing))

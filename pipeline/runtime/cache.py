"""What a rerun can skip: a fingerprint of everything a run reads, and caches of what stages compute.

- :func:`fingerprint` hashes every input file (the codebook folder, the transcripts folder
  with its coding files, the private names file), the options, the installed packages and the
  pipeline's own source. A run whose fingerprint equals the one in the output folder's
  ``manifest.json``, with every output still there, has nothing to do (:func:`up_to_date`).
- The caches are :class:`pipeline.seams.Cache`: ``get(key)``, ``put(key, value)`` and
  ``get_or_compute(key, compute)``, the key hashing what the value is computed from
  (:func:`pipeline.seams.cache_key`; :func:`fingerprint` for what is read from files), so a
  stage whose inputs did not change is read back instead of recomputed. Each keeps one file
  per key under its folder; how a value is stored is the subclass's business:
  :class:`TableCache` (Parquet), :class:`JsonCache`, :class:`PickleCache` (any Python value).

Hidden files (a leading dot) are not inputs: editors and the parse cache keep theirs there.
"""

from __future__ import annotations

import abc
import hashlib
import io
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

import pipeline

_SOURCE = Path(pipeline.__file__).parent


def _files(folder: Path) -> list[Path]:
    """The files under ``folder`` that are not hidden, and the links (also to folders, which are
    not followed: the link itself and where it leads are what a fingerprint records)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if (p.is_file() or p.is_symlink())
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in _files(_SOURCE):
        if path.suffix in (".py", ".j2", ".yaml", ".md", ".css", ".js"):
            digest.update(str(path.relative_to(_SOURCE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fingerprint(folders: dict[str, Path], files: Iterable[Path | None], options: dict, packages: dict) -> str:
    """A hash of every file under ``folders`` (named by label and relative path), of ``files``
    (absent ones count as absent), ``options``, ``packages`` and the pipeline's source."""
    digest = hashlib.sha256(_source_digest().encode())
    digest.update(json.dumps({"options": options, "packages": packages}, sort_keys=True, default=str).encode())
    for label, folder in sorted(folders.items()):
        for path in _files(Path(folder)):
            # A link is told from a copy, so that a file replaced by a link (which the register may refuse)
            # or a linked folder (whose transcripts it lists) is a change.
            link = f"\0link:{os.readlink(path)}" if path.is_symlink() else ""
            digest.update(f"\0{label}/{path.relative_to(folder).as_posix()}{link}\0".encode()
                          + (path.read_bytes() if path.is_file() else b""))
    for number, path in enumerate(files):
        present = path is not None and Path(path).is_file()
        digest.update(f"\0file{number}:{present}\0".encode() + (Path(path).read_bytes() if present else b""))
    return digest.hexdigest()


def up_to_date(out: Path, fingerprint_: str) -> dict | None:
    """The manifest of the run in ``out`` if it had this fingerprint and all its outputs exist."""
    path = Path(out) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("fingerprint") != fingerprint_:
        return None
    if not all((Path(out) / name).exists() for name in manifest.get("outputs", [])):
        return None
    return manifest


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so that a run stopped
    halfway never leaves a half-written cache entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        raise


class FileCache(abc.ABC):
    """A :class:`pipeline.seams.Cache` in files under ``folder``, one per key (``_path``),
    written atomically; ``folder=None`` keeps nothing. Subclasses say how a value is stored
    (``suffix``, ``_dump``, ``_load``) and which errors mean an entry cannot be read
    (``damaged``): such an entry counts as none, and is computed again and overwritten.

    With ``latest_only``, keeping a value removes every other entry: for a cache whose entry
    every edit of the inputs replaces, so that it does not grow with every edit.
    """

    suffix: str
    damaged: tuple[type[Exception], ...] = (OSError, ValueError)

    def __init__(self, folder: Path | str | None, *, latest_only: bool = False):
        self.folder = None if folder is None else Path(folder)
        self.latest_only = latest_only

    def _path(self, key: str) -> Path:
        """The file of ``key``'s entry."""
        return self.folder / f"{key}{self.suffix}"

    @abc.abstractmethod
    def _load(self, path: Path):
        """The value stored in ``path``."""

    @abc.abstractmethod
    def _dump(self, value) -> bytes:
        """``value`` as the bytes of its file."""

    def get(self, key: str):
        """The value kept under ``key``, or None (nothing kept, or a damaged entry)."""
        path = None if self.folder is None else self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            return self._load(path)
        except self.damaged:
            return None

    def put(self, key: str, value) -> None:
        """Keep ``value`` under ``key`` (with ``latest_only``, in place of every other entry)."""
        if self.folder is None:
            return
        path = self._path(key)
        write_atomic(path, self._dump(value))
        if self.latest_only:
            for older in path.parent.glob(f"*{self.suffix}"):
                if older != path:
                    older.unlink()

    def get_or_compute(self, key: str, compute: Callable[[], object]):
        """The value kept under ``key``; if there is none, ``compute()``, kept under ``key``."""
        value = self.get(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value


class TableCache(FileCache):
    """Tables, as Parquet files."""

    suffix = ".parquet"

    def _load(self, path: Path) -> pd.DataFrame:
        return pd.read_parquet(path)

    def _dump(self, value: pd.DataFrame) -> bytes:
        buffer = io.BytesIO()
        value.to_parquet(buffer, index=False)
        return buffer.getvalue()


class JsonCache(FileCache):
    """What JSON holds (dicts, lists, strings, numbers), as JSON files."""

    suffix = ".json"

    def _load(self, path: Path):
        return json.loads(path.read_text(encoding="utf-8"))

    def _dump(self, value) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")


class PickleCache(FileCache):
    """Any Python value (a stage's several tables and objects together), pickled. Only this
    pipeline reads the entries, from its own output folder's ``.cache``; one written by another
    version of it, whose classes changed or moved, counts as damaged."""

    suffix = ".pickle"
    damaged = (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError, ImportError)

    def _load(self, path: Path):
        return pickle.loads(path.read_bytes())

    def _dump(self, value) -> bytes:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

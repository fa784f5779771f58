"""The transcript formats the product reads: each file extension maps to a reader.

A format is one module in this package whose reader is registered with :func:`reader`::

    @reader(".odt")
    def read_odt(source: Source) -> ExtractedText: ...

and one import line in the package's ``__init__``. :func:`read_text` reads any registered
format; every message that lists the formats the product reads takes them from
:func:`extension_list`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pipeline.errors import Problem, TranscriptError


@dataclass(frozen=True)
class Source:
    """One transcript file as a reader gets it: its ``path``, its bytes (``data``, never
    empty or blank), how messages name it (``name``) and the ``kind`` its extension is
    registered as."""

    path: Path
    data: bytes
    name: str
    kind: str


@dataclass(frozen=True)
class ExtractedText:
    """A transcript's normalised text and how it was obtained.

    ``format`` is the kind its extension is registered as; ``encoding`` the text encoding
    decoded (or the format, for files that are not text); ``body_start`` is where speech may
    begin (after a YAML front matter block, if any); ``front_matter`` holds that block's keys.
    """

    text: str
    format: str
    encoding: str
    body_start: int = 0
    front_matter: dict = field(default_factory=dict)


Read = Callable[[Source], ExtractedText]


@dataclass(frozen=True)
class Reader:
    """What reads files with ``extension`` (lower case, with its dot): ``read``, which
    returns their normalised text as ``kind``."""

    extension: str
    kind: str
    read: Read


# Extension -> reader, in the order messages list them (the order formats are registered).
READERS: dict[str, Reader] = {}


def reader(*extensions: str, kind: str | None = None) -> Callable[[Read], Read]:
    """Register the decorated function as the reader of files with ``extensions`` (``".vtt"``).

    Each extension's kind (``ExtractedText.format``, the TRANSCRIPTS table's ``format``) is
    ``kind`` if given, else the extension without its dot. Returns the function unchanged.
    Registering an extension twice is a programming error (``ValueError``)."""
    def register(read: Read) -> Read:
        for extension in extensions:
            extension = extension.lower()
            if not extension.startswith(".") or extension in READERS:
                raise ValueError(f"cannot register a reader for {extension!r}: an extension starts "
                                 f"with a dot and has one reader")
            READERS[extension] = Reader(extension, kind or extension[1:], read)
        return read
    return register


def extension_list() -> str:
    """The registered extensions as a message lists them: ``".txt, .md, .docx or .pdf"``."""
    names = list(READERS)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def read_text(path: Path, name: str | None = None) -> ExtractedText:
    """Read one transcript file of any registered format into its normalised text.

    ``name`` is how the file is named in messages (its path relative to the transcripts
    folder). Raises :class:`TranscriptError` for an unregistered extension and for unreadable,
    undecodable or empty files.
    """
    name = name or path.name
    registered = READERS.get(path.suffix.lower())
    if registered is None:
        raise TranscriptError(Problem(name, f"has an unsupported extension '{path.suffix}'.",
                                      f"Convert it to {extension_list()}."))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TranscriptError(Problem(name, f"cannot be read ({exc.strerror}).",
                                      "Check that the file exists and is readable.")) from None
    if not data.strip():
        raise TranscriptError(Problem(name, "is empty.",
                                      "Put the transcript's text in it, or remove its row from the register."))
    extracted = registered.read(Source(path=path, data=data, name=name, kind=registered.kind))
    body_start = extracted.body_start
    if not extracted.text[body_start:].strip():
        raise TranscriptError(Problem(name, "has no text" + (" after its front matter." if body_start else "."),
                                      "Put the transcript's text in it, or remove its row from the register."))
    return extracted

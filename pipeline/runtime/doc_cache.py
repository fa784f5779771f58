"""The parse cache: spaCy documents kept between runs as ``DocBin`` files, one per session.

The wiring makes a :class:`DocCache` under the run's cache folder and hands it to the steps
that parse (the :class:`pipeline.seams.ParseCache` they take as ``cache``). An entry's key
hashes the texts and the pipeline's identity (:func:`pipeline.nlp.pipelines.pipeline_id`), so
a changed transcript or model misses and is parsed again; entries are written atomically,
and forked workers write theirs themselves.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, DocBin

from pipeline.nlp.pipelines import pipeline_id
from pipeline.runtime.cache import write_atomic


class DocCache:
    """``DocBin`` files under ``folder``, one per (pipeline, list of texts); ``folder=None``
    keeps nothing."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def key(self, nlp: Language, texts: list[str]) -> str:
        """A hash of ``nlp``'s identity and of ``texts``, in order."""
        digest = hashlib.sha256(pipeline_id(nlp).encode())
        for text in texts:
            digest.update(b"\0" + text.encode())
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.spacy"

    def has(self, nlp: Language, texts: list[str]) -> bool:
        """Whether an entry for ``texts`` parsed by ``nlp`` is kept (not whether it is sound)."""
        return self.folder is not None and self._path(self.key(nlp, texts)).is_file()

    def get(self, nlp: Language, texts: list[str]) -> list[Doc] | None:
        """The docs of ``texts`` parsed by ``nlp``, or None: nothing kept, or a damaged entry."""
        if self.folder is None:
            return None
        path = self._path(self.key(nlp, texts))
        if not path.is_file():
            return None
        try:
            docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
        except (ValueError, OSError):
            return None  # a damaged cache entry is parsed again and overwritten
        # The key hashes the texts; a cheap check that the entry holds docs of their lengths
        # (``doc.text`` would rebuild every string from the tokens).
        if [d[-1].idx + len(d[-1].text_with_ws) if len(d) else 0 for d in docs] != [len(t) for t in texts]:
            return None
        return docs

    def put(self, nlp: Language, texts: list[str], docs: list[Doc]) -> None:
        """Keep ``docs``, the docs of ``texts`` parsed by ``nlp`` (user data is not kept)."""
        if self.folder is None:
            return
        write_atomic(self._path(self.key(nlp, texts)), DocBin(docs=docs, store_user_data=False).to_bytes())

"""The :class:`Scanner`: Presidio's recognisers and the names of each text's language (its
NER, or the recognisers that need no model) over a list of texts, hits merged where they
overlap, shares of the texts in parallel; and the PRIVACY_FINDINGS table of the items scanned
(:func:`find_identifiers`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import pandas as pd

from pipeline import schemas
from pipeline.seams import IN_ORDER, Parallel
from pipeline.stages.privacy.folding import _WORD
from pipeline.text import fold_one_for_one
from pipeline.stages.privacy.hits import Hit, _line_column, _merge
from pipeline.stages.privacy.names import _Allowed, _Ner, _person_names, _stop_words, allowlist_terms
from pipeline.stages.privacy.recognisers import _ENTITY_KINDS, _LANGUAGE, _ROLES, _recognizers


class Scanner:
    """Finds identifying details in texts of several languages. ``ner_models`` maps a language
    (an ISO 639 code) to the trained spaCy pipeline whose NER finds its names; a language not
    in it is read by the recognisers that need no model (see :func:`_person_names`).
    ``language`` is the language of texts given without one; ``vocabulary`` is every word
    written in lower case somewhere in the evaluation's texts (see :func:`lowercase_vocabulary`)."""

    def __init__(self, *, allowlist: Iterable[str] = (), private_names: Iterable[str] = (),
                 ner_models: Mapping[str, str | None] | None = None, language: str = "es", batch_size: int = 64,
                 vocabulary: frozenset[str] = frozenset(), parallel: Parallel = IN_ORDER):
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        self.private_names = tuple(n.strip() for n in private_names if n.strip())
        self.allowed = _Allowed(allowlist_terms(allowlist))
        self.private_terms = {fold_one_for_one(n) for n in self.private_names}
        registry = RecognizerRegistry(recognizers=_recognizers(self.private_names), supported_languages=[_LANGUAGE])
        self.analyzer = AnalyzerEngine(registry=registry, supported_languages=[_LANGUAGE],
                                       nlp_engine=NoOpNlpEngine(models=[{"lang_code": _LANGUAGE, "model_name": "none"}]))
        self.ners = {code: _Ner(model, batch_size, code) for code, model in sorted((ner_models or {}).items()) if model}
        self.language = language
        self.vocabulary = vocabulary
        self.parallel = parallel

    def scan(self, texts: list[str], languages: list[str] | None = None) -> list[list[Hit]]:
        """The findings in each text, merged where they overlap, in text order; ``languages``
        gives each text's language (by default :attr:`language`). In up to the processes of
        ``parallel`` (:mod:`pipeline.seams`), each scanning shares of the texts in turn."""
        languages = [self.language] * len(texts) if languages is None else [code or self.language for code in languages]
        if self.parallel.processes <= 1 or len(texts) < 16:
            return self._scan(texts, languages)
        for code in sorted(set(languages) & set(self.ners)):
            self.ners[code].nlp  # loaded before the workers fork: they share it
        size = sum(map(len, texts)) / (4 * self.parallel.processes)
        shares, share, length = [], [], 0
        for pair in zip(texts, languages):
            share.append(pair)
            length += len(pair[0])
            if length >= size:
                shares.append(share)
                share, length = [], 0
        shares += [share] if share else []
        return [hits for part in self.parallel.map(self._scan_share, shares) for hits in part]

    def _scan_share(self, share: list[tuple[str, str]]) -> list[list[Hit]]:
        return self._scan([text for text, _ in share], [code for _, code in share])

    def _scan(self, texts: list[str], languages: list[str]) -> list[list[Hit]]:
        # Each text folded and searched for allowlisted terms once, for both kinds of finding.
        folded = [fold_one_for_one(text) for text in texts]
        allowed = [self.allowed.spans(f) for f in folded]
        patterns = [self._patterns(*item) for item in zip(texts, languages, folded, allowed)]
        names = _person_names(self.ners, texts, languages, folded, allowed, allowlist=self.allowed,
                              vocabulary=self.vocabulary)
        return [_merge(p + n) for p, n in zip(patterns, names)]

    def _patterns(self, text: str, language: str, folded: str, allowed: list[tuple[int, int]]) -> list[Hit]:
        if not text.strip():
            return []
        hits = []
        for result in self.analyzer.analyze(text=text, language=_LANGUAGE, score_threshold=0.0):
            kind = _ENTITY_KINDS.get(result.entity_type)
            if kind is None:
                continue
            name = (result.recognition_metadata or {}).get("recognizer_name", result.entity_type)
            if kind == "name" and self._ordinary(text[result.start:result.end], language):
                continue
            if kind != "private_name" and self.allowed.covers(allowed, folded, result.start, result.end):
                continue
            hits.append(Hit(result.start, result.end, kind, name, round(float(result.score), 2)))
        return hits

    def _ordinary(self, name: str, language: str) -> bool:
        """A title followed by a role or a stop word ('la señora Ministra', 'Mr. And')."""
        words = [fold_one_for_one(w) for w in _WORD.findall(name)]
        return not words or words[0] in _ROLES or words[0] in _stop_words(language)


@dataclass(frozen=True)
class Item:
    """One text to scan and where it comes from: a transcript (``field`` 'text', line and
    column counted in it) or a cell of a table (``field`` the column, ``line`` the row)."""

    session_id: str
    file: str
    field: str
    text: str
    row: int = 0
    language: str = ""  # its ISO 639 code; empty: the scanner's language


def find_identifiers(items: list[Item], scanner: Scanner) -> tuple[pd.DataFrame, list[list[Hit]]]:
    """The PRIVACY_FINDINGS table of ``items`` and the hits of each item."""
    hits = scanner.scan([item.text for item in items], [item.language for item in items])
    rows = []
    for item, found in zip(items, hits):
        for hit in found:
            if item.field == "text":
                line, column = _line_column(item.text, hit.start)
            else:
                line, column = item.row, hit.start + 1
            rows.append({"session_id": item.session_id, "file": item.file, "field": item.field, "line": line,
                         "column": column, "start": hit.start, "end": hit.end, "kind": hit.kind,
                         "recognizer": hit.recognizer, "score": hit.score})
    return schemas.conform(rows, schemas.PRIVACY_FINDINGS), hits

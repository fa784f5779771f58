"""What a rerun of the rule coding may skip: each session's codings kept per pattern, and each
text's regex matches.

- :class:`RuleCache`: one entry per session, keyed by the parser, the parsed texts, the
  session's text and its segment bounds: its rule codings per pattern (under a hash of the
  pattern, :func:`rule_digests`, so adding a pattern leaves the others' codings valid), its
  segments' lexicon stances (with a hash of the vocabulary that judged them) and the distinct
  norms of its words.
- :class:`KeptCodings`: those entries for one run, and what each session still needs: only
  the new or changed patterns are matched again, and only in sessions where they may match
  (:meth:`KeptCodings.needs_parse`: a session whose words hold none of the new phrases, and
  in which no new regex matched, is not parsed at all).
- :class:`RegexCache`: the regex matches per text, so a text is scanned only by the regexes
  that have not scanned it yet; :func:`regex_by_doc` cuts the matches over a session's turns
  joined back into the turns.

The stores are handed in by the wiring (:class:`pipeline.seams.Cache`; None keeps nothing).
"""

from __future__ import annotations

import bisect
import hashlib
import json
from typing import TYPE_CHECKING

from pipeline.config.codebook import Codebook
from pipeline.seams import FEW_SESSIONS, IN_ORDER, Cache, Parallel
from pipeline.stages.coding.rules import (NEGATION_WINDOW, STANCE_KINDS, CodebookMatcher, code_patterns,
                                          rule_key)

if TYPE_CHECKING:
    from pipeline.stages.coding.rule_coder import Session

# Bump when the way rule codings are computed changes (matching, negation, clipping).
RULES_CACHE_VERSION = "4"  # 4: a one-word phrase matches its form too


def stance_digest(codebook: Codebook, language: str) -> str:
    """A hash of what segment stances and negation in ``language`` depend on: the stance
    vocabulary and how it is applied."""
    stance = {kind: codebook.stance.words(kind, language) for kind in STANCE_KINDS}
    payload = json.dumps([RULES_CACHE_VERSION, NEGATION_WINDOW, language, stance], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def rule_digests(codebook: Codebook, language: str) -> dict[str, str]:
    """{rule (:func:`pipeline.stages.coding.rules.rule_key`): a hash of what its codings in
    ``language`` depend on}: its code, the pattern itself (not its position in the list) and
    the stance vocabulary (negation)."""
    lexicon = stance_digest(codebook, language)
    digests = {}
    for code, key, pattern in code_patterns(codebook, language):
        payload = json.dumps([lexicon, code, [pattern.kind, pattern.value, pattern.id]])
        digests[rule_key(code, key)] = hashlib.sha256(payload.encode()).hexdigest()[:32]
    return digests


class RuleCache:
    """Each session's entry (see the module's docstring) in ``store`` (None: nothing kept)."""

    def __init__(self, store: Cache | None):
        self.store = store

    @staticmethod
    def key(parser: str, texts: list[str], text: str, bounds: list) -> str:
        """From the parser's identity, the texts it parses, the session's text and its segments."""
        digest = hashlib.sha256(json.dumps([RULES_CACHE_VERSION, parser, bounds]).encode())
        for part in [*texts, text]:
            digest.update(b"\0" + part.encode())
        return digest.hexdigest()

    def load(self, key: str) -> dict:
        """The entry under ``key``; a fresh one if there is none, or it is damaged."""
        entry = self.store.get(key) if self.store is not None else None
        if isinstance(entry, dict) and isinstance(entry.get("patterns"), dict):
            return entry
        return {"patterns": {}}

    def save(self, key: str, entry: dict, *, keep: set[str]) -> None:
        """Store ``entry`` with the codings of the patterns hashed in ``keep`` only: the entry
        holds the current codebook's codings, not every pattern it ever had."""
        if self.store is None:
            return
        entry["patterns"] = {digest: rows for digest, rows in entry["patterns"].items() if digest in keep}
        self.store.put(key, entry)


class KeptCodings:
    """The run's :class:`RuleCache` entries, one per session, with what each still needs.
    ``parsers`` is each language's parser identity (:func:`pipeline.nlp.pipelines.parse_identity`).
    """

    def __init__(self, codebook: Codebook, sessions: list[Session], *, parsers: dict[str, str], cache: RuleCache):
        self.codebook, self.cache = codebook, cache
        languages = sorted({session.language for session in sessions})
        self.digests = {language: rule_digests(codebook, language) for language in languages}
        self.lexicon = {language: stance_digest(codebook, language) for language in languages}
        self._keys: dict[str, str] = {}
        self._entries: dict[str, dict] = {}
        self.needed: dict[str, frozenset[str]] = {}  # session -> the rules it still needs matched
        for session in sessions:
            sid, digests = session.session_id, self.digests[session.language]
            self._keys[sid] = cache.key(parsers[session.language], session.texts, session.text,
                                       session.bounds_key())
            self._entries[sid] = cache.load(self._keys[sid])
            self.needed[sid] = frozenset(k for k, d in digests.items() if d not in self._entries[sid]["patterns"])

    def all_rules(self, language: str) -> frozenset[str]:
        return frozenset(self.digests[language])

    def todo(self, sessions: list[Session]) -> list[Session]:
        """The ``sessions`` with patterns still to match, or no segment stances kept."""
        return [s for s in sessions if self.needed[s.session_id] or "stances" not in self._entries[s.session_id]]

    def needs_parse(self, session: Session, matcher: CodebookMatcher, regexes: RegexCache) -> bool:
        """Whether ``session`` must be parsed and matched with ``matcher`` (the patterns it
        needs): not if its words (kept from an earlier run) hold none of the new phrases, no
        new regex matched in it (``regexes``) and its stances were judged by the current stance
        vocabulary. Such a session has no codings of those patterns: they are recorded so."""
        entry = self._entries[session.session_id]
        if (entry.get("lexicon") == self.lexicon[session.language] and "norms" in entry
                and not matcher.possible(set(entry["norms"]), regexes.matches(matcher, session.joined))):
            self.record(session, [])
            return False
        return True

    def forget_norms(self) -> None:
        """Let go of the norms read from the cache: they stay on disk, and are not needed here."""
        for entry in self._entries.values():
            entry.pop("norms", None)

    def record(self, session: Session, rows: list[dict], *, stances: dict | None = None,
               norms: list[str] | None = None) -> dict:
        """Record (and store) ``rows``, the codings of the patterns ``session`` needed, with its
        segments' ``stances`` and its words' ``norms`` when it was matched; returns its entry."""
        sid, language = session.session_id, session.language
        entry, digests = self._entries[sid], self.digests[language]
        if stances is not None:
            entry |= {"stances": stances, "lexicon": self.lexicon[language], "norms": norms}
        owner: dict[str, str] = {}  # a pattern listed twice in a code is matched and kept once
        for key in sorted(self.needed[sid]):
            owner.setdefault(digests[key], key)
        entry["patterns"] |= {digest: [] for digest in owner}
        for row in rows:
            key = rule_key(row["code"], row["coder"])
            if owner.get(digests[key]) == key:
                entry["patterns"][digests[key]].append({k: v for k, v in row.items() if k != "coder"})
        self.cache.save(self._keys[sid], entry, keep=set(digests.values()))
        entry.pop("norms", None)  # stored; not held or sent back
        return entry

    def release(self, session: Session) -> dict:
        """``session``'s entry, let go here (a worker sends it back; this process puts it back)."""
        return self._entries.pop(session.session_id)

    def put_back(self, session: Session, entry: dict) -> None:
        self._entries[session.session_id] = entry

    def codings(self, sessions: list[Session], **columns) -> tuple[list[dict], dict[str, tuple]]:
        """(rule coding rows, each with ``columns`` too, and {segment id: (stance, hedged,
        positives, negatives)}) of every session: by session, then by pattern in codebook order,
        then as matched. Each entry is let go once read, so that memory does not hold them all
        twice."""
        rows, stances = [], {}
        for session in sessions:
            sid, language = session.session_id, session.language
            entry = self._entries.pop(sid)
            for code, pattern, _ in code_patterns(self.codebook, language):
                digest = self.digests[language][rule_key(code, pattern)]
                rows += [{**row, "coder": pattern, "session_id": sid, **columns} for row in entry["patterns"][digest]]
            stances |= {segment: tuple(value) for segment, value in entry["stances"].items()}
        return rows, stances


JOIN = "\n\n\n"  # between turns joined for the regexes: a line break stops a match in practice


class RegexCache:
    """Regex matches per text in ``store`` (None: nothing kept), one entry per text:
    ``{regex source: [[start, end], ...]}``, for every pattern that has scanned the text."""

    def __init__(self, store: Cache | None):
        self.store = store
        self._checked: dict[str, dict] = {}  # complete entries :meth:`fill` read, until used

    def _read(self, key: str) -> dict:
        if key in self._checked:
            return self._checked.pop(key)
        known = self.store.get(key)
        return known if isinstance(known, dict) else {}  # none yet, or damaged: computed again

    @staticmethod
    def _key(text: str) -> str:
        # Keyed by the text and how regexes are compiled (CodebookMatcher: re.IGNORECASE).
        return hashlib.sha256(b"ignorecase" + bytes(1) + text.encode()).hexdigest()

    def matches(self, matcher: CodebookMatcher, text: str) -> list[tuple[int, int, str, str]]:
        """``matcher.regex_matches(text)``, with what earlier scans of ``text`` found."""
        if self.store is None or not matcher.regexes:  # nothing to read for a matcher without regexes
            return matcher.regex_matches(text)
        key = self._key(text)
        known = self._read(key)
        missing = {regex.pattern for _, regex in matcher.regexes} - set(known)
        found = matcher.regex_matches(text, known)
        if missing:
            # Other patterns' entries are kept: a matcher may hold some of the codes only.
            self.store.put(key, {k: known[k] for k in sorted(known)})
        return found

    def _missing(self, matcher: CodebookMatcher, text: str) -> bool:
        key = self._key(text)
        known = self._read(key)
        if {regex.pattern for _, regex in matcher.regexes} <= set(known):
            self._checked[key] = known  # kept for :meth:`matches`, which comes next
            return False
        return True

    def fill(self, matchers: dict[str, CodebookMatcher], texts: list[tuple[str, str]], *,
             parallel: Parallel = IN_ORDER) -> int:
        """Scan the ``(language, text)`` items whose matches are not all kept yet, in up to the
        processes of ``parallel`` (:mod:`pipeline.seams`), which write the store; returns how
        many were scanned."""
        if self.store is None:
            return 0
        missing = [(language, text) for language, text in texts
                   if matchers[language].regexes and self._missing(matchers[language], text)]

        def scan(item: tuple[str, str]) -> None:  # the store is the result
            self.matches(matchers[item[0]], item[1])

        # In worker processes: ``re`` holds the GIL, so threads would not help.
        list(parallel.map(scan, missing, min_items=FEW_SESSIONS))
        return len(missing)


def regex_by_doc(matcher: CodebookMatcher, texts: list[str], cache: RegexCache) -> list[list[tuple[int, int, str, str]]]:
    """The regex matches of each of a session's turns (``texts``, the docs' texts, in their own
    offsets), from one pass over the turns joined by :data:`JOIN`: a match running from one
    turn into the next is not a match of either."""
    starts, position = [], 0
    for text in texts:
        starts.append(position)
        position += len(text) + len(JOIN)
    found: list[list[tuple[int, int, str, str]]] = [[] for _ in texts]
    for start, end, code, pattern in cache.matches(matcher, JOIN.join(texts)):
        number = bisect.bisect_right(starts, start) - 1
        offset = starts[number]
        if end - offset <= len(texts[number]):
            found[number].append((start - offset, end - offset, code, pattern))
    return found

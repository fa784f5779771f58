"""Stage 3, code: segments turned into coded evidence, from three sources kept apart.

- ``rule``: the codebook's patterns, run by ``codebook_matcher`` components
  (:mod:`pipeline.stages.coding.rules`) over the cached parsed turns. Each coding records the pattern that fired and the matched text; where
  a code has ``roll_up: true`` its parent gets a coding too.
- ``human``: imported coding (see :mod:`pipeline.stages.coding.human`), clipped to each segment it covers.
- ``model``: suggestions learned from the human coding (see :mod:`pipeline.stages.coding.learned`).

Human coding wins where sources conflict: on a segment a person coded, a rule or model
coding of a code that person did not apply is kept but marked ``suggested``, with a memo
saying why. Stance comes from the codebook's stance vocabulary, with negation.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from pathlib import Path

import pandas as pd

from pipeline import schemas
from pipeline.config.codebook import Codebook
from pipeline.runtime.cache import write_atomic
from pipeline.nlp.pipelines import (DocCache, distinct, fill_cache, load_pipeline, parse_identity, parsed_docs,
                          release_lookup_tables)
from pipeline.stages.coding.rules import (CODES_KEY, NEGATION_WINDOW, STANCE_KEY, STANCE_KINDS, CodebookMatcher, classify,
                                          code_patterns, codebook_patterns, matcher_of, negated, rule_key, segment_stance,
                                          stance_patterns)
from pipeline.stages.turns import RESPONDENT, mask_notes
from pipeline.seams import FEW_SESSIONS, IN_ORDER, Parallel


def _segment_of(bounds: list[tuple[int, int, str]], position: int) -> tuple[int, int, str] | None:
    for bound in bounds:
        if bound[0] <= position < bound[1]:
            return bound
    return None


def _rule_codings(transcripts, turns, segments, *, codebook, models, cache, batch_size, parallel, progress):
    sessions = transcripts.set_index("session_id")
    answers = turns[turns["role"] == RESPONDENT]
    by_session = {sid: group for sid, group in answers.groupby("session_id", sort=True)}
    seg_by_turn: dict[str, list[tuple[int, int, str]]] = {}
    for turn_id, start, end, segment_id in zip(*(segments[c].tolist() for c in ("turn_id", "start", "end", "segment_id"))):
        seg_by_turn.setdefault(turn_id, []).append((start, end, segment_id))
    order = [sid for sid in sessions.index if sid in by_session]
    text_of = {sid: sessions.at[sid, "text"] for sid in order}
    language_of = {sid: sessions.at[sid, "language"] for sid in order}
    masked = {sid: [mask_notes(text_of[sid], s, e) for s, e in zip(by_session[sid].start, by_session[sid].end)]
              for sid in order}
    folder = cache.folder.parent if cache.folder is not None else None
    regex_cache = RegexCache(folder / "regex" if folder is not None else None)
    rule_cache = RuleCache(folder / "rules" if folder is not None else None)
    languages = sorted(set(language_of.values()))
    digests = {language: rule_digests(codebook, language) for language in languages}
    lexicon = {language: stance_digest(codebook, language) for language in languages}

    # What each session still needs: the patterns that changed since it was cached.
    # (Keyed without loading a pipeline: a rerun that needs none does not load one.)
    keys, entries, needed = {}, {}, {}
    for sid in order:
        language = language_of[sid]
        bounds = [(turn_id, seg_by_turn.get(turn_id, [])) for turn_id in by_session[sid].turn_id]
        keys[sid] = rule_cache.key(parse_identity(language, models.get(language)), masked[sid], text_of[sid], bounds)
        entries[sid] = rule_cache.load(keys[sid])
        needed[sid] = frozenset(k for k, d in digests[language].items() if d not in entries[sid]["patterns"])
    todo = [sid for sid in order if needed[sid] or "stances" not in entries[sid]]
    matchers: dict[tuple, CodebookMatcher] = {}

    def matcher_for(language: str, rules: frozenset) -> CodebookMatcher:
        """The code patterns' matcher of ``rules`` (all: None) in ``language``, built once."""
        subset = None if rules == frozenset(digests[language]) else rules
        if (language, subset) not in matchers:
            matchers[language, subset] = matcher_of(load_pipeline(language, models.get(language)),
                                                    codebook_patterns(codebook, language, rules=subset))
        return matchers[language, subset]

    def stance_for(language: str) -> CodebookMatcher:
        """The stance vocabulary's matcher in ``language``, built once."""
        if (language, STANCE_KEY) not in matchers:
            matchers[language, STANCE_KEY] = matcher_of(load_pipeline(language, models.get(language)),
                                                        stance_patterns(codebook.stance, language), STANCE_KEY)
        return matchers[language, STANCE_KEY]

    def record(sid: str, found_rows: list[dict]) -> dict:
        """Session ``sid``'s cache entry with the codings of the patterns it needed, saved."""
        entry, language = entries[sid], language_of[sid]
        owner: dict[str, str] = {}  # a pattern listed twice in a code is matched and kept once
        for key in sorted(needed[sid]):
            owner.setdefault(digests[language][key], key)
        entry["patterns"] |= {digest: [] for digest in owner}
        for row in found_rows:
            key = rule_key(row["code"], row["coder"])
            digest = digests[language][key]
            if owner.get(digest) == key:
                entry["patterns"][digest].append({k: v for k, v in row.items() if k != "coder"})
        rule_cache.save(keys[sid], entry, keep=set(digests[language].values()))
        return entry

    groups: dict[tuple[str, frozenset], list[str]] = {}
    for sid in todo:
        groups.setdefault((language_of[sid], needed[sid]), []).append(sid)
    for (language, rules), sids in sorted(groups.items(), key=lambda item: (item[0][0], sorted(item[0][1]))):
        regex_cache.fill({language: matcher_for(language, rules)}, [(language, _JOIN.join(masked[sid])) for sid in sids],
                         parallel=parallel)
    # A session whose words (kept from an earlier run) hold none of the new phrases, and in
    # which no new regex matched, needs no parsed document: it has no codings of those patterns,
    # and its segments' stances stand unless the stance vocabulary changed.
    # (Every matcher the workers use is built here, before they fork: they share it.)
    parse = []
    for sid in todo:
        entry, matcher = entries[sid], matcher_for(language_of[sid], needed[sid])
        if entry.get("lexicon") == lexicon[language_of[sid]] and "norms" in entry and not matcher.possible(
                set(entry["norms"]), regex_cache.matches(matcher, _JOIN.join(masked[sid]))):
            record(sid, [])
        else:
            parse.append(sid)
    for language in sorted({language_of[sid] for sid in parse}):
        stance_for(language)
    for entry in entries.values():
        entry.pop("norms", None)  # on disk; not needed here any more
    fill_cache([(language_of[sid], masked[sid]) for sid in parse], models=models, cache=cache,
               batch_size=batch_size, parallel=parallel)
    release_lookup_tables()  # the matchers' patterns and the missing docs are parsed: let go before forking

    def match(sid: str) -> dict:
        """Session ``sid``'s entry, matched on its parsed documents (here or in a worker)."""
        language = language_of[sid]
        docs = parsed_docs(language, masked[sid], models=models, cache=cache, batch_size=batch_size)
        matcher = matcher_for(language, needed[sid])
        found_rows, stances = _match_session(docs, text_of[sid], by_session[sid], seg_by_turn, matcher,
                                             stance_for(language), _regex_by_doc(matcher, masked[sid], regex_cache))
        entries[sid]["stances"] = stances
        entries[sid]["lexicon"] = lexicon[language]
        entries[sid]["norms"] = sorted(distinct(docs, "NORM"))
        entry = record(sid, found_rows)
        del entry["norms"]  # saved; not sent back
        return entries.pop(sid)  # a worker does not keep it once sent: this process puts it back

    # Sessions are matched beside worker processes, unless they are too few to be worth one.
    matched = parallel.map(match, parse, min_items=FEW_SESSIONS)
    if progress:
        matched = progress(matched, "code", total=len(parse))
    for entry, sid in zip(matched, parse):  # the progress first, so that it ends
        entries[sid] = entry
    rows, stances = [], {}
    for sid in order:
        entry = entries.pop(sid)  # each entry let go once read: memory does not hold them all twice
        for code, pattern, _ in code_patterns(codebook, language_of[sid]):
            digest = digests[language_of[sid]][rule_key(code, pattern)]
            rows += [{**row, "coder": pattern, "session_id": sid, "source": "rule", "confidence": 1.0}
                     for row in entry["patterns"][digest]]
        stances |= {segment: tuple(value) for segment, value in entry["stances"].items()}
    return rows, stances


def _match_session(docs, text, answers, seg_by_turn, matcher, stance, regex_found):
    """The rule codings (of ``matcher``'s codes) and the segment stances (``stance``'s
    vocabulary) of one session."""
    rows, stances = [], {}
    for doc, turn, regex_matches in zip(docs, answers.itertuples(index=False), regex_found):
        matcher.set_annotations(doc, matcher.match(doc, regex_matches))
        stance(doc)
        bounds = seg_by_turn.get(turn.turn_id, [])
        for start, end, segment_id in bounds:
            stances[segment_id] = list(segment_stance(doc, start - turn.start, end - turn.start))
        negators = [s for s in doc.spans[STANCE_KEY] if s.label_ == "negators"]
        seen = set()
        for span in doc.spans[CODES_KEY]:
            found = _segment_of(bounds, turn.start + span.start_char)
            if found is None or (found[2], span.label_, span.id_) in seen:
                continue  # one coding per segment, code and pattern: the first match
            seen.add((found[2], span.label_, span.id_))
            # A match running past the segment's last sentence is clipped to the segment.
            start, end = turn.start + span.start_char, min(turn.start + span.end_char, found[1])
            rows.append({"segment_id": found[2], "code": span.label_, "coder": span.id_, "start": start, "end": end,
                         "match": text[start:end], "negated": negated(span, negators)})
    return rows, stances


# Bump when the way rule codings are computed changes (matching, negation, clipping).
RULES_CACHE_VERSION = "3"


def stance_digest(codebook: Codebook, language: str) -> str:
    """A hash of what segment stances and negation in ``language`` depend on: the stance
    vocabulary and how it is applied."""
    stance = {kind: codebook.stance.words(kind, language) for kind in STANCE_KINDS}
    payload = json.dumps([RULES_CACHE_VERSION, NEGATION_WINDOW, language, stance], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def rule_digests(codebook: Codebook, language: str) -> dict[str, str]:
    """{rule (:func:`pipeline.stages.coding.rules.rule_key`): a hash of what its codings in ``language``
    depend on}: its code, the pattern itself (not its position in the list: adding a pattern
    leaves the others' codings valid) and the stance vocabulary (negation)."""
    lexicon = stance_digest(codebook, language)
    digests = {}
    for code, key, pattern in code_patterns(codebook, language):
        payload = json.dumps([lexicon, code, [pattern.kind, pattern.value, pattern.id]])
        digests[rule_key(code, key)] = hashlib.sha256(payload.encode()).hexdigest()[:32]
    return digests


class RuleCache:
    """Each session's rule codings, per pattern, its segments' lexicon stances (with a hash of
    the vocabulary that judged them) and its words' norms: one JSON file per session under
    ``folder`` (None: nothing kept), keyed by the parser, the parsed texts, the session's text
    and its segment bounds. Within it, codings are kept per pattern under a hash of the pattern
    (:func:`rule_digests`), so after a codebook edit only the new or changed patterns are
    matched again, and only in sessions where they may match."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    @staticmethod
    def key(parser: str, texts: list[str], text: str, bounds: list) -> str:
        """From the parser's identity, the texts it parses, the session's text and its segments."""
        digest = hashlib.sha256(json.dumps([RULES_CACHE_VERSION, parser, bounds]).encode())
        for part in [*texts, text]:
            digest.update(b"\0" + part.encode())
        return digest.hexdigest()

    def load(self, key: str) -> dict:
        if self.folder is not None:
            try:
                entry = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
                if isinstance(entry, dict) and isinstance(entry.get("patterns"), dict):
                    return entry
            except (OSError, ValueError):
                pass  # none yet, or damaged: matched again and overwritten
        return {"patterns": {}}

    def save(self, key: str, entry: dict, *, keep: set[str]) -> None:
        if self.folder is None:
            return
        # Old patterns are dropped: the file holds the current codebook's codings only.
        entry["patterns"] = {digest: rows for digest, rows in entry["patterns"].items() if digest in keep}
        write_atomic(self.folder / f"{key}.json", json.dumps(entry, sort_keys=True).encode())


_JOIN = "\n\n\n"  # between turns joined for the regexes: a line break stops a match in practice


class RegexCache:
    """Regex matches per text, one JSON file per text under ``folder`` (None: nothing kept):
    ``{regex source: [[start, end], ...]}``, for every pattern that has scanned the text."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self._checked: dict[Path, dict] = {}  # complete entries :meth:`fill` read, until used

    def _read(self, path: Path) -> dict:
        if path in self._checked:
            return self._checked.pop(path)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none yet, or damaged: computed again and overwritten

    def _path(self, text: str) -> Path:
        # Keyed by the text and how regexes are compiled (CodebookMatcher: re.IGNORECASE).
        return self.folder / f"{hashlib.sha256(b'ignorecase' + bytes(1) + text.encode()).hexdigest()}.json"

    def matches(self, matcher: CodebookMatcher, text: str) -> list[tuple[int, int, str, str]]:
        if self.folder is None or not matcher.regexes:  # nothing to read for a matcher without regexes
            return matcher.regex_matches(text)
        path = self._path(text)
        known = self._read(path)
        current = {regex.pattern for _, regex in matcher.regexes}
        missing = current - set(known)
        found = matcher.regex_matches(text, known)
        if missing:
            # Other patterns' entries are kept: a matcher may hold some of the codes only.
            write_atomic(path, json.dumps({k: known[k] for k in sorted(known)}).encode())
        return found

    def _missing(self, matcher: CodebookMatcher, text: str) -> bool:
        path = self._path(text)
        known = self._read(path)
        if {regex.pattern for _, regex in matcher.regexes} <= set(known):
            self._checked[path] = known  # kept for :meth:`matches`, which comes next
            return False
        return True

    def fill(self, matchers: dict[str, CodebookMatcher], texts: list[tuple[str, str]], *, parallel: Parallel = IN_ORDER) -> int:
        """Scan the ``(language, text)`` items whose matches are not all cached yet, in up to
        the processes of ``parallel`` (:mod:`pipeline.seams`), which write the cache;
        returns how many were scanned."""
        if self.folder is None:
            return 0
        missing = [(language, text) for language, text in texts
                   if matchers[language].regexes and self._missing(matchers[language], text)]

        def scan(item: tuple[str, str]) -> None:  # the cache file is the result
            self.matches(matchers[item[0]], item[1])

        # In worker processes: ``re`` holds the GIL, so threads would not help.
        list(parallel.map(scan, missing, min_items=FEW_SESSIONS))
        return len(missing)


def _regex_by_doc(matcher: CodebookMatcher, texts: list[str], cache: RegexCache) -> list[list[tuple[int, int, str, str]]]:
    """The regex matches of each of a session's turns (``texts``, the docs' texts, in their own
    offsets), from one pass over the turns joined: a match running from one turn into the
    next is not a match of either."""
    starts, position = [], 0
    for text in texts:
        starts.append(position)
        position += len(text) + len(_JOIN)
    found: list[list[tuple[int, int, str, str]]] = [[] for _ in texts]
    for start, end, code, pattern in cache.matches(matcher, _JOIN.join(texts)):
        number = bisect.bisect_right(starts, start) - 1
        offset = starts[number]
        if end - offset <= len(texts[number]):
            found[number].append((start - offset, end - offset, code, pattern))
    return found


def _roll_up(rows: list[dict], codebook: Codebook) -> list[dict]:
    """Codings of the parents of codes marked ``roll_up``, up as far as the chain goes."""
    extra = []
    for row in rows:
        code = codebook.by_id[row["code"]]
        while code.roll_up and code.parent:
            extra.append({**row, "code": code.parent, "match": f"roll-up of {row['code']}"})
            code = codebook.by_id[code.parent]
    return rows + extra


def human_codings_by_segment(human: pd.DataFrame, segments: pd.DataFrame) -> list[dict]:
    """Placed human codings (see :mod:`pipeline.stages.coding.human`) as coding rows, one per segment each
    covers, with the span clipped to the segment: by session, in the coding's order, then the
    segments' order."""
    if human.empty:
        return []
    # Each session's segments by start (they do not overlap): a coding's segments are found by
    # bisection, not by pairing every coding with every segment of its session (a large
    # corpus's pairs took most of a run's memory).
    by_session: dict[str, list[tuple[int, int, int, str]]] = {}
    for index, (sid, segment_id, start, end) in enumerate(zip(*(segments[c].tolist() for c in (
            "session_id", "segment_id", "start", "end")))):
        by_session.setdefault(sid, []).append((start, end, index, segment_id))
    for found in by_session.values():
        found.sort()
    ends = {sid: [end for _, end, _, _ in found] for sid, found in by_session.items()}
    rows = []
    coded = zip(*(human[c].tolist() for c in ("session_id", "code", "coder", "start", "end", "memo", "stance")))
    for sid, code, coder, start, end, memo, stance in sorted(coded, key=lambda row: row[0]):  # stable: coding order
        found = by_session.get(sid, [])
        first = bisect.bisect_right(ends.get(sid, []), start)
        overlapping = []
        for seg_start, seg_end, index, segment_id in found[first:]:
            if seg_start >= end:
                break
            if seg_end > start:
                overlapping.append((index, segment_id, max(start, seg_start), min(end, seg_end)))
        for _, segment_id, clipped_start, clipped_end in sorted(overlapping):
            rows.append({"segment_id": segment_id, "session_id": sid, "code": code, "source": "human",
                         "coder": coder, "start": clipped_start, "end": clipped_end, "match": "", "confidence": 1.0,
                         "negated": False, "memo": memo, "human_stance": stance})
    return rows


def _with_stance(rows: list[dict], stances: dict) -> list[dict]:
    """``rows`` with their lexicon (or coder's) stance, and accepted unless they say otherwise;
    changed in place, so that a large corpus's codings are not held twice."""
    for row in rows:
        stance, hedged, positives, negatives = stances.get(row["segment_id"], ("neutral", False, 0, 0))
        if row.get("negated"):
            # A negated mention of the code itself ("no hubo coordinación") is a negative assessment.
            stance = classify(positives, negatives + 1)
        stance_by = "lexicon"
        if row.get("human_stance"):
            stance, stance_by = row["human_stance"], "coder"
        row.update(stance=stance, stance_by=stance_by, hedged=hedged)
        row.setdefault("memo", "")
        row.setdefault("status", "accepted")
    return rows


def _resolve(codings: pd.DataFrame) -> pd.DataFrame:
    """Human coding wins: other sources' codes a person did not apply to a segment are suggestions."""
    human = codings[codings["source"] == "human"]
    if human.empty:
        return codings
    agreed = human[["segment_id", "code"]].drop_duplicates().assign(agreed=True)
    merged = codings.merge(agreed, on=["segment_id", "code"], how="left")
    overruled = ((merged["source"] != "human") & merged["segment_id"].isin(set(human["segment_id"]))
                 & merged["agreed"].isna()).to_numpy()
    coded_as = human.groupby("segment_id")["code"].agg(lambda c: ", ".join(sorted(set(c))))
    memo = "overruled: a person coded this segment as " + codings["segment_id"].map(coded_as).fillna("").astype("string")
    return codings.assign(status=codings["status"].mask(overruled, "suggested"),
                          memo=codings["memo"].mask(overruled, memo))


def code_segments(
    transcripts: pd.DataFrame,
    turns: pd.DataFrame,
    segments: pd.DataFrame,
    *,
    codebook: Codebook,
    human: pd.DataFrame,
    models: dict[str, str],
    cache: DocCache,
    batch_size: int = 64,
    parallel: Parallel = IN_ORDER,
    suggest=None,
    progress=None,
) -> pd.DataFrame:
    """The CODINGS table (columns in :data:`pipeline.schemas.CODINGS`).

    Reads TRANSCRIPTS, TURNS and SEGMENTS, and ``human``: placed human codings (columns of
    :data:`pipeline.stages.coding.human.HUMAN_COLUMNS`). ``suggest``, if given, is called with
    ``(segments, human_codings)`` (rows of CODINGS) and returns model codings (rows of CODINGS).
    """
    for frame, table in ((transcripts, schemas.TRANSCRIPTS), (turns, schemas.TURNS), (segments, schemas.SEGMENTS)):
        schemas.check(frame, table)
    human_rows = human_codings_by_segment(human, segments)
    suggested = []
    if suggest is not None:
        # The model learns from the human coding alone, so it is asked before the rules run:
        # this process is smaller then, and so are the workers it forks to fit the model.
        suggested = suggest(segments, schemas.conform(_with_stance([dict(row) for row in human_rows], {}),
                                                      schemas.CODINGS))
    rows, stances = _rule_codings(transcripts, turns, segments, codebook=codebook, models=models,
                                  cache=cache, batch_size=batch_size, parallel=parallel, progress=progress)
    rows = _roll_up(rows, codebook) + human_rows
    codings = schemas.conform(_with_stance(rows, stances), schemas.CODINGS).drop_duplicates(list(schemas.CODINGS.key))
    del rows, human_rows
    if len(suggested):
        suggested = [{**row, "stance": stances.get(row["segment_id"], ("neutral",))[0], "stance_by": "lexicon",
                      "hedged": stances.get(row["segment_id"], ("", False))[1]} for row in suggested]
        codings = pd.concat([codings, schemas.conform(suggested, schemas.CODINGS)], ignore_index=True)
    return schemas.conform(_resolve(codings), schemas.CODINGS)


def review_queue(codings: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """Model suggestions, most uncertain first: a person's decision on those teaches the model most."""
    model = codings[codings["source"] == "model"]
    queue = model.merge(segments[["segment_id", "speaker", "text", "prompt"]], on="segment_id", how="left")
    queue = queue.assign(uncertainty=(1 - (queue["confidence"] - 0.5).abs() * 2).round(4))
    queue = queue.sort_values(["uncertainty", "segment_id", "code"], ascending=[False, True, True], kind="stable")
    return queue[["segment_id", "session_id", "code", "confidence", "uncertainty", "speaker", "prompt", "text"]] \
        .reset_index(drop=True)

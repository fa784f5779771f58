"""The rule coder: the codebook's patterns matched in each session's respondent turns.

The method (:func:`match_session`): every respondent turn, its bracketed notes masked, is
parsed; the code patterns and the stance vocabulary are matched in it
(:mod:`pipeline.stages.coding.rules`). Each match is a coding of the segment it starts in,
clipped to that segment, one per segment, code and pattern (the first), negated when a negator
stands shortly before it; each segment gets the lexicon stance of its words. Where a code has
``roll_up: true``, its parent gets a coding too (:func:`roll_up`).

:class:`RuleCoder` runs the method over the sessions. What a rerun may skip (sessions and
patterns already matched, regex scans already done) is kept by
:mod:`pipeline.stages.coding.rule_cache`; how many processes share the work is the wiring's
parallel map.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from spacy.tokens import Doc

from pipeline.config.codebook import Codebook
from pipeline.nlp.norms import release_lookup_tables
from pipeline.nlp.pipelines import fill_cache, load_pipeline, parse_identity, parsed_docs
from pipeline.nlp.speedups import distinct
from pipeline.seams import FEW_SESSIONS
from pipeline.stages.coding.coder import RULE, Coded, CodingRun
from pipeline.stages.coding.rule_cache import JOIN, KeptCodings, RegexCache, RuleCache, regex_by_doc
from pipeline.stages.coding.rules import (CODES_KEY, STANCE_KEY, CodebookMatcher, code_patterns, codebook_patterns,
                                          matcher_of, negated, rule_key, segment_stance, stance_patterns)
from pipeline.stages.turns import RESPONDENT, mask_notes

ROLL_UP = "roll-up of "  # a roll-up coding's ``match``: this and the child code
Bound = tuple[int, int, str]  # a segment: (start, end, segment id) in the session's text


@dataclass(frozen=True)
class Session:
    """One session's respondent turns, as the rules read them."""

    session_id: str
    language: str
    text: str  # the session's normalised text, which every offset refers to
    turns: tuple[tuple[str, int], ...]  # each respondent turn: (turn id, start)
    texts: tuple[str, ...]  # each turn's text as parsed: bracketed notes masked
    bounds: dict[str, list[Bound]]  # each turn's segments, in order

    @property
    def joined(self) -> str:
        """The turns' texts joined, as the regexes scan them (see rule_cache.regex_by_doc)."""
        return JOIN.join(self.texts)

    def bounds_key(self) -> list:
        return [(turn_id, self.bounds.get(turn_id, [])) for turn_id, _ in self.turns]


def match_session(docs: list[Doc], session: Session, codes: CodebookMatcher, stance: CodebookMatcher,
                  regex_found: list[list[tuple[int, int, str, str]]]) -> tuple[list[dict], dict]:
    """The rule codings and the segment stances of one session.

    ``docs`` are its turns parsed, ``codes`` and ``stance`` the matchers of the code patterns
    and the stance vocabulary, ``regex_found`` each doc's regex matches (in its offsets).
    Returns coding rows (``segment_id``, ``code``, ``coder`` = the pattern id, ``start``,
    ``end``, ``match``, ``negated``) and {segment id: (stance, hedged, positives, negatives)}.
    """
    rows, stances = [], {}
    for doc, (turn_id, turn_start), regex_matches in zip(docs, session.turns, regex_found):
        codes.set_annotations(doc, codes.match(doc, regex_matches))
        stance(doc)
        bounds = session.bounds.get(turn_id, [])
        for start, end, segment_id in bounds:
            stances[segment_id] = segment_stance(doc, start - turn_start, end - turn_start)
        negators = [s for s in doc.spans[STANCE_KEY] if s.label_ == "negators"]
        seen = set()
        for span in doc.spans[CODES_KEY]:
            found = _segment_of(bounds, turn_start + span.start_char)
            if found is None or (found[2], span.label_, span.id_) in seen:
                continue  # one coding per segment, code and pattern: the first match
            seen.add((found[2], span.label_, span.id_))
            # A match running past the segment's last sentence is clipped to the segment.
            start, end = turn_start + span.start_char, min(turn_start + span.end_char, found[1])
            rows.append({"segment_id": found[2], "code": span.label_, "coder": span.id_, "start": start, "end": end,
                         "match": session.text[start:end], "negated": negated(span, negators)})
    return rows, stances


def _segment_of(bounds: list[Bound], position: int) -> Bound | None:
    for bound in bounds:
        if bound[0] <= position < bound[1]:
            return bound
    return None


def roll_up(rows: list[dict], codebook: Codebook) -> list[dict]:
    """``rows`` and, after them, codings of the parents of codes marked ``roll_up``, up as far
    as the chain goes (``match`` says which code rolled up)."""
    extra = []
    for row in rows:
        code = codebook.by_id[row["code"]]
        while code.roll_up and code.parent:
            extra.append({**row, "code": code.parent, "match": f"{ROLL_UP}{row['code']}"})
            code = codebook.by_id[code.parent]
    return rows + extra


def sessions_of(transcripts: pd.DataFrame, turns: pd.DataFrame, segments: pd.DataFrame) -> list[Session]:
    """Every session with respondent turns, in the order of TRANSCRIPTS."""
    bounds_of: dict[str, list[Bound]] = {}
    columns = ("turn_id", "start", "end", "segment_id")
    for turn_id, start, end, segment_id in zip(*(segments[c].tolist() for c in columns)):
        bounds_of.setdefault(turn_id, []).append((start, end, segment_id))
    answers = turns[turns["role"] == RESPONDENT]
    by_session = {sid: group for sid, group in answers.groupby("session_id", sort=True)}
    found = []
    for sid, language, text in zip(*(transcripts[c].tolist() for c in ("session_id", "language", "text"))):
        if sid not in by_session:
            continue
        group = by_session[sid]
        ids, starts, ends = group["turn_id"].tolist(), group["start"].tolist(), group["end"].tolist()
        found.append(Session(sid, language, text, tuple(zip(ids, starts)),
                             tuple(mask_notes(text, s, e) for s, e in zip(starts, ends)),
                             {turn_id: bounds_of[turn_id] for turn_id in ids if turn_id in bounds_of}))
    return found


class _Matchers:
    """The run's matchers, each built once: per language, the stance vocabulary's, and the code
    patterns' for each set of rules sessions need (None: all of them)."""

    def __init__(self, codebook: Codebook, models: dict[str, str], kept: KeptCodings):
        self.codebook, self.models, self.kept = codebook, models, kept
        self._built: dict[tuple, CodebookMatcher] = {}

    def _make(self, language: str, spans_key: str, patterns: list[dict]) -> CodebookMatcher:
        return matcher_of(load_pipeline(language, self.models.get(language)), patterns, spans_key)

    def codes(self, language: str, rules: frozenset[str]) -> CodebookMatcher:
        subset = None if rules == self.kept.all_rules(language) else rules
        if (language, subset) not in self._built:
            self._built[language, subset] = self._make(language, CODES_KEY,
                                                       codebook_patterns(self.codebook, language, rules=subset))
        return self._built[language, subset]

    def stance(self, language: str) -> CodebookMatcher:
        if (language, STANCE_KEY) not in self._built:
            self._built[language, STANCE_KEY] = self._make(language, STANCE_KEY,
                                                           stance_patterns(self.codebook.stance, language))
        return self._built[language, STANCE_KEY]


class RuleCoder:
    """The codebook's patterns (see the module's docstring)."""

    source = RULE

    def code(self, run: CodingRun, earlier: list[dict]) -> Coded:
        """Rule coding rows (and roll-ups) of every session, by session and pattern, with the
        lexicon stance of every segment."""
        codebook, models = run.codebook, run.models
        sessions = sessions_of(run.transcripts, run.turns, run.segments)
        parsers = {s.language: parse_identity(s.language, models.get(s.language)) for s in sessions}
        # What earlier runs found, and what each session still needs matched.
        kept = KeptCodings(codebook, sessions, parsers=parsers, cache=RuleCache(run.rule_cache))
        regexes = RegexCache(run.regex_cache)
        matchers = _Matchers(codebook, models, kept)
        todo = kept.todo(sessions)
        # The regexes scan (and keep their matches) first, grouped by the patterns sessions need.
        groups: dict[tuple[str, frozenset], list[Session]] = {}
        for session in todo:
            groups.setdefault((session.language, kept.needed[session.session_id]), []).append(session)
        for (language, rules), group in sorted(groups.items(), key=lambda item: (item[0][0], sorted(item[0][1]))):
            regexes.fill({language: matchers.codes(language, rules)}, [(language, s.joined) for s in group],
                         parallel=run.parallel)
        # Only sessions where a pattern they need may match are parsed and matched.
        parse = [session for session in todo if kept.needs_parse(
            session, matchers.codes(session.language, kept.needed[session.session_id]), regexes)]
        # Every matcher the workers use is built here, before they fork: they share it.
        for language in sorted({session.language for session in parse}):
            matchers.stance(language)
        kept.forget_norms()
        fill_cache([(s.language, list(s.texts)) for s in parse], models=models, cache=run.cache,
                   batch_size=run.batch_size, parallel=run.parallel)
        release_lookup_tables()  # the matchers' patterns and the missing docs are parsed: let go before forking

        def match(session: Session) -> dict:
            """``session`` matched on its parsed documents (here or in a worker): its entry."""
            language = session.language
            docs = parsed_docs(language, list(session.texts), models=models, cache=run.cache, batch_size=run.batch_size)
            codes = matchers.codes(language, kept.needed[session.session_id])
            rows, stances = match_session(docs, session, codes, matchers.stance(language),
                                          regex_by_doc(codes, session.texts, regexes))
            # The words' lemmas and forms (a one-word phrase matches either): what a rerun's phrases may match.
            kept.record(session, rows, stances=stances,
                        norms=sorted(distinct(docs, codes.phrase_matcher_attr) | distinct(docs, "LOWER")))
            return kept.release(session)  # a worker does not keep it once sent: this process puts it back

        # Sessions are matched beside worker processes, unless they are too few to be worth one.
        matched = run.parallel.map(match, parse, min_items=FEW_SESSIONS)
        if run.progress:
            matched = run.progress(matched, "code", total=len(parse))
        for entry, session in zip(matched, parse):  # the progress first, so that it ends
            kept.put_back(session, entry)
        rows, stances = kept.codings(sessions, source=RULE, confidence=1.0)
        return Coded(roll_up(rows, codebook), stances)


def phrase_matches(codebook: Codebook, models: dict[str, str]) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(language, code id, phrase, what it matches on) of every lemma phrase of the codebook, in
    codebook order by language: the phrase lemmatised by the pipeline that reads the texts
    (:meth:`CodebookMatcher.matches_on`), for ``validate --patterns``."""
    found = []
    for language in codebook.evaluation.evaluation.languages:
        phrases = [(code, key, pattern) for code, key, pattern in code_patterns(codebook, language)
                   if pattern.kind == "phrase"]
        if not phrases:
            continue
        matcher = matcher_of(load_pipeline(language, models.get(language)), codebook_patterns(
            codebook, language, rules=frozenset(rule_key(code, key) for code, key, _ in phrases)))
        found += [(language, code, pattern.value, matcher.matches_on(rule_key(code, key)))
                  for code, key, pattern in phrases]
    return found

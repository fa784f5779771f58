"""The code stage: segments turned into coded evidence, from sources kept apart.

The coders (:data:`CODERS`, each a :class:`pipeline.stages.coding.coder.Coder`) run in turn:

- ``human``: imported coding (:mod:`pipeline.stages.coding.human`), clipped to each segment it covers;
- ``model``: suggestions learned from the human coding (:mod:`pipeline.stages.coding.suggestions`);
- ``rule``: the codebook's patterns (:mod:`pipeline.stages.coding.rule_coder`), matched in the
  parsed turns. Each coding records the pattern that fired and the matched text; where a code
  has ``roll_up: true`` its parent gets a coding too. It also judges each segment's stance
  from the codebook's stance vocabulary, with negation.

Then every coding gets its segment's stance (or the person's own), and human coding wins
where sources conflict: on a segment a person coded, a rule or model coding of a code that
person did not apply is kept but marked ``suggested``, with a memo saying why. Last, a pattern
the coders mostly disagree with is demoted (:mod:`pipeline.stages.coding.audit`): its codings
are ``suggested`` everywhere.
"""

from __future__ import annotations

import pandas as pd

from pipeline import schemas
from pipeline.config.codebook import Codebook

from pipeline.seams import IN_ORDER, Cache, Parallel, ParseCache
from pipeline.stages.coding.audit import demote_patterns
from pipeline.stages.coding.coder import HUMAN, MODEL, Coder, CodingRun, Progress, Suggest, judged
from pipeline.stages.coding.decisions import apply_rejections, rejections
from pipeline.stages.coding.human import HumanCoder
from pipeline.stages.coding.rule_coder import RuleCoder
from pipeline.stages.coding.suggestions import ModelCoder

# The coders, in the order they run; a new coder is its module and a line here. The model
# learns from the human coding, and is fitted before the rules parse: this process is smaller
# then, and so are the workers it forks to fit the model.
CODERS: tuple[Coder, ...] = (
    HumanCoder(),
    ModelCoder(),
    RuleCoder(),
)


def code_segments(
    transcripts: pd.DataFrame,
    turns: pd.DataFrame,
    segments: pd.DataFrame,
    *,
    codebook: Codebook,
    human: pd.DataFrame,
    models: dict[str, str],
    cache: ParseCache,
    batch_size: int = 64,
    parallel: Parallel = IN_ORDER,
    rule_cache: Cache | None = None,
    regex_cache: Cache | None = None,
    suggest: Suggest | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The CODINGS table (columns in :data:`pipeline.schemas.CODINGS`), from every coder of
    :data:`CODERS`.

    Reads TRANSCRIPTS, TURNS and SEGMENTS, and ``human``: placed human codings (columns of
    :data:`pipeline.stages.coding.human.HUMAN_COLUMNS`). ``models``, ``cache`` and
    ``batch_size`` say how turns are parsed; ``parallel`` shares the work between processes
    (:mod:`pipeline.seams`); ``rule_cache`` and ``regex_cache`` keep what the rules found for
    the next run (None: nothing kept). ``suggest``, if given, is the model's suggestions (see
    :class:`pipeline.stages.coding.coder.Suggest`).
    """
    for frame, table in ((transcripts, schemas.TRANSCRIPTS), (turns, schemas.TURNS), (segments, schemas.SEGMENTS)):
        schemas.check(frame, table)
    run = CodingRun(transcripts, turns, segments, codebook, human, models=models, cache=cache, batch_size=batch_size,
                    parallel=parallel, rule_cache=rule_cache, regex_cache=regex_cache, suggest=suggest,
                    progress=progress)
    rows, stances = _coded(run)
    # A reviewer's decision speaks of its own code only: it does not make the segment "coded by
    # a person" (pipeline.stages.coding.decisions).
    coded = {row["segment_id"] for row in rows
             if row["source"] == HUMAN and not row.get("decision") and row.get("status") != schemas.CONTEXT}
    codings = judged(rows, stances).drop_duplicates(list(schemas.CODINGS.key))
    del rows  # a large corpus's codings are not held twice
    rules = codebook.evaluation.rules
    demoted = demote_patterns(_resolve(codings, coded), min_precision=rules.min_precision, min_hits=rules.min_hits)
    resolved = apply_rejections(demoted, rejections(human, segments))
    return schemas.conform(resolved, schemas.CODINGS)


def _coded(run: CodingRun) -> tuple[list[dict], dict]:
    """The rows of every coder of :data:`CODERS`, in turn, and the segment stances they judged."""
    rows, stances = [], {}
    for coder in CODERS:
        coded = coder.code(run, list(rows))
        rows += coded.rows
        stances |= coded.stances
    return rows, stances


def _resolve(codings: pd.DataFrame, coded: set[str]) -> pd.DataFrame:
    """Human coding wins: on the segments in ``coded`` (a person coded them), other sources'
    codes no person applied there are suggestions."""
    human = schemas.people_evidence(codings)  # a coding of context overrules nothing
    if human.empty or not coded:
        return codings
    agreed = human[["segment_id", "code"]].drop_duplicates().assign(agreed=True)
    merged = codings.merge(agreed, on=["segment_id", "code"], how="left")
    overruled = ((merged["source"] != HUMAN) & merged["segment_id"].isin(coded)
                 & merged["agreed"].isna()).to_numpy()
    coded_as = human.groupby("segment_id")["code"].agg(lambda c: ", ".join(sorted(set(c))))
    memo = "overruled: a person coded this segment as " + codings["segment_id"].map(coded_as).fillna("").astype("string")
    return codings.assign(status=codings["status"].mask(overruled, "suggested"),
                          memo=codings["memo"].mask(overruled, memo))


def review_queue(codings: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """Model suggestions, most uncertain first: a person's decision on those teaches the model most.
    A suggestion a reviewer rejected is decided, and not queued again."""
    model = codings[(codings["source"] == MODEL) & (codings["status"] != "rejected")]
    queue = model.merge(segments[["segment_id", "speaker", "text", "prompt"]], on="segment_id", how="left")
    queue = queue.assign(uncertainty=(1 - (queue["confidence"] - 0.5).abs() * 2).round(4))
    queue = queue.sort_values(["uncertainty", "segment_id", "code"], ascending=[False, True, True], kind="stable")
    return queue[["segment_id", "session_id", "code", "confidence", "uncertainty", "speaker", "prompt", "text"]] \
        .reset_index(drop=True)

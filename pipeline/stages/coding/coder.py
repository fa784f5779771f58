"""What a coder of the coding stage is: one source of codings, run by
:func:`pipeline.stages.coding.combine.code_segments` in the order of its registry
(:data:`pipeline.stages.coding.combine.CODERS`).

A :class:`Coder` has a ``source`` (one of :data:`pipeline.schemas.SOURCES`) and ``code(run,
earlier)``: it reads what the stage was given (:class:`CodingRun`) and the rows of the coders
that ran before it, and returns its own rows (:class:`Coded`). Each coder is a module of its
own: :mod:`~pipeline.stages.coding.rule_coder` (the codebook's patterns),
:mod:`~pipeline.stages.coding.human` (people's coding) and
:mod:`~pipeline.stages.coding.suggestions` (the learned model). Adding one is a module with
such a class and a line in the registry.

A coding row is a dict with the CODINGS columns (:data:`pipeline.schemas.CODINGS`) but the
stance ones, which :func:`judged` adds once every coder has run: ``stance``, ``stance_by`` and
``hedged`` from the lexicon (or the person's own stance, ``human_stance``), ``memo`` and
``status`` where a coder left them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol, runtime_checkable

import pandas as pd

from pipeline import schemas
from pipeline.config.codebook import Codebook

from pipeline.seams import IN_ORDER, Cache, Parallel, ParseCache
from pipeline.stages.coding.rules import classify

RULE, HUMAN, MODEL = schemas.SOURCES  # the sources as CODINGS names them

# A segment's lexicon stance: (stance, hedged, positives, negatives), see rules.segment_stance.
SegmentStance = tuple[str, bool, int, int]
_UNJUDGED: SegmentStance = ("neutral", False, 0, 0)


class Suggest(Protocol):
    """The learned model's suggestions for a run, as the wiring caches them."""

    def __call__(self, segments: pd.DataFrame, codings: pd.DataFrame) -> list[dict]:
        """Coding rows (source ``model``, status ``suggested``) for SEGMENTS no person coded,
        learned from the human rows of ``codings`` (a CODINGS frame)."""


Progress = Callable[..., Iterator]  # progress(items, label, total=n) -> the items, shown as they come


@dataclass(frozen=True)
class CodingRun:
    """What the coding stage was given, for each coder to read what it needs.

    Tables: TRANSCRIPTS, TURNS, SEGMENTS, and ``human``: placed human codings (columns of
    :data:`pipeline.stages.coding.human.HUMAN_COLUMNS`). Then what the wiring hands the
    stage: the spaCy pipeline of each language (``models``), the parsed-document cache, the
    parallel map (:mod:`pipeline.seams`), the stores the rules keep between runs (None: nothing
    kept), the model's suggestions (None: none) and a progress display (None: none).
    """

    transcripts: pd.DataFrame
    turns: pd.DataFrame
    segments: pd.DataFrame
    codebook: Codebook
    human: pd.DataFrame
    models: dict[str, str]
    cache: ParseCache
    batch_size: int = 64
    parallel: Parallel = IN_ORDER
    rule_cache: Cache | None = None
    regex_cache: Cache | None = None
    suggest: Suggest | None = None
    progress: Progress | None = None


@dataclass(frozen=True)
class Coded:
    """A coder's output: coding rows, and the lexicon stance of segments it judged (the coder
    that reads the parsed text does: {segment id: :data:`SegmentStance`})."""

    rows: list[dict]
    stances: dict[str, SegmentStance] = field(default_factory=dict)


@runtime_checkable
class Coder(Protocol):
    """One source of codings."""

    source: str  # the ``source`` of its rows: one of schemas.SOURCES

    def code(self, run: CodingRun, earlier: list[dict]) -> Coded:
        """Its coding rows for ``run``; ``earlier`` are the rows of the coders that ran before
        it (not to be changed)."""


def judged(rows: list[dict], stances: dict[str, SegmentStance]) -> pd.DataFrame:
    """A CODINGS frame of coding ``rows`` (see the module's docstring), sorted by key, with the
    stance of their segment in ``stances`` (neutral if absent), turned negative (or mixed) where
    the coding is ``negated``, or the person's ``human_stance`` where given; ``memo`` is empty
    and ``status`` accepted where a row has none. ``rows`` are not changed."""
    frame = pd.DataFrame(rows, columns=[*schemas.CODINGS.names, "human_stance"])
    lexicon = pd.DataFrame([stances.get(segment, _UNJUDGED) for segment in frame["segment_id"]],
                           columns=["stance", "hedged", "positives", "negatives"], index=frame.index)
    negated = frame["negated"].eq(True)
    # A negated mention of the code itself ("no hubo coordinación") is a negative assessment.
    flipped = pd.Series([classify(positives, negatives + 1) for positives, negatives in
                         zip(lexicon.loc[negated, "positives"], lexicon.loc[negated, "negatives"])],
                        index=lexicon.index[negated], dtype=object)
    stance = lexicon["stance"].mask(negated, flipped)
    by_coder = frame["human_stance"].notna() & frame["human_stance"].ne("")
    return schemas.conform(frame.assign(
        stance=stance.mask(by_coder, frame["human_stance"]),
        stance_by=by_coder.map({True: "coder", False: "lexicon"}),
        hedged=lexicon["hedged"],
        memo=frame["memo"].astype(object).fillna(""),  # object: a column no row gave is all NaN
        status=frame["status"].astype(object).fillna("accepted"),
    ), schemas.CODINGS)

"""How QDA tools count positions in a text, and how to tell which way a project counted.

The REFI standard counts Unicode code points; tools also count UTF-16 code units, a line end
as one or two, a byte-order mark or not. For each source every :data:`CONVENTIONS` is scored
by the share of selections that start and end outside a word; the best wins (ties go to the
earlier, the REFI standard first), and positions are converted to code points of the
normalised text (NFC, ``\\n``, no BOM), as everywhere in the product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.errors import InputError, Problem


@dataclass(frozen=True)
class Convention:
    """How a tool counted positions: ``unit`` (code points or UTF-16 code units), how many
    units a line end takes (1 for ``\\n``, 2 for ``\\r\\n``), and whether a BOM took one."""

    unit: str = "code points"
    line_end: int = 1
    bom: bool = False

    def __str__(self) -> str:
        return (f"{self.unit}, line ends count {self.line_end}, "
                f"byte-order mark {'counted' if self.bom else 'not counted'}")


STANDARD = Convention()
CONVENTIONS = tuple(Convention(unit, line_end, bom) for unit in ("code points", "UTF-16 code units")
                    for bom in (False, True) for line_end in (1, 2))


@dataclass(frozen=True)
class Detection:
    """The convention chosen for one source, its score (share of selections on word
    boundaries, None without selections) and the score of every candidate."""

    source: str
    convention: Convention
    score: float | None
    scores: tuple[tuple[Convention, float | None], ...]
    selections: int


def _offsets(text: str, convention: Convention) -> np.ndarray:
    """``offsets[i]``: the position of code point ``i`` of ``text`` under ``convention``."""
    points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    widths = np.ones(len(points), dtype=np.int64)
    if convention.unit != "code points":
        widths += points > 0xFFFF
    if convention.line_end == 2:
        widths += points == 0x0A
    return np.concatenate([[0], np.cumsum(widths)]) + int(convention.bom)


def to_code_points(text: str, spans: list[tuple[int, int]], convention: Convention) -> list[tuple[int, int]] | None:
    """``spans`` counted under ``convention`` as code-point spans of ``text``; None if any lies
    outside the text. A position inside a character (a surrogate pair, a ``\\r\\n``) is
    widened to take the whole character."""
    if not spans:
        return []
    offsets = _offsets(text, convention)
    starts, ends = np.array([s for s, _ in spans]), np.array([e for _, e in spans])
    if starts.min() < 0 or ends.max() > offsets[-1]:
        return None
    first = np.maximum(np.searchsorted(offsets, starts, side="right") - 1, 0)
    last = np.searchsorted(offsets, ends, side="left")
    return [(int(a), int(b)) for a, b in zip(first, last)]


def _inside_word(text: str, position: int) -> bool:
    return 0 < position < len(text) and text[position - 1].isalnum() and text[position].isalnum()


def boundary_share(text: str, spans: list[tuple[int, int]]) -> float:
    """The share of code-point ``spans`` of ``text`` that start and end outside a word."""
    good = sum(not _inside_word(text, s) and not _inside_word(text, e) for s, e in spans)
    return good / len(spans) if spans else 0.0


def detect_convention(source: str, text: str, spans: list[tuple[int, int]]) -> Detection:
    """Score every convention on ``spans`` (as the tool wrote them) over the normalised ``text``
    of ``source``; the best score wins, ties go to the earlier (the REFI standard first).
    Raises :class:`InputError` if every convention puts a selection outside the text."""
    scores = []
    for convention in CONVENTIONS:
        converted = to_code_points(text, spans, convention)
        scores.append((convention, None if converted is None else boundary_share(text, converted)))
    feasible = [(c, s) for c, s in scores if s is not None]
    if not spans:
        return Detection(source, STANDARD, None, tuple(scores), 0)
    if not feasible:
        start, end = max(spans, key=lambda span: span[1])
        raise InputError(Problem(source, f"a selection ({start}-{end}) ends beyond the text, which has "
                                         f"{len(text)} characters, however its positions are counted.",
                                 "Export the project again from the QDA tool, with its sources."))
    best = max(feasible, key=lambda item: item[1])  # max keeps the first of equal scores
    return Detection(source, best[0], best[1], tuple(scores), len(spans))

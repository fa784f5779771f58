"""Speaker turns and their roles, with exact character offsets into the normalised text.

- :mod:`.notes`: what is not anyone's words (bracketed notes, stage directions)
- :mod:`.labels`: the shapes of a speaker line, and whether a label is an interviewer's
- :mod:`.legend`: the legend at the top of a transcript that declares who is who
- :mod:`.build`: :func:`find_turns` for one text, :func:`build_turns` for the TURNS table

Bracketed notes (``[inaudible]``, ``[risas]``, ``[00:12:10]``) and stage directions (``(K
griner)`` on its own line) are not words of the respondent; upper-case placeholders
(``[NOMBRE]``, ``[INSTITUCIÓN]``) stand for words and count as such.
"""

from pipeline.stages.turns.build import INTERVIEWER, RESPONDENT, Turn, build_turns, find_turns
from pipeline.stages.turns.labels import is_interviewer, normalise_label
from pipeline.stages.turns.notes import mask_notes, note_spans

__all__ = ["INTERVIEWER", "RESPONDENT", "Turn", "build_turns", "find_turns", "is_interviewer", "mask_notes",
           "normalise_label", "note_spans"]

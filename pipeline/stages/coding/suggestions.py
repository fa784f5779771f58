"""The learned coder among the coders: the model's suggestions for segments no person coded.

The model (:mod:`pipeline.stages.coding.learned`) learns from the human coding alone: it runs
after :class:`pipeline.stages.coding.human.HumanCoder` and reads its rows. The wiring hands
the stage the suggestions as a :class:`pipeline.stages.coding.coder.Suggest` (it caches them
on what they depend on: the segments, the human coding and the codebook's texts), or None
when suggestions are switched off.
"""

from __future__ import annotations

from pipeline.stages.coding.coder import HUMAN, MODEL, Coded, CodingRun, judged


class ModelCoder:
    """The learned model's suggestions (status ``suggested``, with a confidence)."""

    source = MODEL

    def code(self, run: CodingRun, earlier: list[dict]) -> Coded:
        if run.suggest is None:
            return Coded([])
        human = judged([row for row in earlier if row["source"] == HUMAN], {})
        return Coded(list(run.suggest(run.segments, human)))

"""``init DIR``: a new evaluation, ready to fill in.

Writes ``DIR/codebook/`` (``evaluation.yaml`` with the six OECD-DAC criteria, an empty question
list with a worked example, the default vocabularies and rubric; a starter ``codes.yaml``; a
``stance.yaml``) and ``DIR/transcripts/`` (an empty ``register.csv`` with the right columns and
a README saying what goes where). ``validate`` on it then lists what is still missing.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import yaml

from pipeline.config.evaluation import Localized
from pipeline.errors import InputError, Problem

FILES = {
    "codebook/evaluation.yaml": "evaluation.yaml",
    "codebook/codes.yaml": "codes.yaml",
    "codebook/stance.yaml": "stance.yaml",
    "transcripts/register.csv": "register.csv",
    "transcripts/README.md": "transcripts_README.md",
}


def init_evaluation(folder: Path | str) -> list[Path]:
    """Write the scaffold under ``folder``; return the files written. Never overwrites a file."""
    folder = Path(folder)
    existing = [str(folder / name) for name in FILES if (folder / name).exists()]
    if existing:
        raise InputError([Problem(name, "exists already; init never overwrites a file.",
                                  "Choose a new folder, or move the existing evaluation away.")
                          for name in existing])
    written = []
    defaults = resources.files("pipeline.config") / "defaults"
    for name, source in FILES.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((defaults / source).read_text(encoding="utf-8"), encoding="utf-8")
        written.append(target)
    (folder / "transcripts" / "coding").mkdir(exist_ok=True)
    return written


@functools.lru_cache(maxsize=1)
def _placeholder_titles() -> frozenset[str]:
    """The texts of the title ``init`` writes ("Evaluación final de ...")."""
    text = (resources.files("pipeline.config") / "defaults" / "evaluation.yaml").read_text(encoding="utf-8")
    title = yaml.safe_load(text)["evaluation"]["title"]
    return frozenset(title.values() if isinstance(title, dict) else [title])


def placeholder_title(title: Localized, file: str, where: str) -> list[Problem]:
    """A warning if ``title`` (of ``file``, at ``where``) is still the one ``init`` wrote, else none."""
    placeholders = [text for _, text in title.texts if text in _placeholder_titles()]
    if not placeholders:
        return []
    return [Problem(file, f"the title is still the placeholder that init wrote ('{placeholders[0]}'); every "
                          f"report is headed by it.", "Write the evaluation's own title.", where)]

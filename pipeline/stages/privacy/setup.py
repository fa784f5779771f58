"""The privacy scan set up for an evaluation: what is not personal (the allowlist), the private
names file, the NER model of each language, and the
:class:`~pipeline.stages.privacy.scanner.Scanner` built from them, the transcripts and the
human coding (:func:`scanner_for`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.config.codebook import Codebook
from pipeline.config.evaluation import Evaluation
from pipeline.errors import InputError, Problem
from pipeline.seams import IN_ORDER, Parallel
from pipeline.stages.privacy.names import lowercase_vocabulary, read_private_names
from pipeline.stages.privacy.scanner import Scanner


def allowlist_for(book: Codebook, transcripts: pd.DataFrame) -> list[str]:
    """What is not personal: privacy.allowlist, and the evaluation's own names for things (its
    title, country, interviewer labels, the labels of regions, groups, methods, criteria and
    codes in every language) and the institutions of ``transcripts`` (TRANSCRIPTS)."""
    evaluation = book.evaluation
    localized = [evaluation.evaluation.title]
    for vocabulary in ("regions", "stakeholder_groups", "methods", "criteria"):
        localized += [entry.label for entry in getattr(evaluation, vocabulary)]
    localized += [code.label for code in book.codes]
    terms = [text for item in localized for _, text in item.texts]
    terms += [evaluation.evaluation.country, *evaluation.interviewer_labels, *evaluation.privacy.allowlist]
    return terms + sorted(set(transcripts["institution"]) - {""})


def private_names_file(evaluation: Evaluation, codebook_dir: Path, override: Path | str | None) -> Path | None:
    """``--private-names``, else ``privacy.private_names`` resolved against the codebook folder."""
    if override is not None:
        return Path(override)
    configured = evaluation.privacy.private_names
    return Path(codebook_dir) / Path(configured).expanduser() if configured else None


def private_names_for(book: Codebook, codebook_dir: Path, override: Path | str | None) -> tuple[str, ...]:
    """The names of the private names file (``--private-names``, else ``privacy.private_names``
    resolved against the codebook folder), or none if neither is given. Raises
    :class:`InputError` when the file does not exist or is not UTF-8 text."""
    path = private_names_file(book.evaluation, Path(codebook_dir), override)
    if path is None:
        return ()
    if not path.is_file():
        source = "--private-names" if override is not None else "privacy.private_names in evaluation.yaml"
        raise InputError(Problem(str(path), f"the private names file given by {source} does not exist.",
                                 "Point it at the team's file of participants' names (one per line, kept outside "
                                 "the repository), or remove the setting."))
    try:
        return read_private_names(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), f"cannot be read as UTF-8 text ({exc}).",
                                 "Save it as plain UTF-8 text, one name per line.")) from None


def ner_models_for(book: Codebook) -> dict[str, str | None]:
    """Each of the evaluation's languages and the trained spaCy pipeline whose NER finds its
    names (``nlp.models``), or None where it has none: its names are left to the recognisers that
    need no model."""
    evaluation = book.evaluation
    return {language: evaluation.nlp.model_for(language) for language in evaluation.evaluation.languages}


def scanner_for(book: Codebook, codebook_dir: Path, transcripts: pd.DataFrame, human: pd.DataFrame,
                private_names: Path | str | None = None, *, parallel: Parallel = IN_ORDER) -> Scanner:
    """The Scanner of an evaluation: its allowlist (:func:`allowlist_for`), the private names
    (``private_names`` overrides ``privacy.private_names``, see :func:`private_names_for`), the
    NER of each language (:func:`ner_models_for`), and the words written in lower case in the
    transcripts' text and notes (TRANSCRIPTS) and the memos of ``human`` (the placed human
    codings); its scans shared out by ``parallel``."""
    evaluation = book.evaluation
    texts = [*transcripts["text"], *transcripts["notes"], *human["memo"]]
    return Scanner(allowlist=allowlist_for(book, transcripts),
                   private_names=private_names_for(book, codebook_dir, private_names),
                   ner_models=ner_models_for(book), language=evaluation.evaluation.languages[0],
                   batch_size=evaluation.nlp.batch_size, parallel=parallel, vocabulary=lowercase_vocabulary(texts))

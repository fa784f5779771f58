"""The codebook: the evaluation framework plus the codes, validated on load.

A codebook folder holds ``evaluation.yaml`` (criteria, questions, vocabularies, settings; see
:mod:`pipeline.config.evaluation`) and any number of other YAML files, each with a ``codes:`` list and/or
a ``stance:`` vocabulary (``findings.yaml``, the team's findings, is not a code file: see
:mod:`pipeline.config.findings`). Loading checks everything and reports every problem at once, each
with its file, line and key path, and the fix: duplicate ids, unknown parents, cycles, codes
that serve no question, questions no code serves, unknown questions or criteria, patterns that
do not compile, missing fields, YAML syntax. The loaded codebook is immutable.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import re
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator, model_validator

from pipeline.config.evaluation import (
    CONFIG_FILE, LANGUAGE_PATTERN, NO_TEXT, Evaluation, FrozenModel, Id, Localized, describe_error, load_evaluation,
)
from pipeline.errors import ConfigError, PipelineWarning, Problem
from pipeline.config.findings import FINDINGS_FILE
from pipeline.config.regex import UnsupportedRegex, compile_regex
from pipeline.config.scaffold import placeholder_title
from pipeline.config.yamlfile import YamlDocument, load_yaml

PATTERN_KINDS = ("phrase", "tokens", "regex")
# The fields of a code a coder needs, which a real codebook does not always have: warned of, once.
RECOMMENDED = ("definition", "include", "exclude", "examples")
SHOWN = 20  # codes named per field in that warning; the codebook manual lists them all


@functools.lru_cache(maxsize=1)
def _matcher_vocab():
    """A bare vocabulary, all a Matcher needs to check a pattern (a blank pipeline took 0.4 s)."""
    from spacy.vocab import Vocab

    return Vocab()


def _pattern_problem(kind: str, value: str) -> str | None:
    """Why a pattern cannot work, or None."""
    control = re.search(r"[\x00-\x1f]", value)
    if control:
        # YAML turns "\b" inside double quotes into a backspace: the regex then never matches.
        return (f"the {kind} {value!r} contains the control character U+{ord(control.group()):04X}; "
                f"in YAML double quotes write '\\\\b' for a regex '\\b', or put the pattern in single quotes")
    if kind == "regex":
        try:
            compile_regex(value)
        except ValueError as exc:  # UnsupportedRegex: what RE2 cannot run; else: not a regex at all
            return f"the regular expression '{value}' {'is refused: ' if isinstance(exc, UnsupportedRegex) else ''}{exc}"
    elif kind == "tokens":
        from spacy.matcher import Matcher

        try:
            Matcher(_matcher_vocab(), validate=True).add("check", [json.loads(value)])
        except (ValueError, KeyError, TypeError, re.error) as exc:  # re.error: a bad REGEX predicate
            reason = " ".join(str(exc).split())
            return f"the token pattern {value} is not a valid spaCy pattern: {reason}"
    return None


class Pattern(FrozenModel):
    """A deductive pattern: a lemma ``phrase``, a spaCy token pattern, or a ``regex``.

    In YAML a plain string is a lemma phrase; a mapping has one of the keys ``phrase``,
    ``tokens`` or ``regex`` and optionally an ``id`` (default: the code id and position).
    Token patterns are kept as canonical JSON so the pattern stays immutable.
    """

    kind: str
    value: str
    id: str = ""

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"kind": "phrase", "value": value}
        if isinstance(value, dict) and "kind" not in value:
            kinds = [k for k in PATTERN_KINDS if k in value]
            extra = sorted(set(value) - set(PATTERN_KINDS) - {"id"})
            if len(kinds) != 1 or extra:
                raise ValueError("a pattern is a lemma phrase (a string) or a mapping with exactly one of "
                                 "'phrase', 'tokens', 'regex' (and optionally 'id')")
            kind = kinds[0]
            raw = value[kind]
            if kind == "tokens":
                if not isinstance(raw, list) or not raw or not all(isinstance(t, dict) for t in raw):
                    raise ValueError("a token pattern is a non-empty list of token mappings, "
                                     "e.g. [{LEMMA: cambiar}, {LOWER: fiscal}]")
                raw = json.dumps(raw, ensure_ascii=False, sort_keys=True)
            elif not isinstance(raw, str) or not raw.strip():
                raise ValueError(f"the {kind} must be a non-empty text")
            value = {"kind": kind, "value": raw, "id": str(value.get("id", ""))}
        if isinstance(value, dict) and {"kind", "value"} <= set(value):
            reason = _pattern_problem(value["kind"], value["value"])
            if reason:
                raise ValueError(reason)
        return value

    def tokens(self) -> list[dict]:
        return json.loads(self.value)

    def to_yaml(self):
        data = self.tokens() if self.kind == "tokens" else self.value
        if self.kind == "phrase" and not self.id:
            return self.value
        return {self.kind: data, **({"id": self.id} if self.id else {})}


class Code(FrozenModel):
    """One code of the codebook; README.md documents every field."""

    id: Id
    label: Localized
    parent: Id | None = None
    roll_up: bool = False
    # Recommended, not required: real codebooks often have a label and a description only.
    definition: Localized = NO_TEXT
    include: Localized = NO_TEXT
    exclude: Localized = NO_TEXT
    examples: tuple[str, ...] = ()
    questions: tuple[Id, ...] = ()
    patterns: tuple[tuple[str, tuple[Pattern, ...]], ...] = ()

    @field_validator("definition", "include", "exclude", "examples", mode="before")
    @classmethod
    def _left_empty(cls, value: Any, info) -> Any:
        if info.field_name == "examples":
            return () if value is None else (value,) if isinstance(value, str) else value
        return NO_TEXT if value is None or value == "" else value

    def lacks(self) -> list[str]:
        """The recommended fields (:data:`RECOMMENDED`) this code leaves out or leaves empty."""
        texts = {f: [t for _, t in getattr(self, f).texts] for f in ("definition", "include", "exclude")}
        return [f for f in RECOMMENDED if not any(t.strip() for t in texts.get(f, self.examples))]

    @field_validator("patterns", mode="before")
    @classmethod
    def _patterns_mapping(cls, value: Any) -> Any:
        if isinstance(value, dict):
            bad = [k for k in value if not isinstance(k, str) or not re.fullmatch(LANGUAGE_PATTERN, k)]
            if bad:
                raise ValueError(f"patterns are grouped by language code (es, en, ...), not {bad[0]!r}")
            return tuple(sorted((k, tuple(v or ())) for k, v in value.items()))
        return value

    def patterns_for(self, language: str) -> tuple[Pattern, ...]:
        return dict(self.patterns).get(language, ())


class Stance(FrozenModel):
    """Words and phrases marking a positive or negative assessment, per language.

    ``negators`` flip a stance word that follows them closely ("no funcionó"); ``hedges``
    soften an assessment ("no creo que", "tal vez").
    """

    positive: tuple[tuple[str, tuple[str, ...]], ...] = ()
    negative: tuple[tuple[str, tuple[str, ...]], ...] = ()
    negators: tuple[tuple[str, tuple[str, ...]], ...] = ()
    hedges: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @field_validator("positive", "negative", "negators", "hedges", mode="before")
    @classmethod
    def _by_language(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for language, words in value.items():
                if not re.fullmatch(LANGUAGE_PATTERN, str(language)):
                    raise ValueError(f"words are grouped by language code (es, en, ...), not {language!r}")
                if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
                    raise ValueError(f"the {language} entry must be a list of words or phrases")
            return tuple(sorted((k, tuple(w.strip() for w in v)) for k, v in value.items()))
        return value

    def words(self, kind: str, language: str) -> tuple[str, ...]:
        return dict(getattr(self, kind)).get(language, ())


class Codebook(FrozenModel):
    """The evaluation framework, the codes (in file order) and the stance vocabulary."""

    evaluation: Evaluation
    codes: tuple[Code, ...]
    stance: Stance = Stance()
    files: tuple[tuple[str, str], ...] = ()  # (file name, sha256) of every codebook file

    @cached_property
    def by_id(self) -> dict[str, Code]:
        return {code.id: code for code in self.codes}

    def ancestors(self, code_id: str) -> list[str]:
        chain, parent = [], self.by_id[code_id].parent
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = self.by_id[parent].parent
        return chain

    def children(self, code_id: str) -> list[str]:
        return [c.id for c in self.codes if c.parent == code_id]

    def questions_of(self, code_id: str) -> tuple[str, ...]:
        """The questions a code serves: its own and those of its ancestors, in question order."""
        own = set(self.by_id[code_id].questions)
        for ancestor in self.ancestors(code_id):
            own |= set(self.by_id[ancestor].questions)
        return tuple(q for q in self.evaluation.ids("questions") if q in own)

    def codes_for(self, question_id: str) -> list[str]:
        return [c.id for c in self.codes if question_id in self.questions_of(c.id)]

    @property
    def version(self) -> str:
        """A short hash of every codebook file: what the manifest records."""
        digest = hashlib.sha256("".join(f"{n}:{h};" for n, h in self.files).encode())
        return digest.hexdigest()[:12]


def _suggest(value: str, allowed: list[str], what: str) -> str:
    close = difflib.get_close_matches(value, allowed, n=1)
    return f"Did you mean '{close[0]}'?" if close else f"Use the id of a {what}."


def _code_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.suffix in (".yaml", ".yml") and p.name not in (CONFIG_FILE, FINDINGS_FILE) and p.is_file())


def _read_code_files(folder: Path, problems: list[Problem]):
    """Parse every code file; return [(document, index, Code | None)] and the stance, if any."""
    entries, stance = [], None
    for path in _code_files(folder):
        document, found = load_yaml(path)
        problems += found
        if document is None:
            continue
        data = document.data if document.data is not None else {}
        if not isinstance(data, dict) or set(data) - {"codes", "stance"} or not data:
            unknown = sorted(set(data) - {"codes", "stance"}) if isinstance(data, dict) else []
            problems.append(Problem(document.path, "must be a mapping with 'codes' and/or 'stance'"
                                    + (f", not {', '.join(map(repr, unknown))}." if unknown else "."),
                                    "See README.md, 'Codes'.", document.where(tuple(unknown[:1]))))
            continue
        if "stance" in data:
            if stance is not None:
                problems.append(Problem(document.path, f"a stance vocabulary is already given in {stance[0].path}.",
                                        "Keep one 'stance:' block.", document.where(("stance",))))
            else:
                stance = (document, data["stance"])
        codes = data.get("codes", [])
        if not isinstance(codes, list):
            problems.append(Problem(document.path, "'codes' must be a list of codes.",
                                    "Write each code as an item starting with '- id: ...'.",
                                    document.where(("codes",))))
            continue
        for index, raw in enumerate(codes):
            try:
                entries.append((document, index, Code.model_validate(raw)))
            except ValidationError as exc:
                _add_validation_problems(exc, document, ("codes", index), problems, raw)
                entries.append((document, index, None))
    return entries, stance


def _yaml_loc(loc: tuple, raw: Any) -> tuple:
    """Pydantic's location of an error inside ``patterns`` (languages sorted into pairs) as
    the key path of the YAML file (``patterns.es[2]``)."""
    if len(loc) >= 3 and loc[0] == "patterns" and isinstance(loc[1], int) and isinstance(raw, dict):
        languages = sorted(raw.get("patterns") or {}) if isinstance(raw.get("patterns"), dict) else []
        if loc[1] < len(languages):
            return ("patterns", languages[loc[1]], *loc[3:])
    return loc


def _add_validation_problems(exc: ValidationError, document: YamlDocument, prefix: tuple,
                             problems: list[Problem], raw: Any = None) -> None:
    for error in exc.errors():
        loc = prefix + _yaml_loc(tuple(p for p in error["loc"] if p != "texts"), raw)
        if error["type"] == "missing":
            loc = loc[:-1]
        message, fix = describe_error(error)
        if error["type"] == "missing":
            fix = f"Add '{error['loc'][-1]}' (see README.md, 'Codes')."
        elif "patterns" in loc:
            fix = "Correct it (README.md, 'Patterns', shows each kind)."
        problems.append(Problem(document.path, message, fix, document.where(loc)))


def _check_framework(evaluation: Evaluation, document: YamlDocument, problems: list[Problem]) -> None:
    criteria = evaluation.ids("criteria")
    title = evaluation.evaluation.title
    for problem in placeholder_title(title, document.path, document.where(("evaluation", "title"))):
        warnings.warn(PipelineWarning(problem))
    if not evaluation.questions:
        problems.append(Problem(document.path, "declares no evaluation questions.",
                                "List them under 'questions:' (id, criterion, text).", document.where(("questions",))))
    if not criteria:
        problems.append(Problem(document.path, "declares no criteria.",
                                "List them under 'criteria:' (id, label).", document.where(("criteria",))))
    for index, question in enumerate(evaluation.questions):
        if criteria and question.criterion not in criteria:
            problems.append(Problem(document.path, f"question {question.id} names the criterion "
                                                   f"'{question.criterion}', which is not declared.",
                                    _suggest(question.criterion, list(criteria), "criterion under 'criteria:'"),
                                    document.where(("questions", index, "criterion"))))


def _check_codes(codebook_entries, evaluation: Evaluation, eval_doc: YamlDocument, folder: Path,
                 problems: list[Problem]) -> None:
    questions = list(evaluation.ids("questions"))
    first_seen: dict[str, tuple[YamlDocument, int]] = {}
    codes = {}
    for document, index, code in codebook_entries:
        if code is None:
            continue
        where = lambda *key: document.where(("codes", index, *key))  # noqa: E731
        if code.id in first_seen:
            other, other_index = first_seen[code.id]
            problems.append(Problem(document.path, f"the code id '{code.id}' is already defined in "
                                                   f"{other.path}, {other.where(('codes', other_index, 'id'))}.",
                                    "Give each code its own id.", where("id")))
            continue
        first_seen[code.id] = (document, index)
        codes[code.id] = code
        for position, question in enumerate(code.questions):
            if question not in questions:
                problems.append(Problem(document.path, f"code '{code.id}' serves question '{question}', "
                                                       f"which evaluation.yaml does not declare.",
                                        _suggest(question, questions, "question of evaluation.yaml"),
                                        where("questions", position)))
        for language, patterns in code.patterns:
            if language not in evaluation.evaluation.languages:
                problems.append(Problem(document.path, f"code '{code.id}' has patterns for '{language}', "
                                                       f"which is not one of evaluation.languages.",
                                        "Add the language to evaluation.languages, or remove the patterns.",
                                        where("patterns", language)))
    for document, index, code in codebook_entries:
        if code is None or codes.get(code.id) is not code or code.parent is None:
            continue
        if code.parent not in codes:
            problems.append(Problem(document.path, f"code '{code.id}' has the parent '{code.parent}', which "
                                                   f"is not a code.",
                                    _suggest(code.parent, sorted(codes), "code of any code file")
                                    + " Or remove 'parent'.", document.where(("codes", index, "parent"))))
    reported: set[str] = set()
    for document, index, code in codebook_entries:
        if code is None or codes.get(code.id) is not code:
            continue
        chain, current = [code.id], code.parent
        while current in codes and current not in chain:
            chain.append(current)
            current = codes[current].parent
        if current == code.id and code.id not in reported:
            reported.update(chain)
            problems.append(Problem(document.path, f"the parents of codes form a cycle: "
                                                   f"{' -> '.join(chain + [code.id])}.",
                                    "Remove or change the parent of one of them.",
                                    document.where(("codes", index, "parent"))))
    if reported:
        return  # effective questions are undefined inside a cycle
    served: dict[str, int] = {q: 0 for q in questions}
    for document, index, code in codebook_entries:
        if code is None or codes.get(code.id) is not code:
            continue
        effective, current = set(code.questions), code.parent
        while current in codes:
            effective |= set(codes[current].questions)
            current = codes[current].parent
        if not effective:
            problems.append(Problem(document.path, f"code '{code.id}' serves no evaluation question "
                                                   f"(neither it nor its parents list any).",
                                    "List the ids of the questions it serves under 'questions'.",
                                    document.where(("codes", index, "id"))))
        for question in effective:
            if question in served:
                served[question] += 1
    if not codebook_entries:
        problems.append(Problem(str(folder), "has no codes.",
                                "Write them in a code file such as codes.yaml (README.md, 'Codes')."))
    for index, question in enumerate(evaluation.questions):
        if codes and served.get(question.id) == 0:
            problems.append(Problem(eval_doc.path, f"question {question.id} is served by no code.",
                                    "Add its id to the 'questions' of the codes that bear on it.",
                                    eval_doc.where(("questions", index, "id"))))


def lacking(codes) -> dict[str, list[str]]:
    """{recommended field: the ids of the codes without it, in file order}, fields none lacks left out."""
    found = {field: [code.id for code in codes if field in code.lacks()] for field in RECOMMENDED}
    return {field: ids for field, ids in found.items() if ids}


def _lacking(codes, folder: Path) -> list[Problem]:
    """One warning for all the codes without a recommended field, listing them per field."""
    found = lacking(codes)
    if not found:
        return []
    fields_of: dict[tuple, list[str]] = {}  # fields lacking in the same codes are named together
    for field, ids in found.items():
        fields_of.setdefault(tuple(ids), []).append(field)
    listed = "; ".join(f"{', '.join(fields)} ({len(ids)}: {', '.join(ids[:SHOWN])}{', ...' if len(ids) > SHOWN else ''})"
                       for ids, fields in fields_of.items())
    return [Problem(str(folder), f"codes lack recommended fields, which coders and the learned coder read: {listed}.",
                    "Add them when the team can (README.md, 'Codes'); the codebook manual's coverage table lists "
                    "every code without each. The run goes on without them.")]


def load_codebook(folder: Path | str) -> Codebook:
    """Load and validate a codebook folder: ``evaluation.yaml`` and every code file.

    Raises :class:`ConfigError` listing every problem found, each with file, line and fix.
    """
    folder = Path(folder)
    evaluation = load_evaluation(folder)  # raises on its own problems, which come first
    eval_doc, _ = load_yaml(folder / CONFIG_FILE)
    problems: list[Problem] = []
    _check_framework(evaluation, eval_doc, problems)
    entries, stance_entry = _read_code_files(folder, problems)
    _check_codes(entries, evaluation, eval_doc, folder, problems)
    stance = Stance()
    if stance_entry is not None:
        document, data = stance_entry
        try:
            stance = Stance.model_validate(data)
        except ValidationError as exc:
            _add_validation_problems(exc, document, ("stance",), problems)
    if problems:
        raise ConfigError(problems)
    codes = tuple(code for _, _, code in entries)
    for problem in _lacking(codes, folder):
        warnings.warn(PipelineWarning(problem))
    files = [folder / CONFIG_FILE] + _code_files(folder)
    return Codebook(
        evaluation=evaluation,
        codes=codes,
        stance=stance,
        files=tuple((p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in files),
    )


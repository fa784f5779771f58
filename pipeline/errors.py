"""The one error catalogue of the pipeline.

Library code raises these; only the CLI turns them into ``Error: ...`` lines and an exit code.
Each exception subclasses a built-in so callers can catch it the usual way.

A :class:`Problem` is one finding about an input: where it is (file, line or key), what is
wrong and what to do. Checks collect every problem they find and raise :class:`InputError`
with all of them at once, so a person fixes a folder in one pass, not one error per run.
Problems a person can safely ignore are emitted as :class:`PipelineWarning` through Python's
``warnings`` machinery; the run records them in its summary and manifest. Problems of one
``kind`` (the same finding in many files) are shown as one line, :func:`group_problems`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One finding about an input file.

    ``file`` is the path as the user gave it (relative to the evaluation folder where
    possible), ``where`` a line (``"line 12"``), a row (``"row 3"``) or a key path
    (``"stakeholder_groups[2].id"``), ``message`` what is wrong and ``fix`` what to do.
    ``kind``, where given, says what is wrong in words that hold for every file it is found in
    ("has text before its first speaker label, not read as speech"): problems of one kind and
    one fix are shown together.
    """

    file: str
    message: str
    fix: str = ""
    where: str = ""
    kind: str = ""

    def __str__(self) -> str:
        location = f"{self.file}, {self.where}" if self.where else self.file
        text = f"{location}: {self.message}"
        if self.fix:
            text += f" {self.fix}"
        return text


@dataclass(frozen=True)
class ProblemGroup:
    """Problems of one ``kind`` and ``fix``, in the order found; one line when shown."""

    kind: str
    fix: str
    problems: tuple[Problem, ...]

    @property
    def files(self) -> list[str]:
        return list(dict.fromkeys(p.file for p in self.problems))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        files = self.files
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        places = f" ({len(self.problems)} places)" if len(self.problems) > len(files) else ""
        text = f"{len(files)} file{'s' if len(files) > 1 else ''} {self.kind}{places}: {shown}."
        return f"{text} {self.fix}" if self.fix else text

    def as_dict(self) -> dict:
        return {"kind": self.kind, "fix": self.fix, "count": len(self.problems), "files": self.files}


def group_problems(problems) -> list[ProblemGroup]:
    """``problems`` with one group per ``kind`` and ``fix`` (a problem without a kind is a group
    of its own), in the order each group is first found."""
    groups: dict[tuple, list[Problem]] = {}
    for number, problem in enumerate(problems):
        key = (problem.kind, problem.fix) if problem.kind else (number,)
        groups.setdefault(key, []).append(problem)
    return [ProblemGroup(found[0].kind or found[0].message, found[0].fix, tuple(found)) for found in groups.values()]


class PipelineError(Exception):
    """Base class of every error the pipeline raises on purpose."""


class InputError(PipelineError, ValueError):
    """One or more inputs are invalid; ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        self.warnings: tuple[Problem, ...] = ()  # warnings found before the error, if known
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(InputError):
    """The evaluation config (``evaluation.yaml``) is missing or invalid."""


class FindingsError(InputError):
    """The findings file (``findings.yaml``) is invalid, or, checked strictly, its claims are not
    borne out by the evidence."""


class RegisterError(InputError):
    """The register of sessions (``register.csv`` / ``register.xlsx``) is invalid."""


class TranscriptError(InputError):
    """A transcript file cannot be read or has no usable speech."""


class ModelError(PipelineError, OSError):
    """A spaCy pipeline the evaluation asks for is not installed or cannot be loaded."""


class OutputError(PipelineError, OSError):
    """The outputs cannot be written where asked."""


class PipelineWarning(UserWarning):
    """A problem a person can safely ignore; it is printed and recorded, never dropped."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))

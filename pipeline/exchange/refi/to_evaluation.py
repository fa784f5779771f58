"""REFI-QDA import, the writing: what another QDA tool exported, turned into an evaluation folder.

A code book (``.qdc``) becomes a ``codes_<name>.yaml``; a project (``.qdpx``) a whole folder:
``codebook/`` (a minimal framework and the codes) and ``transcripts/`` (the texts, a register to
complete and the codings in the human-coding format). Whatever the tool could not say (include
and exclude rules, the evaluation questions) is written as a TODO placeholder that still loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from pipeline.config.evaluation import CONFIG_FILE, ID_PATTERN, LANGUAGE_PATTERN
from pipeline.errors import InputError, Problem
from pipeline.exchange.refi.positions import Detection
from pipeline.exchange.refi.read import QdaCode, QdpxProject, read_qdc, read_qdpx
from pipeline.runtime.outputs import StagedOutputs
from pipeline.schemas import HUMAN_CODING_COLUMNS, REGISTER_COLUMNS
from pipeline.text import fold

TODO = {"include": "TODO: when to use this code.",
        "exclude": "TODO: when not to use it, and which code to use instead.",
        "examples": ["TODO: an example quote."]}


def _slug(name: str, taken: set[str]) -> str:
    """An id for ``name``: the name itself if it is a valid id, else a folded, lower-case slug;
    made unique against ``taken`` (which it joins)."""
    if re.fullmatch(ID_PATTERN, name) and len(name) <= 60:
        base = name
    else:
        folded = fold(name).encode("ascii", "ignore").decode()
        base = re.sub(r"[^a-z0-9]+", "_", folded).strip("_")[:60] or "code"
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}_{number}", number + 1
    taken.add(slug)
    return slug


def _code_entries(codes: tuple[QdaCode, ...], questions: list[str]) -> tuple[list[dict], dict[str, str]]:
    """YAML-ready code mappings and the id given to each code guid."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for code in codes:
        ids[code.guid] = _slug(code.name, taken)
    entries = []
    for code in codes:
        entry = {"id": ids[code.guid], "label": code.name or ids[code.guid]}
        if code.parent:
            entry["parent"] = ids[code.parent]
        entry |= {"definition": code.description or "TODO: define this code.", **TODO}
        if not code.parent:
            entry["questions"] = list(questions)
        entries.append(entry)
    return entries, ids


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:  # repeated placeholders stay readable, not &id001 anchors
        return True


def _dump(data, header: str) -> str:
    return header + yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)


def _codes_yaml(codes: tuple[QdaCode, ...], origin: str, questions: list[str]) -> tuple[str, dict[str, str]]:
    entries, ids = _code_entries(codes, questions)
    header = (f"# Imported from {origin}. TODO: include, exclude and examples are placeholders, and every\n"
              f"# top-level code serves {', '.join(questions)}; correct them (README.md, 'Codes', documents "
              f"every field).\n")
    return _dump({"codes": entries}, header), ids


def _file_stem(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem).strip("_").lower() or "refi"


def import_qdc(path: Path | str, codebook_dir: Path | str) -> Path:
    """Turn a REFI-QDA code book (``.qdc``) into ``codes_<name>.yaml`` in ``codebook_dir``; return it.
    Top-level codes serve every question of the folder's evaluation.yaml (``Q1`` if none), so the
    codebook loads; the file says to correct that, and the TODO placeholders."""
    path, folder = Path(path), Path(codebook_dir)
    codes = read_qdc(path)
    questions = []
    if (folder / CONFIG_FILE).is_file():
        data = yaml.safe_load((folder / CONFIG_FILE).read_text(encoding="utf-8")) or {}
        questions = [q.get("id") for q in data.get("questions") or [] if isinstance(q, dict) and q.get("id")]
    target = folder / f"codes_{_file_stem(path)}.yaml"
    if target.exists():
        raise InputError(Problem(str(target), "exists already.", "Rename the .qdc, or move the old file away first."))
    if not folder.is_dir():
        raise InputError(Problem(str(folder), "is not a folder.", "Give the codebook folder."))
    text, _ = _codes_yaml(codes, path.name, questions or ["Q1"])
    target.write_text(text, encoding="utf-8")
    return target


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_qdpx` wrote and the position convention detected per source."""

    out: Path
    sources: int
    codes: int
    users: int
    codings: int
    detections: tuple[tuple[str, Detection], ...]  # (session id, detection)
    skipped: tuple[str, ...]
    files: tuple[str, ...]

    def summary(self) -> str:
        lines = [f"Imported {self.sources} sources, {self.codes} codes, {self.users} users and "
                 f"{self.codings} codings into {self.out}/."]
        for session, found in self.detections:
            if found.score is None:
                lines.append(f"  {session}: no selections (positions would be read as {found.convention})")
                continue
            lines.append(f"  {session}: positions counted in {found.convention} "
                         f"({found.score:.0%} of {found.selections} selections on word boundaries)")
        lines += [f"  skipped: {s}" for s in self.skipped]
        return "\n".join(lines)


def _framework(project: QdpxProject, rows: list[dict], title: str) -> dict:
    def values(column: str, pattern: str) -> list[str]:
        return sorted({r[column] for r in rows if re.fullmatch(pattern, r[column])})

    groups = values("stakeholder_group", ID_PATTERN)
    methods = values("method", ID_PATTERN)
    default_methods = ["interview", "group_interview", "focus_group", "document"]
    framework = {
        "evaluation": {"id": _slug(title, set()), "title": title, "languages": values("language", LANGUAGE_PATTERN)
                       or ["es"]},
        "criteria": [{"id": "imported", "label": "TODO: a criterion"}],
        "questions": [{"id": "Q1", "criterion": "imported",
                       "text": "TODO: the evaluation question the imported codes serve"}],
        "stakeholder_groups": [{"id": g, "label": g} for g in groups] or [{"id": "TODO_group", "label": "TODO"}],
    }
    if set(methods) - set(default_methods):
        framework["methods"] = [{"id": m, "label": m} for m in sorted(set(methods) | set(default_methods))]
    regions = values("region", ID_PATTERN)
    if regions:
        framework["regions"] = [{"id": r, "label": r} for r in regions]
    return framework


def import_qdpx(path: Path | str, out_dir: Path | str) -> ImportReport:
    """Turn a REFI-QDA project into an evaluation folder under ``out_dir``: ``codebook/``
    (``evaluation.yaml`` with a minimal framework, ``codes_<name>.yaml``), ``transcripts/``
    (one UTF-8 ``.txt`` per source, ``register.csv`` to complete, the codings in the human-coding
    format under ``coding/<name>.csv``). Never overwrites an evaluation. Returns what it did."""
    path, out = Path(path), Path(out_dir)
    if (out / "codebook" / CONFIG_FILE).exists():
        raise InputError(Problem(str(out / "codebook" / CONFIG_FILE), "exists already; import never overwrites "
                                 "an evaluation.", "Choose a new --out folder."))
    project = read_qdpx(path)
    stem = _file_stem(path)
    codes_text, code_ids = _codes_yaml(project.codes, path.name, ["Q1"])
    sessions: dict[str, str] = {}
    taken: set[str] = set()
    for source in project.sources:
        sessions[source.guid] = _slug(source.name, taken)
    users = {u.guid: u.name for u in project.users}
    rows = []
    for source in project.sources:
        variables = {k.lower(): v for k, v in source.variables}
        rows.append({c: "" for c in REGISTER_COLUMNS} | {
            c: variables.get(c, "") for c in ("method", "stakeholder_group", "language", "participants", "region")}
            | {"file": f"{sessions[source.guid]}.txt", "session_id": sessions[source.guid]})
    texts = {s.guid: s.text for s in project.sources}
    codings = pd.DataFrame([{"session_id": sessions[c.source], "code": code_ids[c.code],
                             "coder": users.get(c.user, c.user) or "unknown", "start": c.start, "end": c.end,
                             "quote": texts[c.source][c.start:c.end], "memo": c.memo}
                            for c in project.codings if c.end > c.start], columns=HUMAN_CODING_COLUMNS)
    codings = codings.sort_values(["session_id", "start", "end", "code", "coder"], kind="stable")
    empty = sum(c.end <= c.start for c in project.codings)
    title = project.name or path.stem
    header = (f"# Imported from {path.name} ({project.origin or 'unknown tool'}). TODO: replace the placeholder "
              f"criterion and question\n# with the evaluation's own, and check the vocabularies "
              f"(README.md, 'The evaluation config').\n")
    with StagedOutputs(out) as staged:
        staged.write_text(f"codebook/{CONFIG_FILE}", _dump(_framework(project, rows, title), header))
        staged.write_text(f"codebook/codes_{stem}.yaml", codes_text)
        for source in project.sources:
            staged.write_text(f"transcripts/{sessions[source.guid]}.txt", source.text)
        staged.write_csv("transcripts/register.csv", pd.DataFrame(rows, columns=REGISTER_COLUMNS))
        staged.write_csv(f"transcripts/coding/{stem}.csv", codings)
    return ImportReport(out, len(project.sources), len(project.codes), len(project.users), len(codings),
                        tuple(zip([sessions[s.guid] for s in project.sources], project.detections)),
                        project.skipped + ((f"{empty} empty selection(s)",) if empty else ()),
                        tuple(staged.names))

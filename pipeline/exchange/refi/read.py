"""REFI-QDA import, the reading: a project (``.qdpx``) or a code book (``.qdc``) from another QDA tool as records.

A project's text sources are normalised as transcripts are (:mod:`pipeline.text`)
and its selections' positions converted to code points of that text, in the convention
:mod:`.positions` detects for each source. Turning the records into an evaluation folder is
:mod:`.to_evaluation`'s job.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from pipeline.errors import InputError, Problem
from pipeline.exchange.refi.positions import Detection, detect_convention, to_code_points
from pipeline.text import decode, normalise


@dataclass(frozen=True)
class QdaUser:
    guid: str
    name: str


@dataclass(frozen=True)
class QdaCode:
    """A code: ``parent`` is the guid of the code it is nested in, or None."""

    guid: str
    name: str
    description: str
    parent: str | None
    codable: bool


@dataclass(frozen=True)
class QdaSource:
    """A text source: its normalised ``text`` and the variables its case (or itself) carries."""

    guid: str
    name: str
    text: str
    variables: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class QdaCoding:
    """One code applied to a selection: ``start``/``end`` in code points of the source's
    normalised text; ``user`` is a user guid (or empty)."""

    guid: str
    source: str
    code: str
    user: str
    start: int
    end: int
    memo: str = ""


@dataclass(frozen=True)
class QdpxProject:
    """What :func:`read_qdpx` found; ``detections`` says how each source's positions were counted."""

    name: str
    origin: str
    sources: tuple[QdaSource, ...]
    codes: tuple[QdaCode, ...]
    users: tuple[QdaUser, ...]
    codings: tuple[QdaCoding, ...]
    detections: tuple[Detection, ...]
    skipped: tuple[str, ...] = ()  # what was left out, and why


def _local(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _children(element, name: str) -> list:
    return [child for child in element if _local(child) == name]


def _text_of(element, name: str) -> str:
    found = _children(element, name)
    return (found[0].text or "") if found else ""


def _open_project(path: Path) -> tuple[zipfile.ZipFile, etree._Element]:
    name = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(Problem(name, f"is not a REFI-QDA project: it cannot be opened as a zip archive ({exc}).",
                                 "Export the project from the QDA tool as a REFI-QDA project (.qdpx).")) from None
    qde = [n for n in archive.namelist() if n.lower().endswith(".qde") and "/" not in n.strip("/")]
    if not qde:
        raise InputError(Problem(name, "holds no project.qde.", "Export the project again as REFI-QDA (.qdpx); "
                                                                "a .qdc code book is imported with import_qdc."))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(archive.read(qde[0]), parser)
    except etree.XMLSyntaxError as exc:
        raise InputError(Problem(name, f"{qde[0]} is not valid XML: {exc.msg}.",
                                 "Export the project again from the QDA tool.", f"line {exc.lineno}")) from None
    if _local(root) != "Project":
        raise InputError(Problem(name, f"{qde[0]} has the root element <{_local(root)}>, not <Project>.",
                                 "Export a REFI-QDA project (.qdpx)."))
    return archive, root


def _source_text(archive: zipfile.ZipFile, element, name: str) -> str | None:
    path = element.get("plainTextPath")
    if not path:
        content = _children(element, "PlainTextContent")
        return normalise(content[0].text or "") if content else None
    members = {n.lower(): n for n in archive.namelist()}
    wanted = path.split("://", 1)[-1].lstrip("/").lower()
    member = members.get(f"sources/{wanted}") or members.get(wanted)
    if member is None:
        raise InputError(Problem(name, f"TextSource {element.get('guid')} refers to {path}, which the archive "
                                       f"does not hold.", "Export the project again with its sources included."))
    text, _ = decode(archive.read(member), f"{name}:{member}")
    return normalise(text)


def _walk_codes(element, parent: str | None, out: list[QdaCode]) -> None:
    for code in _children(element, "Code"):
        out.append(QdaCode(code.get("guid", ""), code.get("name", ""), _text_of(code, "Description").strip(),
                           parent, code.get("isCodable", "true").lower() in ("true", "1")))
        _walk_codes(code, code.get("guid"), out)


def _variables(root) -> dict[str, tuple[tuple[str, str], ...]]:
    """Variables per source guid: from the cases that refer to it, then its own."""
    names = {v.get("guid"): v.get("name", "") for v in root.iter("{*}Variable")}

    def values(element) -> list[tuple[str, str]]:
        found = []
        for entry in _children(element, "VariableValue"):
            ref = _children(entry, "VariableRef")
            value = [c.text or "" for c in entry if _local(c).endswith("Value")]
            if ref and value and ref[0].get("targetGUID") in names:
                found.append((names[ref[0].get("targetGUID")], value[0].strip()))
        return found

    by_source: dict[str, list[tuple[str, str]]] = {}
    for case in root.iter("{*}Case"):
        for ref in _children(case, "SourceRef"):
            by_source.setdefault(ref.get("targetGUID"), []).extend(values(case))
    for source in root.iter("{*}TextSource"):
        by_source.setdefault(source.get("guid"), []).extend(values(source))
    return {guid: tuple(found) for guid, found in by_source.items()}


def read_qdpx(path: Path | str) -> QdpxProject:
    """Read a REFI-QDA project: text sources (``internal://`` files under ``sources/`` in any case,
    or embedded ``PlainTextContent``), nested codes, users and the codings of plain-text
    selections, with positions converted to code points of the normalised text.
    Raises :class:`InputError` naming the file, the element and what to do."""
    path = Path(path)
    name = str(path)
    archive, root = _open_project(path)
    codes: list[QdaCode] = []
    for book in root.iter("{*}CodeBook"):
        for codes_element in _children(book, "Codes"):
            _walk_codes(codes_element, None, codes)
    known = {c.guid for c in codes}
    users = tuple(QdaUser(u.get("guid", ""), u.get("name") or u.get("id") or u.get("guid", ""))
                  for u in root.iter("{*}User"))
    notes = {n.get("guid"): _text_of(n, "PlainTextContent").strip() for n in root.iter("{*}Note")}
    variables = _variables(root)
    sources, codings, detections, skipped = [], [], [], []
    sources_element = _children(root, "Sources")
    for element in (list(sources_element[0]) if sources_element else []):
        kind, guid = _local(element), element.get("guid", "")
        text = _source_text(archive, element, name) if kind == "TextSource" else None
        if text is None:
            skipped.append(f"{kind} {element.get('name', guid)}: not a text source with plain text")
            continue
        raw = []
        for selection in _children(element, "PlainTextSelection"):
            where = f"PlainTextSelection {selection.get('guid')}"
            try:
                start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            except (TypeError, ValueError):
                raise InputError(Problem(name, "startPosition and endPosition must be whole numbers.",
                                         "Export the project again from the QDA tool.", where)) from None
            if not 0 <= start <= end:
                raise InputError(Problem(name, f"the selection {start}-{end} is not a span of the text.",
                                         "Correct or remove the selection in the QDA tool, then export again.", where))
            raw.append((selection, start, end))
        try:
            detection = detect_convention(f"{name}, TextSource {guid} ({element.get('name', '')})", text,
                                          [(s, e) for _, s, e in raw])
        except InputError as exc:
            selection = max(raw, key=lambda item: item[2])[0]
            raise InputError([Problem(p.file, p.message, p.fix, f"PlainTextSelection {selection.get('guid')}")
                              for p in exc.problems]) from None
        detections.append(detection)
        spans = to_code_points(text, [(s, e) for _, s, e in raw], detection.convention)
        for (selection, _, _), (start, end) in zip(raw, spans):
            for coding in _children(selection, "Coding"):
                ref = _children(coding, "CodeRef")
                target = ref[0].get("targetGUID") if ref else None
                if target not in known:
                    raise InputError(Problem(name, f"a coding refers to the code {target}, which the code book "
                                                   f"does not hold.", "Export the project again from the QDA tool.",
                                             f"Coding {coding.get('guid')}"))
                memo = "\n".join(notes.get(r.get("targetGUID"), "") for r in
                                 _children(coding, "NoteRef") + _children(selection, "NoteRef")).strip()
                codings.append(QdaCoding(coding.get("guid", ""), guid, target,
                                         coding.get("creatingUser") or selection.get("creatingUser") or "",
                                         start, end, memo))
        if _children(element, "Coding"):
            skipped.append(f"{len(_children(element, 'Coding'))} coding(s) of the whole source {element.get('name')}")
        sources.append(QdaSource(guid, element.get("name") or guid, text, variables.get(guid, ())))
    return QdpxProject(root.get("name", ""), root.get("origin", ""), tuple(sources), tuple(codes), users,
                       tuple(codings), tuple(detections), tuple(skipped))


def read_qdc(path: Path | str) -> tuple[QdaCode, ...]:
    """The codes of a REFI-QDA code book (``.qdc``), parents before their children. Raises
    :class:`InputError` naming the file and what to do if it is not one."""
    path = Path(path)
    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except (etree.XMLSyntaxError, OSError) as exc:
        raise InputError(Problem(str(path), f"is not a readable XML code book ({exc}).",
                                 "Export the code book again from the QDA tool as REFI-QDA (.qdc).")) from None
    if _local(root) != "CodeBook":
        raise InputError(Problem(str(path), f"has the root element <{_local(root)}>, not <CodeBook>.",
                                 "Give a REFI-QDA code book (.qdc); a .qdpx project is imported with import-qdpx."))
    codes: list[QdaCode] = []
    for codes_element in _children(root, "Codes"):
        _walk_codes(codes_element, None, codes)
    return tuple(codes)

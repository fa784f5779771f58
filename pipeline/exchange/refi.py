"""REFI-QDA exchange: the evaluation out to other QDA tools as ``.qdpx``/``.qdc``, and back in.

Export: the normalised transcripts become UTF-8 text sources (``sources/<guid>.txt``), the codes
a nested code book (definition as ``Description``), the evaluation questions and criteria
``Sets`` of the codes that serve them, each session a ``Case`` with the register's metadata as
variables, and every accepted coding (human, rule, accepted model) a ``PlainTextSelection``
with one ``Coding`` per code; each coder or rule id is a ``User``. Positions count Unicode code
points of the normalised text, as everywhere in the product. GUIDs are uuid5 of stable names
and the zip has fixed timestamps and sorted entries, so the same input gives the same bytes.

Import: a ``.qdpx`` from another tool. Tools count positions differently (code points or UTF-16
code units; a line end as one or two; a byte-order mark or not). For each source every
:data:`CONVENTIONS` is scored by the share of selections that start and end outside a word;
the best wins (ties go to the earlier, the REFI standard first), and positions are converted
to code points of the normalised text (NFC, ``\\n``, no BOM).
"""

from __future__ import annotations

import io
import re
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from lxml import etree

from pipeline import __version__, schemas
from pipeline.config.codebook import Codebook, load_codebook
from pipeline.config.evaluation import CONFIG_FILE, ID_PATTERN, LANGUAGE_PATTERN
from pipeline.errors import InputError, Problem
from pipeline.stages.ingest.formats import decode, normalise
from pipeline.runtime.outputs import StagedOutputs

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
_GUIDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:evidence-pipeline:refi-qda")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Register columns exported as case variables, and their REFI variable types.
VARIABLES = (("method", "Text"), ("stakeholder_group", "Text"), ("region", "Text"),
             ("language", "Text"), ("participants", "Integer"))
REGISTER_COLUMNS = ["file", "session_id", "method", "stakeholder_group", "language", "participants", "region",
                    "date", "institution", "interviewer", "women", "men", "notes"]
CODING_COLUMNS = ["session_id", "code", "coder", "start", "end", "quote", "memo"]
TODO = {"include": "TODO: when to use this code.",
        "exclude": "TODO: when not to use it, and which code to use instead.",
        "examples": ["TODO: an example quote."]}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _guid(codebook: Codebook, *parts: object) -> str:
    """A GUID from stable names: the evaluation id and, e.g., ("code", code id)."""
    return str(uuid.uuid5(_GUIDS, "/".join(str(p) for p in (codebook.evaluation.evaluation.id, *parts))))


def _xml_text(text: str) -> str:
    """Text XML 1.0 can carry (it has no form feed or other C0 controls)."""
    return _NOT_XML.sub(" ", text)


# ---------------------------------------------------------------- position conventions

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


# ---------------------------------------------------------------- export

def _code_element(ns: str, codebook: Codebook, code_id: str, language: str) -> etree._Element:
    """A code and, nested, its children; named by id (what codings refer to), defined by its definition."""
    code = codebook.by_id[code_id]
    element = etree.Element(f"{{{ns}}}Code", guid=_guid(codebook, "code", code.id), name=code.id, isCodable="true")
    etree.SubElement(element, f"{{{ns}}}Description").text = _xml_text(code.definition.get(language))
    for child in codebook.children(code_id):
        element.append(_code_element(ns, codebook, child, language))
    return element


def _codes(codebook: Codebook, ns: str) -> etree._Element:
    language = codebook.evaluation.evaluation.languages[0]
    codes = etree.Element(f"{{{ns}}}Codes")
    for code in codebook.codes:
        if code.parent is None or code.parent not in codebook.by_id:
            codes.append(_code_element(ns, codebook, code.id, language))
    return codes


def _sets(codebook: Codebook) -> etree._Element:
    """One set per evaluation question (the codes serving it) and per criterion (the codes of its questions)."""
    evaluation, language, q = codebook.evaluation, codebook.evaluation.evaluation.languages[0], f"{{{PROJECT_NS}}}"
    sets = etree.Element(q + "Sets")
    groups = [(f"question/{x.id}", f"{x.id}: {x.text.get(language)}", x.text.get(language), codebook.codes_for(x.id))
              for x in evaluation.questions]
    for criterion in evaluation.criteria:
        members = {c for x in evaluation.questions if x.criterion == criterion.id for c in codebook.codes_for(x.id)}
        groups.append((f"criterion/{criterion.id}", f"{criterion.id}: {criterion.label.get(language)}",
                       criterion.description.get(language) if criterion.description else criterion.label.get(language),
                       [c.id for c in codebook.codes if c.id in members]))
    for key, name, description, members in groups:
        element = etree.SubElement(sets, q + "Set", guid=_guid(codebook, "set", key), name=_xml_text(name))
        etree.SubElement(element, q + "Description").text = _xml_text(description)
        for code_id in members:
            etree.SubElement(element, q + "MemberCode", targetGUID=_guid(codebook, "code", code_id))
    return sets


def exported_codings(codings: pd.DataFrame) -> pd.DataFrame:
    """The codings a project carries: human ones and every accepted one, once per
    (session, span, source, coder, code), sorted; columns of ``schemas.CODINGS``."""
    kept = codings[(codings["status"] == "accepted") | (codings["source"] == "human")]
    key = ["session_id", "start", "end", "source", "coder", "code"]
    return kept.sort_values(key + ["memo"], ascending=[True] * 6 + [False], kind="stable") \
        .drop_duplicates(key).sort_values(key, kind="stable").reset_index(drop=True)


def _variables_element(codebook: Codebook) -> etree._Element:
    q = f"{{{PROJECT_NS}}}"
    variables = etree.Element(q + "Variables")
    for name, kind in VARIABLES:
        variable = etree.SubElement(variables, q + "Variable", guid=_guid(codebook, "variable", name), name=name,
                                    typeOfVariable=kind)
        etree.SubElement(variable, q + "Description").text = next(
            c.description for c in schemas.METADATA if c.name == name)
    return variables


def _case(codebook: Codebook, session) -> etree._Element:
    """A session as a case: the register's metadata as variable values, and its source."""
    q = f"{{{PROJECT_NS}}}"
    case = etree.Element(q + "Case", guid=_guid(codebook, "case", session.session_id), name=session.session_id)
    for name, kind in VARIABLES:
        value = getattr(session, name)
        if pd.isna(value) or value == "":
            continue
        entry = etree.SubElement(case, q + "VariableValue")
        etree.SubElement(entry, q + "VariableRef", targetGUID=_guid(codebook, "variable", name))
        etree.SubElement(entry, q + ("IntegerValue" if kind == "Integer" else "TextValue")).text = str(value)
    etree.SubElement(case, q + "SourceRef", targetGUID=_guid(codebook, "source", session.session_id))
    return case


def _text_source(codebook: Codebook, session, codings: pd.DataFrame, notes: list) -> etree._Element:
    """A session as a text source with one selection per (span, source, coder) and one coding per
    code; memos are appended to ``notes`` as (guid, text, user) and referred to from the coding."""
    q, sid = f"{{{PROJECT_NS}}}", session.session_id
    guid = _guid(codebook, "source", sid)
    source = etree.Element(q + "TextSource", guid=guid, name=sid, plainTextPath=f"internal://{guid}.txt")
    etree.SubElement(source, q + "Description").text = _xml_text(session.file)
    for (start, end, origin, coder), group in codings.groupby(["start", "end", "source", "coder"], sort=True):
        user = _guid(codebook, "user", origin, coder)
        selection = etree.SubElement(
            source, q + "PlainTextSelection", guid=_guid(codebook, "selection", sid, start, end, origin, coder),
            name=_xml_text(session.text[start:end][:60]), startPosition=str(start), endPosition=str(end),
            creatingUser=user)
        for row in group.itertuples(index=False):
            key = ("coding", sid, start, end, origin, coder, row.code)
            coding = etree.SubElement(selection, q + "Coding", guid=_guid(codebook, *key), creatingUser=user)
            etree.SubElement(coding, q + "CodeRef", targetGUID=_guid(codebook, "code", row.code))
            if row.memo:
                notes.append((_guid(codebook, "note", *key), row.memo, user))
                etree.SubElement(coding, q + "NoteRef", targetGUID=notes[-1][0])
    return source


def project_xml(codebook: Codebook, transcripts: pd.DataFrame, codings: pd.DataFrame) -> bytes:
    """The ``project.qde`` of the evaluation, UTF-8 bytes. ``transcripts`` has the columns of
    ``schemas.TRANSCRIPTS``, ``codings`` those of ``schemas.CODINGS`` (filtered here)."""
    q = f"{{{PROJECT_NS}}}"
    info = codebook.evaluation.evaluation
    kept = exported_codings(codings)
    root = etree.Element(q + "Project", nsmap={None: PROJECT_NS}, name=_xml_text(info.title.get(info.languages[0])),
                         origin=f"evidence-pipeline {__version__}")
    users = etree.SubElement(root, q + "Users")
    for source, coder in sorted(set(zip(kept["source"], kept["coder"]))):
        etree.SubElement(users, q + "User", guid=_guid(codebook, "user", source, coder), name=_xml_text(coder),
                         id=source)
    etree.SubElement(root, q + "CodeBook").append(_codes(codebook, PROJECT_NS))
    root.append(_variables_element(codebook))
    cases, sources, notes = etree.SubElement(root, q + "Cases"), etree.SubElement(root, q + "Sources"), []
    for session in transcripts.sort_values("session_id").itertuples(index=False):
        cases.append(_case(codebook, session))
        sources.append(_text_source(codebook, session, kept[kept["session_id"] == session.session_id], notes))
    if notes:
        element = etree.SubElement(root, q + "Notes")
        for guid, memo, user in notes:
            note = etree.SubElement(element, q + "Note", guid=guid, creatingUser=user)
            etree.SubElement(note, q + "PlainTextContent").text = _xml_text(memo)
    root.append(_sets(codebook))
    for element in list(root):  # the schema wants at least one child in each list it holds
        if not len(element) or (_local(element) == "CodeBook" and not len(element[0])):
            root.remove(element)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    """Write ``members`` to a zip at ``path``: sorted, fixed timestamps, so the bytes are reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            archive.writestr(info, members[name], compresslevel=9)
    path.write_bytes(buffer.getvalue())
    return path


def write_qdpx(codebook: Codebook, transcripts: pd.DataFrame, codings: pd.DataFrame, path: Path | str) -> Path:
    """Write the evaluation as a REFI-QDA project (``project.qde`` and ``sources/<guid>.txt``) to ``path``."""
    members = {"project.qde": project_xml(codebook, transcripts, codings)}
    for session in transcripts.itertuples(index=False):
        members[f"sources/{_guid(codebook, 'source', session.session_id)}.txt"] = session.text.encode("utf-8")
    return _zip(Path(path), members)


def codebook_xml(codebook: Codebook) -> bytes:
    """The codes as a REFI-QDA code book (``.qdc``), UTF-8 bytes."""
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", nsmap={None: CODEBOOK_NS},
                         origin=f"evidence-pipeline {__version__}")
    root.append(_codes(codebook, CODEBOOK_NS))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def write_qdc(codebook: Codebook, path: Path | str) -> Path:
    """Write :func:`codebook_xml` to ``path``; return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(codebook_xml(codebook))
    return path


def export_qdpx(codebook_dir: Path | str, reports_dir: Path | str, out: Path | str,
                transcripts_dir: Path | str | None = None) -> Path:
    """Export the tables of a finished run (``reports_dir/interim``) as ``out``. Runs nothing:
    raises :class:`InputError` if the tables are missing, or (given ``transcripts_dir``) if a
    transcript changed since the run."""
    from pipeline.commands import read_table

    codebook, reports = load_codebook(codebook_dir), Path(reports_dir)
    missing = [t.name for t in (schemas.TRANSCRIPTS, schemas.CODINGS)
               if not (reports / "interim" / f"{t.name}.parquet").is_file()]
    if missing:
        raise InputError(Problem(str(reports / "interim"), f"has no {' or '.join(missing)} table.",
                                 "Run the pipeline first (`make run`, or `python -m pipeline run --out "
                                 f"{reports}`), then export."))
    transcripts, codings = read_table(reports, schemas.TRANSCRIPTS), read_table(reports, schemas.CODINGS)
    problems = []
    if transcripts_dir is not None:
        import hashlib

        for row in transcripts.itertuples(index=False):
            path = Path(transcripts_dir) / row.file
            if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != row.sha256:
                problems.append(Problem(str(path), f"is not the transcript the run in {reports} read.",
                                        "Run the pipeline again (`make run`), then export."))
    for code in sorted(set(codings["code"]) - set(codebook.by_id)):
        problems.append(Problem(str(codebook_dir), f"has no code '{code}', which the run in {reports} applied.",
                                "Run the pipeline again with this codebook, then export."))
    if problems:
        raise InputError(problems)
    return write_qdpx(codebook, transcripts, codings, out)


# ---------------------------------------------------------------- import

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


def _slug(name: str, taken: set[str]) -> str:
    """An id for ``name``: the name itself if it is a valid id, else a folded, lower-case slug;
    made unique against ``taken`` (which it joins)."""
    if re.fullmatch(ID_PATTERN, name) and len(name) <= 60:
        base = name
    else:
        folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        base = re.sub(r"[^A-Za-z0-9]+", "_", folded).strip("_").lower()[:60] or "code"
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
    questions = []
    if (folder / CONFIG_FILE).is_file():
        data = yaml.safe_load((folder / CONFIG_FILE).read_text(encoding="utf-8")) or {}
        questions = [q.get("id") for q in data.get("questions") or [] if isinstance(q, dict) and q.get("id")]
    target = folder / f"codes_{_file_stem(path)}.yaml"
    if target.exists():
        raise InputError(Problem(str(target), "exists already.", "Rename the .qdc, or move the old file away first."))
    if not folder.is_dir():
        raise InputError(Problem(str(folder), "is not a folder.", "Give the codebook folder."))
    text, _ = _codes_yaml(tuple(codes), path.name, questions or ["Q1"])
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
                            for c in project.codings if c.end > c.start], columns=CODING_COLUMNS)
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

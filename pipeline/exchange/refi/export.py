"""REFI-QDA export: the evaluation out to other QDA tools as a project (``.qdpx``) or a code book (``.qdc``).

The normalised transcripts become UTF-8 text sources (``sources/<guid>.txt``), the codes a
nested code book (definition as ``Description``), the evaluation questions and criteria
``Sets`` of the codes that serve them, each session a ``Case`` with the register's metadata as
variables, and every accepted coding (human, rule, accepted model) a ``PlainTextSelection``
with one ``Coding`` per code; each coder or rule id is a ``User``. Positions count Unicode code
points of the normalised text, as everywhere in the product. GUIDs are uuid5 of stable names
and the project is written by the one deterministic zip writer
(:func:`pipeline.runtime.outputs.stable_zip`: sorted entries, fixed dates), so the same input
gives the same bytes.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pandas as pd
from lxml import etree

from pipeline import __version__, schemas
from pipeline.config.codebook import Codebook, load_codebook
from pipeline.errors import InputError, Problem
from pipeline.runtime.outputs import stable_zip

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
_GUIDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:evidence-pipeline:refi-qda")
# Register columns exported as case variables, and their REFI variable types.
VARIABLES = (("method", "Text"), ("stakeholder_group", "Text"), ("region", "Text"),
             ("language", "Text"), ("participants", "Integer"))
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _guid(codebook: Codebook, *parts: object) -> str:
    """A GUID from stable names: the evaluation id and, e.g., ("code", code id)."""
    return str(uuid.uuid5(_GUIDS, "/".join(str(p) for p in (codebook.evaluation.evaluation.id, *parts))))


def _xml_text(text: str) -> str:
    """Text XML 1.0 can carry (it has no form feed or other C0 controls)."""
    return _NOT_XML.sub(" ", text)


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
        if not len(element) or (etree.QName(element).localname == "CodeBook" and not len(element[0])):
            root.remove(element)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def write_qdpx(codebook: Codebook, transcripts: pd.DataFrame, codings: pd.DataFrame, path: Path | str) -> Path:
    """Write the evaluation as a REFI-QDA project (``project.qde`` and ``sources/<guid>.txt``) to ``path``."""
    members = {"project.qde": project_xml(codebook, transcripts, codings)}
    for session in transcripts.itertuples(index=False):
        members[f"sources/{_guid(codebook, 'source', session.session_id)}.txt"] = session.text.encode("utf-8")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(stable_zip(members))
    return path


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

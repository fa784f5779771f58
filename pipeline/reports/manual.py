"""The codebook manual for coders: criteria -> questions -> codes, and a coverage table.

``codebook_manual(codebook)`` returns the manual as ``{"codebook.html": ..., "codebook.md": ...}``:
every definition, inclusion and exclusion rule and example, in every language the codebook
gives, and how many codes and patterns serve each question. A run writes it beside the
reports (:data:`REPORT`); the ``codebook render`` command writes it alone.
"""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from pipeline.config.codebook import Codebook, lacking
from pipeline.config.evaluation import Localized
from pipeline.reports.report import Output, Report, RunTables
from pipeline.reports.templating import render_template
from pipeline.stages.coding.audit import audit_patterns
from pipeline.stages.coding.rules import pattern_key

WORDS = {
    "coverage": "Coverage", "codes": "Codes", "sub_questions": "Sub-questions",
    "indicators": "Indicators", "served_by": "Codes serving it", "none": "none",
    "examples": "Examples", "questions": "Questions", "parent": "Parent", "patterns": "Patterns",
    "roll_up": "its codings also count for the parent",
    "inherited_note": "served through a parent code (the code inherits the parent's questions).",
    "definition": "Definition", "include": "Use when", "exclude": "Do not use when",
    "lacking": "Codes without a recommended field", "field": "Field", "count": "Codes without it",
    "lacking_note": "Coders and the learned coder read these fields; add them when the team can.",
    "audit": "Patterns measured against the coders",
}


def _texts(text: Localized | None) -> list[dict]:
    return [{"language": language, "text": value} for language, value in text.texts] if text else []


def _anchor(kind: str, identifier: str) -> str:
    return f"{kind}-{identifier}"


def _context(codebook: Codebook, language: str) -> dict:
    evaluation = codebook.evaluation
    question_ids = evaluation.ids("questions")
    depth = {code.id: len(codebook.ancestors(code.id)) for code in codebook.codes}
    # Codes in tree order: each parent followed by its children, in file order.
    ordered: list[str] = []

    def visit(code_id: str) -> None:
        ordered.append(code_id)
        for child in codebook.children(code_id):
            visit(child)

    for code in codebook.codes:
        if code.parent is None:
            visit(code.id)

    def question_refs(code_id: str) -> list[dict]:
        own = set(codebook.by_id[code_id].questions)
        return [{"id": q, "anchor": _anchor("q", q), "inherited": q not in own}
                for q in codebook.questions_of(code_id)]

    codes = []
    for code_id in ordered:
        code = codebook.by_id[code_id]
        codes.append({
            "id": code.id,
            "anchor": _anchor("code", code.id),
            "label": code.label.get(language),
            "indent": depth[code.id] * 1.5,
            "parent": {"id": code.parent, "anchor": _anchor("code", code.parent)} if code.parent else None,
            "roll_up": code.roll_up,
            "fields": [{"name": WORDS[f], "texts": _texts(getattr(code, f))}
                       for f in ("definition", "include", "exclude")],
            "examples": list(code.examples),
            "questions": question_refs(code.id),
            "patterns": [{"language": lang, "kind": p.kind, "value": p.value}
                         for lang, patterns in code.patterns for p in patterns],
        })

    criteria = []
    for criterion in evaluation.criteria:
        questions = []
        for question in evaluation.questions:
            if question.criterion != criterion.id:
                continue
            serving = codebook.codes_for(question.id)
            questions.append({
                "id": question.id,
                "anchor": _anchor("q", question.id),
                "text": _texts(question.text),
                "sub_questions": [_texts(q) for q in question.sub_questions],
                "indicators": [_texts(i) for i in question.indicators],
                "codes": [{"id": c, "anchor": _anchor("code", c),
                           "inherited": question.id not in codebook.by_id[c].questions} for c in serving],
            })
        criteria.append({"id": criterion.id, "anchor": _anchor("criterion", criterion.id),
                         "label": criterion.label.get(language), "texts": _texts(criterion.description),
                         "questions": questions})

    rows = []
    for question in evaluation.questions:
        serving = codebook.codes_for(question.id)
        direct = [c for c in serving if question.id in codebook.by_id[c].questions]
        patterns = sum(len(p) for c in serving for _, p in codebook.by_id[c].patterns)
        rows.append({"question": question.id, "anchor": _anchor("q", question.id),
                     "criterion": evaluation.criteria[[c.id for c in evaluation.criteria].index(question.criterion)]
                     .label.get(language) if question.criterion in evaluation.ids("criteria") else question.criterion,
                     "direct": len(direct), "all": len(serving), "patterns": patterns,
                     "css": "warn" if len(direct) < 2 else ""})

    title = f"Codebook: {evaluation.evaluation.title.get(language)}"
    return {
        "page": {"title": title, "language": language,
                 "subtitle": f"Codebook version {codebook.version} · {len(evaluation.criteria)} criteria · "
                             f"{len(question_ids)} questions · {len(codebook.codes)} codes"},
        "summary": ("For coders: each code's definition, when to use it and when not, with examples. "
                    "Rows shaded in the coverage table have fewer than two codes serving the question directly."),
        "words": WORDS,
        "coverage": {"headings": ["Question", "Criterion", "Codes (direct)", "Codes (with inherited)",
                                  "Patterns"], "rows": rows},
        # Shown only where a code lacks one: a codebook with every field has no such table.
        "lacking": [{"field": WORDS[field] if field != "examples" else WORDS["examples"], "count": len(ids),
                     "codes": [{"id": c, "anchor": _anchor("code", c)} for c in ids]}
                    for field, ids in lacking(codebook.codes).items()],
        "criteria": criteria,
        "codes": codes,
    }


def _audit(codebook: Codebook, audit: pd.DataFrame) -> dict:
    """Every pattern's figures against the coders (:func:`pipeline.stages.coding.audit.audit_patterns`),
    worst first, each with its text; a roll-up's row names the child's pattern."""
    texts = {}
    for code in codebook.codes:
        for language, _ in code.patterns:
            for index, pattern in enumerate(code.patterns_for(language)):
                texts[pattern_key(code.id, language, index, pattern)] = f"{language} · {pattern.kind}: {pattern.value}"
    rules = codebook.evaluation.rules
    return {"note": (f"Each pattern in the sessions people coded, worst first: its hits, how many the coders "
                     f"coded the same way, what it found that they did not, its precision. Demoted (precision below "
                     f"{rules.min_precision} with at least {rules.min_hits} hits): its codings are suggestions."),
            "headings": ["Code", "Pattern", "Hits", "Agreed", "Not coded by them", "Precision", ""],
            "rows": [{"code": row.code, "anchor": _anchor("code", row.code), "pattern": texts.get(row.pattern, row.pattern),
                      "pattern_md": texts.get(row.pattern, row.pattern).replace("|", "\\|"),
                      "hits": row.hits, "agreed": row.agreed, "unconfirmed": row.unconfirmed,
                      "precision": f"{row.precision:.2f}", "demoted": "demoted" if row.demoted else "",
                      "css": "warn" if row.demoted else ""} for row in audit.itertuples(index=False)]}


def codebook_manual(codebook: Codebook, language: str = "en", audit: pd.DataFrame | None = None) -> dict[str, str]:
    """The manual as file name -> text: ``codebook.html`` (self-contained) and ``codebook.md``;
    with ``audit`` (a run's pattern figures), a table of them."""
    context = _context(codebook, language)
    context["audit"] = _audit(codebook, audit) if audit is not None and len(audit) else None
    return {"codebook.html": render_template("codebook.html.j2", context),
            "codebook.md": render_template("codebook.md.j2", context)}


def build_manual(tables: RunTables) -> Iterator[tuple[str, str]]:
    """``codebook.html`` and ``codebook.md`` of the run's codebook, in the evaluation's first
    language, with every pattern's figures against the coders where people coded."""
    rules = tables.codebook.evaluation.rules
    audit = audit_patterns(tables.codings, min_precision=rules.min_precision, min_hits=rules.min_hits)
    yield from codebook_manual(tables.codebook, language=tables.language, audit=audit).items()


REPORT = Report("codebook manual", (Output("codebook.html", "html"), Output("codebook.md", "markdown")), build_manual)

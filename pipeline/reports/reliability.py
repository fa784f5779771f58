"""``reliability.html`` and ``reliability.json``: agreement between the human coders.

Written by a run when two or more people coded (the figures are
:func:`pipeline.analysis.reliability.measure_reliability`'s, handed over by the wiring, which
caches them), and by the ``reliability`` command. The page holds the tables per code and per
question, the flagged codes, the disagreement browser and, when ``evaluate-coder --json``
wrote them, the machine's figures against the coders.
"""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from pipeline.analysis.reliability import FLAG_BELOW, GOOD_FROM, rating
from pipeline.reports.report import Output, Report, RunTables
from pipeline.reports.templating import render_template


def _shown(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def reliability_report(figures: dict, *, title: str, machine: dict | None = None) -> str:
    """``reliability.html``: the tables, flagged codes and the disagreement browser (and, with
    reviewers' decisions, ``figures["review_conflicts"]``, how many conflicts they made)."""

    def rows(items: dict) -> list[dict]:
        return [{"key": key, "alpha": _shown(v["alpha"]), "kappa": _shown(v["kappa"]),
                 "agreement": _shown(v["agreement"]), "units": v["units"], "present": v["present"],
                 "rating": v["rating"], "css": v["rating"]} for key, v in items.items()]

    overall = [{"label": label, "alpha": _shown(v.get("alpha")), "kappa": _shown(v.get("kappa")),
                "agreement": _shown(v.get("agreement")), "units": v.get("units", 0), "css": rating(v.get("alpha"))}
               for label, v in (("every code", figures["overall"]), ("every question", figures["questions_overall"]))]
    coders = figures["coders"]
    counts = pd.Series([d["code"] for d in figures["disagreements"]], dtype="string").value_counts()
    context = {
        "page": {"title": title, "language": "en",
                 "subtitle": f"Coders {', '.join(coders)} · {len(figures['sessions'])} sessions"},
        "method": figures["method"], "flag_below": FLAG_BELOW, "good_from": GOOD_FROM,
        "overall": overall,
        "tables": [{"anchor": "codes", "title": "Per code", "key": "code", "rows": rows(figures["per_code"])},
                   {"anchor": "questions", "title": "Per evaluation question (codes rolled up)", "key": "question",
                    "rows": rows(figures["per_question"])}],
        "coders": coders,
        "spans": [{**s, "mean_overlap": f"{s['mean_overlap']:.2f}"} for s in figures["span_overlap"]],
        "disagreement_codes": [{"id": code, "count": int(n)} for code, n in sorted(counts.items())],
        "disagreements": [{"segment_id": d["segment_id"], "code": d["code"], "text": d["text"],
                           "coders": [{"applied": d[f"coder_{c}"], "codes": d[f"codes_{c}"], "memo": d[f"memo_{c}"]}
                                      for c in coders]} for d in figures["disagreements"]],
        "machine": None, "review_conflicts": figures.get("review_conflicts"),
    }
    if machine:
        context["machine"] = {
            "summary": f"{machine['segments']} segments, {len(machine['codes_evaluated'])} codes, "
                       f"{machine['folds']} folds grouped by session.",
            "rows": [{"source": s, **{k: f"{machine[s]['micro'][k]:.3f}" for k in ("precision", "recall", "f1")},
                      "macro_f1": f"{machine[s]['macro']['f1']:.3f}"} for s in ("rules", "model", "baseline")]}
    return render_template("reliability.html.j2", context)


def build_reliability(tables: RunTables) -> Iterator[tuple[str, dict | str]]:
    """``reliability.json`` (the figures), then ``reliability.html``, of the run's human codings."""
    figures = tables.measure_reliability(tables.human_codings)
    if tables.review is not None and tables.review.decided:  # conflicts between people and reviewers, counted
        figures = {**figures, "review_conflicts": len(tables.review.conflicts)}
    yield "reliability.json", figures
    yield "reliability.html", reliability_report(
        figures, title=f"Inter-coder reliability: {tables.codebook.evaluation.evaluation.title.get('en')}",
        machine=tables.read_machine_figures())


REPORT = Report("reliability", (Output("reliability.json", "json"), Output("reliability.html", "html")),
                build_reliability, when=lambda tables: tables.human_codings["coder"].nunique() >= 2)

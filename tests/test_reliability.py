"""Inter-coder reliability: published values reproduced through the product's own API."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config.codebook import load_codebook
from pipeline.analysis.reliability import cohen_kappa, krippendorff_alpha, measure_reliability
from pipeline.reports.reliability import reliability_report

from conftest import write_evaluation

NAN = np.nan
# Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for
# Communication, University of Pennsylvania, section C: 4 observers x 12 units, values missing.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


@pytest.mark.parametrize("level, published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_2011_example(level, published):
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, level), 3) == published


def test_cohens_kappa_worked_example():
    # The worked example of the Wikipedia article "Cohen's kappa" (50 proposals, two readers):
    # both yes 20, both no 15, A yes / B no 5, A no / B yes 10: p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = [1] * 20 + [0] * 15 + [1] * 5 + [0] * 10
    b = [1] * 20 + [0] * 15 + [0] * 5 + [1] * 10
    assert round(cohen_kappa(a, b), 4) == 0.4


def test_cohens_kappa_artstein_and_poesio_2008():
    # Artstein, R. & Poesio, M. (2008). Inter-coder agreement for computational linguistics.
    # Computational Linguistics 34(4), Table 1: contingency [[20, 20], [10, 50]], kappa 0.348;
    # the same example scikit-learn's own test suite uses (test_cohen_kappa).
    a = [0] * 40 + [1] * 60
    b = [0] * 20 + [1] * 20 + [0] * 10 + [1] * 50
    assert round(cohen_kappa(a, b), 3) == 0.348


def test_cohens_kappa_equals_scikit_learns():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(4)
    for labels, size in ((2, 40), (2, 3), (3, 200), (5, 1000)):
        a, b = rng.integers(0, labels, size), rng.integers(0, labels, size)
        if len(set(a) | set(b)) > 1:
            assert cohen_kappa(a, b) == float(cohen_kappa_score(a, b))
    a = np.array([1.0, 0.0, 1.0, 1.0, 0.0])  # the 0/1 floats reliability passes
    assert cohen_kappa(a, a[::-1]) == float(cohen_kappa_score(a, a[::-1]))


def test_undefined_statistics_are_none_not_nan():
    assert krippendorff_alpha([[1, 1, 1], [1, 1, 1]]) is None
    assert cohen_kappa([0, 0], [0, 0]) is None


def units():
    segments = pd.DataFrame({"segment_id": [f"S{s}-t0001-s{k:02d}" for s in (1, 2) for k in range(5)],
                             "session_id": ["S1"] * 5 + ["S2"] * 5, "text": [f"texto {i}" for i in range(10)]})
    rows = []
    for coder, coded in (("A", {0: "monitoring", 1: "monitoring", 2: "coordination", 5: "monitoring"}),
                         ("B", {0: "monitoring", 1: "coordination", 2: "coordination"})):
        for index, code in coded.items():
            segment = segments.iloc[index]
            rows.append({"segment_id": segment.segment_id, "session_id": segment.session_id, "code": code,
                         "coder": coder, "start": 10 * index, "end": 10 * index + 8, "memo": f"{coder}{index}"})
    return segments, pd.DataFrame(rows)


def test_units_missing_values_and_disagreements(tmp_path):
    codebook, _ = write_evaluation(tmp_path)
    segments, human = units()
    figures = measure_reliability(segments, human, codebook=load_codebook(codebook))
    monitoring = figures["per_code"]["monitoring"]
    # B did not code S2: its 5 segments are missing for B, so 5 units have both coders.
    assert monitoring["units"] == 5 and monitoring["agreement"] == 0.8
    assert monitoring["alpha"] == round(krippendorff_alpha([[1, 1, 0, 0, 0, 1, 0, 0, 0, 0],
                                                            [1, 0, 0, 0, 0, NAN, NAN, NAN, NAN, NAN]]), 4)
    assert figures["overall"]["units"] == 10
    assert [(d["segment_id"], d["code"], d["coder_A"], d["coder_B"]) for d in figures["disagreements"]] == [
        ("S1-t0001-s01", "coordination", False, True), ("S1-t0001-s01", "monitoring", True, False)]
    assert figures["disagreements"][0]["memo_A"] == "A1"
    assert "uncoded segments count as absent" in figures["method"]
    html = reliability_report(figures, title="t")
    assert 'data-code="monitoring"' in html and "<option value=\"coordination\">" in html


def test_reliability_command_writes_the_json_and_the_report(tiny, tmp_path, capsys):
    codebook, transcripts = tiny
    coding = tmp_path / "double.csv"
    coding.write_text("session_id,code,coder,quote\n"
                      "S1,coordination,A,con las mesas de trabajo\nS1,coordination,B,con las mesas de trabajo\n"
                      "S2,monitoring,A,Weak on outcomes\nS2,design_needs,B,Weak on outcomes\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["reliability", "--codebook", str(codebook), "--transcripts", str(transcripts), "--coding",
                 str(coding), "--out", str(out), "--json", str(tmp_path / "r.json")]) == 0
    figures = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert set(figures["overall"]) >= {"alpha", "kappa", "agreement", "units"}
    assert set(figures["per_code"]["coordination"]) >= {"alpha", "kappa", "agreement", "units"}
    assert (out / "reliability.html").is_file()


def test_machine_figures_appear_in_the_report_when_present(tmp_path):
    codebook, _ = write_evaluation(tmp_path)
    segments, human = units()
    figures = measure_reliability(segments, human, codebook=load_codebook(codebook))
    machine = {"segments": 10, "folds": 2, "codes_evaluated": ["monitoring"],
               **{s: {"micro": {"precision": 0.5, "recall": 0.25, "f1": 0.333}, "macro": {"f1": 0.3}}
                  for s in ("rules", "model", "baseline")}}
    assert "Machine vs human" not in reliability_report(figures, title="t")
    html = reliability_report(figures, title="t", machine=machine)
    assert "Machine vs human" in html and "0.333" in html


def test_coders_can_be_chosen(tmp_path):
    codebook, _ = write_evaluation(tmp_path)
    segments, human = units()
    third = human[human.coder == "A"].assign(coder="C")
    figures = measure_reliability(segments, pd.concat([human, third]), codebook=load_codebook(codebook),
                                  coders=["A", "C"])
    assert figures["coders"] == ["A", "C"]
    assert figures["overall"]["alpha"] == 1.0 and figures["disagreements"] == []
    with pytest.raises(ValueError, match="at least two coders"):
        measure_reliability(segments, human, codebook=load_codebook(codebook), coders=["A"])

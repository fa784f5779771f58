"""Real human coding, as other teams and tools left it, run end to end as a new user would.

Three corpora in ``../shared/realdata`` (see its SOURCES.md; never copied here): the "Do the
Shuffle" survey answers with their quote-anchored coding (``coded/shuffle_music``), the New York
Times passages on Du Bois coded by theme (``coded/osf_dubois``), and an NVivo 12.6 export
(``refi/oltas0517.qdpx``). For each: ``init``, a register written for it, a codebook imported from
a sheet of the corpus's own code list (id, label and questions only), ``coding import`` of the
team's coding, ``run`` (``--privacy redact``: the texts name musicians, writers, people in the
news) and ``evaluate-coder``. Every coding is placed (on a respondent turn, or as context) or
listed with its reason, and at least 90% of the quote-anchored (session, code) pairs are placed.
Skipped, with the reason, where the shared data is absent.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.cli import main

from conftest import ROOT

REALDATA = ROOT.parent / "shared" / "realdata"
SHUFFLE = REALDATA / "coded" / "shuffle_music" / "coded_long.csv"
DUBOIS = REALDATA / "coded" / "osf_dubois" / "coded_long.csv"
NVIVO = REALDATA / "refi" / "oltas0517.qdpx"


def _needs(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real data of ../shared/realdata (SOURCES.md) is not on this machine")


def slug(label: str) -> str:
    """A code id for a label, as a team would write it in its sheet."""
    return re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")


def new_evaluation(folder: Path, *, title: str, languages: list[str]) -> tuple[Path, Path]:
    """``init``, then evaluation.yaml edited as a team would: its title, its languages, one question,
    and the privacy policy ``redact`` (the texts name people; ``coding import`` writes quotes)."""
    assert main(["init", str(folder)]) == 0
    codebook, transcripts = folder / "codebook", folder / "transcripts"
    config = yaml.safe_load((codebook / "evaluation.yaml").read_text(encoding="utf-8"))
    config["evaluation"] |= {"id": slug(title).replace("_", "-"), "title": title, "languages": languages}
    config["questions"] = [{"id": "Q1", "criterion": "relevance", "text": "What does the corpus say?"}]
    config["privacy"] = {**(config.get("privacy") or {}), "policy": "redact"}
    (codebook / "evaluation.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                                              encoding="utf-8")
    return codebook, transcripts


def write_corpus(transcripts: Path, texts: dict[str, str], language: str) -> None:
    """One transcript per text, each a respondent's own words (method ``document``), and the register."""
    with (transcripts / "register.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["file", "session_id", "method", "stakeholder_group", "language", "participants"])
        for session, text in texts.items():
            (transcripts / f"{session}.txt").write_text(text + "\n", encoding="utf-8")
            writer.writerow([f"{session}.txt", session, "document", "beneficiaries", language, 1])


def write_code_sheet(path: Path, labels: list[str]) -> None:
    """The corpus's own code list as a sheet: id, label and the question, nothing else."""
    path.parent.mkdir(exist_ok=True)
    pd.DataFrame({"id": [slug(label) for label in labels], "label": labels, "questions": "Q1"}).to_csv(
        path, index=False)


def run_all(folder: Path, codebook: Path, transcripts: Path, coding: Path, capsys) -> dict:
    """``coding import``, ``run --privacy redact`` and ``evaluate-coder``, each of which must complete;
    what they printed and wrote."""
    placed = folder / "placed"
    assert main(["coding", "import", str(coding), "--codebook", str(codebook), "--transcripts", str(transcripts),
                 "--out", str(placed)]) == 0
    imported = capsys.readouterr()
    (transcripts / "coding").mkdir(exist_ok=True)
    if coding.parent != transcripts / "coding":
        (transcripts / "coding" / coding.name).write_bytes(coding.read_bytes())
    reports = folder / "reports"
    assert main(["run", "--codebook", str(codebook), "--transcripts", str(transcripts), "--out", str(reports),
                 "--privacy", "redact"]) == 0
    ran = capsys.readouterr()
    figures = folder / "evaluate_coder.json"
    assert main(["evaluate-coder", "--codebook", str(codebook), "--transcripts", str(transcripts), "--coding",
                 str(transcripts / "coding" / coding.name), "--folds", "2", "--json", str(figures)]) == 0
    capsys.readouterr()
    stem = coding.stem
    read = lambda path: pd.read_csv(path, dtype=str, keep_default_na=False)  # noqa: E731
    return {"imported": imported, "ran": ran, "placed": read(placed / f"coding_{stem}.csv"),
            "unplaced": read(placed / f"unplaced_{stem}.csv"),
            "manifest": json.loads((reports / "manifest.json").read_text(encoding="utf-8")),
            "codings": read(reports / "codings.csv"), "figures": json.loads(figures.read_text(encoding="utf-8"))}


def check_placed(result: dict, coding: pd.DataFrame) -> dict:
    """Every coding of ``coding`` (the team's file, in the pipeline's columns) placed or listed with
    its reason, and 90% of its (session, code) pairs placed; the figures."""
    placed, unplaced = result["placed"], result["unplaced"]
    first_parts = placed[placed["part"] == "1"]
    assert len(first_parts) + len(unplaced) == len(coding)  # nothing silently dropped
    assert (unplaced["reason"] != "").all()
    pairs = set(zip(coding["session_id"], coding["code"]))
    placed_pairs = set(zip(placed["session_id"], placed["code"]))
    share = len(placed_pairs & pairs) / len(pairs)
    assert share >= 0.9
    counts = result["manifest"]["counts"]["human_coding"]
    assert counts["codings"] == len(coding) and counts["placed"] == len(first_parts)
    human = result["codings"][result["codings"]["source"] == "human"]
    assert set(human["status"]) <= {"accepted", "context"}
    return {"pairs": len(pairs), "pairs_placed": round(share, 4), **counts}


@pytest.fixture(scope="module")
def shuffle(tmp_path_factory):
    _needs(SHUFFLE)
    folder = tmp_path_factory.mktemp("shuffle")
    team = pd.read_csv(SHUFFLE, dtype=str, keep_default_na=False)
    team = team.assign(session_id="p" + team["participant_id"] + "_" + team["track_id"],
                       code=team["code_level3"].str.strip())
    codebook, transcripts = new_evaluation(folder, title="Do the Shuffle", languages=["en"])
    write_corpus(transcripts, dict(zip(team["session_id"], team["full_response_text"].str.strip())), "en")
    write_code_sheet(folder / "sheet" / "shuffle codes.csv", sorted(set(team["code"])))
    # The coders' excerpt joins the pieces they marked with "/": one quote-anchored coding per piece.
    pieces = team.assign(quote=team["coded_text_excerpt"].str.split("/")).explode("quote")
    pieces = pieces[pieces["quote"].str.strip() != ""]
    coding = pieces.assign(coder="shuffle team")[["session_id", "code", "coder", "quote"]]
    path = folder / "shuffle_team.csv"
    coding.to_csv(path, index=False)
    return folder, codebook, transcripts, path, coding


@pytest.fixture(scope="module")
def dubois(tmp_path_factory):
    _needs(DUBOIS)
    folder = tmp_path_factory.mktemp("dubois")
    team = pd.read_csv(DUBOIS, dtype=str, keep_default_na=False)
    team = team.assign(session_id="passage_" + team["passage_id"])
    codebook, transcripts = new_evaluation(folder, title="Du Bois in the New York Times", languages=["en"])
    write_corpus(transcripts, dict(zip(team["session_id"], team["passage_text"].str.strip())), "en")
    write_code_sheet(folder / "sheet" / "themes.csv", sorted(set(team["code"])))
    # Each theme codes the whole passage: the passage is the quote.
    coding = team.assign(coder="osf team", quote=team["passage_text"].str.strip())[
        ["session_id", "code", "coder", "quote"]]
    path = folder / "themes_coding.csv"
    coding.to_csv(path, index=False)
    return folder, codebook, transcripts, path, coding


@pytest.mark.parametrize("corpus", ["shuffle", "dubois"])
def test_a_coded_corpus_runs_end_to_end_with_its_teams_coding(corpus, request, capsys):
    folder, codebook, transcripts, path, coding = request.getfixturevalue(corpus)
    sheet = next((folder / "sheet").glob("*.csv"))
    assert main(["codebook", "import-csv", str(sheet), "--into", str(codebook)]) == 0
    capsys.readouterr()
    assert main(["validate", "--codebook", str(codebook), "--transcripts", str(transcripts)]) == 0
    shown = capsys.readouterr()
    assert shown.err.count("codes lack recommended fields") == 1  # once, whatever the number of codes
    coding = coding.assign(code=coding["code"].map(slug))
    result = run_all(folder, codebook, transcripts, path, capsys)
    figures = check_placed(result, coding)
    assert "human coding" in result["ran"].out
    assert result["figures"]["human_coding"]["placed"] == figures["placed"]
    assert result["figures"]["codes_evaluated"]
    (folder / "figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")


def test_an_nvivo_export_runs_end_to_end_once_its_register_is_filled(tmp_path, capsys):
    _needs(NVIVO)
    folder = tmp_path / "nvivo"
    assert main(["import-qdpx", str(NVIVO), "--out", str(folder)]) == 0
    capsys.readouterr()
    codebook, transcripts = folder / "codebook", folder / "transcripts"
    register = pd.read_csv(transcripts / "register.csv", dtype=str, keep_default_na=False)
    register = register.assign(method="document", participants="1",
                               stakeholder_group=lambda r: r["stakeholder_group"].where(r["stakeholder_group"] != "",
                                                                                        "commenters"))
    register.to_csv(transcripts / "register.csv", index=False)
    config = yaml.safe_load((codebook / "evaluation.yaml").read_text(encoding="utf-8"))
    groups = {g["id"] for g in config.get("stakeholder_groups") or []}
    if "commenters" not in groups:
        config["stakeholder_groups"] = [*(config.get("stakeholder_groups") or []),
                                        {"id": "commenters", "label": "YouTube commenters"}]
    methods = {m["id"] for m in config.get("methods") or []}
    if config.get("methods") and "document" not in methods:
        config["methods"].append({"id": "document", "label": "Document"})
    config["privacy"] = {**(config.get("privacy") or {}), "policy": "redact"}
    (codebook / "evaluation.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                                              encoding="utf-8")
    coding = next((transcripts / "coding").glob("*.csv"))
    team = pd.read_csv(coding, dtype=str, keep_default_na=False)
    result = run_all(folder, codebook, transcripts, coding, capsys)
    figures = check_placed(result, team)
    (folder / "figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")

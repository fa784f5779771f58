"""The eCAPE interviews (30 real Danish household interviews in Word), run as a new user would.

A new user runs ``init``, writes a register for the 30 files, puts a small Danish codebook in
the codebook folder and runs. The files declare their speakers in a header block (``I1:
Interviewer 1``, ``I = Interviewer; X = Informant``, ``Interviewer (I) Informant (X)``) and
write speaker lines with timestamps (``*1:40 = I1: ...``, ``0:57<tab>I1<tab>...``). Nothing of
the header and nothing the interviewers said may reach ``segments.csv`` as a respondent's, and
the warnings are grouped to a few lines.

What counts as a header line or an interviewer's line is decided here with patterns of its own,
written for these files, not with the parser under test. The data is other people's and stays
in ``../shared/realdata``: the files are copied into a temporary folder for the run.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
ECAPE = ROOT.parent / "shared" / "realdata" / "ecape" / "interviews"

# Header lines: a title, the recording's length, a legend of speaker keys, a table's column names.
_HEADER = re.compile(
    r"^\s*(?:Transskribering af interview|Interview(?: nr\.)? \d+\s*$|Båndlængde|TID\s+PERSON"
    r"|[A-ZÆØÅ]{1,3}\d?\s*[:=]\s*(?:Interview|Mand|Kvinde|Barn|Informant|Mandlig|Kvindelig)"
    r"|(?:Interviewer|Informant)\s*\()", re.IGNORECASE)
# An interviewer's line: I, I1, I2 or O (every file that uses O declares it an interviewer),
# after an optional timestamp (``*1:40 = ``, ``0:57<tab>``), then a colon, a slip or a tab.
_INTERVIEWER = re.compile(
    r"^\s*(?:\*?\s*\d{1,2}[:.]\d{1,2}(?:[:.]\d{1,2})?(?:\.\d)?\s*(?:=|\t)\s*)?(?:I\d?|O)\s*(?:[:?;]|\t)")

CODEBOOK = """\
codes:
  - id: saving
    label: {da: Spare på energien, en: Saving energy}
    definition: {da: "Hvordan husstanden sparer på el, gas og varme.", en: "How the household saves."}
    include: {da: "Vaner og indkøb der sparer energi.", en: "Habits and purchases that save energy."}
    exclude: {da: "Priserne selv: brug prices.", en: "The prices themselves: use prices."}
    examples: ["Vi slukker lyset og har skruet ned for varmen."]
    questions: [EQ1]
    patterns:
      da: [spare, sparer, {regex: '\\bsluk(?:ker|ket)?\\b'}]
  - id: prices
    label: {da: Energipriser, en: Energy prices}
    definition: {da: "Priserne på el, gas og varme.", en: "The prices of energy."}
    include: {da: "Priser, regninger og hvordan de mærkes.", en: "Prices, bills and how they are felt."}
    exclude: {da: "Hvad husstanden gør for at spare: brug saving.", en: "What the household does: use saving."}
    examples: ["Gasregningen blev tre gange så stor."]
    questions: [EQ2]
    patterns:
      da: [{regex: '\\b(?:gas|el|strøm)pris(?:er|en|erne)?\\b'}, regning]
"""

QUESTIONS = """\
questions:
  - id: EQ1
    criterion: effectiveness
    text: {da: "Hvordan har husstandene sparet på energien?", en: "How did households save energy?"}
  - id: EQ2
    criterion: relevance
    text: {da: "Hvordan har husstandene mærket energipriserne?", en: "How did households feel the prices?"}
"""


def build_evaluation(folder: Path, python: str = sys.executable, env: dict | None = None) -> tuple[Path, Path]:
    """``init`` in ``folder``, the interviews copied in, a register and a small codebook written.

    Returns the codebook and transcripts folders."""
    subprocess.run([python, "-m", "pipeline", "init", str(folder)], check=True, capture_output=True, env=env)
    codebook, transcripts = folder / "codebook", folder / "transcripts"
    shutil.copytree(ECAPE, transcripts / "interviews")
    files = sorted(p.name for p in ECAPE.glob("*.docx"))
    with open(transcripts / "register.csv", "a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for number, name in enumerate(files, start=1):
            writer.writerow([f"interviews/{name}", f"ecape{number:02d}", "interview", "beneficiaries", "da", 2,
                             "", "", "", "", "", "", ""])
    config = codebook / "evaluation.yaml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("languages: [es, en]", "languages: [da]").replace("questions: []", QUESTIONS)
    text = re.sub(r"(?m)^  title: .*$", '  title: "eCAPE: households and the energy crisis"', text)
    config.write_text(text, encoding="utf-8")
    (codebook / "codes.yaml").write_text(CODEBOOK, encoding="utf-8")
    return codebook, transcripts


def run_evaluation(codebook: Path, transcripts: Path, out: Path, python: str = sys.executable,
                   env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "pipeline", "run", "--codebook", str(codebook), "--transcripts",
                           str(transcripts), "--out", str(out), "--privacy", "redact"],
                          capture_output=True, text=True, env=env)


def _lines(text: str) -> list[tuple[int, int, str]]:
    out, position = [], 0
    for line in text.split("\n"):
        out.append((position, position + len(line), line))
        position += len(line) + 1
    return out


def misread_segments(out: Path) -> dict[str, int]:
    """Respondent segments of ``segments.csv`` that hold a header line or an interviewer's line.

    Returns ``header`` and ``interviewer``: how many respondent segments overlap such a line,
    found by this module's own patterns in each session's text (``interim/texts``)."""
    segments = pd.read_csv(out / "segments.csv", keep_default_na=False)
    segments = segments[segments.role == "respondent"]
    counts = {"header": 0, "interviewer": 0}
    for session, own in segments.groupby("session_id"):
        text = (out / "interim" / "texts" / f"{session}.txt").read_text(encoding="utf-8")
        lines = _lines(text)
        header = [(a, b) for a, b, line in lines[:12] if _HEADER.match(line)]
        interviewer = [(a, b) for a, b, line in lines if _INTERVIEWER.match(line)]
        for start, end in zip(own.start, own.end):
            counts["header"] += any(a < end and start < b for a, b in header)
            counts["interviewer"] += any(a < end and start < b for a, b in interviewer)
    return counts


def warning_lines(run: subprocess.CompletedProcess) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("Warning:")]


@pytest.fixture(scope="module")
def ecape(tmp_path_factory):
    if not ECAPE.is_dir() or len(list(ECAPE.glob("*.docx"))) != 30:
        pytest.skip(f"the eCAPE interviews are not in {ECAPE} (see ../shared/realdata/SOURCES.md)")
    folder = tmp_path_factory.mktemp("ecape")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    codebook, transcripts = build_evaluation(folder / "evaluation", env=env)
    run = run_evaluation(codebook, transcripts, folder / "reports", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    return folder / "reports", run


def test_every_interview_has_respondent_segments(ecape):
    out, _ = ecape
    segments = pd.read_csv(out / "segments.csv", keep_default_na=False)
    assert segments[segments.role == "respondent"].session_id.nunique() == 30


def test_no_header_line_reaches_a_respondent_segment(ecape):
    out, _ = ecape
    assert misread_segments(out)["header"] == 0


def test_no_interviewer_line_reaches_a_respondent_segment(ecape):
    out, _ = ecape
    assert misread_segments(out)["interviewer"] == 0


def test_the_patterns_of_this_test_find_what_they_look_for(ecape):
    # Guards the two counts above against patterns that match nothing.
    out, _ = ecape
    texts = [p.read_text(encoding="utf-8") for p in (out / "interim" / "texts").glob("*.txt")]
    headers = sum(1 for text in texts for _, _, line in _lines(text)[:12] if _HEADER.match(line))
    interviewer = sum(1 for text in texts for _, _, line in _lines(text) if _INTERVIEWER.match(line))
    assert len(texts) == 30 and headers >= 40 and interviewer >= 4000


def test_the_legends_interviewers_are_interviewers(ecape):
    out, _ = ecape
    turns = pd.read_parquet(out / "interim" / "turns.parquet")
    for label in ("I", "I1", "I2", "O"):
        assert set(turns.role[turns.speaker == label]) == {"interviewer"}, label
    for label in ("X", "Y", "K", "M"):
        assert set(turns.role[turns.speaker == label]) == {"respondent"}, label


def test_warnings_are_grouped_to_a_few_lines(ecape):
    _, run = ecape
    lines = warning_lines(run)
    assert 1 <= len(lines) <= 8, "\n".join(lines)
    assert all(len(line) < 700 for line in lines), "\n".join(lines)

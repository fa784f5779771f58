"""Tiny fixtures: a two-session evaluation written into a temporary folder.

Most tests run on these in milliseconds, with blank spaCy pipelines (``models={}``); the
few that need the real Spanish model say so in their names.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CODEBOOK = ROOT / "codebook"
SAMPLE_TRANSCRIPTS = ROOT / "transcripts_sample"

EVALUATION_YAML = """\
evaluation:
  id: tiny
  title: {es: Evaluación mínima, en: Tiny evaluation}
  languages: [es, en]
stakeholder_groups:
  - id: justice_sector
    label: Justice sector
  - id: donor
    label: {es: Donante, en: Donor}
regions:
  - id: lima
    label: Lima
  - id: cusco
    label: Cusco
interviewer_labels: [E, Entrevistadora, Interviewer]
nlp:
  models: {}
criteria:
  - id: relevance
    label: {es: Pertinencia, en: Relevance}
  - id: effectiveness
    label: {es: Eficacia, en: Effectiveness}
questions:
  - id: EQ1
    criterion: relevance
    text: {es: "¿Respondió el diseño a las necesidades?", en: "Did the design respond to needs?"}
  - id: EQ2
    criterion: effectiveness
    text: How adequate was the monitoring system?
"""

CODES_YAML = """\
codes:
  - id: design_needs
    label: {es: Diseño y necesidades, en: Design and needs}
    definition: The design answered what institutions needed.
    include: Statements on whether the design fit needs.
    exclude: Results; use monitoring for indicators.
    examples: ["The design responded to what the prosecutors needed."]
    questions: [EQ1]
    patterns:
      en: [design, {regex: '\\brelevant\\b'}]
      es: [diseño]
  - id: coordination
    label: Coordinación
    parent: design_needs
    roll_up: true
    definition: {es: Coordinación entre instituciones., en: Coordination between institutions.}
    include: Any mention of coordination.
    exclude: Coordination inside one institution.
    examples: ["Con las mesas de trabajo mejoró la coordinación."]
    patterns:
      es: [mesa de trabajo, {tokens: [{LEMMA: coordinación}], id: coord-token}]
  - id: monitoring
    label: Monitoring
    definition: How results were tracked.
    include: Indicators, reports, data.
    exclude: Budget.
    examples: ["We counted trainings, not changes."]
    questions: [EQ2]
    patterns:
      en: [monitoring, {tokens: [{LOWER: outcome}, {LOWER: indicators, OP: "?"}]}]
"""

STANCE_YAML = """\
stance:
  positive: {es: [ayudar, bueno], en: [helpful, relevant, good]}
  negative: {es: [problema, poco], en: [weak, problem]}
  negators: {es: ["no", nunca], en: ["not", never]}
  hedges: {es: [tal vez], en: [maybe, "i think"]}
"""

REGISTER = """\
file,session_id,method,stakeholder_group,language,participants,region,date
s1.txt,S1,interview,justice_sector,es,1,cusco,2024-09-01
s2.txt,S2,interview,donor,en,1,lima,2024-09-02
"""

S1 = """\
E: Buenos días. ¿Cómo fue la coordinación con la fiscalía?
F: Bueno, eh, al inicio no hubo coordinación. [risas] Después sí, con las mesas de trabajo.

Eso ayudó bastante, la verdad. Los talleres con simulaciones fueron muy buenos.
E: ¿Y el presupuesto?
F: Poco, muy poco. La rotación del personal es el problema. [inaudible]
"""

S2 = """\
Interviewer: Thanks for joining. How relevant was the project?
Officer: Very relevant, I think. The design responded to what the prosecutors needed.
Interviewer: And monitoring?
Officer: Weak on outcomes. We counted trainings, not changes.
"""


def write_evaluation(root: Path, *, evaluation: str = EVALUATION_YAML, register: str = REGISTER,
                     files: dict[str, str | bytes] | None = None, codes: str = CODES_YAML,
                     stance: str | None = STANCE_YAML) -> tuple[Path, Path]:
    """Write a codebook folder and a transcripts folder under ``root``; return both."""
    codebook, transcripts = root / "codebook", root / "transcripts"
    codebook.mkdir(parents=True, exist_ok=True)
    transcripts.mkdir(parents=True, exist_ok=True)
    (codebook / "evaluation.yaml").write_text(evaluation, encoding="utf-8")
    (codebook / "codes.yaml").write_text(codes, encoding="utf-8")
    if stance is not None:
        (codebook / "stance.yaml").write_text(stance, encoding="utf-8")
    (transcripts / "register.csv").write_text(register, encoding="utf-8")
    for name, content in (files if files is not None else {"s1.txt": S1, "s2.txt": S2}).items():
        path = transcripts / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return codebook, transcripts


@pytest.fixture
def tiny(tmp_path) -> tuple[Path, Path]:
    """(codebook folder, transcripts folder) of the two-session evaluation."""
    return write_evaluation(tmp_path)


@pytest.fixture
def sample_copy(tmp_path) -> tuple[Path, Path]:
    """A copy of the shipped sample evaluation that a test may break."""
    codebook, transcripts = tmp_path / "codebook", tmp_path / "transcripts"
    shutil.copytree(SAMPLE_CODEBOOK, codebook)
    shutil.copytree(SAMPLE_TRANSCRIPTS, transcripts)
    return codebook, transcripts


@pytest.fixture
def readers():
    """The registry of transcript formats, put back as it was once the test is done: a test
    may register a format of its own."""
    from pipeline.stages.ingest.formats import READERS

    before = dict(READERS)
    yield READERS
    READERS.clear()
    READERS.update(before)


# A findings file for the tiny evaluation of write_evaluation: two findings (F2 with three problems),
# a conclusion and a recommendation.
TINY_FINDINGS = """\
findings:
  - id: F1
    questions: [EQ1]
    statement: {en: The design met the prosecutors' needs., es: El diseño respondió a las fiscalías.}
    direction: positive
    evidence:
      segments: [S2-t0001-s00]
      codes: [design_needs]
      groups: [donor]
  - id: F2
    questions: [EQ2]
    statement: Monitoring counted outputs.
    direction: negative
    evidence:
      segments: [S2-t0003-s00]
conclusions:
  - id: C1
    statement: Relevant, weakly monitored.
    findings: [F1, F2]
recommendations:
  - id: R1
    title: Measure change
    statement: Track outcomes, not activities.
    addressed_to: [ILO]
    priority: high
    follows_from: [C1]
"""


# The browser tests drive Debian's Chromium through Playwright (never `playwright install`).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"]
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")

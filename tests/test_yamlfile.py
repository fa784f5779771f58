"""Hand-edited YAML: libyaml and the Python loader give the same data and lines; errors are
worded by the Python loader."""

from __future__ import annotations

import pytest
import yaml

from pipeline.config.yamlfile import ALIAS_BUDGET, _parse, load_yaml

from conftest import SAMPLE_CODEBOOK


def _lines(node: yaml.Node) -> list[tuple[str, int, int]]:
    """Every node's kind and start, depth first."""
    found = [(type(node).__name__, node.start_mark.line, node.start_mark.column)]
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found += _lines(key) + _lines(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found += _lines(item)
    return found


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML was built without libyaml")
@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLE_CODEBOOK.glob("*.yaml")))
def test_libyaml_reads_the_sample_codebook_as_the_python_loader_does(name):
    text = (SAMPLE_CODEBOOK / name).read_text(encoding="utf-8")
    fast_root, fast_data = _parse(yaml.CSafeLoader, text)
    root, data = _parse(yaml.SafeLoader, text)
    assert fast_data == data
    assert _lines(fast_root) == _lines(root)


def test_a_yaml_error_is_worded_by_the_python_loader(tmp_path):
    path = tmp_path / "codes.yaml"
    path.write_text("codes:\n\t- id: x\n", encoding="utf-8")
    document, problems = load_yaml(path)
    assert document is None
    assert problems[0].message == "is not valid YAML: found character '\\t' that cannot start any token."
    assert problems[0].where == "line 2, column 1"


def test_an_empty_file_is_an_empty_document(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    document, problems = load_yaml(path)
    assert (document.data, document.root, problems) == (None, None, [])


def _aliases(copies: int) -> str:
    """A document whose one alias is used ``copies`` times: each use adds 101 nodes (the list)."""
    return "a: &a [" + ", ".join(["x"] * 100) + "]\nb: [" + ", ".join(["*a"] * copies) + "]\n"


def test_aliases_are_read_up_to_the_budget_and_refused_past_it(tmp_path):
    path = tmp_path / "codes.yaml"
    within = ALIAS_BUDGET // 101
    path.write_text(_aliases(within), encoding="utf-8")
    document, problems = load_yaml(path)
    assert problems == [] and len(document.data["b"]) == within
    path.write_text(_aliases(within + 1), encoding="utf-8")
    document, problems = load_yaml(path)
    assert document is None and [(p.where, p.message.split(",")[0]) for p in problems] == [
        ("line 2", "its aliases (*name) expand it to 100")]


def test_a_document_that_holds_itself_or_nests_too_deep_is_refused(tmp_path):
    path = tmp_path / "codes.yaml"
    for text, where, start in (("a: &a {b: *a}\n", "line 1", "an alias (*name) stands for a node that holds it"),
                               ("a: " + "[" * 20000 + "]" * 20000 + "\n", "", "it is nested deeper than can be read")):
        path.write_text(text, encoding="utf-8")
        document, problems = load_yaml(path)
        assert document is None and [(p.where, p.message.startswith(start)) for p in problems] == [(where, True)]

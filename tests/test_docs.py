"""The documentation is tested: every command, target and config key is in README.md."""

from __future__ import annotations

import re
import subprocess

import pydantic
import pytest

from pipeline.cli import build_parser
from pipeline.config.codebook import Code, Stance
from pipeline.config.evaluation import Evaluation
from pipeline.config.findings import Findings
from pipeline.stages.ingest.register import OPTIONAL, REQUIRED

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def model_keys(model: type[pydantic.BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        keys.append(name)
        for kind in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(kind, type) and issubclass(kind, pydantic.BaseModel) and kind.__name__ != "Localized":
                keys += model_keys(kind)
    return keys


@pytest.mark.parametrize("key", sorted(set(model_keys(Evaluation))))
def test_every_config_key_is_documented(key):
    assert f"`{key}`" in README, f"README.md does not document the config key `{key}`"


@pytest.mark.parametrize("field", sorted(set(model_keys(Code) + model_keys(Stance))))
def test_every_code_and_stance_field_is_documented(field):
    assert f"`{field}`" in README, f"README.md does not document the codebook field `{field}`"


@pytest.mark.parametrize("field", sorted(set(model_keys(Findings))))
def test_every_findings_file_field_is_documented(field):
    assert f"`{field}`" in README, f"README.md does not document the findings file's field `{field}`"


@pytest.mark.parametrize("kind", ["phrase", "tokens", "regex", "id"])
def test_every_pattern_kind_is_documented(kind):
    assert f"{{{kind}: " in README or f"`{kind}`" in README


@pytest.mark.parametrize("column", REQUIRED + OPTIONAL)
def test_every_register_column_is_documented(column):
    assert f"`{column}`" in README


def test_every_cli_command_is_documented():
    commands = build_parser()._subparsers._group_actions[0].choices
    for command, parser in commands.items():
        actions = parser._subparsers._group_actions[0].choices if parser._subparsers else {}
        for name in actions or [""]:
            shown = f"python -m pipeline {command} {name}".strip()
            assert shown in README, shown


def test_make_help_lists_every_target_and_the_readme_too():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.M)
    described = re.findall(r"^([a-z][a-z-]*):.*## ", makefile, flags=re.M)
    assert sorted(set(targets)) == sorted(described), "every target needs a ## description"
    shown = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    for target in described:
        assert re.search(rf"^\s+{target}\s", shown, flags=re.M), target
        assert f"`make {target}`" in README, target

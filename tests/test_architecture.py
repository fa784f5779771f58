"""The house is checked: the layering contracts hold, every module is on README's map, and no
module grows past what can be read in one sitting."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "pipeline"
MODULES = sorted(p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")
MAX_LINES = 450  # "a few hundred lines": about 400, with room for a docstring that grew


def _map_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## How it is built")
    following = readme.find("\n## ", start + 1)
    return readme[start:following if following != -1 else None]


def test_the_layering_contracts_hold():
    """import-linter's contracts in pyproject.toml: stages never import the runtime, rooms import
    only the rooms below them, a stage never imports a later stage."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("module", MODULES)
def test_every_module_is_on_the_readme_map(module):
    assert module in _map_section(), f"README.md's 'How it is built' does not name {module}"


def test_the_map_names_no_module_that_is_gone():
    named = set(re.findall(r"pipeline/[\w/]+\.py", _map_section()))
    assert named <= set(MODULES), f"README.md's map names modules that do not exist: {sorted(named - set(MODULES))}"


@pytest.mark.parametrize("module", MODULES)
def test_no_module_is_longer_than_can_be_read_in_one_sitting(module):
    lines = (ROOT / module).read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by job (at most {MAX_LINES})"

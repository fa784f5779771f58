"""YAML files that people edit by hand: load them, and point at the line of a key path.

Loading keeps the composed node tree beside the data, so a validation error found on the
data (a key path such as ``stakeholder_groups[2].id``) can name the line it came from.
Duplicate keys, which plain YAML loading silently collapses, are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import Problem


@dataclass(frozen=True)
class YamlDocument:
    path: str
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: tuple[str | int, ...]) -> int | None:
        """The 1-based line of the deepest node on ``loc`` that exists in the file."""
        node, line = self.root, None
        for part in loc:
            if node is None:
                break
            line = node.start_mark.line + 1
            node = _child(node, part)
        if node is not None:
            line = node.start_mark.line + 1
        return line

    def where(self, loc: tuple[str | int, ...]) -> str:
        path = key_path(loc)
        line = self.line_of(loc) if loc else None
        if line is None:
            return path
        return f"line {line} ({path})" if path else f"line {line}"


def key_path(loc: tuple[str | int, ...]) -> str:
    """``("groups", 2, "id")`` -> ``"groups[2].id"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            return node.value[part]
    return None


def _duplicate_keys(node: yaml.Node, loc: tuple = ()) -> list[tuple[tuple, str, int]]:
    found = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                found.append((loc, key.value, key.start_mark.line + 1))
            seen.add(key.value)
            found += _duplicate_keys(value, loc + (key.value,))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicate_keys(item, loc + (i,))
    return found


def _compose_and_construct(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree of ``text`` and the data built from it, parsing the text once: with
    libyaml where PyYAML was built with it (ten times faster). An error is raised by the
    Python loader, whose messages say more ("found character '\\t' that cannot start any
    token", where libyaml leaves out the character)."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return _parse(fast, text)
        except yaml.YAMLError:
            pass  # raised again just below, in the Python loader's words
    return _parse(yaml.SafeLoader, text)


def _parse(loader_class, text: str) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def load_yaml(path: Path, display: str | None = None) -> tuple[YamlDocument | None, list[Problem]]:
    """Read one YAML file; return the document (None if unreadable) and the problems found."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [Problem(name, f"is not UTF-8 text ({exc.reason} at byte {exc.start}).",
                              "Save it as UTF-8 in your editor.")]
    except OSError as exc:
        return None, [Problem(name, f"cannot be read ({exc.strerror}).",
                              "Check that the file exists and is readable.")]
    try:
        root, data = _compose_and_construct(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(name, f"is not valid YAML: {reason}.",
                              "Check the indentation and the quoting around that place.", where)]
    duplicates = _duplicate_keys(root) if root is not None else []
    problems = [
        Problem(name, f"the key '{key}' appears twice; the second one would silently win.",
                "Keep one of them.", f"line {line} ({key_path(loc + (key,))})")
        for loc, key, line in duplicates
    ]
    return YamlDocument(name, data, root), problems

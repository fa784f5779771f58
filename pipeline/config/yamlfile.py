"""YAML files that people edit by hand: load them, and point at the line of a key path.

Loading keeps the composed node tree beside the data, so a validation error found on the
data (a key path such as ``stakeholder_groups[2].id``) can name the line it came from.
Duplicate keys, which plain YAML loading silently collapses, are reported. A document whose
aliases would expand it far beyond its own size (a "billion laughs" file), one that holds
itself, or one nested too deep to read is refused before anything walks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import Problem

# The nodes aliases (``*name``) may add to a document beyond its own: far more than any
# hand-written file repeats, far fewer than a document built to exhaust memory.
ALIAS_BUDGET = 100_000


class RefusedYaml(yaml.MarkedYAMLError):
    """A document that is not read: ``problem`` says why, ``fix`` what to do, ``problem_mark``
    (when known) where."""

    def __init__(self, problem: str, fix: str, mark=None):
        super().__init__(problem=problem, problem_mark=mark)
        self.fix = fix


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


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Raise :class:`RefusedYaml` if the aliases in the tree under ``root`` make it endless, or
    expand it past :data:`ALIAS_BUDGET` nodes more than it holds. An alias is the very node it
    names, met again, so each node's expanded size is counted once (depth first, without
    recursion: a deep file must not exhaust the stack either)."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # nodes whose subtree is being counted: the ancestors of the current one
    finished: list[yaml.Node] = []
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
            open_.discard(id(node))
            finished.append(node)
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_:
            raise RefusedYaml("an alias (*name) stands for a node that holds it, so the document never ends",
                              "Remove that alias, or repeat the part it stands for.", node.start_mark)
        open_.add(id(node))
        stack.append((node, True))
        stack += [(child, False) for child in _children(node)]
    if sizes[id(root)] > len(finished) + ALIAS_BUDGET:
        culprit = next(node for node in finished if sizes[id(node)] > ALIAS_BUDGET)
        raise RefusedYaml(f"its aliases (*name) expand it to {sizes[id(root)]:,} nodes, more than the "
                          f"{ALIAS_BUDGET:,} that aliases may add to a file (this one holds {len(finished):,}); "
                          f"it is not read",
                          "Write the repeated parts out, or repeat fewer of them.", culprit.start_mark)


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


def parse_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree of ``text`` and the data built from it, parsing the text once: with
    libyaml where PyYAML was built with it (ten times faster). Raises ``yaml.YAMLError``: a
    syntax error in the Python loader's words, whose messages say more ("found character
    '\\t' that cannot start any token", where libyaml leaves out the character); a
    :class:`RefusedYaml` for a document too large or too deep to read."""
    try:
        fast = getattr(yaml, "CSafeLoader", None)
        if fast is not None:
            try:
                return _parse(fast, text)
            except RefusedYaml:
                raise
            except yaml.YAMLError:
                pass  # raised again just below, in the Python loader's words
        return _parse(yaml.SafeLoader, text)
    except RecursionError:
        raise RefusedYaml("it is nested deeper than can be read", "Write it with fewer levels of nesting.") from None


def _parse(loader_class, text: str) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_expansion(root)
        return root, loader.construct_document(root)
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
        root, data = parse_yaml(text)
    except RefusedYaml as exc:
        mark = exc.problem_mark
        return None, [Problem(name, f"{exc.problem}.", exc.fix, f"line {mark.line + 1}" if mark else "")]
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
